//! The decisions of a `provider: tart` ManagedCluster (pure). From what was observed (the
//! cluster's VMs through the host agent, the pinned SSH host keys, the kubeconfig Secret and
//! the cluster itself), the next status and the one step that moves the cluster on:
//!
//! ```text
//! ProvisioningVMs  create the missing VMs, start the stopped ones, wait for addresses
//! Bootstrapping    first contact (authorise our key, pin host keys), kubeadm init
//! Joining          network preflight and kubeadm join on the workers not in the cluster
//!                  (and the platform's names on each)
//! InstallingAddons the platform's names on every node (when the platform's address is
//!                  known and differs from the one last set), register with ArgoCD, wait
//!                  until every addon's workloads are Ready
//! Ready            every node Ready (Degraded otherwise)
//! ```
//!
//! Every step is idempotent on its own (the remote scripts check before they act), and the
//! decision is taken again from what exists after every step, so an operator restart at any
//! point resumes where the cluster is, without a second VM or a second `kubeadm init`.
//! [`record`] turns a failed step into a condition (with the tool's stderr tail).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use crds::ManagedCluster;
use crds::conditions::{ClusterCondition as C, ClusterConditionReason as R};
use crds::managed_cluster::{
    ClusterPhase, ManagedClusterStatus, NodeRole, NodeSpec, NodeStage, NodeStatus,
};
use k8s_openapi::jiff::Timestamp;
use vm_api::{Networking, Resources, VmSpec, VmState};

use super::super::decide::{Probe, desired_status};
use crate::conditions::{self, Stamp};

/// The default image of tart clusters (the CRD's documented default).
pub const DEFAULT_IMAGE: &str = "ghcr.io/cirruslabs/ubuntu:24.04";

/// One VM of the cluster as the host agent reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmView {
    /// The VM (and node) name.
    pub name: String,
    /// Running, suspended or stopped.
    pub state: VmState,
    /// Its address, when running and known.
    pub ip: Option<Ipv4Addr>,
}

/// The annotation on the ManagedCluster with the platform address the nodes' platform names
/// were last set to (written after the step succeeded on every node): the step runs again
/// when the platform's address differs.
pub const PLATFORM_ADDRESS_ANNOTATION: &str = "tartinfra.dev/platform-address";

/// The platform cluster and its control plane's current address (the host agent's answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformView {
    /// The platform cluster's name.
    pub cluster: String,
    /// Its control-plane VM's address.
    pub address: Ipv4Addr,
}

/// One addon workload in the cluster and whether it is Ready.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddonState {
    /// The addon of spec.addons, e.g. `cilium`.
    pub addon: &'static str,
    /// The workload, e.g. `kube-system/daemonset/cilium`.
    pub workload: String,
    /// Whether it exists and all its replicas are Ready.
    pub ready: bool,
}

/// What a tart cluster's reconcile read.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    /// The cluster's VMs (only those named in spec.nodes), or why the host agent could not
    /// be asked (a HostAgent* reason and a message).
    pub vms: Result<Vec<VmView>, (R, String)>,
    /// The operator's SSH key is readable, or why not.
    pub ssh_key: Result<(), String>,
    /// The nodes whose SSH host keys are pinned.
    pub pinned: BTreeSet<String>,
    /// The cluster through its kubeconfig Secret; `None` until `kubeadm init` wrote it.
    pub target: Option<Probe>,
    /// The ArgoCD cluster Secret exists with the labels spec.addons asks for.
    pub registered: bool,
    /// Every addon workload spec.addons asks for (read only when the cluster answers).
    pub addons: Vec<AddonState>,
    /// The platform and its address, or why it is unknown (an older host-agent Secret, a
    /// platform VM without an address, a host agent that does not answer).
    pub platform: Result<PlatformView, String>,
}

