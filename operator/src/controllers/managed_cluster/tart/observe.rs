//! What a tart cluster's reconcile reads, each read bounded by a timeout: the cluster's VMs
//! and their addresses from the host agent, the operator's SSH key Secret, the pinned host
//! keys, the cluster through its kubeconfig Secret (once written), the ArgoCD cluster Secret,
//! the addon workloads, and the platform's address (its control-plane VM's, from the host
//! agent).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crds::ManagedCluster;
use crds::conditions::ClusterConditionReason as R;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::{Client, ResourceExt};
use vm_api::{VmBackend, VmError, VmState};

use super::addons::{self, Kind, Workload};
use super::agent::PlatformVm;
use super::decide::{AddonState, Observed, PlatformView, VmView};
use super::names::{Names, SSH_PRIVATE_KEY, TartSettings};
use crate::context::Context;
use crate::controllers::managed_cluster::decide::Probe;
use crate::controllers::managed_cluster::observe::probe_kubeconfig;

const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads everything [`super::decide::decide`] needs. `backend` is the host agent's VM API
/// (or `Err` with why it cannot be used).
pub async fn observe<B: VmBackend>(
    mc: &ManagedCluster,
    ctx: &Context,
    settings: &TartSettings,
    names: &Names,
    backend: Result<&B, (R, String)>,
    platform: Result<&PlatformVm, String>,
) -> Observed {
    let platform = match (&backend, platform) {
        (Ok(b), Ok(p)) => platform_address(*b, p).await,
        (_, Err(why)) => Err(why),
        (Err((_, why)), Ok(_)) => Err(format!("the host agent cannot be asked: {why}")),
    };
    let vms = match backend {
        Ok(b) => vms(mc, b).await,
        Err(why) => Err(why),
    };
    let client = &ctx.client;
    let ssh_key = ssh_key(client, settings).await;
    let pinned = pinned(client, &settings.namespace, &names.host_keys).await;
    let target = target(mc, ctx, names).await;
    let registered = registered(client, mc, settings, names).await;
    let addons = match (&target, ctx.clusters.get(&mc.name_any())) {
        (Some(Probe::Connected { .. }), Some(cluster)) => {
            addon_states(&cluster.client, &addons::workloads(&mc.spec.addons)).await
        }
        _ => Vec::new(),
    };
    Observed {
        vms,
        ssh_key,
        pinned,
        target,
        registered,
        addons,
        platform,
    }
}

/// The platform's control-plane VM's current address, from the host agent.
async fn platform_address<B: VmBackend>(
    backend: &B,
    platform: &PlatformVm,
) -> Result<PlatformView, String> {
    let vm = &platform.vm;
    match tokio::time::timeout(READ_TIMEOUT, backend.ip(vm, Duration::ZERO)).await {
        Ok(Ok(address)) => Ok(PlatformView {
            cluster: platform.cluster.clone(),
            address,
        }),
        Ok(Err(e)) => Err(format!(
            "the host agent knows no address of the platform's VM {vm}: {e}"
        )),
        Err(_) => Err(format!(
            "asking the host agent for the address of the platform's VM {vm} timed out"
        )),
    }
}

/// The cluster's VMs (those spec.nodes names) with the addresses of the running ones.
async fn vms<B: VmBackend>(mc: &ManagedCluster, backend: &B) -> Result<Vec<VmView>, (R, String)> {
    let wanted: BTreeSet<&str> = mc
        .spec
        .nodes
        .iter()
        .flatten()
        .map(|n| n.name.as_str())
        .collect();
    let listed = backend.list().await.map_err(|e| agent_problem(&e))?;
    let mut views = Vec::new();
    for vm in listed
        .into_iter()
        .filter(|v| wanted.contains(v.name.as_str()))
    {
        let ip = match vm.state {
            VmState::Running => match backend.ip(&vm.name, Duration::ZERO).await {
                Ok(ip) => Some(ip),
                Err(VmError::NoIp { .. } | VmError::NotRunning { .. }) => None,
                Err(e) => return Err(agent_problem(&e)),
            },
            _ => None,
        };
        views.push(VmView {
            name: vm.name,
            state: vm.state,
            ip,
        });
    }
    Ok(views)
}

/// The condition reason and message for a host agent that could not be asked.
pub fn agent_problem(e: &VmError) -> (R, String) {
    let reason = match e {
        VmError::Unauthorized { .. } => R::HostAgentUnauthorized,
        VmError::Unreachable { .. } | VmError::Protocol { .. } => R::HostAgentUnreachable,
        _ => R::VmFailed,
    };
    (reason, e.to_string())
}

