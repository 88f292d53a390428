//! What a ManagedCluster's reconcile reads: for `provider: external`, the kubeconfig
//! Secret, a connection (cached by the registry until the Secret changes), the API server's
//! version and its nodes, each bounded by a timeout.

use std::time::Duration;

use crds::ManagedCluster;
use crds::conditions::ClusterConditionReason as R;
use crds::managed_cluster::{Connection, NodeRole, NodeStatus, SecretKeyRef};
use k8s_openapi::api::core::v1::{Node, Secret};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use crate::context::Context;

const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// What probing a cluster found.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// spec.paused is true.
    Paused,
    /// The cluster cannot be used; `reason` is a condition reason.
    Failed {
        /// SecretMissing, SecretForbidden, SecretUnreadable, KubeconfigInvalid,
        /// InsecureKubeconfig, ProxyNotAllowed, Unreachable or Unauthorized.
        reason: R,
        /// What is wrong and what to do.
        message: String,
        /// The API server URL, when the kubeconfig was readable.
        endpoint: Option<String>,
    },
    /// The API server answered.
    Connected {
        /// The API server URL.
        endpoint: String,
        /// Its gitVersion.
        version: String,
        /// Its nodes.
        nodes: Vec<NodeStatus>,
    },
}

/// A condition reason for a failed request to a managed cluster, with a message.
pub fn classify(e: &kube::Error) -> (R, String) {
    match e {
        kube::Error::Api(s) if s.code == 401 => (
            R::Unauthorized,
            format!(
                "the API server rejected the kubeconfig's credentials: {}",
                s.message
            ),
        ),
        kube::Error::Api(s) if s.code == 403 => (
            R::Unauthorized,
            format!("the kubeconfig's identity lacks permission: {}", s.message),
        ),
        other => (
            R::Unreachable,
            format!("the API server cannot be reached: {other}"),
        ),
    }
}

/// A node as the status shows it.
pub fn node_status(node: &Node) -> NodeStatus {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let control_plane = labels.contains_key("node-role.kubernetes.io/control-plane")
        || labels.contains_key("node-role.kubernetes.io/master");
    let status = node.status.as_ref();
    NodeStatus {
        name: node.name_any(),
        role: Some(if control_plane {
            NodeRole::ControlPlane
        } else {
            NodeRole::Worker
        }),
        ip: status
            .and_then(|s| s.addresses.as_ref())
            .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
            .map(|a| a.address.clone()),
        vm_state: None,
        ready: status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
        kubelet_version: status
            .and_then(|s| s.node_info.as_ref())
            .map(|i| i.kubelet_version.clone()),
        stage: None,
    }
}

async fn read_kubeconfig(client: &Client, r: &SecretKeyRef) -> Result<Vec<u8>, Probe> {
    let fail = |reason, message| Probe::Failed {
        reason,
        message,
        endpoint: None,
    };
    let secret = match Api::<Secret>::namespaced(client.clone(), r.namespace.as_str())
        .get_opt(r.name.as_str())
        .await
    {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(fail(
                R::SecretMissing,
                format!(
                    "Secret {ns}/{name} does not exist; create it with `kubectl -n {ns} create secret generic {name} --from-file={key}=<kubeconfig file>`",
                    ns = r.namespace,
                    name = r.name,
                    key = r.key
                ),
            ));
        }
        Err(kube::Error::Api(s)) if s.code == 403 => {
            return Err(fail(
                R::SecretForbidden,
                format!(
                    "the operator may not read Secret {}/{}: {}",
                    r.namespace, r.name, s.message
                ),
            ));
        }
        Err(e) => {
            return Err(fail(
                R::SecretUnreadable,
                format!("reading Secret {}/{}: {e}", r.namespace, r.name),
            ));
        }
    };
    let data = secret.data.unwrap_or_default();
    let Some(bytes) = data.get(&r.key) else {
        let keys: Vec<&str> = data.keys().map(String::as_str).collect();
        return Err(fail(
            R::KubeconfigInvalid,
            format!(
                "Secret {}/{} has no key {:?} (its keys: {}); set spec.kubeconfigSecretRef.key",
                r.namespace,
                r.name,
                r.key,
                if keys.is_empty() {
                    "none".to_owned()
                } else {
                    keys.join(", ")
                }
            ),
        ));
    };
    Ok(bytes.0.clone())
}

/// Probes the cluster: reads its kubeconfig Secret, connects (clients are cached until the
/// Secret changes), and asks for the server version and the nodes.
pub async fn probe(mc: &ManagedCluster, ctx: &Context) -> Probe {
    if mc.spec.paused {
        return Probe::Paused;
    }
    let Some(secret_ref) = &mc.spec.kubeconfig_secret_ref else {
        return Probe::Failed {
            reason: R::KubeconfigInvalid,
            message: "spec.kubeconfigSecretRef is not set".into(),
            endpoint: None,
        };
    };
    probe_kubeconfig(&mc.name_any(), secret_ref, &mc.spec.connection, ctx).await
}

/// Probes a cluster through the kubeconfig in `secret_ref`, which may use the options
/// `allowed`: connects (clients are cached until the kubeconfig changes) and asks for the
/// server version and the nodes.
pub async fn probe_kubeconfig(
    name: &str,
    secret_ref: &SecretKeyRef,
    allowed: &Connection,
    ctx: &Context,
) -> Probe {
    let bytes = match read_kubeconfig(&ctx.client, secret_ref).await {
        Ok(k) => k,
        Err(p) => return p,
    };
    let cluster = match ctx.clusters.connect(name, &bytes, allowed).await {
        Ok(c) => c,
        Err(e) => {
            return Probe::Failed {
                reason: e.reason,
                message: format!(
                    "Secret {}/{}: {}",
                    secret_ref.namespace, secret_ref.name, e.message
                ),
                endpoint: None,
            };
        }
    };
    let failed = |e: &kube::Error| {
        let (reason, message) = classify(e);
        Probe::Failed {
            reason,
            message,
            endpoint: Some(cluster.endpoint.clone()),
        }
    };
    let timed_out = || Probe::Failed {
        reason: R::Unreachable,
        message: format!(
            "the API server {} did not answer within {}s",
            cluster.endpoint,
            PROBE_TIMEOUT.as_secs()
        ),
        endpoint: Some(cluster.endpoint.clone()),
    };
    let version =
        match tokio::time::timeout(PROBE_TIMEOUT, cluster.client.apiserver_version()).await {
            Ok(Ok(v)) => v.git_version,
            Ok(Err(e)) => return failed(&e),
            Err(_) => return timed_out(),
        };
    let nodes = Api::<Node>::all(cluster.client.clone());
    let nodes = match tokio::time::timeout(PROBE_TIMEOUT, nodes.list(&ListParams::default())).await
    {
        Ok(Ok(list)) => list.items.iter().map(node_status).collect(),
        Ok(Err(e)) => return failed(&e),
        Err(_) => return timed_out(),
    };
    Probe::Connected {
        endpoint: cluster.endpoint.clone(),
        version,
        nodes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_are_classified() {
        let status = |code| {
            kube::Error::Api(Box::new(kube::core::Status {
                code,
                message: "no".into(),
                ..kube::core::Status::default()
            }))
        };
        assert_eq!(classify(&status(401)).0, R::Unauthorized);
        assert_eq!(classify(&status(403)).0, R::Unauthorized);
        assert_eq!(classify(&status(500)).0, R::Unreachable);
    }
}
