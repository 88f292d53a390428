//! The ManagedCluster controller's decisions: the status a probe leads to, whether the
//! cached client goes, and when to probe again (pure).

use std::time::Duration;

use crds::ManagedCluster;
use crds::conditions::{ClusterCondition as C, ClusterConditionReason as R};
use crds::managed_cluster::{ClusterPhase, ManagedClusterStatus, NodeStatus};
use k8s_openapi::jiff::Timestamp;

pub use super::observe::Probe;
use crate::conditions::{self, Stamp};
use crate::controllers::Next;

/// What to do with the cluster's client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Keep it (a cluster that is unreachable now may answer later).
    Keep,
    /// Drop it, and the cluster's collectors: its kubeconfig is gone or unusable, its
    /// provider is not served, or the ManagedCluster is being deleted.
    Disconnect,
}

/// The next step for one ManagedCluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The status to write.
    pub status: ManagedClusterStatus,
    /// The client.
    pub effect: Effect,
    /// When to probe again.
    pub next: Next,
}

/// Decides from the probe (pure): rechecks every `recheck` unless paused or unsupported.
/// A cluster being deleted (it has no probe) only loses its client.
pub fn decide(
    mc: &ManagedCluster,
    probe: Option<&Probe>,
    recheck: Duration,
    now: Timestamp,
) -> Decision {
    let old = mc.status.clone().unwrap_or_default();
    let (Some(probe), None) = (probe, &mc.metadata.deletion_timestamp) else {
        return Decision {
            status: old,
            effect: Effect::Disconnect,
            next: Next::AwaitChange,
        };
    };
    let status = desired_status(&old, probe, mc.metadata.generation, now);
    let (effect, next) = match probe {
        Probe::Paused => (Effect::Keep, Next::AwaitChange),
        Probe::Failed {
            reason:
                R::SecretMissing
                | R::SecretForbidden
                | R::SecretUnreadable
                | R::KubeconfigInvalid
                | R::InsecureKubeconfig
                | R::ProxyNotAllowed,
            ..
        } => (Effect::Disconnect, Next::Requeue(recheck)),
        Probe::Failed { .. } | Probe::Connected { .. } => (Effect::Keep, Next::Requeue(recheck)),
    };
    Decision {
        status,
        effect,
        next,
    }
}

/// The status a probe leads to (pure).
pub fn desired_status(
    old: &ManagedClusterStatus,
    probe: &Probe,
    generation: Option<i64>,
    now: Timestamp,
) -> ManagedClusterStatus {
    let mut s = old.clone();
    s.observed_generation = generation;
    let at = Stamp { generation, now };
    match probe {
        Probe::Paused => {
            let message = "spec.paused is true: the operator does not touch this cluster";
            at.set(&mut s.conditions, C::Paused, true, R::Paused, message);
            return s;
        }
        Probe::Failed {
            reason,
            message,
            endpoint,
        } => {
            s.phase = Some(ClusterPhase::Degraded);
            s.api_server_endpoint = endpoint.clone().or(s.api_server_endpoint.take());
            // Node data would be stale: say unknown rather than keep old values.
            s.nodes.clear();
            s.ready_nodes = None;
            at.set(
                &mut s.conditions,
                C::Reachable,
                false,
                *reason,
                message.clone(),
            );
            let unknown = "the cluster cannot be reached";
            at.set(&mut s.conditions, C::NodesReady, false, R::Unknown, unknown);
        }
        Probe::Connected {
            endpoint,
            version,
            nodes,
        } => connected(&mut s, endpoint, version, nodes, at),
    }
    if !matches!(probe, Probe::Paused) && conditions::get(&s.conditions, C::Paused).is_some() {
        at.set(
            &mut s.conditions,
            C::Paused,
            false,
            R::Resumed,
            "spec.paused is false",
        );
    }
    s
}

