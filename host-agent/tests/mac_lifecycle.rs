//! End to end: `tart-infra up | status | down | boot | destroy` against the REAL tart test
//! double (`tart-double/`: VMs are sshd servers on 127.0.0.N, `kubeadm init` starts a real
//! API server). Needs root, openssh-server, util-linux, iptables and the Kubernetes binaries
//! (`TART_INFRA_KUBE_BINS`); with `CI=true` a missing one fails the test instead of skipping.
//!
//! The host is a small Linux machine, so the test sets `TART_INFRA_TEST_HOST_FACTS` (the
//! TEST ONLY override of the preflight's and the VM API's host facts). `up` installs the
//! real Cilium chart with a real helm and applies ArgoCD's real install manifest
//! (`TART_INFRA_HELM`, `TART_INFRA_UPSTREAM`); the double's nodes are simulated by kwok, so
//! no Cilium or ArgoCD pod runs: the test checks the objects the API server accepted.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Node, Secret};
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};

const TART_INFRA: &str = env!("CARGO_BIN_EXE_tart-infra");
const BIG_HOST: &str =
    r#"{"os":"macos","arch":"arm64","cpus":16,"memoryMiB":65536,"freeDiskGiB":500}"#;

/// The machine's prerequisites (see `tart_double::prerequisites`), helm and the upstream
/// charts included (`local_control_plane::tools`).
fn prerequisites() -> bool {
    use tart_double::prerequisites::{met, missing};
    let mut missing = missing(true);
    missing.extend(upstream_tools().err());
    met("the mac lifecycle test", &missing)
}

/// helm and the upstream directory.
fn upstream_tools() -> Result<(PathBuf, PathBuf), String> {
    use local_control_plane::tools;
    let helm = tools::helm().map_err(|e| e.to_string())?;
    let upstream = tools::upstream().map_err(|e| e.to_string())?;
    Ok((helm, upstream))
}

/// The double's `tart`, built when missing.
fn tart_double() -> PathBuf {
    if let Ok(path) = tart_double::binary() {
        return path;
    }
    let status = Command::new(env!("CARGO"))
        .args(["build", "-p", "tart-double"])
        .status()
        .expect("cargo build -p tart-double");
    assert!(status.success(), "cargo build -p tart-double failed");
    tart_double::binary().expect("the tart double after cargo build -p tart-double")
}

/// One test's lab: its TART_HOME, subnet, config and state directory.
struct Lab {
    dir: tempfile::TempDir,
    tart: PathBuf,
    subnet: &'static str,
}

