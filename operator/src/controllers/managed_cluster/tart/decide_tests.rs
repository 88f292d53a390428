//! The tart cluster's decisions, one row per situation: what was observed → phase, step and
//! the condition that says why.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use crds::ManagedCluster;
use crds::conditions::{ClusterCondition as C, ClusterConditionReason as R};
use crds::managed_cluster::{ClusterPhase, NodeStage, NodeStatus};
use k8s_openapi::jiff::Timestamp;
use vm_api::VmState;

use super::decide::{AddonState, Failure, Observed, PlatformView, Step, VmView, decide, record};
use crate::conditions::{self, Stamp};
use crate::controllers::managed_cluster::decide::Probe;

fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).expect("time")
}

fn cluster() -> ManagedCluster {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "tartinfra.dev/v1alpha1", "kind": "ManagedCluster",
        "metadata": {
            "name": "dev", "generation": 1,
            "annotations": { "tartinfra.dev/platform-address": "127.0.0.2" },
        },
        "spec": {
            "tier": "dev", "provider": "tart",
            "baseImage": "tart-infra-k8s-1.33",
            "network": { "podCidr": "10.20.0.0/16", "serviceCidr": "10.97.0.0/16" },
            "nodes": [
                { "name": "dev-master", "role": "controlPlane", "cpu": 2, "memoryMiB": 4096, "diskGiB": 20 },
                { "name": "dev-worker1", "role": "worker", "cpu": 2, "memoryMiB": 8192, "diskGiB": 20 },
            ],
        },
    }))
    .expect("cluster")
}

const CP_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
const WORKER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 12);
/// The platform's control plane, as the cluster's annotation records it.
const PLATFORM_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

fn platform(address: Ipv4Addr) -> PlatformView {
    PlatformView {
        cluster: "platform".into(),
        address,
    }
}

fn vm(name: &str, state: VmState, ip: Option<Ipv4Addr>) -> VmView {
    VmView {
        name: name.into(),
        state,
        ip,
    }
}

fn running() -> Vec<VmView> {
    vec![
        vm("dev-master", VmState::Running, Some(CP_IP)),
        vm("dev-worker1", VmState::Running, Some(WORKER_IP)),
    ]
}

fn node(name: &str, ready: bool) -> NodeStatus {
    NodeStatus {
        name: name.into(),
        ready,
        kubelet_version: Some("v1.33.4".into()),
        ..NodeStatus::default()
    }
}

fn connected(nodes: Vec<NodeStatus>) -> Probe {
    Probe::Connected {
        endpoint: format!("https://{CP_IP}:6443"),
        version: "v1.33.4".into(),
        nodes,
    }
}

fn pinned() -> BTreeSet<String> {
    ["dev-master", "dev-worker1"].map(String::from).into()
}

fn cilium(ready: bool) -> AddonState {
    AddonState {
        addon: "cilium",
        workload: "kube-system/daemonset/cilium".into(),
        ready,
    }
}

/// A cluster one step from Ready: every VM runs, keys pinned, both nodes joined and Ready,
/// registered, Cilium Ready.
fn ready() -> Observed {
    Observed {
        vms: Ok(running()),
        ssh_key: Ok(()),
        pinned: pinned(),
        target: Some(connected(vec![
            node("dev-master", true),
            node("dev-worker1", true),
        ])),
        registered: true,
        addons: vec![cilium(true)],
        platform: Ok(platform(PLATFORM_IP)),
    }
}

struct Row {
    name: &'static str,
    observed: Observed,
    phase: ClusterPhase,
    step: Step,
    condition: (C, bool, R),
    message: &'static str,
}

