//! TEST DOUBLE, NOT SHIPPED. The `kubelet` unit of a VM. On a control-plane node (after
//! `kubeadm init` wrote `/etc/kubernetes/manifests/kube-apiserver.yaml` and the double's
//! `control-plane.json`) it runs the control plane as a kubelet runs static pods: a real
//! etcd + kube-apiserver + kwok on the VM's address of *this* boot, restarted when a
//! component dies. On a worker, kwok on the control plane simulates the node, so it idles.

use std::path::Path;
use std::time::Duration;

use local_control_plane::{ControlPlane, Options, SimNode};
use serde::{Deserialize, Serialize};

use super::{GuestInfo, state_path};

/// What `kubeadm init` leaves for the kubelet (`/var/lib/tart-double/control-plane.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlPlaneSpec {
    pub cluster_name: String,
    /// The stable name (or address) of `controlPlaneEndpoint`.
    pub endpoint_host: String,
    pub endpoint_port: u16,
    /// Extra names and addresses for the serving certificate.
    pub sans: Vec<String>,
    pub service_subnet: String,
    pub pod_subnet: String,
    pub node_name: String,
}

/// The static pod manifest whose presence makes this a control-plane node.
pub const APISERVER_MANIFEST: &str = "/etc/kubernetes/manifests/kube-apiserver.yaml";

/// The control plane's state directory (certificates, etcd data, logs, kubeconfig).
pub fn control_plane_dir() -> std::path::PathBuf {
    state_path("control-plane")
}

/// The control plane's options for this boot.
pub fn options(spec: &ControlPlaneSpec, info: &GuestInfo) -> Options {
    let mut sans = vec![spec.endpoint_host.clone(), spec.node_name.clone()];
    sans.extend(spec.sans.iter().cloned());
    sans.sort();
    sans.dedup();
    let node = SimNode::control_plane(
        &spec.node_name,
        &info.cpu.to_string(),
        &format!("{}Mi", info.memory_mib),
    );
    let mut opts = Options::apiserver(&spec.cluster_name)
        .on_address(info.ip, sans)
        .with_nodes(vec![node]);
    opts.service_cidr = spec.service_subnet.clone();
    opts.pod_cidr = spec.pod_subnet.clone();
    opts.state_dir = Some(control_plane_dir());
    opts
}

fn read_spec() -> Option<ControlPlaneSpec> {
    if !Path::new(APISERVER_MANIFEST).is_file() {
        return None;
    }
    let text = std::fs::read_to_string(state_path("control-plane.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// The kubelet's main loop; returns on SIGTERM/SIGINT.
pub async fn main() -> i32 {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        eprintln!("kubelet (tart-double): cannot handle signals");
        return 1;
    };
    loop {
        let spec = read_spec();
        let info = super::info();
        let started = match (&spec, &info) {
            (Some(spec), Ok(info)) => {
                eprintln!(
                    "kubelet (tart-double): starting the control plane on {}:6443",
                    info.ip
                );
                let start = ControlPlane::start(options(spec, info));
                tokio::select! {
                    r = start => Some(r),
                    _ = term.recv() => return 0,
                    _ = int.recv() => return 0,
                }
            }
            _ => None,
        };
        match started {
            Some(Ok(cp)) => {
                eprintln!(
                    "kubelet (tart-double): control plane ready after {:?}",
                    cp.ready_after()
                );
                loop {
                    tokio::select! {
                        _ = term.recv() => { cp.shutdown(Duration::from_secs(5)); return 0; }
                        _ = int.recv() => { cp.shutdown(Duration::from_secs(5)); return 0; }
                        _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    }
                    if let Err(e) = cp.check_alive() {
                        eprintln!("kubelet (tart-double): {e}; restarting the control plane");
                        cp.shutdown(Duration::from_secs(2));
                        break;
                    }
                }
            }
            Some(Err(e)) => {
                eprintln!("kubelet (tart-double): the control plane did not start: {e}")
            }
            None => {}
        }
        tokio::select! {
            _ = term.recv() => return 0,
            _ = int.recv() => return 0,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