/// The one thing a reconcile does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing: wait for the world (addresses, addons) or for a change.
    Wait,
    /// Create these VMs (clone, size, random MAC) and start them.
    CreateVms(Vec<VmSpec>),
    /// Start these stopped VMs.
    StartVms(Vec<String>),
    /// First contact: authorise the operator's key and pin the host keys of these nodes.
    AuthorizeSsh(Vec<String>),
    /// Prepare the control plane and run `kubeadm init`, then write the kubeconfig Secret.
    Init {
        /// The control-plane node.
        node: String,
        /// Its address.
        ip: Ipv4Addr,
    },
    /// The control plane's address changed (a reboot with a new DHCP lease): point the
    /// stable name on every node, the control plane's static pods and the kubeconfig Secret
    /// at the control plane's new address.
    UpdateEndpoint {
        /// The control-plane node and its new address.
        control_plane: (String, Ipv4Addr),
        /// Every node with its address (the control plane included).
        nodes: Vec<(String, Ipv4Addr)>,
    },
    /// Preflight and `kubeadm join` for these workers (name and address), with a join
    /// command from the control plane.
    Join {
        /// The control-plane node and its address.
        control_plane: (String, Ipv4Addr),
        /// The workers to join.
        workers: Vec<(String, Ipv4Addr)>,
        /// The platform whose names each joined worker resolves, when its address is known.
        platform: Option<PlatformView>,
    },
    /// Point the platform's names (the registry's, the platform's API name) at its address
    /// on these nodes (name and address), then record the address in
    /// [`PLATFORM_ADDRESS_ANNOTATION`].
    PlatformNames {
        /// The platform and its current address.
        platform: PlatformView,
        /// Every node with its address.
        nodes: Vec<(String, Ipv4Addr)>,
    },
    /// Write the ArgoCD cluster Secret whose labels select the addons.
    Register,
    /// The ManagedCluster is being deleted: cordon and drain the workers (when the cluster
    /// answers), `kubeadm reset` the running nodes, then delete the VMs, the Secrets and
    /// the pins. Draining and resetting are bounded and best-effort: the VMs go regardless.
    Teardown {
        /// The running workers to cordon and drain.
        drain: Vec<String>,
        /// The running, pinned nodes (name, address) to reset over SSH.
        reset: Vec<(String, Ipv4Addr)>,
    },
}

/// The next status and step.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The status to write before the step.
    pub status: ManagedClusterStatus,
    /// The step.
    pub step: Step,
    /// Whether to look again soon (something is in progress) rather than at the recheck
    /// interval.
    pub soon: bool,
}

/// A step that did not succeed: a condition reason and what happened, the tool's stderr
/// tail last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The reason written to the step's condition.
    pub reason: R,
    /// What failed and what to do.
    pub message: String,
}

impl Failure {
    /// A failure whose fix needs a person (the phase becomes Failed until it succeeds).
    pub fn needs_a_person(&self) -> bool {
        matches!(
            self.reason,
            R::HostKeyChanged | R::VmSpecMismatch | R::CapacityExceeded | R::GuestAgentMissing
        )
    }
}

/// The VM spec of a node.
pub fn vm_spec(mc: &ManagedCluster, node: &NodeSpec) -> VmSpec {
    VmSpec {
        name: node.name.as_str().to_owned(),
        image: mc
            .spec
            .base_image
            .clone()
            .unwrap_or_else(|| DEFAULT_IMAGE.to_owned()),
        resources: Resources {
            cpu: node.cpu,
            memory_mib: u64::from(node.memory_mib),
            disk_gib: u64::from(node.disk_gib),
        },
        networking: Networking::Softnet,
    }
}

/// What deleting does with the nodes as observed: drain the running workers when the
/// cluster answers, reset the running nodes the operator has logged in to (pinned).
fn teardown(nodes: &[NodeSpec], obs: &Observed) -> Step {
    let empty = Vec::new();
    let vms = obs.vms.as_ref().unwrap_or(&empty);
    let running: Vec<(&NodeSpec, Ipv4Addr)> = nodes
        .iter()
        .filter_map(|n| {
            vms.iter()
                .find(|v| v.name == n.name.as_str() && v.state == VmState::Running)
                .and_then(|v| v.ip)
                .map(|ip| (n, ip))
        })
        .collect();
    let answers = matches!(obs.target, Some(Probe::Connected { .. }));
    Step::Teardown {
        drain: running
            .iter()
            .filter(|(n, _)| answers && n.role == NodeRole::Worker)
            .map(|(n, _)| n.name.as_str().to_owned())
            .collect(),
        reset: running
            .iter()
            .filter(|(n, _)| obs.pinned.contains(n.name.as_str()))
            .map(|(n, ip)| (n.name.as_str().to_owned(), *ip))
            .collect(),
    }
}

