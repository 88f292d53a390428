//! `tart-infra image build` against the tart TEST DOUBLE (`tart-double/`), which stands in
//! for both Tart and Ubuntu: its VMs are real sshd servers on 127.0.0.N in their own mount
//! namespaces, and `apt-get`, `apt-mark`, `modprobe`, `sysctl`, `systemctl`, `curl`,
//! `crictl` and `kubeadm` inside them are doubles that record their calls in the VM's
//! `/var/lib/tart-double/record.log`. No real package is installed and no image is pulled
//! here: what is checked is that the real provisioning script ran through the real SSH
//! path with the pinned versions, what it left in the image's files, and what the build
//! leaves in Tart (the image, no build VM).
//!
//! Needs root, openssh-server/-client, util-linux and iptables (`scripts/install-test-deps
//! --cargo-only`) and the double built (`cargo build -p tart-double`). With `CI=true` a
//! missing piece fails the test; otherwise it is skipped with a message.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

const IMAGE: &str = "tart-infra-k8s-1.33";
const BUILD_VM: &str = "tart-infra-build-k8s-1-33";

/// The double's binary, when the machine can run it (see `tart_double::prerequisites`).
fn prerequisites() -> Option<PathBuf> {
    let mut missing = tart_double::prerequisites::missing(false);
    let tart = tart_double::binary().map_err(|e| missing.push(e)).ok();
    tart_double::prerequisites::met("the image build tests", &missing)
        .then_some(tart)
        .flatten()
}

/// One test's Tart home, state directory and cluster file.
struct Lab {
    dir: tempfile::TempDir,
    tart: PathBuf,
    subnet: String,
}

impl Lab {
    fn new(tart: PathBuf, octet: u8, base_image: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("image-build-")
            .tempdir()
            .expect("tempdir");
        let shipped = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/clusters.yaml"),
        )
        .expect("the shipped cluster file");
        let config = shipped
            .replace(
                "baseImage: ghcr.io/cirruslabs/ubuntu:24.04",
                &format!("baseImage: {base_image}"),
            )
            .replace("  user: admin", "  user: root")
            .replace(
                "privateKeyPath: ~/.ssh/tart-infra_ed25519",
                &format!(
                    "privateKeyPath: {}",
                    dir.path().join("id_ed25519").display()
                ),
            )
            .replace(
                "knownHostsPath: ~/.config/tart-infra/known_hosts",
                &format!(
                    "knownHostsPath: {}",
                    dir.path().join("known_hosts").display()
                ),
            );
        assert!(config.contains("user: root"), "the fixture edits the file");
        std::fs::write(dir.path().join("clusters.yaml"), config).expect("write config");
        std::fs::create_dir_all(dir.path().join("tart")).expect("tart home");
        Self {
            subnet: format!("127.{octet}.{}", std::process::id() % 250),
            dir,
            tart,
        }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("tart")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// A VM's guest files, as the double keeps them.
    fn root(&self, vm: &str) -> PathBuf {
        self.home().join("vms").join(vm).join("root")
    }

    fn tart(&self, args: &[&str]) -> Output {
        Command::new(&self.tart)
            .args(args)
            .env("TART_HOME", self.home())
            .env("TART_DOUBLE_SUBNET", &self.subnet)
            .output()
            .expect("tart runs")
    }