impl Lab {
    fn new(subnet: &'static str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = format!(
            "baseImage: ghcr.io/cirruslabs/ubuntu:24.04
kubernetesVersion: \"1.33\"
ssh:
  user: root
  privateKeyPath: {d}/id_ed25519
  knownHostsPath: {d}/known_hosts
gitops:
  repoURL: https://github.com/example/tart-infra.git
clusters:
  - name: platform
    tier: platform
    network: {{podCidr: 10.10.0.0/16, serviceCidr: 10.96.0.0/16}}
    addons: {{cilium: {{hubble: true}}}}
    nodes:
      - {{name: platform-master, role: controlPlane, cpu: 2, memoryMiB: 2048, diskGiB: 20}}
      - {{name: platform-worker1, role: worker, cpu: 1, memoryMiB: 1024, diskGiB: 20}}
  - name: dev
    tier: dev
    network: {{podCidr: 10.20.0.0/16, serviceCidr: 10.97.0.0/16}}
    addons: {{cilium: {{hubble: true}}}}
    nodes:
      - {{name: dev-master, role: controlPlane, cpu: 2, memoryMiB: 2048, diskGiB: 20}}
      - {{name: dev-worker1, role: worker, cpu: 1, memoryMiB: 1024, diskGiB: 20}}
",
            d = dir.path().display()
        );
        std::fs::write(dir.path().join("clusters.yaml"), config).expect("config");
        Self {
            dir,
            tart: tart_double(),
            subnet,
        }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(TART_INFRA);
        c.args(args)
            .env("TART_HOME", self.dir.path().join("tart"))
            .env("TART_DOUBLE_SUBNET", self.subnet)
            // A new address on every boot: `boot` must follow it.
            .env("TART_DOUBLE_DHCP", "rotate")
            .env("TART_INFRA_TEST_HOST_FACTS", BIG_HOST)
            .env("TART_INFRA_CONFIG", self.dir.path().join("clusters.yaml"))
            .env("TART_INFRA_STATE_DIR", self.state())
            .env("TART_INFRA_TART_BIN", &self.tart)
            .env("TART_INFRA_SERVE_LISTEN", "127.0.0.1:0")
            .env_remove("TART_DOUBLE_VERSION")
            .stdin(Stdio::null());
        if let Ok((helm, upstream)) = upstream_tools() {
            c.env("TART_INFRA_HELM_BIN", helm)
                .env("TART_INFRA_UPSTREAM_DIR", upstream);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let started = Instant::now();
        let out = self.command(args).output().expect("tart-infra runs");
        eprintln!(
            "tart-infra {} ({:.1}s, {}):\n{}{}",
            args.join(" "),
            started.elapsed().as_secs_f64(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(out.status.success(), "tart-infra {args:?} failed");
        out
    }

    /// `tart list --source local --format json` of this lab: (name, state).
    fn vms(&self) -> Vec<(String, String)> {
        let out = Command::new(&self.tart)
            .args(["list", "--source", "local", "--format", "json"])
            .env("TART_HOME", self.dir.path().join("tart"))
            .env("TART_DOUBLE_SUBNET", self.subnet)
            .output()
            .expect("tart list");
        let list: Vec<serde_json::Value> =
            serde_json::from_slice(&out.stdout).expect("tart list JSON");
        let mut vms: Vec<(String, String)> = list
            .iter()
            .map(|v| {
                (
                    v["Name"].as_str().unwrap_or_default().to_owned(),
                    v["State"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        vms.sort();
        vms
    }

    /// A file inside a running VM, read through the guest agent (`tart exec`).
    fn vm_file(&self, vm: &str, path: &str) -> String {
        let out = Command::new(&self.tart)
            .args(["exec", vm, "cat", path])
            .env("TART_HOME", self.dir.path().join("tart"))
            .env("TART_DOUBLE_SUBNET", self.subnet)
            .output()
            .expect("tart exec");
        assert!(
            out.status.success(),
            "cat {path} in {vm}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Every platform node resolves the registry's name, in its own block, to the control
    /// plane's current address (the kubeconfig's server), beside update-endpoint's block of
    /// the platform's API name, and its containerd pulls from the registry by that name.
    fn assert_platform_names(&self) {
        let kubeconfig = std::fs::read_to_string(self.state().join("kubeconfigs/platform.yaml"))
            .expect("kubeconfig");
        let cp = kubeconfig
            .split("https://")
            .nth(1)
            .and_then(|rest| rest.split(':').next())
            .expect("the server's address")
            .to_owned();
        for vm in ["platform-master", "platform-worker1"] {
            let hosts = self.vm_file(vm, "/etc/hosts");
            assert!(
                hosts.contains(&format!(
                    "# BEGIN tart-infra-platform\n{cp} registry.tart-infra.internal\n# END tart-infra-platform\n"
                )),
                "{vm}: {hosts}"
            );
            assert!(
                hosts.contains(&format!("\n{cp} api.platform.tart-infra.internal\n")),
                "{vm}: {hosts}"
            );
            assert_eq!(
                hosts.matches("api.platform.tart-infra.internal").count(),
                1,
                "{vm}: the platform's own API name is update-endpoint's alone: {hosts}"
            );
            let toml = self.vm_file(
                vm,
                "/etc/containerd/certs.d/registry.tart-infra.internal:30400/hosts.toml",
            );
            assert!(
                toml.contains("server = \"http://registry.tart-infra.internal:30400\""),
                "{vm}: {toml}"
            );
            let config = self.vm_file(vm, "/etc/containerd/config.toml");
            assert!(
                config.contains("config_path = \"/etc/containerd/certs.d\""),
                "{vm}: {config}"
            );
        }
    }

    /// How many times `kubeadm init` ran on the platform's control plane (the double's
    /// record of tool calls inside the VM).
    fn kubeadm_inits(&self) -> usize {
        let log = self
            .dir
            .path()
            .join("tart/vms/platform-master/root/var/lib/tart-double/record.log");
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("kubeadm init"))
            .count()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Whatever happened: no VM and no agent left running.
        let _ = self
            .command(&["destroy", "--yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

async fn platform_client(state: &Path) -> kube::Client {
    let text = std::fs::read_to_string(state.join("kubeconfigs/platform.yaml"))
        .expect("the platform's kubeconfig");
    let kc = Kubeconfig::from_yaml(&text).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("client config");
    kube::Client::try_from(config).expect("client")
}

/// What the platform shows: (ready nodes, kube-system's uid, whether dev's ManagedCluster
/// exists, the Secrets' keys).
async fn observe(state: &Path) -> (usize, String, bool, Vec<String>, String) {
    let client = platform_client(state).await;
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes.list(&Default::default()).await.expect("nodes");
    let ready = list
        .items
        .iter()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .count();
    let ns: Api<Namespace> = Api::all(client.clone());
    let uid = ns
        .get("kube-system")
        .await
        .expect("kube-system")
        .metadata
        .uid
        .unwrap_or_default();
    let clusters: Api<crds::ManagedCluster> = Api::all(client.clone());
    let dev = clusters.get_opt("dev").await.expect("ManagedCluster get");
    if let Some(dev) = &dev {
        assert_eq!(dev.spec.provider, crds::managed_cluster::Provider::Tart);
    }
    let secrets: Api<Secret> = Api::namespaced(client, "tart-system");
    let agent = secrets.get("host-agent").await.expect("Secret host-agent");
    let mut keys: Vec<String> = agent.data.unwrap_or_default().into_keys().collect();
    keys.sort();
    let ssh = secrets
        .get("tart-operator-ssh")
        .await
        .expect("Secret tart-operator-ssh");
    (
        ready,
        uid,
        dev.is_some(),
        keys,
        ssh.type_.unwrap_or_default(),
    )
}

/// What `up` installed on the platform: Cilium's DaemonSet with the stable API name and
/// kube-proxy replaced, Hubble Relay, ArgoCD, the platform's ArgoCD cluster Secret and the
/// root Application.
async fn assert_addons(state: &Path) {
    use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
    use k8s_openapi::api::core::v1::ConfigMap;
    let client = platform_client(state).await;
    let ds = Api::<DaemonSet>::namespaced(client.clone(), "kube-system")
        .get("cilium")
        .await
        .expect("DaemonSet kube-system/cilium");
    let env = ds
        .spec
        .and_then(|s| s.template.spec)
        .map(|p| p.containers)
        .unwrap_or_default()
        .into_iter()
        .flat_map(|c| c.env.unwrap_or_default())
        .find(|e| e.name == "KUBERNETES_SERVICE_HOST")
        .and_then(|e| e.value);
    assert_eq!(env.as_deref(), Some("api.platform.tart-infra.internal"));
    let config = Api::<ConfigMap>::namespaced(client.clone(), "kube-system")
        .get("cilium-config")
        .await
        .expect("ConfigMap cilium-config")
        .data
        .unwrap_or_default();
    assert_eq!(
        config.get("kube-proxy-replacement").map(String::as_str),
        Some("true")
    );
    Api::<Deployment>::namespaced(client.clone(), "kube-system")
        .get("hubble-relay")
        .await
        .expect("Hubble Relay");
    let argocd = Api::<Deployment>::namespaced(client.clone(), "argocd")
        .get("argocd-server")
        .await
        .expect("Deployment argocd/argocd-server");
    let image = argocd
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|p| p.containers.into_iter().next())
        .and_then(|c| c.image);
    assert_eq!(image.as_deref(), Some("quay.io/argoproj/argocd:v3.6.1"));
    let cm = Api::<ConfigMap>::namespaced(client.clone(), "argocd")
        .get("argocd-cm")
        .await
        .expect("ConfigMap argocd/argocd-cm")
        .data
        .unwrap_or_default();
    for kind in ["LoadTest", "ScalingExperiment", "ManagedCluster"] {
        let key = format!("resource.customizations.health.tartinfra.dev_{kind}");
        assert!(
            cm.get(&key).is_some_and(|lua| lua.contains("hs.status")),
            "argocd-cm has no health check for {kind}"
        );
    }
    let secret = Api::<Secret>::namespaced(client.clone(), "argocd")
        .get("cluster-platform")
        .await
        .expect("the platform's ArgoCD cluster Secret");
    let labels = secret.metadata.labels.unwrap_or_default();
    assert_eq!(labels["argocd.argoproj.io/secret-type"], "cluster");
    assert_eq!(labels["addons.tartinfra.dev/cilium"], "true");
    let apps = kube::discovery::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
        "argoproj.io",
        "v1alpha1",
        "Application",
    ));
    let root = Api::<kube::api::DynamicObject>::namespaced_with(client, "argocd", &apps)
        .get("tart-infra")
        .await
        .expect("the root Application");
    assert_eq!(root.data["spec"]["source"]["path"], "gitops/root");
    assert_eq!(
        root.data["spec"]["source"]["repoURL"],
        "https://github.com/example/tart-infra.git"
    );
}

/// Puts the pod `default/blocker` on platform-worker1 with a PodDisruptionBudget that
/// allows no eviction (`with_budget`), or removes the budget.
async fn blocking_pod(state: &Path, with_budget: bool) {
    use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    use kube::api::{DeleteParams, PostParams};
    let client = platform_client(state).await;
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    if !with_budget {
        pdbs.delete("blocker", &DeleteParams::default())
            .await
            .expect("delete the budget");
        return;
    }
    let sa: ServiceAccount =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "default"}})).expect("sa");
    let _ = Api::<ServiceAccount>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &sa)
        .await;
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "blocker", "labels": {"app": "blocker"}},
        "spec": {
            "nodeName": "platform-worker1",
            "automountServiceAccountToken": false,
            "containers": [{"name": "web", "image": "nginx:1.27"}],
        },
    }))
    .expect("pod");
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &pod)
        .await
        .expect("create the pod");
    let pdb: PodDisruptionBudget = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "blocker"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "blocker"}}},
    }))
    .expect("pdb");
    pdbs.create(&PostParams::default(), &pdb)
        .await
        .expect("create the budget");
}