/// Decides the next step of a tart cluster (pure).
pub fn decide(mc: &ManagedCluster, obs: &Observed, now: Timestamp) -> Decision {
    let generation = mc.metadata.generation;
    let at = Stamp { generation, now };
    let mut s = mc.status.clone().unwrap_or_default();
    s.observed_generation = generation;
    let nodes = mc.spec.nodes.as_deref().unwrap_or_default();
    if mc.metadata.deletion_timestamp.is_some() {
        s.phase = Some(ClusterPhase::Deleting);
        return Decision {
            status: s,
            step: teardown(nodes, obs),
            soon: true,
        };
    }
    let vms = match &obs.vms {
        Ok(vms) => vms,
        Err((reason, message)) => {
            s.phase.get_or_insert(ClusterPhase::Pending);
            at.set(&mut s.conditions, C::Provisioned, false, *reason, message);
            return wait(s, true);
        }
    };
    s.nodes = node_statuses(nodes, vms, obs);
    match provision(mc, nodes, vms, &mut s, at) {
        Vms::Running => bootstrap(mc, nodes, vms, obs, s, at),
        Vms::NoAddress => wait(s, true),
        Vms::Step(step) => Decision {
            status: s,
            step,
            soon: true,
        },
    }
}

/// Where the cluster's VMs are.
enum Vms {
    /// Some are missing or stopped: this step creates or starts them.
    Step(Step),
    /// Every VM runs; some have no address yet.
    NoAddress,
    /// Every VM runs with an address.
    Running,
}

/// Sets Provisioned and says where the VMs are.
fn provision(
    mc: &ManagedCluster,
    nodes: &[NodeSpec],
    vms: &[VmView],
    s: &mut ManagedClusterStatus,
    at: Stamp,
) -> Vms {
    let vm = |name: &str| vms.iter().find(|v| v.name == name);
    let missing: Vec<VmSpec> = nodes
        .iter()
        .filter(|n| vm(n.name.as_str()).is_none())
        .map(|n| vm_spec(mc, n))
        .collect();
    let stopped: Vec<String> = vms
        .iter()
        .filter(|v| v.state != VmState::Running)
        .map(|v| v.name.clone())
        .collect();
    let no_address: Vec<&str> = vms
        .iter()
        .filter(|v| v.state == VmState::Running && v.ip.is_none())
        .map(|v| v.name.as_str())
        .collect();
    let (reason, message, step) = if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|v| v.name.as_str()).collect();
        let message = format!("creating VMs {}", names.join(", "));
        (R::CreatingVms, message, Some(Step::CreateVms(missing)))
    } else if !stopped.is_empty() {
        let message = format!("starting VMs {}", stopped.join(", "));
        (R::StartingVms, message, Some(Step::StartVms(stopped)))
    } else if !no_address.is_empty() {
        let message = format!("waiting for the address of {}", no_address.join(", "));
        (R::WaitingForAddress, message, None)
    } else {
        let message = format!("{} VMs running", vms.len());
        at.set(
            &mut s.conditions,
            C::Provisioned,
            true,
            R::VmsRunning,
            message,
        );
        return Vms::Running;
    };
    s.phase = Some(ClusterPhase::ProvisioningVms);
    progress(s, C::Provisioned, reason, message, at);
    step.map_or(Vms::NoAddress, Vms::Step)
}

