//! Cordon and drain a node through the Eviction API, so PodDisruptionBudgets are respected:
//! an eviction answered 429 (the budget allows no disruption now) is retried until a
//! timeout, then the error names the pod that blocks. DaemonSet pods, mirror pods and
//! finished pods are left alone, as `kubectl drain` does. Used by `tart-infra down` and by
//! the operator before it deletes a cluster.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, EvictParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt as _};

/// Why a node could not be cordoned or drained.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DrainError {
    /// A PodDisruptionBudget refused a pod's eviction until the timeout.
    #[error(
        "pod {pod} blocks the drain: its PodDisruptionBudget allowed no eviction within {}s; scale its workload up or relax the budget",
        .timeout.as_secs()
    )]
    Blocked { pod: String, timeout: Duration },
    /// The API server refused or failed a call.
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
}

/// Whether `kubectl drain` would evict this pod (pure).
pub fn evictable(pod: &Pod) -> bool {
    let daemon = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "DaemonSet");
    let mirror = pod
        .annotations()
        .contains_key("kubernetes.io/config.mirror");
    let finished = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .is_some_and(|p| p == "Succeeded" || p == "Failed");
    !(daemon || mirror || finished)
}

/// Marks the node (un)schedulable.
pub async fn cordon(client: &Client, node: &str, unschedulable: bool) -> Result<(), DrainError> {
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .patch(
            node,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"unschedulable": unschedulable}})),
        )
        .await
        .map_err(|source| DrainError::Api {
            what: format!("setting node {node} unschedulable={unschedulable}"),
            source,
        })?;
    Ok(())
}

/// Evicts every evictable pod of `node`, retrying refused evictions until `timeout`.
/// Returns how many pods were evicted.
pub async fn drain(client: &Client, node: &str, timeout: Duration) -> Result<usize, DrainError> {
    let pods: Api<Pod> = Api::all(client.clone());
    let list = pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await
        .map_err(|source| DrainError::Api {
            what: format!("listing the pods of node {node}"),
            source,
        })?;
    let deadline = Instant::now() + timeout;
    let mut evicted = 0;
    for pod in list.items.iter().filter(|p| evictable(p)) {
        let ns = pod.namespace().unwrap_or_default();
        let name = pod.name_any();
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        loop {
            match api.evict(&name, &EvictParams::default()).await {
                Ok(_) => {
                    evicted += 1;
                    break;
                }
                Err(kube::Error::Api(e)) if e.code == 404 => break,
                Err(kube::Error::Api(e)) if e.code == 429 && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(kube::Error::Api(e)) if e.code == 429 => {
                    return Err(DrainError::Blocked {
                        pod: format!("{ns}/{name}"),
                        timeout,
                    });
                }
                Err(source) => {
                    return Err(DrainError::Api {
                        what: format!("evicting {ns}/{name}"),
                        source,
                    });
                }
            }
        }
    }
    Ok(evicted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(yaml: &str) -> Pod {
        serde_yaml::from_str(yaml).expect("pod")
    }

    #[test]
    fn daemon_set_mirror_and_finished_pods_stay() {
        assert!(evictable(&pod("metadata: {name: web}\n")));
        assert!(!evictable(&pod(
            "metadata: {name: cilium, ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: cilium, uid: u}]}\n"
        )));
        assert!(!evictable(&pod(
            "metadata: {name: etcd, annotations: {kubernetes.io/config.mirror: x}}\n"
        )));
        assert!(!evictable(&pod(
            "metadata: {name: job}\nstatus: {phase: Succeeded}\n"
        )));
        assert!(evictable(&pod(
            "metadata: {name: web, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web, uid: u}]}\nstatus: {phase: Running}\n"
        )));
    }
}
