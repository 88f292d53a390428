//! The real bootstrap scripts, run twice (and after simulated interruptions) in a private
//! mount namespace: /etc is an overlay whose changes land in a temporary directory,
//! /var/lib, /run and /sys/module are temporary directories, and the system tools they
//! drive (kubeadm, systemctl, sysctl, modprobe, apt-get, ...) are stubs that record each
//! call. Nothing on this machine changes. What this checks is the scripts' own logic:
//! check before act, and what they do on a second run.
//!
//! Needs root and `unshare` (util-linux): the tests fail when CI=true and they are missing,
//! and are skipped (with a message) elsewhere.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use node_bootstrap::kubeadm::{self, ClusterParams};
use node_bootstrap::script::Script;
use node_bootstrap::steps;

struct Sandbox {
    dir: tempfile::TempDir,
}

const ADMIN_CONF: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: dev\n";

impl Sandbox {
    /// A sandbox, or `None` (after saying why) when this machine cannot make one outside CI.
    fn new() -> Option<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        let sandbox = Self { dir };
        sandbox.lay_out();
        let probe = sandbox.run_raw("set -euo pipefail\necho ok\n");
        match probe {
            Ok(out) if out.status.success() && out.stdout == b"ok\n" => Some(sandbox),
            other => {
                let why = match other {
                    Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
                    Err(e) => e.to_string(),
                };
                assert_ne!(
                    std::env::var("CI").as_deref(),
                    Ok("true"),
                    "cannot make a mount-namespace sandbox (needs root and unshare): {why}"
                );
                eprintln!(
                    "SKIPPED: cannot make a mount-namespace sandbox (needs root and unshare): {why}"
                );
                None
            }
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn lay_out(&self) {
        for dir in [
            "upper",
            "work",
            "varlib",
            "run",
            "sysmodule",
            "bin",
            "state/sysctl",
        ] {
            std::fs::create_dir_all(self.path(dir)).expect("mkdir");
        }
        // The VM as it comes: a stale line for the API name, swap in fstab and on.
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        self.write(
            "upper/hosts",
            &format!("{hosts}10.9.9.9 api.dev.tart-infra.internal\n"),
        );
        let fstab = std::fs::read_to_string("/etc/fstab").unwrap_or_default();
        self.write(
            "upper/fstab",
            &format!("{fstab}/swap.img none swap sw 0 0\n"),
        );
        self.write("state/swap", "on");
        let state = self.path("state").display().to_string();
        let bin = self.path("bin").display().to_string();
        let record = format!("echo \"$(basename \"$0\") $*\" >>{state}/calls");
        let stubs: Vec<(&str, String)> = vec![
            ("hostname", format!("cat {state}/hostname 2>/dev/null || echo ubuntu")),
            ("hostnamectl", format!("{record}\n[[ $1 == set-hostname ]] && echo \"$2\" >{state}/hostname")),
            ("modprobe", format!("{record}\nmkdir -p \"/sys/module/$1\"")),
            (
                "sysctl",
                format!(
                    "case $1 in\n\
                     -n) cat \"{state}/sysctl/$2\" 2>/dev/null || echo 0 ;;\n\
                     -q) {record}; echo \"${{3#*=}}\" >\"{state}/sysctl/${{3%%=*}}\" ;;\n\
                     *) exit 2 ;;\nesac"
                ),
            ),
            ("swapon", format!("[[ -f {state}/swap ]] && echo '/swap.img file 1G 0B -2'; exit 0")),
            ("swapoff", format!("{record}\nrm -f {state}/swap")),
            (
                "apt-get",
                format!("{record}\n[[ \" $* \" == *\" conntrack \"* ]] && printf '#!/bin/bash\\n' >{bin}/conntrack && chmod +x {bin}/conntrack\nexit 0"),
            ),
            (
                "containerd",
                "[[ $* == 'config default' ]] && printf 'version = 2\\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\\n  SystemdCgroup = false\\n'".to_owned(),
            ),
            ("kubelet", "exit 0".to_owned()),
            (
                "systemctl",
                format!(
                    "case $1 in\n\
                     is-enabled) [[ -f {state}/enabled-$3 ]] ;;\n\
                     is-active) [[ -f {state}/active-$3 ]] ;;\n\
                     enable) {record}; touch {state}/enabled-$2 ;;\n\
                     start|restart) {record}; touch {state}/active-$2 ;;\n\
                     *) exit 2 ;;\nesac"
                ),
            ),
            (
                "kubeadm",
                format!(
                    "{record}\n\
                     case $1 in\n\
                     init)\n\
                       if [[ $2 == phase ]]; then exit 0; fi\n\
                       [[ -f $3 ]] || exit 3\n\
                       mkdir -p /etc/kubernetes/manifests /var/lib/etcd/member\n\
                       echo etcd >/etc/kubernetes/manifests/etcd.yaml\n\
                       printf '{admin}' >/etc/kubernetes/admin.conf ;;\n\
                     join)\n\
                       stat -c '%a' \"$3\" >{state}/join-config-mode\n\
                       cp \"$3\" {state}/join-config\n\
                       mkdir -p /etc/kubernetes/pki\n\
                       echo ca >/etc/kubernetes/pki/ca.crt\n\
                       echo kubelet >/etc/kubernetes/kubelet.conf ;;\n\
                     reset) rm -rf /etc/kubernetes/* /var/lib/etcd/member ;;\n\
                     token) echo 'kubeadm join api.dev.tart-infra.internal:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:{hash}' ;;\n\
                     *) exit 2 ;;\nesac",
                    admin = ADMIN_CONF.replace('\n', "\\n"),
                    hash = "a".repeat(64),
                ),
            ),
            (
                "iptables-save",
                "printf '*filter\\n:INPUT ACCEPT [0:0]\\n:KUBE-FIREWALL - [0:0]\\n-A INPUT -j KUBE-FIREWALL\\nCOMMIT\\n'".to_owned(),
            ),
            ("iptables-restore", format!("cat >{state}/iptables-restored")),
        ];
        for (name, body) in stubs {
            let path = self.path(&format!("bin/{name}"));
            std::fs::write(&path, format!("#!/bin/bash\n{body}\n")).expect("write stub");
            let chmod = Command::new("chmod")
                .arg("+x")
                .arg(&path)
                .status()
                .expect("chmod");
            assert!(chmod.success());
        }
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).expect("write");
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    /// The stub calls recorded so far, one per line.
    fn calls(&self) -> Vec<String> {
        self.read("state/calls")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn run_raw(&self, program: &str) -> std::io::Result<std::process::Output> {
        let d = |name: &str| self.path(name).display().to_string();
        let setup = format!(
            "set -e\n\
             mount -t overlay overlay -o lowerdir=/etc,upperdir={upper},workdir={work} /etc\n\
             mount --bind {varlib} /var/lib\n\
             mount --bind {run} /run\n\
             mount --bind {sysmodule} /sys/module\n\
             exec env -i PATH={bin}:/usr/bin:/bin HOME=/root bash -s\n",
            upper = d("upper"),
            work = d("work"),
            varlib = d("varlib"),
            run = d("run"),
            sysmodule = d("sysmodule"),
            bin = d("bin"),
        );
        let mut child = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "bash",
                "-c",
                &setup,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(program.as_bytes())?;
        }
        child.wait_with_output()
    }

    /// Runs `script` in the sandbox; panics with its stderr when it fails.
    fn run(&self, script: &Script) -> String {
        let out = self.run_raw(&script.render()).expect("sandbox runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{} failed: {stderr}", script.name());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether `path` exists inside the sandbox.
    fn exists(&self, path: &str) -> bool {
        let out = self
            .run_raw(&format!("test -e '{path}' && echo yes || echo no\n"))
            .expect("sandbox runs");
        out.stdout == b"yes\n"
    }
}

fn new_calls(before: usize, sandbox: &Sandbox) -> Vec<String> {
    sandbox.calls().split_off(before)
}

#[test]
fn node_prepare_changes_the_node_once() {
    let Some(sandbox) = Sandbox::new() else {
        return;
    };
    let api = kubeadm::stable_name("dev");
    let script = steps::node_prepare("dev-worker1", &api, [192, 168, 64, 5].into()).expect("valid");

    assert_eq!(sandbox.run(&script), "changed\n");
    let calls = sandbox.calls();
    for expected in [
        "hostnamectl set-hostname dev-worker1",
        "modprobe overlay",
        "modprobe br_netfilter",
        "sysctl -q -w net.bridge.bridge-nf-call-iptables=1",
        "sysctl -q -w net.bridge.bridge-nf-call-ip6tables=1",
        "sysctl -q -w net.ipv4.ip_forward=1",
        "swapoff -a",
        "systemctl restart containerd",
        "systemctl enable containerd",
        "systemctl enable kubelet",
    ] {
        assert!(
            calls.iter().any(|c| c == expected),
            "no `{expected}` in {calls:#?}"
        );
    }
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("apt-get install") && c.ends_with("conntrack")),
        "{calls:#?}"
    );
    assert_eq!(
        sandbox.read("upper/modules-load.d/tart-infra-k8s.conf"),
        "overlay\nbr_netfilter\n"
    );
    assert_eq!(
        sandbox.read("upper/sysctl.d/90-tart-infra-k8s.conf"),
        "net.bridge.bridge-nf-call-iptables=1\nnet.bridge.bridge-nf-call-ip6tables=1\nnet.ipv4.ip_forward=1\n"
    );
    assert!(
        sandbox
            .read("upper/containerd/config.toml")
            .contains("  SystemdCgroup = true\n")
    );
    let fstab = sandbox.read("upper/fstab");
    assert!(
        fstab.contains("\n# /swap.img none swap sw 0 0  # off:"),
        "{fstab}"
    );
    let hosts = sandbox.read("upper/hosts");
    assert!(hosts.ends_with(&format!("# BEGIN tart-infra (managed by tart-infra: the cluster API name)\n192.168.64.5 {api}\n# END tart-infra\n")), "{hosts}");
    assert!(!hosts.contains("10.9.9.9"), "{hosts}");

