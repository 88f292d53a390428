//! `tart-infra down` and `tart-infra boot`.
//!
//! - `down`: on each cluster the host has a kubeconfig for, cordon and drain the workers
//!   (Eviction API, PDBs respected), then stop the VMs: workers first, control planes last,
//!   the platform's last of all. Clusters built by the operator are drained by it, not here.
//! - `boot`: start the VMs (control planes first, the platform's first), wait for their addresses,
//!   point every platform node at its control plane's address (`update_endpoint`; the
//!   control plane moves its static pods too; and `platform_names`: the registry's name),
//!   rewrite the kubeconfigs, uncordon. The other
//!   clusters' endpoints are the operator's job once the platform runs.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crds::managed_cluster::{NodeRole, Tier};
use serde_json::json;
use vm_api::{VmBackend as _, VmError, VmState};

use super::progress::{Reporter, Status};
use node_bootstrap::drain;

use super::{Ctx, MacError, MacOptions, bringup, handoff, kubeconfigs, up, vms};
use crate::config::{self, ClusterConfig};

/// How long `stop` gives a VM to shut down.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

async fn ctx(mac: &MacOptions) -> Result<Ctx, MacError> {
    let report = Reporter::new(mac.json);
    let config = config::load(&mac.config)?;
    up::context(mac, config, report).await
}

/// `tart-infra down`.
pub async fn down(mac: &MacOptions, drain_timeout: Duration) -> Result<bool, MacError> {
    let ctx = ctx(mac).await?;
    let result = down_steps(&ctx, drain_timeout).await;
    super::finish(&ctx, "down", result, json!({}))
}

async fn down_steps(ctx: &Ctx, drain_timeout: Duration) -> Result<(), MacError> {
    let r = &ctx.report;
    for cluster in &ctx.config.clusters {
        let Ok(text) = std::fs::read_to_string(ctx.state.cluster_kubeconfig(&cluster.name)) else {
            continue;
        };
        let running = is_running(ctx, vms::control_plane(cluster).map(|n| n.name.as_str())).await;
        if !running {
            r.step(
                &cluster.name,
                "drain",
                Status::Skipped,
                "control plane not running",
            );
            continue;
        }
        let client = handoff::client_with_retry(&text, &cluster.name, false).await?;
        for w in vms::workers(cluster) {
            let node = w.name.as_str();
            drain::cordon(&client, node, true)
                .await
                .map_err(|e| MacError::step(node, "cordon", e))?;
            r.step(node, "cordon", Status::Done, "");
            let n = drain::drain(&client, node, drain_timeout)
                .await
                .map_err(|e| {
                    MacError::step(
                        node,
                        "drain",
                        format!("{e}, then run `tart-infra down` again"),
                    )
                })?;
            r.step(node, "drain", Status::Done, format!("{n} pod(s) evicted"));
        }
    }
    for name in vms::stop_order(&ctx.config) {
        match ctx.client.get(&name).await {
            Ok(Some(vm)) if vm.state == VmState::Running => {
                r.step(&name, "stop", Status::Started, "");
                ctx.client
                    .stop(&name, STOP_TIMEOUT)
                    .await
                    .map_err(|e| MacError::step(&name, "stop", e))?;
                r.step(&name, "stop", Status::Done, "");
            }
            Ok(Some(_)) => r.step(&name, "stop", Status::Skipped, "not running"),
            Ok(None) => r.step(&name, "stop", Status::Skipped, "does not exist"),
            Err(e) => return Err(MacError::step(&name, "stop", e)),
        }
    }
    Ok(())
}

async fn is_running(ctx: &Ctx, vm: Option<&str>) -> bool {
    let Some(vm) = vm else { return false };
    matches!(ctx.client.get(vm).await, Ok(Some(v)) if v.state == VmState::Running)
}

/// `tart-infra boot`.
pub async fn boot(mac: &MacOptions) -> Result<bool, MacError> {
    let ctx = ctx(mac).await?;
    let result = boot_steps(&ctx).await;
    let extra = json!({"kubeconfig": ctx.state.merged_kubeconfig()});
    super::finish(&ctx, "boot", result, extra)
}