/// Runs `up`, killing it once its progress shows `step` started; returns whether it was
/// killed there (false: it finished first).
fn up_killed_at(lab: &Lab, step: &str) -> bool {
    let mut child = lab
        .command(&["up"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("up");
    let stderr = child.stderr.take().expect("stderr");
    let mut killed = false;
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        eprintln!("(up to be killed) {line}");
        if line.contains(step) {
            let _ = child.kill();
            killed = true;
            break;
        }
    }
    let _ = child.wait();
    killed
}

#[test]
fn up_status_down_boot_destroy_against_the_tart_double() {
    if !prerequisites() {
        return;
    }
    let lab = Lab::new("127.93.0");
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    // Preflight failures create nothing: a host too small, tart too old, tart missing.
    let out = lab
        .command(&["up"])
        .env(
            "TART_INFRA_TEST_HOST_FACTS",
            r#"{"os":"macos","arch":"arm64","cpus":2,"memoryMiB":4096,"freeDiskGiB":500}"#,
        )
        .output()
        .expect("up");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("CPU") && stderr.contains("memory"),
        "{stderr}"
    );
    assert!(stderr.contains("TEST ONLY"), "the override warns: {stderr}");
    let out = lab
        .command(&["up"])
        .env("TART_DOUBLE_VERSION", "2.0.0")
        .output()
        .expect("up");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("tart"), "{stderr}");
    assert!(stderr.contains("2.0.0"), "{stderr}");
    let out = lab
        .command(&["up", "--tart-bin", "/nonexistent/tart"])
        .output()
        .expect("up");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("not installed"),
        "{stderr}"
    );
    assert!(lab.vms().is_empty(), "a failed preflight created VMs");
    assert!(
        !lab.state().join("serve/serve.json").exists(),
        "a failed preflight started the agent"
    );

    // Killed mid-way, then re-run: it continues without duplicates.
    let steps = [
        "create",
        "first-contact",
        "kubeadm-init",
        "kubeadm-join",
        "cilium",
        "crds+rbac",
        "argocd",
    ];
    let pick = std::env::var("TART_INFRA_TEST_KILL_AT").unwrap_or_else(|_| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        steps[usize::try_from(nanos).unwrap_or(0) % steps.len()].to_owned()
    });
    eprintln!("killing `up` at step {pick} (set TART_INFRA_TEST_KILL_AT to choose)");
    up_killed_at(&lab, &pick);

    let out = lab.ok(&["up", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().expect("summary"))
        .expect("the last line is JSON");
    assert_eq!(last["event"], "summary");
    assert_eq!(last["ok"], true);
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("every line is JSON");
        assert!(v["event"] == "step" || v["event"] == "summary", "{line}");
    }
    let vms = lab.vms();
    assert_eq!(
        vms,
        [
            ("platform-master".to_owned(), "running".to_owned()),
            ("platform-worker1".to_owned(), "running".to_owned())
        ]
    );
    let (ready, uid, dev, keys, ssh_type) = rt.block_on(observe(&lab.state()));
    assert_eq!(ready, 2, "2 Ready nodes");
    assert!(dev, "ManagedCluster dev exists");
    assert_eq!(
        keys,
        ["ca.crt", "platform-cluster", "platform-vm", "token", "url"]
    );
    lab.assert_platform_names();
    assert_eq!(ssh_type, "kubernetes.io/ssh-auth");
    assert_eq!(lab.kubeadm_inits(), 1, "one kubeadm init");
    rt.block_on(assert_addons(&lab.state()));
    let mode = std::fs::metadata(lab.state().join("kubeconfigs/platform.yaml"))
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .expect("kubeconfig");
    assert_eq!(mode, 0o600);

    // No secret in the output: not the agent's token, not the operator's key.
    let token = std::fs::read_to_string(lab.state().join("serve/token")).expect("token");
    let key = std::fs::read_to_string(lab.state().join("operator_ed25519")).expect("key");
    let key_body = key.lines().nth(1).expect("a key line");
    for text in [
        stdout.as_ref(),
        String::from_utf8_lossy(&out.stderr).as_ref(),
    ] {
        assert!(!text.contains(token.trim()), "the token was printed");
        assert!(!text.contains(key_body), "the operator's key was printed");
    }

    // `ssh forget` drops a VM's pins; the next `up` pins it again through the guest agent.
    let pins = || std::fs::read_to_string(lab.dir.path().join("known_hosts")).unwrap_or_default();
    lab.ok(&["ssh", "forget", "platform-worker1"]);
    assert!(!pins().contains("platform-worker1"), "{}", pins());
    assert!(pins().contains("platform-master"), "{}", pins());

    // Again: nothing duplicated, no second init.
    lab.ok(&["up"]);
    assert!(pins().contains("platform-worker1"), "{}", pins());
    assert_eq!(lab.vms(), vms, "same VMs");
    let (ready, uid2, ..) = rt.block_on(observe(&lab.state()));
    assert_eq!(
        (ready, &uid2),
        (2, &uid),
        "same cluster, not re-initialised"
    );
    assert_eq!(lab.kubeadm_inits(), 1, "still one kubeadm init");

    // Status: the platform is reachable with 2/2 nodes (dev waits for the operator).
    let out = lab.run(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    assert_eq!(status["serve"]["running"], true);
    assert_eq!(status["clusters"][0]["reachable"], true);
    assert_eq!(status["clusters"][0]["readyNodes"], "2/2");
    assert_eq!(status["contexts"][0], "tart-platform");
    let hubble = status["services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "Hubble UI"))
        .expect("status links Hubble UI");
    assert!(
        hubble["url"]
            .as_str()
            .is_some_and(|u| u.ends_with(":31235")),
        "{hubble}"
    );
    let argocd = status["services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "ArgoCD"))
        .expect("status links ArgoCD");
    assert!(
        argocd["url"]
            .as_str()
            .is_some_and(|u| u.ends_with(":30800")),
        "{argocd}"
    );
    assert!(
        argocd["credential"]
            .as_str()
            .is_some_and(|c| c.contains("argocd-initial-admin-secret")),
        "{argocd}"
    );
    assert!(
        !out.status.success(),
        "dev is not built without the operator: exit 1"
    );

    // Down respects PodDisruptionBudgets: a pod on the worker whose budget allows no
    // eviction blocks the drain (named), and nothing is stopped; without the budget it goes.
    rt.block_on(blocking_pod(&lab.state(), true));
    let out = lab.run(&["down", "--drain-timeout-seconds", "3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("default/blocker blocks the drain"),
        "{stderr}"
    );
    assert!(
        lab.vms().iter().all(|(_, s)| s == "running"),
        "{:?}",
        lab.vms()
    );
    rt.block_on(blocking_pod(&lab.state(), false));

    // Down: every VM stopped.
    let out = lab.ok(&["down"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 pod(s) evicted"), "{stderr}");
    assert!(
        lab.vms().iter().all(|(_, s)| s == "stopped"),
        "{:?}",
        lab.vms()
    );

    // Boot: new addresses (rotate); the rewritten kubeconfig reaches the platform.
    let before =
        std::fs::read_to_string(lab.state().join("kubeconfigs/platform.yaml")).expect("kubeconfig");
    lab.ok(&["boot"]);
    let after =
        std::fs::read_to_string(lab.state().join("kubeconfigs/platform.yaml")).expect("kubeconfig");
    assert_ne!(before, after, "the server address changed");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (ready, uid3, ..) = rt.block_on(observe(&lab.state()));
        if ready == 2 {
            assert_eq!(uid3, uid);
            break;
        }
        assert!(Instant::now() < deadline, "nodes not Ready after boot");
        std::thread::sleep(Duration::from_secs(1));
    }
    // The registry's name followed the platform to its new address.
    lab.assert_platform_names();

    // Destroy: no VM, no agent, no state left.
    let out = lab.run(&["destroy"]);
    assert!(
        !out.status.success(),
        "not a terminal: refuses without --yes"
    );
    assert_eq!(lab.vms().len(), 2, "nothing deleted without --yes");
    lab.ok(&["destroy", "--yes"]);
    assert!(lab.vms().is_empty(), "{:?}", lab.vms());
    for gone in ["kubeconfig", "kubeconfigs", "serve", "operator_ed25519"] {
        assert!(!lab.state().join(gone).exists(), "{gone} left");
    }
    let pins = std::fs::read_to_string(lab.dir.path().join("known_hosts")).unwrap_or_default();
    assert!(!pins.contains("platform-master"), "{pins}");
    lab.ok(&["destroy", "--yes"]);
}