    let before = sandbox.calls().len();
    let hosts_before = sandbox.read("upper/hosts");
    assert_eq!(sandbox.run(&script), "unchanged\n");
    assert_eq!(new_calls(before, &sandbox), Vec::<String>::new());
    assert_eq!(sandbox.read("upper/hosts"), hosts_before);
}

#[test]
fn kubeadm_init_runs_once_and_completes_an_interrupted_init() {
    let Some(sandbox) = Sandbox::new() else {
        return;
    };
    let config = kubeadm::render_init_config(&ClusterParams {
        cluster: "dev".into(),
        kubernetes_version: "v1.31.14".into(),
        pod_cidr: "10.20.0.0/16".into(),
        service_cidr: "10.97.0.0/16".into(),
        node_name: "dev-master".into(),
        advertise_address: [192, 168, 64, 5].into(),
    })
    .expect("renders");
    let script = steps::kubeadm_init(&config).expect("valid");

    assert_eq!(sandbox.run(&script), ADMIN_CONF);
    assert_eq!(
        sandbox.calls(),
        ["kubeadm init --config /etc/tart-infra/kubeadm-init.yaml"]
    );
    assert_eq!(
        sandbox.read("upper/tart-infra/kubeadm-init.yaml"),
        format!("{config}\n")
    );

    assert_eq!(
        sandbox.run(&script),
        ADMIN_CONF,
        "a second run prints admin.conf again"
    );
    assert_eq!(
        sandbox.calls().len(),
        1,
        "a second run inits nothing: {:#?}",
        sandbox.calls()
    );

    // Killed after admin.conf was written, before the end: the later phases run once.
    sandbox.run(&Script::new(
        "kill-after-kubeconfig",
        "rm /etc/tart-infra/kubeadm-init.done\n",
    ));
    assert_eq!(sandbox.run(&script), ADMIN_CONF);
    let phases: Vec<String> = sandbox.calls().split_off(1);
    assert_eq!(phases.len(), 7, "{phases:#?}");
    assert!(
        phases.iter().all(|c| c.starts_with("kubeadm init phase ")),
        "{phases:#?}"
    );
    assert_eq!(sandbox.run(&script), ADMIN_CONF);
    assert_eq!(sandbox.calls().len(), 8, "{:#?}", sandbox.calls());

    // Killed before admin.conf: what it left is reset, then init runs.
    sandbox.run(&Script::new(
        "kill-before-kubeconfig",
        "rm /etc/kubernetes/admin.conf /etc/tart-infra/kubeadm-init.done\nmkdir -p /etc/kubernetes/manifests\necho x >/etc/kubernetes/manifests/etcd.yaml\n",
    ));
    assert_eq!(sandbox.run(&script), ADMIN_CONF);
    assert_eq!(
        sandbox.calls().split_off(8),
        [
            "kubeadm reset -f",
            "kubeadm init --config /etc/tart-infra/kubeadm-init.yaml"
        ]
    );
}