/// The API server answered: Ready when every node is, else Degraded with the nodes named.
fn connected(
    s: &mut ManagedClusterStatus,
    endpoint: &str,
    version: &str,
    nodes: &[NodeStatus],
    at: Stamp,
) {
    let ready = nodes.iter().filter(|n| n.ready).count();
    let all_ready = !nodes.is_empty() && ready == nodes.len();
    s.phase = Some(if all_ready {
        ClusterPhase::Ready
    } else {
        ClusterPhase::Degraded
    });
    s.api_server_endpoint = Some(endpoint.to_owned());
    s.kubernetes_version = Some(version.to_owned());
    s.nodes = nodes.to_vec();
    s.ready_nodes = Some(format!("{ready}/{}", nodes.len()));
    let answered = format!("API server {endpoint} answered ({version})");
    at.set(
        &mut s.conditions,
        C::Reachable,
        true,
        R::Connected,
        answered,
    );
    let (reason, message) = if nodes.is_empty() {
        (R::NoNodes, "the cluster has no nodes".to_owned())
    } else if all_ready {
        (
            R::AllNodesReady,
            format!("{ready} of {} nodes are Ready", nodes.len()),
        )
    } else {
        let not_ready: Vec<&str> = nodes
            .iter()
            .filter(|n| !n.ready)
            .map(|n| n.name.as_str())
            .collect();
        (
            R::NodesNotReady,
            format!("not Ready: {}", not_ready.join(", ")),
        )
    };
    at.set(&mut s.conditions, C::NodesReady, all_ready, reason, message);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).expect("time")
    }

    fn node(name: &str, ready: bool) -> NodeStatus {
        NodeStatus {
            name: name.into(),
            ready,
            ..NodeStatus::default()
        }
    }

    #[test]
    fn a_connected_cluster_with_ready_nodes_is_ready() {
        let probe = Probe::Connected {
            endpoint: "https://127.0.0.1:6443".into(),
            version: "v1.36.3".into(),
            nodes: vec![node("a", true), node("b", true)],
        };
        let s = desired_status(&ManagedClusterStatus::default(), &probe, Some(3), now());
        assert_eq!(s.phase, Some(ClusterPhase::Ready));
        assert_eq!(s.ready_nodes.as_deref(), Some("2/2"));
        assert_eq!(s.kubernetes_version.as_deref(), Some("v1.36.3"));
        assert!(conditions::is_true(&s.conditions, C::Reachable));
        assert!(conditions::is_true(&s.conditions, C::NodesReady));
        assert_eq!(s.observed_generation, Some(3));
    }

    #[test]
    fn a_not_ready_node_degrades_the_cluster_and_is_named() {
        let probe = Probe::Connected {
            endpoint: "e".into(),
            version: "v".into(),
            nodes: vec![node("a", true), node("b", false)],
        };
        let s = desired_status(&ManagedClusterStatus::default(), &probe, None, now());
        assert_eq!(s.phase, Some(ClusterPhase::Degraded));
        let c = conditions::get(&s.conditions, C::NodesReady).expect("condition");
        assert_eq!(
            (c.reason.as_str(), c.message.as_str()),
            ("NodesNotReady", "not Ready: b")
        );
        let empty = Probe::Connected {
            endpoint: "e".into(),
            version: "v".into(),
            nodes: vec![],
        };
        assert_eq!(
            desired_status(&s, &empty, None, now()).phase,
            Some(ClusterPhase::Degraded)
        );
    }

    #[test]
    fn a_failure_clears_stale_node_data_and_keeps_the_reason() {
        let connected = Probe::Connected {
            endpoint: "e".into(),
            version: "v".into(),
            nodes: vec![node("a", true)],
        };
        let before = desired_status(&ManagedClusterStatus::default(), &connected, None, now());
        let failed = Probe::Failed {
            reason: R::Unreachable,
            message: "refused".into(),
            endpoint: None,
        };
        let s = desired_status(&before, &failed, None, now());
        assert_eq!(s.phase, Some(ClusterPhase::Degraded));
        assert!(s.nodes.is_empty() && s.ready_nodes.is_none());
        assert_eq!(
            s.api_server_endpoint.as_deref(),
            Some("e"),
            "the last known endpoint stays"
        );
        let c = conditions::get(&s.conditions, C::Reachable).expect("condition");
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "Unreachable")
        );
    }

    fn cluster(meta: serde_json::Value) -> ManagedCluster {
        let mut metadata = serde_json::json!({ "name": "dev", "generation": 2 });
        if let (Some(m), Some(extra)) = (metadata.as_object_mut(), meta.as_object()) {
            m.extend(extra.clone());
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "tartinfra.dev/v1alpha1", "kind": "ManagedCluster",
            "metadata": metadata,
            "spec": { "tier": "dev", "provider": "external", "kubeconfigSecretRef": { "namespace": "tart-system", "name": "dev-kubeconfig" } },
        }))
        .expect("cluster")
    }

    #[test]
    fn the_client_goes_with_the_kubeconfig_and_stays_through_outages() {
        let recheck = Duration::from_secs(30);
        let mc = cluster(serde_json::json!({}));
        let failed = |reason| Probe::Failed {
            reason,
            message: "x".into(),
            endpoint: None,
        };
        let cases = [
            (
                failed(R::SecretMissing),
                Effect::Disconnect,
                Next::Requeue(recheck),
            ),
            (
                failed(R::SecretForbidden),
                Effect::Disconnect,
                Next::Requeue(recheck),
            ),
            (
                failed(R::SecretUnreadable),
                Effect::Disconnect,
                Next::Requeue(recheck),
            ),
            (
                failed(R::KubeconfigInvalid),
                Effect::Disconnect,
                Next::Requeue(recheck),
            ),
            (failed(R::Unreachable), Effect::Keep, Next::Requeue(recheck)),
            (
                failed(R::Unauthorized),
                Effect::Keep,
                Next::Requeue(recheck),
            ),
            (Probe::Paused, Effect::Keep, Next::AwaitChange),
            (
                Probe::Connected {
                    endpoint: "e".into(),
                    version: "v".into(),
                    nodes: vec![node("a", true)],
                },
                Effect::Keep,
                Next::Requeue(recheck),
            ),
        ];
        for (probe, effect, next) in cases {
            let d = decide(&mc, Some(&probe), recheck, now());
            assert_eq!((d.effect, &d.next), (effect, &next), "{probe:?}");
            assert_eq!(
                d.status,
                desired_status(&ManagedClusterStatus::default(), &probe, Some(2), now())
            );
        }
        let deleting = cluster(
            serde_json::json!({ "deletionTimestamp": "2027-01-15T08:00:00Z", "finalizers": ["tartinfra.dev/managedcluster"] }),
        );
        let d = decide(&deleting, None, recheck, now());
        assert_eq!((d.effect, d.next), (Effect::Disconnect, Next::AwaitChange));
        assert_eq!(
            d.status,
            ManagedClusterStatus::default(),
            "a deleted cluster's status stays"
        );
    }
}
