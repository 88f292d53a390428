//! One VM's steps through the VM API: create (idempotent), start when not running, wait for
//! its address, first contact (our key authorised and its host keys pinned through the
//! guest agent), and an SSH session with retries while sshd comes up.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use crds::managed_cluster::{NodeRole, NodeSpec};
use node_bootstrap::ssh::{Session, SshClient, SshTarget};
use vm_api::{Networking, Resources, VmBackend as _, VmSpec, VmState};

use super::progress::Status;
use super::{Ctx, MacError};
use crate::config::{ClusterConfig, Config};

/// How long a VM has to get an address.
pub const IP_WAIT: Duration = Duration::from_secs(180);
/// How long SSH is retried while a VM boots.
const SSH_RETRY: Duration = Duration::from_secs(90);

/// The VM a node of the file becomes.
pub fn vm_spec(config: &Config, node: &NodeSpec) -> VmSpec {
    VmSpec {
        name: node.name.as_str().to_owned(),
        image: config.base_image.clone(),
        resources: Resources {
            cpu: node.cpu,
            memory_mib: u64::from(node.memory_mib),
            disk_gib: u64::from(node.disk_gib),
        },
        networking: Networking::Softnet,
    }
}

/// The control plane of a cluster (the file guarantees exactly one).
pub fn control_plane(cluster: &ClusterConfig) -> Option<&NodeSpec> {
    cluster
        .nodes
        .iter()
        .find(|n| n.role == NodeRole::ControlPlane)
}

/// The workers of a cluster.
pub fn workers(cluster: &ClusterConfig) -> impl Iterator<Item = &NodeSpec> {
    cluster.nodes.iter().filter(|n| n.role == NodeRole::Worker)
}

/// The order VMs stop in: workers first, control planes last, the platform cluster's last
/// of all (pure).
pub fn stop_order(config: &Config) -> Vec<String> {
    let groups = [false, true]
        .into_iter()
        .flat_map(|platform| [NodeRole::Worker, NodeRole::ControlPlane].map(|r| (platform, r)));
    in_groups(config, groups)
}

/// The order VMs start in: control planes first, then workers, the platform's before the
/// others' in each group (pure).
pub fn start_order(config: &Config) -> Vec<String> {
    let groups = [NodeRole::ControlPlane, NodeRole::Worker]
        .into_iter()
        .flat_map(|role| [true, false].map(|platform| (platform, role)));
    in_groups(config, groups)
}

/// The node names of each (platform cluster or not, role) group in turn, each group in the
/// file's order.
fn in_groups(config: &Config, groups: impl Iterator<Item = (bool, NodeRole)>) -> Vec<String> {
    let mut names = Vec::new();
    for (platform, role) in groups {
        for c in config
            .clusters
            .iter()
            .filter(|c| (c.tier == crds::managed_cluster::Tier::Platform) == platform)
        {
            names.extend(
                c.nodes
                    .iter()
                    .filter(|n| n.role == role)
                    .map(|n| n.name.as_str().to_owned()),
            );
        }
    }
    names
}

/// Creates the VM (nothing when it exists with these resources) and starts it when it does
/// not run; returns its address.
pub async fn ensure_running(ctx: &Ctx, spec: &VmSpec) -> Result<Ipv4Addr, MacError> {
    let name = spec.name.as_str();
    let r = &ctx.report;
    let existing = ctx
        .client
        .get(name)
        .await
        .map_err(|e| MacError::step(name, "get", e))?;
    if existing.is_some() {
        r.step(name, "create", Status::Skipped, "exists");
    } else {
        r.step(name, "create", Status::Started, "");
        ctx.client
            .create(spec)
            .await
            .map_err(|e| MacError::step(name, "create", e))?;
        r.step(name, "create", Status::Done, "");
    }
    start(ctx, name).await
}