#[test]
fn join_runs_once_with_a_private_config_and_reset_undoes_it() {
    let Some(sandbox) = Sandbox::new() else {
        return;
    };
    // On a control plane (here, the same sandbox) join-command prints the command.
    sandbox.run(&Script::new(
        "initialised",
        "mkdir -p /etc/kubernetes\necho admin >/etc/kubernetes/admin.conf\n",
    ));
    let join = kubeadm::parse_join_command(&sandbox.run(&steps::join_command()))
        .expect("the stub prints a join command");
    assert_eq!(
        sandbox.calls(),
        [
            "kubeadm token create --print-join-command --ttl 1h --kubeconfig /etc/kubernetes/admin.conf"
        ]
    );
    let config = kubeadm::render_join_config("dev", "dev-worker1", &join).expect("renders");
    let script = steps::kubeadm_join(&config).expect("valid");

    sandbox.run(&script);
    let joins: Vec<String> = sandbox
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("kubeadm join"))
        .collect();
    assert_eq!(joins.len(), 1, "{joins:#?}");
    assert!(
        joins[0].starts_with("kubeadm join --config /run/tart-infra/kubeadm-join."),
        "{joins:#?}"
    );
    assert_eq!(sandbox.read("state/join-config-mode").trim(), "600");
    assert_eq!(sandbox.read("state/join-config"), format!("{config}\n"));
    assert!(
        !sandbox.exists(joins[0].trim_start_matches("kubeadm join --config ")),
        "the config with the token is removed"
    );

    let before = sandbox.calls().len();
    sandbox.run(&script);
    assert_eq!(
        new_calls(before, &sandbox),
        Vec::<String>::new(),
        "a joined node joins nothing"
    );

    sandbox.run(&steps::kubeadm_reset());
    assert_eq!(new_calls(before, &sandbox), ["kubeadm reset -f"]);
    assert_eq!(
        sandbox.read("state/iptables-restored"),
        "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n",
        "the rules kube-proxy and Cilium made are gone, the rest is kept"
    );
    assert!(!sandbox.exists("/etc/kubernetes/kubelet.conf"));
    let before = sandbox.calls().len();
    sandbox.run(&steps::kubeadm_reset());
    assert_eq!(
        new_calls(before, &sandbox),
        Vec::<String>::new(),
        "nothing to reset twice"
    );
}