async fn boot_steps(ctx: &Ctx) -> Result<(), MacError> {
    let r = &ctx.report;
    let mut addresses = std::collections::BTreeMap::new();
    for name in vms::start_order(&ctx.config) {
        match ctx.client.get(&name).await {
            Ok(Some(_)) => {
                let ip = vms::start(ctx, &name).await?;
                addresses.insert(name, ip);
            }
            Ok(None) => r.step(
                &name,
                "start",
                Status::Skipped,
                "does not exist (run `tart-infra up`)",
            ),
            Err(e) => return Err(MacError::step(&name, "start", e)),
        }
    }
    for cluster in &ctx.config.clusters {
        if cluster.tier == Tier::Platform {
            readdress_platform(ctx, cluster, &addresses).await?;
        } else {
            r.step(
                &cluster.name,
                "endpoint",
                Status::Skipped,
                "the operator updates this cluster's endpoint once the platform runs",
            );
        }
    }
    Ok(())
}

async fn readdress_platform(
    ctx: &Ctx,
    cluster: &ClusterConfig,
    addresses: &std::collections::BTreeMap<String, std::net::Ipv4Addr>,
) -> Result<(), MacError> {
    let r = &ctx.report;
    let name = cluster.name.as_str();
    let path = ctx.state.cluster_kubeconfig(name);
    let Ok(text) = std::fs::read_to_string(&path) else {
        r.step(
            name,
            "endpoint",
            Status::Skipped,
            "no kubeconfig (run `tart-infra up`)",
        );
        return Ok(());
    };
    let Some(cp) = vms::control_plane(cluster) else {
        return Ok(());
    };
    let Some(cp_ip) = addresses.get(cp.name.as_str()).copied() else {
        r.step(
            name,
            "endpoint",
            Status::Skipped,
            "the control plane VM does not exist",
        );
        return Ok(());
    };
    let cp_ip = IpAddr::V4(cp_ip);
    let moved = kubeconfigs::server_ip(&text) != Some(cp_ip);
    let platform = node_bootstrap::bring_up::Platform {
        cluster: name.to_owned(),
        address: cp_ip,
    };
    // Control plane first: its static pods move before the workers look for it.
    let mut nodes: Vec<_> = cluster.nodes.iter().collect();
    nodes.sort_by_key(|n| n.role != NodeRole::ControlPlane);
    for node in nodes {
        let vm = node.name.as_str();
        let Some(ip) = addresses.get(vm).copied() else {
            continue;
        };
        let session = vms::connect(ctx, vm, IpAddr::V4(ip)).await?;
        let changed = node_bootstrap::bring_up::update_endpoint(
            &session,
            name,
            cp_ip,
            node.role == NodeRole::ControlPlane,
        )
        .await
        .map_err(|e| MacError::step(vm, "update-endpoint", e))?;
        // The registry's name follows the platform too (the operator moves the other
        // clusters' nodes once it sees the new address through the VM API).
        bringup::platform_names(ctx, &session, vm, name, &platform).await?;
        let _ = session.close().await;
        r.step(
            vm,
            "update-endpoint",
            if changed {
                Status::Done
            } else {
                Status::Skipped
            },
            if changed { "moved" } else { "unchanged" },
        );
    }
    let rewritten = node_bootstrap::kubeconfig::for_cluster(&text, name, cp_ip)
        .map_err(|e| MacError::step(name, "kubeconfig", e))?;
    bringup::write_kubeconfig(ctx, name, &rewritten)?;
    r.step(
        name,
        "kubeconfig",
        if moved { Status::Done } else { Status::Skipped },
        format!("server {}", node_bootstrap::kubeconfig::server_url(cp_ip)),
    );
    let client = handoff::client(&rewritten, name).await?;
    wait_api(&client, name).await?;
    for w in vms::workers(cluster) {
        drain::cordon(&client, w.name.as_str(), false)
            .await
            .map_err(|e| MacError::step(w.name.as_str(), "uncordon", e))?;
        r.step(w.name.as_str(), "uncordon", Status::Done, "");
    }
    Ok(())
}

/// Waits until the API server answers (it restarts after a move).
async fn wait_api(client: &kube::Client, cluster: &str) -> Result<(), MacError> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match client.apiserver_version().await {
            Ok(_) => return Ok(()),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                return Err(MacError::step(
                    cluster,
                    "api",
                    format!(
                        "the API server does not answer after boot: {e}; see `tart-infra status`"
                    ),
                ));
            }
        }
    }
}

/// Whether a VM API error means "nothing to do" for a delete.
pub fn already_gone(e: &VmError) -> bool {
    matches!(e, VmError::NotFound { .. })
}