fn rows() -> Vec<Row> {
    let spec_of = |name: &str| {
        let mc = cluster();
        let nodes = mc.spec.nodes.clone().unwrap_or_default();
        let n = nodes.iter().find(|n| n.name.as_str() == name).cloned();
        super::decide::vm_spec(&mc, &n.expect("node"))
    };
    vec![
        Row {
            name: "the host agent does not answer",
            observed: Observed {
                vms: Err((R::HostAgentUnreachable, "connection refused".into())),
                ..ready()
            },
            phase: ClusterPhase::Pending,
            step: Step::Wait,
            condition: (C::Provisioned, false, R::HostAgentUnreachable),
            message: "connection refused",
        },
        Row {
            name: "no VM exists",
            observed: Observed {
                vms: Ok(vec![]),
                pinned: BTreeSet::new(),
                target: None,
                ..ready()
            },
            phase: ClusterPhase::ProvisioningVms,
            step: Step::CreateVms(vec![spec_of("dev-master"), spec_of("dev-worker1")]),
            condition: (C::Provisioned, false, R::CreatingVms),
            message: "creating VMs dev-master, dev-worker1",
        },
        Row {
            name: "one VM exists and is stopped, the other is missing",
            observed: Observed {
                vms: Ok(vec![vm("dev-master", VmState::Stopped, None)]),
                ..ready()
            },
            phase: ClusterPhase::ProvisioningVms,
            step: Step::CreateVms(vec![spec_of("dev-worker1")]),
            condition: (C::Provisioned, false, R::CreatingVms),
            message: "creating VMs dev-worker1",
        },
        Row {
            name: "VMs exist, one stopped (after a Mac reboot)",
            observed: Observed {
                vms: Ok(vec![
                    vm("dev-master", VmState::Running, Some(CP_IP)),
                    vm("dev-worker1", VmState::Stopped, None),
                ]),
                ..ready()
            },
            phase: ClusterPhase::ProvisioningVms,
            step: Step::StartVms(vec!["dev-worker1".into()]),
            condition: (C::Provisioned, false, R::StartingVms),
            message: "starting VMs dev-worker1",
        },
        Row {
            name: "a VM runs without an address yet",
            observed: Observed {
                vms: Ok(vec![
                    vm("dev-master", VmState::Running, Some(CP_IP)),
                    vm("dev-worker1", VmState::Running, None),
                ]),
                ..ready()
            },
            phase: ClusterPhase::ProvisioningVms,
            step: Step::Wait,
            condition: (C::Provisioned, false, R::WaitingForAddress),
            message: "waiting for the address of dev-worker1",
        },
        Row {
            name: "the operator's SSH key Secret is missing",
            observed: Observed {
                ssh_key: Err("Secret tart-system/tart-operator-ssh does not exist".into()),
                pinned: BTreeSet::new(),
                target: None,
                ..ready()
            },
            phase: ClusterPhase::Bootstrapping,
            step: Step::Wait,
            condition: (C::Bootstrapped, false, R::SshKeyMissing),
            message: "tart-operator-ssh does not exist",
        },
        Row {
            name: "host keys not pinned yet",
            observed: Observed {
                pinned: ["dev-master".to_owned()].into(),
                target: None,
                ..ready()
            },
            phase: ClusterPhase::Bootstrapping,
            step: Step::AuthorizeSsh(vec!["dev-worker1".into()]),
            condition: (C::Bootstrapped, false, R::Initializing),
            message: "setting up SSH access to dev-worker1",
        },
        Row {
            name: "no kubeconfig yet: kubeadm init",
            observed: Observed {
                target: None,
                ..ready()
            },
            phase: ClusterPhase::Bootstrapping,
            step: Step::Init {
                node: "dev-master".into(),
                ip: CP_IP,
            },
            condition: (C::Bootstrapped, false, R::Initializing),
            message: "kubeadm init on dev-master (127.0.0.11)",
        },
        Row {
            name: "the control plane came back on another address",
            observed: Observed {
                vms: Ok(vec![
                    vm(
                        "dev-master",
                        VmState::Running,
                        Some(Ipv4Addr::new(127, 0, 0, 21)),
                    ),
                    vm("dev-worker1", VmState::Running, Some(WORKER_IP)),
                ]),
                ..ready()
            },
            phase: ClusterPhase::Bootstrapping,
            step: Step::UpdateEndpoint {
                control_plane: ("dev-master".into(), Ipv4Addr::new(127, 0, 0, 21)),
                nodes: vec![
                    ("dev-master".into(), Ipv4Addr::new(127, 0, 0, 21)),
                    ("dev-worker1".into(), WORKER_IP),
                ],
            },
            condition: (C::Bootstrapped, false, R::Initializing),
            message: "moved to 127.0.0.21",
        },
        Row {
            name: "the API server does not answer right after init",
            observed: Observed {
                target: Some(Probe::Failed {
                    reason: R::Unreachable,
                    message: "connection refused".into(),
                    endpoint: Some(format!("https://{CP_IP}:6443")),
                }),
                ..ready()
            },
            phase: ClusterPhase::Bootstrapping,
            step: Step::Wait,
            condition: (C::Reachable, false, R::Unreachable),
            message: "connection refused",
        },
        Row {
            name: "the worker has not joined",
            observed: Observed {
                target: Some(connected(vec![node("dev-master", true)])),
                registered: false,
                ..ready()
            },
            phase: ClusterPhase::Joining,
            step: Step::Join {
                control_plane: ("dev-master".into(), CP_IP),
                workers: vec![("dev-worker1".into(), WORKER_IP)],
                platform: Some(platform(PLATFORM_IP)),
            },
            condition: (C::Joined, false, R::Joining),
            message: "joining dev-worker1",
        },
        Row {
            name: "the worker joins while the platform's address is unknown",
            observed: Observed {
                target: Some(connected(vec![node("dev-master", true)])),
                registered: false,
                platform: Err(
                    "Secret tart-system/host-agent has no keys platform-cluster and platform-vm"
                        .into(),
                ),
                ..ready()
            },
            phase: ClusterPhase::Joining,
            step: Step::Join {
                control_plane: ("dev-master".into(), CP_IP),
                workers: vec![("dev-worker1".into(), WORKER_IP)],
                platform: None,
            },
            condition: (C::Joined, false, R::Joining),
            message: "joining dev-worker1",
        },
        Row {
            name: "joined, the platform moved: its names move before anything else",
            observed: Observed {
                registered: false,
                addons: vec![],
                platform: Ok(platform(Ipv4Addr::new(127, 0, 0, 3))),
                ..ready()
            },
            phase: ClusterPhase::InstallingAddons,
            step: Step::PlatformNames {
                platform: platform(Ipv4Addr::new(127, 0, 0, 3)),
                nodes: vec![
                    ("dev-master".into(), CP_IP),
                    ("dev-worker1".into(), WORKER_IP),
                ],
            },
            condition: (C::PlatformNames, false, R::SettingPlatformNames),
            message: "the platform moved from 127.0.0.2 to 127.0.0.3; pointing registry.tart-infra.internal and api.platform.tart-infra.internal at it",
        },
        Row {
            name: "Ready, the platform's address unknown (an older host-agent Secret): nothing to do",
            observed: Observed {
                platform: Err(
                    "Secret tart-system/host-agent has no keys platform-cluster and platform-vm"
                        .into(),
                ),
                ..ready()
            },
            phase: ClusterPhase::Ready,
            step: Step::Wait,
            condition: (C::PlatformNames, false, R::PlatformAddressUnknown),
            message: "has no keys platform-cluster and platform-vm; the nodes do not resolve the platform's names",
        },
        Row {
            name: "Ready, the platform's names set to its address",
            observed: ready(),
            phase: ClusterPhase::Ready,
            step: Step::Wait,
            condition: (C::PlatformNames, true, R::PlatformNamesSet),
            message: "registry.tart-infra.internal and api.platform.tart-infra.internal resolve to 127.0.0.2 on every node",
        },
        Row {
            name: "joined, not registered with ArgoCD",
            observed: Observed {
                registered: false,
                addons: vec![],
                ..ready()
            },
            phase: ClusterPhase::InstallingAddons,
            step: Step::Register,
            condition: (C::AddonsReady, false, R::AddonsNotReady),
            message: "registering the cluster with ArgoCD",
        },
        Row {
            name: "registered, Cilium not Ready yet",
            observed: Observed {
                addons: vec![cilium(false)],
                ..ready()
            },
            phase: ClusterPhase::InstallingAddons,
            step: Step::Wait,
            condition: (C::AddonsReady, false, R::AddonsNotReady),
            message: "waiting for kube-system/daemonset/cilium to be Ready",
        },
        Row {
            name: "everything Ready",
            observed: ready(),
            phase: ClusterPhase::Ready,
            step: Step::Wait,
            condition: (C::AddonsReady, true, R::AddonsInstalled),
            message: "1 addon workloads Ready",
        },
        Row {
            name: "a node is not Ready",
            observed: Observed {
                target: Some(connected(vec![
                    node("dev-master", true),
                    node("dev-worker1", false),
                ])),
                ..ready()
            },
            phase: ClusterPhase::Degraded,
            step: Step::Wait,
            condition: (C::NodesReady, false, R::NodesNotReady),
            message: "not Ready: dev-worker1",
        },
    ]
}