#[test]
fn join_command_needs_an_initialised_control_plane() {
    let Some(sandbox) = Sandbox::new() else {
        return;
    };
    let out = sandbox
        .run_raw(&steps::join_command().render())
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("has no /etc/kubernetes/admin.conf; initialise the control plane first"),
        "{stderr}"
    );
    assert!(sandbox.calls().is_empty());
}

/// kube-apiserver.yaml as kubeadm v1.33 writes it (the parts with addresses).
const APISERVER_MANIFEST: &str = "apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint: 192.168.64.5:6443
  labels:
    component: kube-apiserver
    tier: control-plane
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-apiserver
    - --advertise-address=192.168.64.5
    - --allow-privileged=true
    - --etcd-servers=https://127.0.0.1:2379
    - --service-cluster-ip-range=10.96.0.0/12
    livenessProbe:
      httpGet:
        host: 192.168.64.5
        path: /livez
        port: 6443
";

/// etcd.yaml as kubeadm v1.33 writes it (the parts with addresses), and a neighbour's
/// address that only starts like the old one.
const ETCD_MANIFEST: &str = "apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://192.168.64.5:2379
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://192.168.64.5:2379
    - --initial-advertise-peer-urls=https://192.168.64.5:2380
    - --initial-cluster=dev-master=https://192.168.64.5:2380,dev-other=https://192.168.64.50:2380
    - --listen-client-urls=https://127.0.0.1:2379,https://192.168.64.5:2379
    - --listen-metrics-urls=http://127.0.0.1:2381
    - --listen-peer-urls=https://192.168.64.5:2380