/// Starts the VM when it does not run; returns its address.
pub async fn start(ctx: &Ctx, name: &str) -> Result<Ipv4Addr, MacError> {
    let r = &ctx.report;
    let state = ctx
        .client
        .get(name)
        .await
        .map_err(|e| MacError::step(name, "get", e))?
        .map(|vm| vm.state);
    if state == Some(VmState::Running) {
        r.step(name, "start", Status::Skipped, "running");
    } else {
        r.step(name, "start", Status::Started, "");
        ctx.client
            .start(name)
            .await
            .map_err(|e| MacError::step(name, "start", e))?;
        r.step(name, "start", Status::Done, "");
    }
    let ip = ctx
        .client
        .ip(name, IP_WAIT)
        .await
        .map_err(|e| MacError::step(name, "ip", e))?;
    r.step(name, "ip", Status::Done, ip.to_string());
    Ok(ip)
}

/// Authorises our key on the VM and pins its host keys (safe to repeat).
pub async fn first_contact(ctx: &Ctx, name: &str) -> Result<(), MacError> {
    node_bootstrap::first_contact::first_contact(
        &ctx.client,
        &ctx.known_hosts,
        name,
        ctx.user(),
        &ctx.key,
    )
    .await
    .map_err(|e| MacError::step(name, "first-contact", e))?;
    ctx.report
        .step(name, "first-contact", Status::Done, "host keys pinned");
    Ok(())
}

/// An SSH session to the VM, retried while the error is transient.
pub async fn connect(ctx: &Ctx, name: &str, ip: IpAddr) -> Result<Session, MacError> {
    let client = SshClient::new(ctx.key.clone(), ctx.known_hosts.clone());
    let target = SshTarget::new(name, ip, ctx.user());
    let deadline = Instant::now() + SSH_RETRY;
    loop {
        match client.connect(&target).await {
            Ok(session) => return Ok(session),
            Err(e) if e.is_transient() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(MacError::step(name, "ssh", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "baseImage: ghcr.io/cirruslabs/ubuntu:24.04
kubernetesVersion: '1.33'
ssh: {user: root, privateKeyPath: /k, knownHostsPath: /kh}
clusters:
  - name: dev
    tier: dev
    network: {podCidr: 10.20.0.0/16, serviceCidr: 10.97.0.0/16}
    addons: {cilium: {hubble: true}}
    nodes:
      - {name: dev-master, role: controlPlane, cpu: 2, memoryMiB: 2048, diskGiB: 20}
      - {name: dev-worker1, role: worker, cpu: 1, memoryMiB: 1024, diskGiB: 20}
  - name: platform
    tier: platform
    network: {podCidr: 10.10.0.0/16, serviceCidr: 10.96.0.0/16}
    addons: {cilium: {hubble: true}}
    nodes:
      - {name: platform-master, role: controlPlane, cpu: 2, memoryMiB: 2048, diskGiB: 20}
      - {name: platform-worker1, role: worker, cpu: 1, memoryMiB: 1024, diskGiB: 20}
";

    #[test]
    fn vms_stop_workers_first_and_the_platform_last() {
        let config = crate::config::parse(FILE, "test").expect("config");
        assert_eq!(
            stop_order(&config),
            [
                "dev-worker1",
                "dev-master",
                "platform-worker1",
                "platform-master"
            ]
        );
        assert_eq!(
            start_order(&config),
            [
                "platform-master",
                "dev-master",
                "platform-worker1",
                "dev-worker1"
            ]
        );
    }

    #[test]
    fn a_node_becomes_a_softnet_vm_of_the_base_image() {
        let config = crate::config::parse(FILE, "test").expect("config");
        let dev = config.cluster("dev").expect("dev");
        let cp = control_plane(dev).expect("cp");
        let spec = vm_spec(&config, cp);
        assert_eq!(spec.name, "dev-master");
        assert_eq!(spec.image, "ghcr.io/cirruslabs/ubuntu:24.04");
        assert_eq!((spec.resources.cpu, spec.resources.memory_mib), (2, 2048));
        assert_eq!(spec.networking, Networking::Softnet);
        assert_eq!(workers(dev).count(), 1);
    }
}