#[test]
fn every_situation_leads_to_its_phase_step_and_condition() {
    let mc = cluster();
    for row in rows() {
        let d = decide(&mc, &row.observed, now());
        let name = row.name;
        assert_eq!(d.status.phase, Some(row.phase), "{name}: phase");
        assert_eq!(d.step, row.step, "{name}: step");
        let (type_, status, reason) = row.condition;
        let c = conditions::get(&d.status.conditions, type_)
            .unwrap_or_else(|| panic!("{name}: no condition {type_}"));
        let want = if status { "True" } else { "False" };
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            (want, reason.as_str()),
            "{name}"
        );
        assert!(c.message.contains(row.message), "{name}: {:?}", c.message);
        assert_eq!(d.status.observed_generation, Some(1), "{name}");
    }
}

#[test]
fn a_ready_cluster_says_so_on_every_condition_and_node() {
    let d = decide(&cluster(), &ready(), now());
    for type_ in [
        C::Provisioned,
        C::Bootstrapped,
        C::Joined,
        C::AddonsReady,
        C::Reachable,
        C::NodesReady,
        C::PlatformNames,
    ] {
        assert!(
            conditions::is_true(&d.status.conditions, type_),
            "{type_}: {:?}",
            d.status.conditions
        );
    }
    assert_eq!(d.status.ready_nodes.as_deref(), Some("2/2"));
    assert_eq!(d.status.kubernetes_version.as_deref(), Some("v1.33.4"));
    let nodes: Vec<_> = d
        .status
        .nodes
        .iter()
        .map(|n| {
            (
                n.name.as_str(),
                n.ip.as_deref(),
                n.vm_state.as_deref(),
                n.stage,
                n.ready,
            )
        })
        .collect();
    assert_eq!(
        nodes,
        [
            (
                "dev-master",
                Some("127.0.0.11"),
                Some("running"),
                Some(NodeStage::Joined),
                true
            ),
            (
                "dev-worker1",
                Some("127.0.0.12"),
                Some("running"),
                Some(NodeStage::Joined),
                true
            ),
        ]
    );
    assert!(!d.soon, "a Ready cluster is rechecked at the normal pace");
}