/// Every VM runs with an address: SSH access, kubeadm init, joins, addons.
fn bootstrap(
    mc: &ManagedCluster,
    nodes: &[NodeSpec],
    vms: &[VmView],
    obs: &Observed,
    mut s: ManagedClusterStatus,
    at: Stamp,
) -> Decision {
    let ip = |name: &str| vms.iter().find(|v| v.name == name).and_then(|v| v.ip);
    let Some((cp, cp_ip)) = nodes
        .iter()
        .find(|n| n.role == NodeRole::ControlPlane)
        .and_then(|n| Some((n.name.as_str(), ip(n.name.as_str())?)))
    else {
        // The schema requires one control plane; a spec without one cannot be built.
        let message = "spec.nodes has no controlPlane node; add one";
        at.set(
            &mut s.conditions,
            C::Bootstrapped,
            false,
            R::KubeadmFailed,
            message,
        );
        s.phase = Some(ClusterPhase::Failed);
        return wait(s, false);
    };
    let bootstrapping = |mut s: ManagedClusterStatus, reason, message: String, step| {
        s.phase = Some(ClusterPhase::Bootstrapping);
        progress(&mut s, C::Bootstrapped, reason, message, at);
        let soon = step != Step::Wait;
        Decision {
            status: s,
            step,
            soon,
        }
    };
    if let Err(why) = &obs.ssh_key {
        return Decision {
            soon: false,
            ..bootstrapping(s, R::SshKeyMissing, why.clone(), Step::Wait)
        };
    }
    let unpinned: Vec<String> = nodes
        .iter()
        .map(|n| n.name.as_str().to_owned())
        .filter(|n| !obs.pinned.contains(n))
        .collect();
    if !unpinned.is_empty() {
        let message = format!("setting up SSH access to {}", unpinned.join(", "));
        return bootstrapping(s, R::Initializing, message, Step::AuthorizeSsh(unpinned));
    }
    let Some(target) = &obs.target else {
        let message = format!("kubeadm init on {cp} ({cp_ip})");
        let step = Step::Init {
            node: cp.to_owned(),
            ip: cp_ip,
        };
        return bootstrapping(s, R::Initializing, message, step);
    };
    if endpoint_ip(target).is_some_and(|ip| ip != cp_ip) {
        let message = format!("the control plane {cp} moved to {cp_ip}; updating the API name");
        let step = Step::UpdateEndpoint {
            control_plane: (cp.to_owned(), cp_ip),
            nodes: vms
                .iter()
                .filter_map(|v| Some((v.name.clone(), v.ip?)))
                .collect(),
        };
        return bootstrapping(s, R::Initializing, message, step);
    }
    let message = format!("kubeadm init done on {cp}; the kubeconfig Secret is written");
    at.set(
        &mut s.conditions,
        C::Bootstrapped,
        true,
        R::Initialized,
        message,
    );
    let generation = mc.metadata.generation;
    let probed = desired_status(&s, target, generation, at.now);
    let mut s = ManagedClusterStatus {
        nodes: s.nodes,
        phase: s.phase,
        ..probed
    };
    merge_target_nodes(&mut s.nodes, target);
    let Probe::Connected { nodes: seen, .. } = target else {
        // Unreachable or refused: Reachable says why. A cluster that never finished its
        // joins is still bootstrapping; one that did is degraded.
        let joined_once = conditions::get(&s.conditions, C::Joined).is_some();
        s.phase = Some(if joined_once {
            ClusterPhase::Degraded
        } else {
            ClusterPhase::Bootstrapping
        });
        return wait(s, true);
    };
    join_and_install(mc, (cp, cp_ip), nodes, vms, seen, obs, s, at)
}

