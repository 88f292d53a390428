//! The ManagedCluster controller. For `provider: external` it loads the kubeconfig Secret,
//! connects (clients are cached until the Secret changes), reads the server version and
//! nodes, and keeps status true: phase Ready or Degraded and a `Reachable` condition with
//! a reason. It rechecks periodically and whenever a Secret in the kubeconfig namespace
//! changes. `provider: tart` gets a clear "not supported by this build" condition.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crds::managed_cluster::{ClusterPhase, NodeRole, NodeStatus, Provider, SecretKeyRef};
use crds::{ManagedCluster, ManagedClusterStatus};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Secret};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use crate::conditions;
use crate::context::Context;

/// The controller's name in metrics and logs.
pub const NAME: &str = "managedcluster";
/// Removes the cluster's cached client when the ManagedCluster is deleted.
pub const FINALIZER: &str = "tartinfra.dev/managedcluster";
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a reconcile failed (transient; retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A platform API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The finalizer helper failed.
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
}

impl Error {
    fn label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::Finalizer(_) => "finalizer",
        }
    }
}

/// What probing a cluster found.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// spec.paused is true.
    Paused,
    /// The provider is not implemented in this build.
    ProviderNotSupported(Provider),
    /// The cluster cannot be used; `reason` is a condition reason.
    Failed {
        /// SecretMissing, SecretForbidden, KubeconfigInvalid, Unreachable or Unauthorized.
        reason: &'static str,
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
pub fn classify(e: &kube::Error) -> (&'static str, String) {
    match e {
        kube::Error::Api(s) if s.code == 401 => (
            "Unauthorized",
            format!(
                "the API server rejected the kubeconfig's credentials: {}",
                s.message
            ),
        ),
        kube::Error::Api(s) if s.code == 403 => (
            "Unauthorized",
            format!("the kubeconfig's identity lacks permission: {}", s.message),
        ),
        other => (
            "Unreachable",
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
    let set = |s: &mut ManagedClusterStatus, t: &str, ok: bool, reason: &str, msg: String| {
        conditions::set(&mut s.conditions, t, ok, reason, msg, generation, now);
    };
    match probe {
        Probe::Paused => {
            set(
                &mut s,
                "Paused",
                true,
                "Paused",
                "spec.paused is true: the operator does not touch this cluster".into(),
            );
            return s;
        }
        Probe::ProviderNotSupported(p) => {
            s.phase = Some(ClusterPhase::Pending);
            set(
                &mut s,
                "Provisioned",
                false,
                "ProviderNotSupported",
                format!(
                    "provider {} is not yet supported by this operator build; adopt an existing cluster \
                     with provider external and a kubeconfig Secret instead",
                    serde_json::to_value(p)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                ),
            );
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
            set(&mut s, "Reachable", false, reason, message.clone());
            set(
                &mut s,
                "NodesReady",
                false,
                "Unknown",
                "the cluster cannot be reached".into(),
            );
        }
        Probe::Connected {
            endpoint,
            version,
            nodes,
        } => {
            let ready = nodes.iter().filter(|n| n.ready).count();
            let all_ready = !nodes.is_empty() && ready == nodes.len();
            s.phase = Some(if all_ready {
                ClusterPhase::Ready
            } else {
                ClusterPhase::Degraded
            });
            s.api_server_endpoint = Some(endpoint.clone());
            s.kubernetes_version = Some(version.clone());
            s.nodes = nodes.clone();
            s.ready_nodes = Some(format!("{ready}/{}", nodes.len()));
            set(
                &mut s,
                "Reachable",
                true,
                "Connected",
                format!("API server {endpoint} answered ({version})"),
            );
            let (reason, msg) = if nodes.is_empty() {
                ("NoNodes", "the cluster has no nodes".to_owned())
            } else if all_ready {
                (
                    "AllNodesReady",
                    format!("{ready} of {} nodes are Ready", nodes.len()),
                )
            } else {
                let not_ready: Vec<&str> = nodes
                    .iter()
                    .filter(|n| !n.ready)
                    .map(|n| n.name.as_str())
                    .collect();
                (
                    "NodesNotReady",
                    format!("not Ready: {}", not_ready.join(", ")),
                )
            };
            set(&mut s, "NodesReady", all_ready, reason, msg);
        }
    }
    if !matches!(probe, Probe::Paused) && conditions::get(&s.conditions, "Paused").is_some() {
        set(
            &mut s,
            "Paused",
            false,
            "Resumed",
            "spec.paused is false".into(),
        );
    }
    s
}

async fn read_kubeconfig(client: &Client, r: &SecretKeyRef) -> Result<(String, Vec<u8>), Probe> {
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
                "SecretMissing",
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
                "SecretForbidden",
                format!(
                    "the operator may not read Secret {}/{}: {}",
                    r.namespace, r.name, s.message
                ),
            ));
        }
        Err(e) => {
            return Err(fail(
                "SecretUnreadable",
                format!("reading Secret {}/{}: {e}", r.namespace, r.name),
            ));
        }
    };
    let data = secret.data.unwrap_or_default();
    let Some(bytes) = data.get(&r.key) else {
        let keys: Vec<&str> = data.keys().map(String::as_str).collect();
        return Err(fail(
            "KubeconfigInvalid",
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
    let fingerprint = format!(
        "{}/{}/{}",
        secret.metadata.uid.unwrap_or_default(),
        secret.metadata.resource_version.unwrap_or_default(),
        r.key
    );
    Ok((fingerprint, bytes.0.clone()))
}

async fn probe(mc: &ManagedCluster, ctx: &Context) -> Probe {
    if mc.spec.paused {
        return Probe::Paused;
    }
    if mc.spec.provider != Provider::External {
        ctx.clusters.remove(&mc.name_any());
        return Probe::ProviderNotSupported(mc.spec.provider);
    }
    let Some(secret_ref) = &mc.spec.kubeconfig_secret_ref else {
        return Probe::Failed {
            reason: "KubeconfigInvalid",
            message: "spec.kubeconfigSecretRef is not set".into(),
            endpoint: None,
        };
    };
    let (fingerprint, bytes) = match read_kubeconfig(&ctx.client, secret_ref).await {
        Ok(k) => k,
        Err(p) => {
            ctx.clusters.remove(&mc.name_any());
            return p;
        }
    };
    let cluster = match ctx
        .clusters
        .connect(&mc.name_any(), &fingerprint, &bytes)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            ctx.clusters.remove(&mc.name_any());
            return Probe::Failed {
                reason: "KubeconfigInvalid",
                message: format!("Secret {}/{}: {e}", secret_ref.namespace, secret_ref.name),
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
        reason: "Unreachable",
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

async fn apply(mc: Arc<ManagedCluster>, ctx: &Context) -> Result<Action, Error> {
    let probe = probe(&mc, ctx).await;
    let old = mc.status.clone().unwrap_or_default();
    let new = desired_status(&old, &probe, mc.metadata.generation, Timestamp::now());
    if new != old {
        let api: Api<ManagedCluster> = Api::all(ctx.client.clone());
        let patch =
            crate::status_patch::merge_patch(&old, &new).map_err(kube::Error::SerdeError)?;
        api.patch_status(
            &mc.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
        if old.phase != new.phase {
            tracing::info!(cluster = %mc.name_any(), phase = ?new.phase, "cluster phase changed");
        }
    }
    Ok(match probe {
        Probe::Paused | Probe::ProviderNotSupported(_) => Action::await_change(),
        _ => Action::requeue(ctx.settings.cluster_recheck),
    })
}

/// Reconciles one ManagedCluster.
pub async fn reconcile(mc: Arc<ManagedCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let api: Api<ManagedCluster> = Api::all(ctx.client.clone());
    let result = finalizer(&api, FINALIZER, mc, |event| async {
        match event {
            Finalizer::Apply(mc) => apply(mc, &ctx).await,
            Finalizer::Cleanup(mc) => {
                ctx.clusters.remove(&mc.name_any());
                Ok(Action::await_change())
            }
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    ctx.metrics.reconciled(NAME, started.elapsed());
    result
}

fn error_policy(mc: Arc<ManagedCluster>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(cluster = %mc.name_any(), %error, "reconcile failed; retrying");
    ctx.metrics.reconcile_failed(NAME, error.label());
    Action::requeue(Duration::from_secs(5))
}

/// Runs the controller until `shutdown` resolves. Secrets in `secrets_namespace` are
/// watched, so a changed kubeconfig is picked up at once.
pub async fn run(
    ctx: Arc<Context>,
    secrets_namespace: &str,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let clusters: Api<ManagedCluster> = Api::all(ctx.client.clone());
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), secrets_namespace);
    let controller = Controller::new(clusters, watcher::Config::default());
    let store = controller.store();
    controller
        .watches(
            secrets,
            watcher::Config::default(),
            move |secret: Secret| {
                let (ns, name) = (secret.namespace().unwrap_or_default(), secret.name_any());
                store
                    .state()
                    .into_iter()
                    .filter(|mc| {
                        mc.spec
                            .kubeconfig_secret_ref
                            .as_ref()
                            .is_some_and(|r| r.namespace.as_str() == ns && r.name.as_str() == name)
                    })
                    .map(|mc| ObjectRef::from_obj(mc.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
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
        assert!(conditions::is_true(&s.conditions, "Reachable"));
        assert!(conditions::is_true(&s.conditions, "NodesReady"));
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
        let c = conditions::get(&s.conditions, "NodesReady").expect("condition");
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
            reason: "Unreachable",
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
        let c = conditions::get(&s.conditions, "Reachable").expect("condition");
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "Unreachable")
        );
    }

    #[test]
    fn tart_clusters_say_the_provider_is_not_supported() {
        let s = desired_status(
            &ManagedClusterStatus::default(),
            &Probe::ProviderNotSupported(Provider::Tart),
            None,
            now(),
        );
        assert_eq!(s.phase, Some(ClusterPhase::Pending));
        let c = conditions::get(&s.conditions, "Provisioned").expect("condition");
        assert_eq!(c.reason, "ProviderNotSupported");
        assert!(
            c.message
                .contains("provider tart is not yet supported by this operator build"),
            "{}",
            c.message
        );
    }

    #[test]
    fn api_errors_are_classified() {
        let status = |code| {
            kube::Error::Api(Box::new(kube::core::Status {
                code,
                message: "no".into(),
                ..kube::core::Status::default()
            }))
        };
        assert_eq!(classify(&status(401)).0, "Unauthorized");
        assert_eq!(classify(&status(403)).0, "Unauthorized");
        assert_eq!(classify(&status(500)).0, "Unreachable");
    }
}