#[test]
fn per_node_stages_follow_the_bring_up() {
    let observed = Observed {
        vms: Ok(vec![vm("dev-master", VmState::Running, None)]),
        pinned: BTreeSet::new(),
        target: None,
        ..ready()
    };
    let d = decide(&cluster(), &observed, now());
    let stages: Vec<_> = d.status.nodes.iter().map(|n| n.stage).collect();
    assert_eq!(
        stages,
        [Some(NodeStage::Booting), Some(NodeStage::Creating)]
    );
}

#[test]
fn a_failed_step_stays_visible_while_it_is_retried() {
    let mc = cluster();
    let observed = Observed {
        target: None,
        ..ready()
    };
    let first = decide(&mc, &observed, now());
    let failure = Failure {
        reason: R::KubeadmFailed,
        message: "kubeadm init on dev-master failed (exit 1): [ERROR Mem]: the system RAM (1024 MB) is less than the minimum 1700 MB".into(),
    };
    let at = Stamp {
        generation: Some(1),
        now: now(),
    };
    let failed = record(first.status, &first.step, &failure, at);
    let c = conditions::get(&failed.conditions, C::Bootstrapped).expect("condition");
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", "KubeadmFailed")
    );
    assert!(
        c.message.ends_with("less than the minimum 1700 MB"),
        "{}",
        c.message
    );
    assert_eq!(
        failed.phase,
        Some(ClusterPhase::Bootstrapping),
        "retried, not Failed"
    );
    // The next pass retries the same step and keeps the failure in status.
    let mut mc = mc;
    mc.status = Some(failed);
    let again = decide(&mc, &observed, now());
    assert!(matches!(again.step, Step::Init { .. }));
    let c = conditions::get(&again.status.conditions, C::Bootstrapped).expect("condition");
    assert_eq!(c.reason, "KubeadmFailed");
}

#[test]
fn failures_a_person_must_fix_fail_the_cluster() {
    let at = Stamp {
        generation: Some(1),
        now: now(),
    };
    let cases = [
        (
            Step::AuthorizeSsh(vec!["dev-master".into()]),
            R::HostKeyChanged,
            C::Bootstrapped,
            ClusterPhase::Failed,
        ),
        (
            Step::CreateVms(vec![]),
            R::CapacityExceeded,
            C::Provisioned,
            ClusterPhase::Failed,
        ),
        (
            Step::Join {
                control_plane: ("dev-master".into(), CP_IP),
                workers: vec![],
                platform: None,
            },
            R::PreflightFailed,
            C::Joined,
            ClusterPhase::Joining,
        ),
        (
            Step::StartVms(vec![]),
            R::HostAgentUnreachable,
            C::Provisioned,
            ClusterPhase::Joining,
        ),
        (
            Step::PlatformNames {
                platform: platform(PLATFORM_IP),
                nodes: vec![],
            },
            R::PlatformNamesFailed,
            C::PlatformNames,
            ClusterPhase::Joining,
        ),
    ];
    for (step, reason, type_, phase) in cases {
        let status = crds::managed_cluster::ManagedClusterStatus {
            phase: Some(ClusterPhase::Joining),
            ..Default::default()
        };
        let failure = Failure {
            reason,
            message: "m".into(),
        };
        let s = record(status, &step, &failure, at);
        assert_eq!(s.phase, Some(phase), "{reason}");
        let c = conditions::get(&s.conditions, type_).expect("condition");
        assert_eq!(c.reason, reason.as_str());
    }
}