/// The cluster answers: join the missing workers, set the platform's names, then register and
/// wait for the addons.
#[allow(clippy::too_many_arguments)]
fn join_and_install(
    mc: &ManagedCluster,
    (cp, cp_ip): (&str, Ipv4Addr),
    nodes: &[NodeSpec],
    vms: &[VmView],
    seen: &[NodeStatus],
    obs: &Observed,
    mut s: ManagedClusterStatus,
    at: Stamp,
) -> Decision {
    let ip = |name: &str| vms.iter().find(|v| v.name == name).and_then(|v| v.ip);
    let joining: Vec<(String, Ipv4Addr)> = nodes
        .iter()
        .filter(|n| n.role == NodeRole::Worker && !seen.iter().any(|k| k.name == n.name.as_str()))
        .filter_map(|n| Some((n.name.as_str().to_owned(), ip(n.name.as_str())?)))
        .collect();
    if !joining.is_empty() {
        let names: Vec<&str> = joining.iter().map(|(n, _)| n.as_str()).collect();
        s.phase = Some(ClusterPhase::Joining);
        let message = format!("joining {}", names.join(", "));
        progress(&mut s, C::Joined, R::Joining, message, at);
        return Decision {
            status: s,
            step: Step::Join {
                control_plane: (cp.to_owned(), cp_ip),
                workers: joining,
                platform: obs.platform.as_ref().ok().cloned(),
            },
            soon: true,
        };
    }
    let workers = nodes.iter().filter(|n| n.role == NodeRole::Worker).count();
    let message = format!("{workers} workers joined");
    at.set(&mut s.conditions, C::Joined, true, R::AllJoined, message);
    if let Some(step) = platform_names(mc, vms, obs, &mut s, at) {
        // The addons (image pulls from the registry, remote-write to the platform) need
        // the names; a Ready cluster whose platform moved stays Ready meanwhile.
        if !matches!(s.phase, Some(ClusterPhase::Ready | ClusterPhase::Degraded)) {
            s.phase = Some(ClusterPhase::InstallingAddons);
        }
        return Decision {
            status: s,
            step,
            soon: true,
        };
    }
    if !obs.registered {
        s.phase = Some(ClusterPhase::InstallingAddons);
        let message =
            "registering the cluster with ArgoCD, whose ApplicationSets install the addons";
        progress(
            &mut s,
            C::AddonsReady,
            R::AddonsNotReady,
            message.to_owned(),
            at,
        );
        return Decision {
            status: s,
            step: Step::Register,
            soon: true,
        };
    }
    let waiting: Vec<&str> = obs
        .addons
        .iter()
        .filter(|a| !a.ready)
        .map(|a| a.workload.as_str())
        .collect();
    if !waiting.is_empty() {
        s.phase = Some(ClusterPhase::InstallingAddons);
        let message = format!("waiting for {} to be Ready", waiting.join(", "));
        at.set(
            &mut s.conditions,
            C::AddonsReady,
            false,
            R::AddonsNotReady,
            message,
        );
        return wait(s, true);
    }
    let message = format!("{} addon workloads Ready", obs.addons.len());
    at.set(
        &mut s.conditions,
        C::AddonsReady,
        true,
        R::AddonsInstalled,
        message,
    );
    // Ready or Degraded, as the nodes say (the probe's verdict).
    let nodes_ready = conditions::is_true(&s.conditions, C::NodesReady);
    s.phase = Some(if nodes_ready {
        ClusterPhase::Ready
    } else {
        ClusterPhase::Degraded
    });
    wait(s, false)
}

/// Sets PlatformNames and returns the step that points the nodes' platform names at the
/// platform's address, when it is known and not the one last set. An unknown address
/// leaves the names as they are (the condition says why): the cluster works without them,
/// except for pulls from the lab's registry and the remote-write to the platform.
fn platform_names(
    mc: &ManagedCluster,
    vms: &[VmView],
    obs: &Observed,
    s: &mut ManagedClusterStatus,
    at: Stamp,
) -> Option<Step> {
    let platform = match &obs.platform {
        Ok(p) => p,
        Err(why) => {
            let message = format!(
                "{why}; the nodes do not resolve the platform's names (registry.tart-infra.internal, the platform's API name) until its address is known"
            );
            at.set(
                &mut s.conditions,
                C::PlatformNames,
                false,
                R::PlatformAddressUnknown,
                message,
            );
            return None;
        }
    };
    let names = node_bootstrap::steps::platform_hosts_names(
        mc.metadata.name.as_deref().unwrap_or_default(),
        &platform.cluster,
    )
    .join(" and ");
    let set = mc
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PLATFORM_ADDRESS_ANNOTATION))
        .and_then(|v| v.trim().parse::<Ipv4Addr>().ok());
    let address = platform.address;
    if set == Some(address) {
        let message = format!("{names} resolve to {address} on every node");
        at.set(
            &mut s.conditions,
            C::PlatformNames,
            true,
            R::PlatformNamesSet,
            message,
        );
        return None;
    }
    let message = match set {
        Some(old) => format!(
            "the platform moved from {old} to {address}; pointing {names} at it on every node"
        ),
        None => format!("pointing {names} at the platform's {address} on every node"),
    };
    progress(s, C::PlatformNames, R::SettingPlatformNames, message, at);
    Some(Step::PlatformNames {
        platform: platform.clone(),
        nodes: vms
            .iter()
            .filter_map(|v| Some((v.name.clone(), v.ip?)))
            .collect(),
    })
}