async fn ssh_key(client: &Client, settings: &TartSettings) -> Result<(), String> {
    let (ns, name) = (&settings.namespace, &settings.ssh_key_secret);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let fix = format!(
        "create it with `kubectl -n {ns} create secret generic {name} --type=kubernetes.io/ssh-auth --from-file={SSH_PRIVATE_KEY}=<ed25519 private key>` (tart-infra up does)"
    );
    match tokio::time::timeout(READ_TIMEOUT, secrets.get_opt(name)).await {
        Ok(Ok(Some(s)))
            if s.data
                .as_ref()
                .is_some_and(|d| d.contains_key(SSH_PRIVATE_KEY)) =>
        {
            Ok(())
        }
        Ok(Ok(Some(_))) => Err(format!(
            "Secret {ns}/{name} has no key {SSH_PRIVATE_KEY}; {fix}"
        )),
        Ok(Ok(None)) => Err(format!("Secret {ns}/{name} does not exist; {fix}")),
        Ok(Err(e)) => Err(format!("reading Secret {ns}/{name}: {e}")),
        Err(_) => Err(format!("reading Secret {ns}/{name} timed out")),
    }
}

/// The pinned host keys of a cluster: node name → `<algorithm> <base64>` lines.
pub async fn host_keys(client: &Client, ns: &str, name: &str) -> BTreeMap<String, String> {
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    match tokio::time::timeout(READ_TIMEOUT, maps.get_opt(name)).await {
        Ok(Ok(Some(m))) => m.data.unwrap_or_default(),
        _ => BTreeMap::new(),
    }
}

async fn pinned(client: &Client, ns: &str, name: &str) -> BTreeSet<String> {
    host_keys(client, ns, name)
        .await
        .into_iter()
        .filter(|(_, keys)| !keys.trim().is_empty())
        .map(|(node, _)| node)
        .collect()
}

/// The cluster through its kubeconfig Secret; `None` while the Secret does not exist.
async fn target(mc: &ManagedCluster, ctx: &Context, names: &Names) -> Option<Probe> {
    match probe_kubeconfig(&mc.name_any(), &names.kubeconfig, &mc.spec.connection, ctx).await {
        Probe::Failed {
            reason: R::SecretMissing,
            ..
        } => None,
        probe => Some(probe),
    }
}

/// Whether the ArgoCD cluster Secret exists with the labels spec.addons asks for.
async fn registered(
    client: &Client,
    mc: &ManagedCluster,
    settings: &TartSettings,
    names: &Names,
) -> bool {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &settings.argocd_namespace);
    let Ok(Ok(Some(secret))) =
        tokio::time::timeout(READ_TIMEOUT, secrets.get_opt(&names.argocd_secret)).await
    else {
        return false;
    };
    let want = crds::argocd::argocd_labels(&mc.name_any(), mc.spec.tier, &mc.spec.addons);
    let have = secret.labels();
    want.iter().all(|(k, v)| have.get(k) == Some(v))
}

/// Each addon workload and whether all its replicas are Ready.
async fn addon_states(client: &Client, workloads: &[Workload]) -> Vec<AddonState> {
    let mut states = Vec::with_capacity(workloads.len());
    for w in workloads {
        states.push(AddonState {
            addon: w.addon,
            workload: w.display(),
            ready: workload_ready(client, w).await,
        });
    }
    states
}

async fn workload_ready(client: &Client, w: &Workload) -> bool {
    match w.kind {
        Kind::DaemonSet => {
            let api: Api<DaemonSet> = Api::namespaced(client.clone(), w.namespace);
            let Ok(Ok(Some(ds))) = tokio::time::timeout(READ_TIMEOUT, api.get_opt(w.name)).await
            else {
                return false;
            };
            ds.status.is_some_and(|s| {
                s.desired_number_scheduled > 0 && s.number_ready == s.desired_number_scheduled
            })
        }
        Kind::Deployment => {
            let api: Api<Deployment> = Api::namespaced(client.clone(), w.namespace);
            let Ok(Ok(Some(d))) = tokio::time::timeout(READ_TIMEOUT, api.get_opt(w.name)).await
            else {
                return false;
            };
            let want = d.spec.and_then(|s| s.replicas).unwrap_or(1);
            d.status
                .is_some_and(|s| want > 0 && s.ready_replicas.unwrap_or(0) >= want)
        }
    }
}
