//! The platform cluster's bring-up: its VMs in parallel (create, start, address, first
//! contact), `kubeadm init` on the control plane, the kubeconfigs on the host, then the
//! workers' joins in parallel. Each step is one of `node_bootstrap::bring_up`, which check
//! before they act: a re-run never runs a second `kubeadm init` or join.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use futures::future::join_all;
use node_bootstrap::bring_up::{self, ControlPlane, Platform};

use super::kubeconfigs;
use super::progress::Status;
use super::vms;
use super::{Ctx, MacError};
use crate::config::ClusterConfig;

/// Brings `cluster` up and writes its kubeconfig; returns the kubeconfig's text.
pub async fn bring_up(ctx: &Ctx, cluster: &ClusterConfig) -> Result<String, MacError> {
    let name = cluster.name.as_str();
    let cp = vms::control_plane(cluster)
        .ok_or_else(|| MacError::step(name, "bring-up", "the cluster has no controlPlane node"))?;
    let addresses = start_all(ctx, cluster).await?;
    let cp_name = cp.name.as_str();
    let cp_ip = *addresses
        .get(cp_name)
        .ok_or_else(|| MacError::step(cp_name, "ip", "no address"))?;

    let r = &ctx.report;
    let session = vms::connect(ctx, cp_name, IpAddr::V4(cp_ip)).await?;
    r.step(cp_name, "kubeadm-init", Status::Started, "");
    let kubeconfig = bring_up::init_control_plane(
        &session,
        &ControlPlane {
            cluster: name.to_owned(),
            kubernetes_version: ctx.config.kubernetes_version.clone(),
            pod_cidr: cluster.network.pod_cidr.clone(),
            service_cidr: cluster.network.service_cidr.clone(),
            node: cp_name.to_owned(),
            address: IpAddr::V4(cp_ip),
        },
    )
    .await
    .map_err(|e| MacError::step(cp_name, "kubeadm-init", e))?;
    r.step(cp_name, "kubeadm-init", Status::Done, "");
    write_kubeconfig(ctx, name, &kubeconfig)?;
    r.step(
        name,
        "kubeconfig",
        Status::Done,
        ctx.state.cluster_kubeconfig(name).display().to_string(),
    );

    let join = bring_up::join_command(&session)
        .await
        .map_err(|e| MacError::step(cp_name, "join-command", e))?;
    let _ = session.close().await;
    let joins = vms::workers(cluster).map(|w| {
        let join = &join;
        let addresses = &addresses;
        async move {
            let vm = w.name.as_str();
            let ip = addresses
                .get(vm)
                .copied()
                .ok_or_else(|| MacError::step(vm, "ip", "no address"))?;
            let s = vms::connect(ctx, vm, IpAddr::V4(ip)).await?;
            ctx.report.step(vm, "kubeadm-join", Status::Started, "");
            bring_up::join_worker(&s, name, vm, IpAddr::V4(cp_ip), join)
                .await
                .map_err(|e| MacError::step(vm, "kubeadm-join", e))?;
            let _ = s.close().await;
            ctx.report.step(vm, "kubeadm-join", Status::Done, "");
            Ok::<(), MacError>(())
        }
    });
    first_error(ctx, join_all(joins).await)?;
    let platform = Platform {
        cluster: name.to_owned(),
        address: IpAddr::V4(cp_ip),
    };
    let names = cluster.nodes.iter().map(|node| {
        let (vm, platform) = (node.name.as_str(), &platform);
        let ip = addresses.get(vm).copied();
        async move {
            let ip = ip.ok_or_else(|| MacError::step(vm, "ip", "no address"))?;
            let s = vms::connect(ctx, vm, IpAddr::V4(ip)).await?;
            platform_names(ctx, &s, vm, name, platform).await?;
            let _ = s.close().await;
            Ok::<(), MacError>(())
        }
    });
    first_error(ctx, join_all(names).await)?;
    Ok(kubeconfig)
}

/// The platform's names on one node of `cluster` (`node_bootstrap::bring_up::platform_names`),
/// reported as the step `platform-names`.
pub async fn platform_names(
    ctx: &Ctx,
    session: &node_bootstrap::ssh::Session,
    vm: &str,
    cluster: &str,
    platform: &Platform,
) -> Result<(), MacError> {
    let changed = bring_up::platform_names(session, cluster, platform)
        .await
        .map_err(|e| MacError::step(vm, "platform-names", e))?;
    let names = node_bootstrap::steps::platform_hosts_names(cluster, &platform.cluster);
    ctx.report.step(
        vm,
        "platform-names",
        if changed {
            Status::Done
        } else {
            Status::Skipped
        },
        format!(
            "{} -> {}{}",
            names.join(", "),
            platform.address,
            if changed { "" } else { " (unchanged)" }
        ),
    );
    Ok(())
}

/// Creates, starts and first-contacts every VM of `cluster` in parallel; their addresses.
pub async fn start_all(
    ctx: &Ctx,
    cluster: &ClusterConfig,
) -> Result<BTreeMap<String, Ipv4Addr>, MacError> {
    let steps = cluster.nodes.iter().map(|node| async move {
        let spec = vms::vm_spec(&ctx.config, node);
        let ip = vms::ensure_running(ctx, &spec).await?;
        vms::first_contact(ctx, &spec.name).await?;
        Ok::<_, MacError>((spec.name, ip))
    });
    let addresses = first_error(ctx, join_all(steps).await)?;
    Ok(addresses.into_iter().collect())
}

/// Every result's value, or the first error after reporting the others (the caller
/// reports the one returned).
pub fn first_error<T>(ctx: &Ctx, results: Vec<Result<T, MacError>>) -> Result<Vec<T>, MacError> {
    let mut values = Vec::new();
    let mut first = None;
    for result in results {
        match result {
            Ok(v) => values.push(v),
            Err(e) if first.is_none() => first = Some(e),
            Err(e) => {
                if let MacError::Step {
                    subject,
                    step,
                    message,
                } = &e
                {
                    ctx.report
                        .step(subject, step, Status::Failed, message.clone());
                }
            }
        }
    }
    match first {
        Some(e) => Err(e),
        None => Ok(values),
    }
}

/// Writes one cluster's kubeconfig (0600) and re-merges every cluster's into the state
/// directory's `kubeconfig`.
pub fn write_kubeconfig(ctx: &Ctx, cluster: &str, text: &str) -> Result<(), MacError> {
    let path = ctx.state.cluster_kubeconfig(cluster);
    kubeconfigs::write_private(&path, text)
        .map_err(|e| MacError::step(cluster, "kubeconfig", e))?;
    merge_kubeconfigs(&ctx.state, &ctx.config)
}

/// Merges the kubeconfigs of the file's clusters that the state directory has (the
/// platform's first, so its context is the current one).
pub fn merge_kubeconfigs(
    state: &super::StateDir,
    config: &crate::config::Config,
) -> Result<(), MacError> {
    let mut found = Vec::new();
    let clusters = config.select(&[]).map_err(MacError::Config)?;
    for c in clusters {
        let path = state.cluster_kubeconfig(&c.name);
        if let Ok(text) = std::fs::read_to_string(&path) {
            found.push((path.display().to_string(), text));
        }
    }
    let merged_path = state.merged_kubeconfig();
    if found.is_empty() {
        let _ = std::fs::remove_file(&merged_path);
        return Ok(());
    }
    let merged =
        kubeconfigs::merge(&found).map_err(|e| MacError::step("kubeconfig", "merge", e))?;
    kubeconfigs::write_private(&merged_path, &merged)
        .map_err(|e| MacError::step("kubeconfig", "merge", e))
}
