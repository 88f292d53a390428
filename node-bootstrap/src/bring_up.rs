//! The bring-up of a kubeadm cluster over SSH, step by step, shared by `tart-infra up` (the
//! platform cluster) and the operator (the others). Each function is one step of one node
//! and is safe to repeat: its scripts check before they act.

use std::net::IpAddr;
use std::time::Duration;

use crate::kubeadm::{self, ClusterParams, JoinCommand, KubeadmError};
use crate::kubeconfig::{self, KubeconfigError};
use crate::script::ScriptError;
use crate::ssh::{Session, SshError};
use crate::steps::{self, EXIT_API_UNREACHABLE};

/// How long a worker's preflight waits for a TCP connection to the API server.
pub const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a bring-up step failed. The message names the VM and ends with what the tool said.
#[derive(Debug, thiserror::Error)]
pub enum BringUpError {
    /// SSH failed, or a script exited non-zero (with its stderr tail).
    #[error(transparent)]
    Ssh(#[from] SshError),
    /// A worker cannot reach the control plane.
    #[error("{message}")]
    Unreachable { vm: String, message: String },
    /// The kubeadm configuration could not be made (bad input, wrong kubeadm version).
    #[error("VM `{vm}`: {source}")]
    Kubeadm { vm: String, source: KubeadmError },
    /// admin.conf is not usable.
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
    /// A script input was refused (a NUL byte, a bad name).
    #[error(transparent)]
    Script(#[from] ScriptError),
}

/// What a cluster's control plane is made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlPlane {
    /// The cluster name.
    pub cluster: String,
    /// The Kubernetes version asked for (`1.33` or `1.33.4`); the VM's kubeadm must match.
    pub kubernetes_version: String,
    /// Pod and service networks.
    pub pod_cidr: String,
    pub service_cidr: String,
    /// The control-plane node and its address.
    pub node: String,
    pub address: IpAddr,
}

/// Prepares the control plane and runs `kubeadm init` (once); returns the cluster's
/// kubeconfig for the host (see [`kubeconfig::for_cluster`]): a cluster-admin credential.
pub async fn init_control_plane(
    session: &Session,
    cp: &ControlPlane,
) -> Result<String, BringUpError> {
    let api_name = kubeadm::stable_name(&cp.cluster);
    session
        .run_checked(&steps::node_prepare(&cp.node, &api_name, cp.address)?)
        .await?;
    let installed = session.run_checked(&steps::kubeadm_version()).await?.stdout;
    let kubeadm_error = |source| BringUpError::Kubeadm {
        vm: cp.node.clone(),
        source,
    };
    let version =
        kubeadm::resolve_version(&cp.kubernetes_version, &installed).map_err(kubeadm_error)?;
    let config = kubeadm::render_init_config(&ClusterParams {
        cluster: cp.cluster.clone(),
        kubernetes_version: version,
        pod_cidr: cp.pod_cidr.clone(),
        service_cidr: cp.service_cidr.clone(),
        node_name: cp.node.clone(),
        advertise_address: cp.address,
    })
    .map_err(kubeadm_error)?;
    let admin_conf = session
        .run_checked(&steps::kubeadm_init(&config)?)
        .await?
        .stdout;
    Ok(kubeconfig::for_cluster(
        &admin_conf,
        &cp.cluster,
        cp.address,
    )?)
}

/// A fresh join command from the control plane (its token is a secret).
pub async fn join_command(control_plane: &Session) -> Result<JoinCommand, BringUpError> {
    let out = control_plane.run_checked(&steps::join_command()).await?;
    kubeadm::parse_join_command(&out.stdout).map_err(|source| BringUpError::Kubeadm {
        vm: control_plane.target().vm.clone(),
        source,
    })
}

/// Prepares a worker, checks that it reaches the control plane at `api_address` through
/// the stable name, and joins it (once).
pub async fn join_worker(
    session: &Session,
    cluster: &str,
    node: &str,
    api_address: IpAddr,
    join: &JoinCommand,
) -> Result<(), BringUpError> {
    let api_name = kubeadm::stable_name(cluster);
    session
        .run_checked(&steps::node_prepare(node, &api_name, api_address)?)
        .await?;
    let preflight = session
        .run(&steps::join_preflight(node, &api_name, PREFLIGHT_TIMEOUT)?)
        .await?;
    if preflight.exit_code == Some(EXIT_API_UNREACHABLE) {
        let message = preflight
            .stderr
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned();
        return Err(BringUpError::Unreachable {
            vm: node.to_owned(),
            message,
        });
    }
    preflight.check(node, "join-preflight")?;
    let config = kubeadm::render_join_config(cluster, node, join).map_err(|source| {
        BringUpError::Kubeadm {
            vm: node.to_owned(),
            source,
        }
    })?;
    session.run_checked(&steps::kubeadm_join(&config)?).await?;
    Ok(())
}

/// Points a node at the control plane's new address (the stable name in /etc/hosts), and on
/// the control plane itself moves its static pods there too. Returns whether anything
/// changed.
pub async fn update_endpoint(
    session: &Session,
    cluster: &str,
    api_address: IpAddr,
    is_control_plane: bool,
) -> Result<bool, BringUpError> {
    let api_name = kubeadm::stable_name(cluster);
    let hosts = session
        .run_checked(&steps::update_endpoint(&api_name, api_address)?)
        .await?;
    let mut changed = hosts.stdout.trim() == "changed";
    if is_control_plane {
        let moved = session
            .run_checked(&steps::control_plane_readdress(api_address)?)
            .await?;
        changed |= moved.stdout.trim() == "changed";
    }
    Ok(changed)
}

/// The platform cluster as the nodes of every cluster see it: its name and the address of
/// one of its nodes (its control plane's), where its registry and API node ports answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    /// The platform cluster's name (`platform`).
    pub cluster: String,
    /// A platform node's current address.
    pub address: IpAddr,
}

/// Points the platform's stable names on a node of `cluster` at `platform.address` (see
/// [`steps::platform_hosts_names`]: the registry's, and the platform's API name on the
/// other clusters' nodes) and containerd at the registry. Run after node-prepare, and again
/// whenever the platform's address changes. Returns whether anything changed.
pub async fn platform_names(
    session: &Session,
    cluster: &str,
    platform: &Platform,
) -> Result<bool, BringUpError> {
    let names = steps::platform_hosts_names(cluster, &platform.cluster);
    let out = session
        .run_checked(&steps::platform_names(platform.address, &names)?)
        .await?;
    Ok(out.stdout.trim() == "changed")
}
