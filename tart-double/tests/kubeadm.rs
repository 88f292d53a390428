//! TEST DOUBLE, NOT SHIPPED: `kubeadm` inside the double's VMs against a real etcd +
//! kube-apiserver: init over SSH, a worker joining, the control plane surviving the SSH
//! session and coming back on a new address after stop + run, stop killing it.

mod support;

use std::net::Ipv4Addr;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use support::{Lab, eventually, prerequisites, reachable};

const API: &str = "api.dev.tart-infra.internal";

const CONFIG: &str = r#"apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: ADDRESS
nodeRegistration:
  name: dev-cp-0
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
clusterName: dev
controlPlaneEndpoint: api.dev.tart-infra.internal:6443
apiServer:
  certSANs: [api.dev.tart-infra.internal]
networking:
  podSubnet: 10.244.0.0/16
  serviceSubnet: 10.96.0.0/12
"#;

/// A host-side client from the VM's admin.conf: the current address, the stable name as
/// TLS server name (as tart-infra's kubeconfigs do).
fn host_client(admin_conf: &str, ip: Ipv4Addr) -> kube::Client {
    let mut kc = Kubeconfig::from_yaml(admin_conf).expect("admin.conf");
    let cluster = kc.clusters[0].cluster.as_mut().expect("cluster");
    assert_eq!(
        cluster.server.as_deref(),
        Some("https://api.dev.tart-infra.internal:6443")
    );
    cluster.server = Some(format!("https://{ip}:6443"));
    cluster.tls_server_name = Some(API.to_owned());
    let rt = tokio::runtime::Handle::current();
    let config = rt
        .block_on(kube::Config::from_custom_kubeconfig(
            kc,
            &KubeConfigOptions::default(),
        ))
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

fn ready_nodes(client: &kube::Client) -> Option<Vec<String>> {
    let rt = tokio::runtime::Handle::current();
    let list = rt
        .block_on(Api::<Node>::all(client.clone()).list(&ListParams::default()))
        .ok()?;
    let mut names: Vec<String> = list
        .items
        .iter()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    names.sort();
    Some(names)
}

#[test]
fn init_join_survive_ssh_and_come_back_on_a_new_address() {
    if !prerequisites(true) {
        return;
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let _guard = rt.enter();
    let mut lab = Lab::new(93);
    lab.env("TART_DOUBLE_DHCP", "rotate");
    lab.ok(&["clone", "ghcr.io/cirruslabs/ubuntu:24.04", "dev-cp-0"]);
    lab.ok(&["clone", "ghcr.io/cirruslabs/ubuntu:24.04", "dev-w-0"]);
    let open = ["--net-softnet", "--net-softnet-allow=0.0.0.0/0"];
    let cp = lab.run("dev-cp-0", &open);
    let w = lab.run("dev-w-0", &open);
    lab.authorize("dev-cp-0", cp);
    lab.authorize("dev-w-0", w);

    let init = lab.ssh_ok(
        cp,
        &format!(
            "set -e; echo '{cp} {API}' >> /etc/hosts; apt-get install -y kubelet kubeadm >/dev/null; apt-mark hold kubelet kubeadm; \
             modprobe br_netfilter; sysctl -w net.ipv4.ip_forward=1; cat > /root/kubeadm.yaml <<'EOF'\n{}EOF\nkubeadm init --config /root/kubeadm.yaml",
            CONFIG.replace("ADDRESS", &cp.to_string())
        ),
    );
    assert!(
        init.contains("Your Kubernetes control-plane has initialized successfully!"),
        "{init}"
    );
    assert!(
        init.contains(&format!("kubeadm join {API}:6443 --token ")),
        "{init}"
    );
    let admin = lab.ssh_ok(cp, "cat /etc/kubernetes/admin.conf");
    let client = host_client(&admin, cp);
    assert_eq!(
        ready_nodes(&client),
        Some(vec!["dev-cp-0".to_owned()]),
        "the API server answers on {cp}:6443 after the SSH session ended"
    );

    let again = lab.ssh(cp, "kubeadm init --config /root/kubeadm.yaml");
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]: /etc/kubernetes/manifests/kube-apiserver.yaml already exists"), "{stderr}");

    let join = lab
        .ssh_ok(cp, "kubeadm token create --print-join-command")
        .trim()
        .to_owned();
    assert!(
        join.starts_with(&format!("kubeadm join {API}:6443 --token "))
            && join.contains("--discovery-token-ca-cert-hash sha256:"),
        "{join}"
    );
    lab.ssh_ok(w, &format!("echo '{cp} {API}' >> /etc/hosts"));
    let bad_pin = lab.ssh(
        w,
        &format!(
            "{} --discovery-token-ca-cert-hash sha256:{}",
            join.split(" --discovery").next().unwrap_or(""),
            "0".repeat(64)
        ),
    );
    assert!(!bad_pin.status.success());
    assert!(
        String::from_utf8_lossy(&bad_pin.stderr).contains("none of the public keys"),
        "{bad_pin:?}"
    );
    let bad_token = lab.ssh(
        w,
        &join.replacen("--token ", "--token zzzzzz.0123456789abcdef --ignored ", 1),
    );
    assert!(
        String::from_utf8_lossy(&bad_token.stderr).contains(
            "could not find a JWS signature in the cluster-info ConfigMap for token ID \"zzzzzz\""
        ),
        "{bad_token:?}"
    );
    let joined = lab.ssh_ok(w, &join);
    assert!(
        joined.contains("This node has joined the cluster"),
        "{joined}"
    );
    assert_eq!(
        ready_nodes(&client),
        Some(vec!["dev-cp-0".to_owned(), "dev-w-0".to_owned()])
    );
    assert!(
        lab.ssh_ok(w, "cat /etc/kubernetes/kubelet.conf")
            .contains(&format!("server: https://{API}:6443"))
    );

    // Down, then up on a new address: the kubelet unit brings the control plane back.
    let cgroup = lab.run_state("dev-cp-0")["cgroup"]
        .as_str()
        .expect("cgroup")
        .to_owned();
    let pids = tart_double::netiso::procs(&cgroup);
    assert!(
        pids.len() >= 4,
        "sshd, kubelet, etcd, kube-apiserver, kwok: {pids:?}"
    );
    lab.stop("dev-cp-0");
    for pid in &pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.contains(") Z "),
            "pid {pid} survived the stop: {stat}"
        );
    }
    assert!(!reachable(cp, 6443), "nothing answers on the old address");
    let cp2 = lab.run("dev-cp-0", &open);
    assert_ne!(cp2, cp, "TART_DOUBLE_DHCP=rotate gives a new address");
    let client = host_client(&admin, cp2);
    let nodes = eventually(
        "the control plane on the new address",
        Duration::from_secs(180),
        || ready_nodes(&client).filter(|n| n.len() == 2),
    );
    assert_eq!(nodes, ["dev-cp-0", "dev-w-0"]);

    // A join that cannot reach the API server fails the way kubeadm does.
    lab.ssh_ok(w, "kubeadm reset -f >/dev/null");
    let unreachable = lab.ssh(w, &format!("TART_DOUBLE_JOIN_TIMEOUT=2 {join}"));
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert!(
        stderr.contains("couldn't validate the identity of the API Server"),
        "{stderr}"
    );
}