/// Records a failed step on the condition the step works towards (pure).
pub fn record(
    mut s: ManagedClusterStatus,
    step: &Step,
    failure: &Failure,
    at: Stamp,
) -> ManagedClusterStatus {
    let type_ = match step {
        Step::CreateVms(_) | Step::StartVms(_) | Step::Wait => C::Provisioned,
        Step::AuthorizeSsh(_) | Step::Init { .. } | Step::UpdateEndpoint { .. } => C::Bootstrapped,
        Step::Join { .. } => C::Joined,
        Step::PlatformNames { .. } => C::PlatformNames,
        Step::Register => C::AddonsReady,
        Step::Teardown { .. } => C::Provisioned,
    };
    at.set(
        &mut s.conditions,
        type_,
        false,
        failure.reason,
        &failure.message,
    );
    if failure.needs_a_person() && !matches!(step, Step::Teardown { .. }) {
        s.phase = Some(ClusterPhase::Failed);
    }
    s
}

/// Sets an in-progress condition, unless the same condition already shows a failure: that
/// stays visible while the step is retried, until it succeeds.
fn progress(s: &mut ManagedClusterStatus, type_: C, reason: R, message: String, at: Stamp) {
    let failed = conditions::get(&s.conditions, type_)
        .is_some_and(|c| c.status == "False" && FAILURES.iter().any(|r| r.as_str() == c.reason));
    if !failed {
        at.set(&mut s.conditions, type_, false, reason, message);
    }
}

/// The reasons [`record`] writes.
const FAILURES: &[R] = &[
    R::HostAgentUnreachable,
    R::HostAgentUnauthorized,
    R::HostAgentMissing,
    R::CapacityExceeded,
    R::VmLimitReached,
    R::VmSpecMismatch,
    R::VmFailed,
    R::GuestAgentMissing,
    R::SshFailed,
    R::HostKeyChanged,
    R::KubeadmFailed,
    R::PreflightFailed,
    R::JoinFailed,
    R::PlatformNamesFailed,
];

fn wait(status: ManagedClusterStatus, soon: bool) -> Decision {
    Decision {
        status,
        step: Step::Wait,
        soon,
    }
}

/// The address in the kubeconfig's server URL (`https://<ip>:6443`), if it is one.
fn endpoint_ip(target: &Probe) -> Option<Ipv4Addr> {
    let endpoint = match target {
        Probe::Connected { endpoint, .. } => Some(endpoint.as_str()),
        Probe::Failed { endpoint, .. } => endpoint.as_deref(),
        Probe::Paused => None,
    }?;
    let host = endpoint
        .strip_prefix("https://")?
        .split([':', '/'])
        .next()?;
    host.parse().ok()
}

/// Per node of the spec: its VM, address and how far it is.
fn node_statuses(nodes: &[NodeSpec], vms: &[VmView], obs: &Observed) -> Vec<NodeStatus> {
    nodes
        .iter()
        .map(|n| {
            let vm = vms.iter().find(|v| v.name == n.name.as_str());
            let stage = match vm {
                None => NodeStage::Creating,
                Some(v) if v.state != VmState::Running => NodeStage::Starting,
                Some(v) if v.ip.is_none() => NodeStage::Booting,
                Some(_) if !obs.pinned.contains(n.name.as_str()) => NodeStage::Connecting,
                Some(_) => NodeStage::Joining,
            };
            NodeStatus {
                name: n.name.as_str().to_owned(),
                role: Some(n.role),
                ip: vm.and_then(|v| v.ip).map(|ip| ip.to_string()),
                vm_state: vm.map(|v| vm_state(v.state).to_owned()),
                stage: Some(stage),
                ..NodeStatus::default()
            }
        })
        .collect()
}

/// Fills in what the cluster says of each node: registered nodes are Joined, with their
/// readiness and kubelet version.
fn merge_target_nodes(nodes: &mut [NodeStatus], target: &Probe) {
    let Probe::Connected { nodes: seen, .. } = target else {
        return;
    };
    for n in nodes.iter_mut() {
        if let Some(k) = seen.iter().find(|k| k.name == n.name) {
            n.ready = k.ready;
            n.kubelet_version = k.kubelet_version.clone();
            n.stage = Some(NodeStage::Joined);
        }
    }
}

fn vm_state(state: VmState) -> &'static str {
    match state {
        VmState::Running => "running",
        VmState::Suspended => "suspended",
        VmState::Stopped => "stopped",
    }
}
