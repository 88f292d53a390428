//! The real bring-up of a kubeadm cluster over real SSH, against the tart TEST DOUBLE
//! (`tart-double/`): `TartCli` creates and runs the VMs (each a real sshd on 127.x.y.N in
//! its own mount namespace, `kubeadm init` starting a real etcd + kube-apiserver),
//! `node_bootstrap::first_contact` authorises our key through `tart exec`, and
//! `node_bootstrap::bring_up` runs the unchanged scripts of `node-bootstrap/scripts/` over
//! russh: init, join, the platform's names, a reboot onto new DHCP addresses and
//! `update_endpoint` (and the platform's names again, at a new address); plus a VM
//! without `--net-softnet-allow=0.0.0.0/0` that cannot join, and a changed host key.
//!
//! Needs root, openssh-server, util-linux, iptables, the Kubernetes binaries
//! (`TART_INFRA_KUBE_BINS=$(scripts/build-kube-bins.sh)`) and the double's binary
//! (`cargo build -p tart-double`). With `CI=true` a missing one fails the test.

#[path = "support/double.rs"]
mod double;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use host_agent::vm::{TartCli, TartOptions};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use node_bootstrap::bring_up::{self, BringUpError, ControlPlane};
use node_bootstrap::first_contact::first_contact;
use node_bootstrap::keys::{SshKey, ensure_key};
use node_bootstrap::script::Script;
use node_bootstrap::ssh::{KnownHostsFile, Session, SshClient, SshError, SshTarget};
use vm_api::{HostKey, Networking, Resources, VmBackend, VmSpec, VmState};

const CLUSTER: &str = "dev";
const CP: &str = "dev-cp-0";
const WORKERS: [&str; 2] = ["dev-w-0", "dev-w-1"];
const ISOLATED: &str = "dev-w-iso";

/// A `TART_HOME` of this test and the `tart` wrapper around the double
/// (`support/double.rs`); `dhcp` in the directory is the DHCP policy.
struct Lab {
    dir: tempfile::TempDir,
    runs: Vec<Child>,
}