    fn local_vms(&self) -> Vec<String> {
        let out = self.tart(&["list", "--source", "local", "--quiet"]);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn image_build(&self, extra: &[&str]) -> Output {
        let config = self.dir.path().join("clusters.yaml");
        let state = self.state();
        let mut args = vec![
            "image",
            "build",
            "--config",
            config.to_str().expect("utf-8"),
            "--state-dir",
            state.to_str().expect("utf-8"),
            "--tart-bin",
            self.tart.to_str().expect("utf-8"),
        ];
        args.extend(extra);
        Command::new(env!("CARGO_BIN_EXE_tart-infra"))
            .args(&args)
            .env("TART_HOME", self.home())
            .env("TART_DOUBLE_SUBNET", &self.subnet)
            .env_remove("TART_INFRA_CONFIG")
            .output()
            .expect("tart-infra runs")
    }
}

impl Drop for Lab {
    /// No VM of the test outlives it (a failed assertion included).
    fn drop(&mut self) {
        for vm in self.local_vms() {
            let _ = self.tart(&["stop", &vm, "--timeout", "5"]);
        }
    }
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn builds_the_image_once_with_the_pinned_packages_and_then_does_nothing() {
    let Some(tart) = prerequisites() else { return };
    let lab = Lab::new(tart, 81, "ghcr.io/cirruslabs/ubuntu:24.04");

    let out = lab.image_build(&[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for step in [
        "check",
        "clone",
        "boot",
        "ip",
        "first contact",
        "ssh",
        "provision",
        "stop",
        "save",
        "clean up",
        "done",
    ] {
        assert!(
            stdout.contains(&format!("] {IMAGE}: {step}: ")),
            "no {step} line:\n{stdout}"
        );
    }
    assert_eq!(lab.local_vms(), [IMAGE], "the image, and no build VM");

    // The provisioning script ran, with the pinned versions, through the doubles.
    let record = std::fs::read_to_string(lab.root(IMAGE).join("var/lib/tart-double/record.log"))
        .expect("the doubles' record");
    let has = |line: &str| record.lines().any(|l| l.starts_with(line));
    assert!(
        record.lines().any(|l| l.starts_with("apt-get install")
            && l.contains(" kubelet=1.33.4-1.1 kubeadm=1.33.4-1.1 kubectl=1.33.4-1.1 cri-tools=1.33.0-1.1 containerd")),
        "{record}"
    );
    assert!(
        has("curl -fsSL --retry 3 -o /etc/apt/keyrings/kubernetes-apt-keyring.asc.tart-infra."),
        "{record}"
    );
    assert!(
        has("apt-mark hold kubelet kubeadm kubectl cri-tools containerd"),
        "{record}"
    );
    assert!(has("modprobe -a overlay br_netfilter"), "{record}");
    assert!(has("sysctl -q --system"), "{record}");
    assert!(has("containerd config default"), "{record}");
    assert!(
        has(
            "kubeadm config images pull --kubernetes-version v1.33.4 --cri-socket unix:///run/containerd/containerd.sock"
        ),
        "{record}"
    );
    for image in [
        "quay.io/cilium/cilium:v1.18.1",
        "quay.io/cilium/operator-generic:v1.18.1",
        "quay.io/cilium/hubble-relay:v1.18.1",
    ] {
        assert!(
            has(&format!(
                "crictl --runtime-endpoint unix:///run/containerd/containerd.sock pull {image}"
            )),
            "{image}: {record}"
        );
    }
    assert!(has("apt-get clean"), "{record}");

    // What the script left in the image's files.
    let root = lab.root(IMAGE);
    let read = |rel: &str| std::fs::read_to_string(root.join(rel)).unwrap_or_default();
    assert_eq!(
        read("etc/apt/sources.list.d/kubernetes.list"),
        "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.asc] https://pkgs.k8s.io/core:/stable:/v1.33/deb/ /\n"
    );
    assert_eq!(
        read("etc/modules-load.d/tart-infra-k8s.conf"),
        "overlay\nbr_netfilter\n"
    );
    assert!(read("etc/sysctl.d/90-tart-infra-k8s.conf").contains("net.ipv4.ip_forward=1\n"));
    assert!(read("etc/containerd/config.toml").contains("SystemdCgroup = true"));
    assert!(read("etc/netplan/90-tart-infra-dhcp-mac.yaml").contains("dhcp-identifier: mac"));
    assert!(
        read("etc/systemd/system/tart-infra-ssh-host-keys.service")
            .contains("ExecStart=/usr/bin/ssh-keygen -A")
    );
    assert!(
        // A link to the unit's path inside the VM: look at the link, not its target.
        std::fs::symlink_metadata(
            root.join(
                "etc/systemd/system/multi-user.target.wants/tart-infra-ssh-host-keys.service"
            )
        )
        .is_ok(),
        "the host key unit is enabled"
    );
    let host_keys: Vec<_> = std::fs::read_dir(root.join("etc/ssh"))
        .expect("etc/ssh")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ssh_host_"))
        .collect();
    assert!(
        host_keys.is_empty(),
        "host keys left in the image: {host_keys:?}"
    );
    assert_eq!(read("etc/machine-id"), "", "the machine id is emptied");

    // The build's record and its known hosts (no pin left for the deleted build VM).
    let record_json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(lab.state().join(format!("images/{IMAGE}.json"))).expect("record"),
    )
    .expect("json");
    assert_eq!(record_json["kubernetesVersion"], "1.33.4");
    assert!(
        !std::fs::read_to_string(lab.state().join("known_hosts"))
            .unwrap_or_default()
            .contains(BUILD_VM)
    );

    // Again: nothing is done, no VM is created, the image is untouched.
    let started = Instant::now();
    let again = lab.image_build(&["--json"]);
    let (stdout, stderr) = text(&again);
    assert!(again.status.success(), "{stdout}\n{stderr}");
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(
        events.last().map(|e| e["event"].clone()),
        Some("exists".into()),
        "{stdout}"
    );
    assert!(events.iter().all(|e| e["step"] == "check"), "{stdout}");
    assert_eq!(lab.local_vms(), [IMAGE]);
    assert_eq!(
        std::fs::read_to_string(lab.root(IMAGE).join("var/lib/tart-double/record.log"))
            .expect("record"),
        record
    );
    eprintln!("second run: {:?}", started.elapsed());

    // Every clone of the image boots with host keys and a machine id of its own.
    let mut keys = Vec::new();
    for vm in ["node-a", "node-b"] {
        let out = lab.tart(&["clone", IMAGE, vm]);
        assert!(out.status.success(), "{out:?}");
        let mut run = Command::new(&lab.tart)
            .args([
                "run",
                vm,
                "--no-graphics",
                "--net-softnet",
                "--net-softnet-allow=0.0.0.0/0",
            ])
            .env("TART_HOME", lab.home())
            .env("TART_DOUBLE_SUBNET", &lab.subnet)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("tart run");
        let ip = lab.tart(&["ip", vm, "--wait", "60"]);
        assert!(ip.status.success(), "{ip:?}");
        let key = std::fs::read_to_string(lab.root(vm).join("etc/ssh/ssh_host_ed25519_key.pub"))
            .expect("a host key of its own");
        let id = std::fs::read_to_string(lab.root(vm).join("etc/machine-id")).expect("id");
        assert_eq!(id.trim().len(), 32, "{id:?}");
        keys.push((key, id));
        let _ = lab.tart(&["stop", vm, "--timeout", "5"]);
        let _ = run.wait();
    }
    assert_ne!(
        keys[0], keys[1],
        "two clones share a host key or machine id"
    );
}

#[test]
fn a_failed_provisioning_leaves_no_image_and_no_build_vm() {
    let Some(tart) = prerequisites() else { return };
    // A base image whose last provisioning step fails: a directory under /etc/ssh named
    // like a host key, which the script's `rm -f /etc/ssh/ssh_host_*` cannot remove. Every
    // earlier step has run by then, so a half-made image would exist if the build saved
    // one.
    let lab = Lab::new(tart, 82, "broken-base");
    let out = lab.tart(&["clone", "ghcr.io/cirruslabs/ubuntu:24.04", "broken-base"]);
    assert!(out.status.success(), "{out:?}");
    std::fs::create_dir_all(lab.root("broken-base").join("etc/ssh/ssh_host_keys.d"))
        .expect("mkdir");

    let out = lab.image_build(&[]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "building {IMAGE}: the provisioning script on {BUILD_VM}"
        )) && stderr.contains("ssh_host_keys.d"),
        "the error names the step, the VM and the stderr tail: {stderr}"
    );
    assert!(
        stdout.contains("clean up: deleting the build VM"),
        "{stdout}"
    );
    assert_eq!(lab.local_vms(), ["broken-base"], "no image, no build VM");
}

#[test]
fn an_interrupted_build_removes_its_build_vm() {
    use std::io::{BufRead as _, BufReader};
    let Some(tart) = prerequisites() else { return };
    let lab = Lab::new(tart, 83, "ghcr.io/cirruslabs/ubuntu:24.04");
    let config = lab.dir.path().join("clusters.yaml");
    let state = lab.state();
    // A slow boot (the double's per-step delay), so the signal lands while the build waits
    // for the VM's address.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tart-infra"))
        .args(["image", "build", "--config"])
        .arg(&config)
        .arg("--state-dir")
        .arg(&state)
        .arg("--tart-bin")
        .arg(&lab.tart)
        .env("TART_HOME", lab.home())
        .env("TART_DOUBLE_SUBNET", &lab.subnet)
        .env("TART_DOUBLE_DELAYS", "boot=30")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("tart-infra runs");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("a line");
        let waiting = line.contains(": ip: ");
        seen.push(line);
        if waiting {
            break;
        }
    }
    assert!(
        seen.last().is_some_and(|l| l.contains(": ip: ")),
        "{seen:?}"
    );
    assert_eq!(
        lab.local_vms(),
        [BUILD_VM],
        "the build VM exists while it boots"
    );
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let out = child.wait_with_output().expect("exits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        rest.iter()
            .any(|l| l.contains("clean up: deleting the build VM")),
        "{rest:?}"
    );
    assert!(lab.local_vms().is_empty(), "no build VM, no image");
}