#[test]
fn a_cluster_being_deleted_drains_its_workers_and_resets_its_running_nodes() {
    let mut mc = cluster();
    mc.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()));
    let teardown = |obs: &Observed| {
        let d = decide(&mc, obs, now());
        assert_eq!(d.status.phase, Some(ClusterPhase::Deleting));
        d.step
    };
    let both = vec![
        ("dev-master".to_owned(), CP_IP),
        ("dev-worker1".to_owned(), WORKER_IP),
    ];
    assert_eq!(
        teardown(&ready()),
        Step::Teardown {
            drain: vec!["dev-worker1".into()],
            reset: both.clone(),
        }
    );
    // The cluster does not answer: nothing to drain through, the nodes are still reset.
    let unreachable = Observed {
        target: None,
        ..ready()
    };
    assert_eq!(
        teardown(&unreachable),
        Step::Teardown {
            drain: vec![],
            reset: both,
        }
    );
    // A stopped worker is neither drained nor reset; an unpinned node was never logged in to.
    let partly = Observed {
        vms: Ok(vec![
            vm("dev-master", VmState::Running, Some(CP_IP)),
            vm("dev-worker1", VmState::Stopped, None),
        ]),
        pinned: ["dev-worker1"].map(String::from).into(),
        ..ready()
    };
    assert_eq!(
        teardown(&partly),
        Step::Teardown {
            drain: vec![],
            reset: vec![],
        }
    );
    // The host agent cannot be asked: the VMs are unknown, and deleting waits for the agent.
    let no_agent = Observed {
        vms: Err((R::HostAgentUnreachable, "down".into())),
        ..ready()
    };
    assert_eq!(
        teardown(&no_agent),
        Step::Teardown {
            drain: vec![],
            reset: vec![],
        }
    );
}

/// A cluster whose names were never set (no annotation: built before the host-agent Secret
/// named the platform) gets them once the address is known, on every node, and a Ready
/// cluster stays Ready meanwhile; a failure of the step stays on its condition.
#[test]
fn the_platform_names_are_set_once_the_address_is_known_and_again_when_it_moves() {
    let mut mc = cluster();
    mc.metadata.annotations = None;
    mc.status = Some(crds::managed_cluster::ManagedClusterStatus {
        phase: Some(ClusterPhase::Ready),
        ..Default::default()
    });
    let d = decide(&mc, &ready(), now());
    assert_eq!(d.status.phase, Some(ClusterPhase::Ready));
    let step = Step::PlatformNames {
        platform: platform(PLATFORM_IP),
        nodes: vec![
            ("dev-master".into(), CP_IP),
            ("dev-worker1".into(), WORKER_IP),
        ],
    };
    assert_eq!(d.step, step);
    assert!(d.soon);
    let c = conditions::get(&d.status.conditions, C::PlatformNames).expect("condition");
    assert_eq!(c.reason, "SettingPlatformNames");
    assert!(
        c.message
            .contains("pointing registry.tart-infra.internal and api.platform.tart-infra.internal at the platform's 127.0.0.2"),
        "{}",
        c.message
    );
    // The step failed on a node: recorded, retried, still visible.
    let at = Stamp {
        generation: Some(1),
        now: now(),
    };
    let failure = Failure {
        reason: R::PlatformNamesFailed,
        message: "platform-names on dev-worker1 failed (exit 1): /etc/containerd/config.toml has no empty config_path to set".into(),
    };
    let failed = record(d.status, &d.step, &failure, at);
    assert_eq!(
        failed.phase,
        Some(ClusterPhase::Ready),
        "retried, not Failed"
    );
    mc.status = Some(failed);
    let again = decide(&mc, &ready(), now());
    assert_eq!(again.step, step);
    let c = conditions::get(&again.status.conditions, C::PlatformNames).expect("condition");
    assert_eq!(c.reason, "PlatformNamesFailed");
    // Done and recorded: nothing more until the platform moves.
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert(
        super::decide::PLATFORM_ADDRESS_ANNOTATION.to_owned(),
        PLATFORM_IP.to_string(),
    );
    mc.metadata.annotations = Some(annotations);
    let done = decide(&mc, &ready(), now());
    assert_eq!(done.step, Step::Wait);
    assert!(conditions::is_true(
        &done.status.conditions,
        C::PlatformNames
    ));
}