impl Lab {
    fn new(tart: &Path) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("bring-up-")
            .tempdir()
            .expect("tempdir");
        let d = dir.path();
        double::write_wrapper(
            &d.join("tart.sh"),
            tart,
            &d.join("tart"),
            &double::subnet(),
            d,
        );
        Self {
            dir,
            runs: Vec::new(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn tart(&self) -> Command {
        Command::new(self.path().join("tart.sh"))
    }

    async fn backend(&self) -> TartCli {
        let mut options = TartOptions::new(self.path().join("state"));
        options.bin = self.path().join("tart.sh");
        options.home = self.path().join("tart");
        TartCli::new(options).await.expect("TartCli on the double")
    }

    /// `tart run <vm> --no-graphics --net-softnet` without the allow-all flag (TartCli
    /// always gives it): the VM is isolated from the others, as Tart's softnet isolates.
    fn run_isolated(&mut self, vm: &str) {
        let log = std::fs::File::create(self.path().join(format!("{vm}.run.log"))).expect("log");
        let child = self
            .tart()
            .args(["run", vm, "--no-graphics", "--net-softnet"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("tart run");
        self.runs.push(child);
    }
}

impl Drop for Lab {
    /// VMs outlive TartCli by design: stop every VM of this home.
    fn drop(&mut self) {
        double::stop_all(&self.path().join("tart.sh"));
        for child in &mut self.runs {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spec(name: &str) -> VmSpec {
    VmSpec {
        name: name.to_owned(),
        image: "ghcr.io/cirruslabs/ubuntu:latest".to_owned(),
        resources: Resources {
            cpu: 2,
            memory_mib: 2048,
            disk_gib: 20,
        },
        networking: Networking::Softnet,
    }
}

async fn connect(client: &SshClient, vm: &str, ip: Ipv4Addr) -> Session {
    client
        .connect(&SshTarget::new(vm, IpAddr::V4(ip), "root"))
        .await
        .unwrap_or_else(|e| panic!("ssh to {vm}: {e}"))
}

/// A client of the cluster from a kubeconfig `kubeconfig::for_cluster` wrote (the
/// address as server, the stable name as `tls-server-name`).
async fn kube_client(kubeconfig: &str) -> kube::Client {
    let kc = Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

/// Waits until the API server answers with `want` Ready nodes; returns their names.
async fn ready_nodes(client: &kube::Client, want: usize, timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let nodes: Api<Node> = Api::all(client.clone());
    loop {
        let last = match nodes.list(&ListParams::default()).await {
            Ok(list) => {
                let mut ready: Vec<String> = list
                    .items
                    .iter()
                    .filter(|n| {
                        n.status
                            .as_ref()
                            .and_then(|s| s.conditions.as_ref())
                            .is_some_and(|c| {
                                c.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                            })
                    })
                    .filter_map(|n| n.metadata.name.clone())
                    .collect();
                ready.sort();
                if ready.len() == want {
                    return ready;
                }
                format!("Ready: {ready:?}")
            }
            Err(e) => e.to_string(),
        };
        assert!(
            Instant::now() < deadline,
            "no {want} Ready nodes within {timeout:?}: {last}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A stand-in address of the platform (nothing dials it: it only goes into /etc/hosts).
const PLATFORM_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// The platform's address after it moved.
const PLATFORM_NEW_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);

fn platform(ip: Ipv4Addr) -> bring_up::Platform {
    bring_up::Platform {
        cluster: "platform".to_owned(),
        address: IpAddr::V4(ip),
    }
}

/// The node's /etc/hosts maps the registry and the platform's API name to `platform` in
/// their block and its own API name to `cp` in update-endpoint's; containerd reads the
/// registry's hosts.toml.
async fn assert_platform_names(session: &Session, vm: &str, platform: Ipv4Addr, cp: Ipv4Addr) {
    let hosts = sh(session, "cat /etc/hosts").await;
    assert!(
        hosts.contains(&format!(
            "# BEGIN tart-infra-platform\n{platform} registry.tart-infra.internal api.platform.tart-infra.internal\n# END tart-infra-platform\n"
        )),
        "{vm}: {hosts}"
    );
    assert!(
        hosts.contains(&format!("\n{cp} api.dev.tart-infra.internal\n")),
        "{vm}: {hosts}"
    );
    assert_eq!(
        hosts.matches("BEGIN tart-infra").count(),
        2,
        "{vm}: {hosts}"
    );
    let toml = sh(
        session,
        "cat /etc/containerd/certs.d/registry.tart-infra.internal:30400/hosts.toml",
    )
    .await;
    assert!(
        toml.contains("server = \"http://registry.tart-infra.internal:30400\""),
        "{vm}: {toml}"
    );
    let config = sh(session, "cat /etc/containerd/config.toml").await;
    assert!(
        config.contains("config_path = \"/etc/containerd/certs.d\""),
        "{vm}: {config}"
    );
}

/// A bash body's stdout on a node (a check of the test, not a bring-up step).
async fn sh(session: &Session, body: &str) -> String {
    let script = Script::new("test-check", format!("set -euo pipefail\n{body}"));
    let out = session.run(&script).await.expect("ssh run");
    assert!(out.success(), "{body}: {}", out.stderr);
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_comes_up_over_ssh_and_follows_its_control_plane_to_a_new_address() {
    let Some(tart) = double::prerequisites(true) else {
        return;
    };
    let began = Instant::now();
    let mut lab = Lab::new(&tart);
    let backend = lab.backend().await;
    let key: SshKey = ensure_key(&lab.path().join("id_ed25519")).expect("key");
    let known_hosts = KnownHostsFile::new(lab.path().join("known_hosts"));
    let client = SshClient::new(key.clone(), known_hosts.clone());

    // Three VMs: clone + set, run with --net-softnet-allow=0.0.0.0/0, ip; first contact.
    let mut ips = Vec::new();
    for vm in std::iter::once(CP).chain(WORKERS) {
        backend.create(&spec(vm)).await.expect("create");
        backend.start(vm).await.expect("start");
        let ip = backend.ip(vm, Duration::from_secs(60)).await.expect("ip");
        first_contact(&backend, &known_hosts, vm, "root", &key)
            .await
            .expect("first contact");
        ips.push(ip);
    }
    let cp_ip = ips[0];
    let calls = std::fs::read_to_string(lab.path().join("calls")).expect("calls");
    for vm in std::iter::once(CP).chain(WORKERS) {
        for (verb, tail) in [
            ("clone ", format!(" {vm}")),
            ("set ", " --random-mac".to_owned()),
            (
                "run ",
                format!(" --net-softnet --net-softnet-allow=0.0.0.0/0 {vm}"),
            ),
            ("ip ", format!(" --resolver dhcp {vm}")),
            // First contact: the authorize script through the guest agent.
            ("exec -i ", String::new()),
        ] {
            assert!(
                calls
                    .lines()
                    .any(|l| l.starts_with(verb) && l.ends_with(&tail) && l.contains(vm)),
                "no `{verb}… {tail}` for {vm} in:\n{calls}"
            );
        }
    }
    eprintln!("VMs up after {:?}", began.elapsed());

    // The control plane: node-prepare, kubeadm-version, kubeadm-init.
    let cp = connect(&client, CP, cp_ip).await;
    let control_plane = ControlPlane {
        cluster: CLUSTER.to_owned(),
        kubernetes_version: "1.33".to_owned(),
        pod_cidr: "10.244.0.0/16".to_owned(),
        service_cidr: "10.96.0.0/12".to_owned(),
        node: CP.to_owned(),
        address: IpAddr::V4(cp_ip),
    };
    let kubeconfig = bring_up::init_control_plane(&cp, &control_plane)
        .await
        .expect("init_control_plane");
    let doc: serde_yaml::Value = serde_yaml::from_str(&kubeconfig).expect("yaml");
    assert_eq!(
        doc["clusters"][0]["cluster"]["server"].as_str(),
        Some(format!("https://{cp_ip}:6443").as_str())
    );
    assert_eq!(
        doc["clusters"][0]["cluster"]["tls-server-name"].as_str(),
        Some("api.dev.tart-infra.internal")
    );
    let kube = kube_client(&kubeconfig).await;
    assert_eq!(
        ready_nodes(&kube, 1, Duration::from_secs(60)).await,
        vec![CP]
    );
    // node-prepare's checks see what it did: a second run changes nothing.
    let prepare = node_bootstrap::steps::node_prepare(
        CP,
        &node_bootstrap::kubeadm::stable_name(CLUSTER),
        IpAddr::V4(cp_ip),
    )
    .expect("script");
    let again = cp.run_checked(&prepare).await.expect("node-prepare");
    assert_eq!(again.stdout.trim(), "unchanged", "{}", again.stderr);
    // A second init changes nothing and hands out the same credential.
    assert_eq!(
        bring_up::init_control_plane(&cp, &control_plane)
            .await
            .expect("init again"),
        kubeconfig
    );
    eprintln!("control plane up after {:?}", began.elapsed());

    // The workers: node-prepare, join-preflight, kubeadm-join.
    let join = bring_up::join_command(&cp).await.expect("join command");
    for (vm, ip) in WORKERS.iter().zip(&ips[1..]) {
        let session = connect(&client, vm, *ip).await;
        bring_up::join_worker(&session, CLUSTER, vm, IpAddr::V4(cp_ip), &join)
            .await
            .unwrap_or_else(|e| panic!("join {vm}: {e}"));
        // Joined once: a second run is a no-op.
        bring_up::join_worker(&session, CLUSTER, vm, IpAddr::V4(cp_ip), &join)
            .await
            .unwrap_or_else(|e| panic!("join {vm} again: {e}"));
    }
    assert_eq!(
        ready_nodes(&kube, 3, Duration::from_secs(60)).await,
        vec![CP, WORKERS[0], WORKERS[1]]
    );
    eprintln!("workers joined after {:?}", began.elapsed());

    // The platform's names on every node of this (non-platform) cluster: the registry and
    // the platform's API name in their own block, containerd pointed at the registry.
    for (vm, ip) in std::iter::once(CP).chain(WORKERS).zip(&ips) {
        let session = connect(&client, vm, *ip).await;
        assert!(
            bring_up::platform_names(&session, CLUSTER, &platform(PLATFORM_IP))
                .await
                .unwrap_or_else(|e| panic!("platform_names {vm}: {e}")),
            "{vm}: the names were new"
        );
        assert_platform_names(&session, vm, PLATFORM_IP, cp_ip).await;
        assert!(
            !bring_up::platform_names(&session, CLUSTER, &platform(PLATFORM_IP))
                .await
                .expect("again"),
            "{vm}: a second run changes nothing"
        );
    }

    // A VM run without --net-softnet-allow=0.0.0.0/0 cannot reach the control plane.
    backend.create(&spec(ISOLATED)).await.expect("create");
    lab.run_isolated(ISOLATED);
    let deadline = Instant::now() + Duration::from_secs(60);
    while backend.get(ISOLATED).await.expect("get").map(|v| v.state) != Some(VmState::Running) {
        assert!(Instant::now() < deadline, "{ISOLATED} did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let iso_ip = backend
        .ip(ISOLATED, Duration::from_secs(60))
        .await
        .expect("ip");
    first_contact(&backend, &known_hosts, ISOLATED, "root", &key)
        .await
        .expect("first contact");
    let calls = std::fs::read_to_string(lab.path().join("calls")).expect("calls");
    assert!(
        calls
            .lines()
            .any(|l| l == format!("run {ISOLATED} --no-graphics --net-softnet")),
        "{calls}"
    );
    let iso = connect(&client, ISOLATED, iso_ip).await;
    let join = bring_up::join_command(&cp).await.expect("join command");
    match bring_up::join_worker(&iso, CLUSTER, ISOLATED, IpAddr::V4(cp_ip), &join).await {
        Err(BringUpError::Unreachable { vm, message }) => {
            assert_eq!(vm, ISOLATED);
            assert!(
                message.contains(&format!("VM {ISOLATED} cannot reach the API server"))
                    && message.contains("--net-softnet-allow=0.0.0.0/0"),
                "{message}"
            );
        }
        other => panic!("an isolated VM joined or failed otherwise: {other:?}"),
    }
    drop(iso);
    backend
        .stop(ISOLATED, Duration::from_secs(10))
        .await
        .expect("stop");

    // A changed host key stops the connection, naming the VM and the way to accept it.
    let other = ensure_key(&lab.path().join("other_ed25519")).expect("key");
    let mut fields = other.public_key_line().split_whitespace();
    let wrong = HostKey {
        algorithm: fields.next().expect("type").to_owned(),
        key: fields.next().expect("key").to_owned(),
    };
    known_hosts.pin(WORKERS[1], &[wrong]).expect("pin");
    match client
        .connect(&SshTarget::new(WORKERS[1], IpAddr::V4(ips[2]), "root"))
        .await
    {
        Err(e @ SshError::HostKeyChanged { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains(WORKERS[1]) && text.contains("tart-infra ssh forget"),
                "{text}"
            );
        }
        Err(e) => panic!("not HostKeyChanged: {e}"),
        Ok(_) => panic!("a wrong pin was accepted"),
    }
    first_contact(&backend, &known_hosts, WORKERS[1], "root", &key)
        .await
        .expect("re-pin");

    // Every VM restarts onto a new address (macOS DHCP can do that); update_endpoint on
    // every node moves the stable name, and the control plane's static pods, to it.
    drop(cp);
    std::fs::write(lab.path().join("dhcp"), "rotate").expect("dhcp");
    let mut new_ips = Vec::new();
    for vm in std::iter::once(CP).chain(WORKERS) {
        backend
            .stop(vm, Duration::from_secs(20))
            .await
            .expect("stop");
        backend.start(vm).await.expect("start");
        new_ips.push(backend.ip(vm, Duration::from_secs(60)).await.expect("ip"));
    }
    let new_cp_ip = new_ips[0];
    assert_ne!(
        new_cp_ip, cp_ip,
        "TART_DOUBLE_DHCP=rotate gives a new address"
    );
    for (i, vm) in std::iter::once(CP).chain(WORKERS).enumerate() {
        let session = connect(&client, vm, new_ips[i]).await;
        let changed = bring_up::update_endpoint(&session, CLUSTER, IpAddr::V4(new_cp_ip), i == 0)
            .await
            .unwrap_or_else(|e| panic!("update_endpoint {vm}: {e}"));
        assert!(changed, "{vm}: the endpoint moved");
        let hosts = sh(&session, "cat /etc/hosts").await;
        assert!(
            hosts.contains(&format!("\n{new_cp_ip} api.dev.tart-infra.internal\n")),
            "{vm}: {hosts}"
        );
        // The platform moved too: its names follow, each step keeping the other's block.
        assert!(
            bring_up::platform_names(&session, CLUSTER, &platform(PLATFORM_NEW_IP))
                .await
                .unwrap_or_else(|e| panic!("platform_names {vm}: {e}")),
            "{vm}: the platform's names moved"
        );
        assert_platform_names(&session, vm, PLATFORM_NEW_IP, new_cp_ip).await;
        assert!(
            !bring_up::platform_names(&session, CLUSTER, &platform(PLATFORM_NEW_IP))
                .await
                .expect("again"),
            "{vm}: a second run changes nothing"
        );
        if i == 0 {
            let manifest = sh(
                &session,
                "cat /etc/kubernetes/manifests/kube-apiserver.yaml",
            )
            .await;
            assert!(
                manifest.contains(&format!("--advertise-address={new_cp_ip}\n"))
                    && !manifest.contains(&cp_ip.to_string()),
                "{manifest}"
            );
        }
        assert!(
            !bring_up::update_endpoint(&session, CLUSTER, IpAddr::V4(new_cp_ip), i == 0)
                .await
                .expect("again"),
            "{vm}: a second run changes nothing"
        );
    }
    let moved =
        node_bootstrap::kubeconfig::for_cluster(&kubeconfig, CLUSTER, IpAddr::V4(new_cp_ip))
            .expect("rewritten");
    assert_eq!(
        moved,
        kubeconfig.replace(&cp_ip.to_string(), &new_cp_ip.to_string())
    );
    let kube = kube_client(&moved).await;
    assert_eq!(
        ready_nodes(&kube, 3, Duration::from_secs(180)).await,
        vec![CP, WORKERS[0], WORKERS[1]]
    );
    // What the scripts wrote in /etc stayed in the VMs (the double's /etc overlay).
    let host_hosts = std::fs::read_to_string("/etc/hosts").expect("hosts");
    assert!(!host_hosts.contains("tart-infra.internal"), "{host_hosts}");
    assert!(
        lab.path()
            .join("tart/vms")
            .join(CP)
            .join("root/etc/tart-infra/kubeadm-init.yaml")
            .is_file()
    );
    eprintln!(
        "cluster answers at its new address after {:?}",
        began.elapsed()
    );
}