";

#[test]
fn control_plane_readdress_moves_the_static_pods_once() {
    let Some(sandbox) = Sandbox::new() else {
        return;
    };
    let script = steps::control_plane_readdress([192, 168, 64, 9].into()).expect("valid");

    // Not a control plane (no kube-apiserver manifest): nothing to move.
    assert_eq!(sandbox.run(&script).trim(), "unchanged");
    assert_eq!(sandbox.calls(), Vec::<String>::new());

    let manifests = sandbox.path("upper/kubernetes/manifests");
    std::fs::create_dir_all(&manifests).expect("mkdir");
    sandbox.write(
        "upper/kubernetes/manifests/kube-apiserver.yaml",
        APISERVER_MANIFEST,
    );
    sandbox.write("upper/kubernetes/manifests/etcd.yaml", ETCD_MANIFEST);

    assert_eq!(sandbox.run(&script).trim(), "changed");
    let moved = |text: &str| {
        text.replace("192.168.64.5:", "192.168.64.9:")
            .replace("192.168.64.5\n", "192.168.64.9\n")
    };
    let apiserver = sandbox.read("upper/kubernetes/manifests/kube-apiserver.yaml");
    assert_eq!(apiserver, moved(APISERVER_MANIFEST));
    assert!(apiserver.contains("- --advertise-address=192.168.64.9\n"));
    assert!(apiserver.contains("host: 192.168.64.9\n"));
    let etcd = sandbox.read("upper/kubernetes/manifests/etcd.yaml");
    assert_eq!(etcd, moved(ETCD_MANIFEST));
    assert!(
        etcd.contains("dev-other=https://192.168.64.50:2380"),
        "a longer address that starts like the old one is kept: {etcd}"
    );
    assert!(etcd.contains("--listen-client-urls=https://127.0.0.1:2379,https://192.168.64.9:2379"));
    assert_eq!(sandbox.calls(), ["systemctl restart kubelet"]);
    let mut files: Vec<String> = std::fs::read_dir(&manifests)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["etcd.yaml", "kube-apiserver.yaml"],
        "no temporary file left"
    );
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(manifests.join("kube-apiserver.yaml"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "kubeadm's mode for static pod manifests"
    );

    // Already at the address: nothing changes, the kubelet is left alone.
    assert_eq!(sandbox.run(&script).trim(), "unchanged");
    assert_eq!(sandbox.calls(), ["systemctl restart kubelet"]);
    assert_eq!(
        sandbox.read("upper/kubernetes/manifests/kube-apiserver.yaml"),
        apiserver
    );
    assert_eq!(sandbox.read("upper/kubernetes/manifests/etcd.yaml"), etcd);
}
