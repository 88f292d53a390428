//! Tart VMs and their figures, from the host agent (`tart-infra serve`'s `GET /v1/vms` and
//! `GET /v1/stats`, which it collects inside each VM over SSH). One background task
//! ([`poll`]) asks the agent every tick while some ManagedCluster has provider tart and
//! keeps the answer in a [`VmCache`]; the snapshot reads the cache ([`views`], pure), so
//! an API call never waits for the Mac.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crds::ManagedCluster;
use crds::managed_cluster::Provider;
use kube::Client;
use kube::runtime::reflector::Store;
use vm_api::wire::VmStatsAnswer;
use vm_api::{AgentClient, Vm, VmBackend as _, VmState};

use super::poll_cache::{self, PollCache};
use crate::controllers::managed_cluster::tart::agent;
use crate::controllers::managed_cluster::tart::names::TartSettings;
use crate::model::{
    VmDisk, VmListeningPort, VmMemory, VmNetwork, VmResources, VmStatsView, VmView,
};

/// The source name of a failing poll in the snapshot's errors.
pub const SOURCE: &str = "vms";

/// What a poll of the host agent gives.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentVms {
    /// Every VM of the agent.
    pub vms: Vec<Vm>,
    /// The running VMs' figures.
    pub stats: Vec<VmStatsAnswer>,
}

/// The host agent's last answer, and why the latest poll failed.
pub type Polled = poll_cache::Polled<AgentVms>;

/// The last [`Polled`], shared by the poller and the API.
pub type VmCache = PollCache<AgentVms>;

/// How often the poller looks for the host agent's Secret while no tart ManagedCluster
/// exists and it has no agent.
const LOOK_FOR_AGENT: Duration = Duration::from_secs(30);

/// Polls the host agent every `every` while there is one: while a tart ManagedCluster
/// exists (then a missing agent is an error), or while the agent's Secret exists (a
/// platform that `tart-infra up` built on a Mac, whose own VMs are the agent's even when
/// every managed cluster is external), until aborted. The agent's client is kept between
/// polls and rebuilt from its Secret after a failure.
pub async fn poll(
    client: Client,
    settings: TartSettings,
    managed: Store<ManagedCluster>,
    cache: VmCache,
    every: Duration,
) {
    let mut agent: Option<AgentClient> = None;
    let mut looked: Option<tokio::time::Instant> = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let tart = managed
            .state()
            .iter()
            .any(|mc| mc.spec.provider == Provider::Tart);
        if !tart && agent.is_none() {
            if looked.is_some_and(|at| at.elapsed() < LOOK_FOR_AGENT) {
                continue;
            }
            looked = Some(tokio::time::Instant::now());
            if !agent::configured(&client, &settings).await {
                cache.set(AgentVms::default());
                continue;
            }
        }
        let answer = match &agent {
            Some(a) => fetch(a).await,
            None => match agent::connect(&client, &settings).await {
                Ok(found) => {
                    let answer = fetch(&found.client).await;
                    agent = Some(found.client);
                    answer
                }
                Err((_, message)) => Err(message),
            },
        };
        match answer {
            Ok((vms, stats)) => cache.set(AgentVms { vms, stats }),
            Err(message) => {
                tracing::debug!(%message, "polling the host agent's VMs failed");
                agent = None;
                cache.fail(message);
            }
        }
    }
}

async fn fetch(agent: &AgentClient) -> Result<(Vec<Vm>, Vec<VmStatsAnswer>), String> {
    let vms = agent.list().await.map_err(|e| e.to_string())?;
    let stats = agent.stats().await.map_err(|e| e.to_string())?;
    Ok((vms, stats))
}

/// Which cluster each VM belongs to: the ManagedClusters' `spec.nodes` (a tart node is a
/// VM of its name), then `nodes` (each cluster with the names of its Kubernetes nodes,
/// which the VMs' hostnames name: how the platform cluster's VMs are found).
pub fn owners(
    managed: &[Arc<ManagedCluster>],
    nodes: &[(String, Vec<String>)],
) -> BTreeMap<String, String> {
    let mut owners = BTreeMap::new();
    for (cluster, names) in nodes {
        for name in names {
            owners.insert(name.clone(), cluster.clone());
        }
    }
    for mc in managed {
        let cluster = mc.metadata.name.clone().unwrap_or_default();
        for node in mc.spec.nodes.iter().flatten() {
            owners.insert(node.name.as_str().to_owned(), cluster.clone());
        }
    }
    owners
}

/// The VMs with their cluster and figures, by cluster then name (pure).
pub fn views(polled: &Polled, owners: &BTreeMap<String, String>) -> Vec<VmView> {
    let mut views: Vec<VmView> = polled
        .last
        .vms
        .iter()
        .map(|vm| {
            let answer = polled.last.stats.iter().find(|a| a.name == vm.name);
            let running = vm.state == VmState::Running;
            VmView {
                name: vm.name.clone(),
                cluster: owners.get(&vm.name).cloned().unwrap_or_default(),
                state: state_name(vm.state).to_owned(),
                ip: answer
                    .filter(|_| running)
                    .and_then(|a| a.ip)
                    .map(|ip| ip.to_string()),
                resources: Some(VmResources {
                    cpu: vm.resources.cpu,
                    memory_mib: vm.resources.memory_mib,
                    disk_gib: vm.resources.disk_gib,
                }),
                stats: answer
                    .filter(|_| running)
                    .and_then(|a| a.stats.as_ref())
                    .map(stats_view),
                stats_error: answer.filter(|_| running).and_then(|a| a.error.clone()),
            }
        })
        .collect();
    views.sort_by(|a, b| (&a.cluster, &a.name).cmp(&(&b.cluster, &b.name)));
    views
}

fn state_name(state: VmState) -> &'static str {
    match state {
        VmState::Running => "running",
        VmState::Suspended => "suspended",
        VmState::Stopped => "stopped",
    }
}

fn stats_view(s: &vm_api::VmStats) -> VmStatsView {
    VmStatsView {
        collected_at: s.collected_at.clone(),
        cpu_percent: s.cpu_percent,
        memory: VmMemory {
            used_bytes: s.memory.used_bytes,
            total_bytes: s.memory.total_bytes,
        },
        disk: VmDisk {
            mount: s.disk.mount.clone(),
            used_bytes: s.disk.used_bytes,
            total_bytes: s.disk.total_bytes,
        },
        network: VmNetwork {
            rx_bytes_per_second: s.network.rx_bytes_per_second,
            tx_bytes_per_second: s.network.tx_bytes_per_second,
        },
        listening: s
            .listening
            .iter()
            .map(|p| VmListeningPort {
                port: p.port,
                protocol: p.protocol.clone(),
                address: p.address.clone(),
                process: p.process.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vm_api::{DiskUsage, ListeningPort, MemoryUsage, NetworkRates, Resources, VmStats};

    fn vm(name: &str, state: VmState) -> Vm {
        Vm {
            name: name.into(),
            state,
            resources: Resources {
                cpu: 2,
                memory_mib: 4096,
                disk_gib: 20,
            },
            failure: None,
        }
    }

    fn figures() -> VmStats {
        VmStats {
            collected_at: "2026-12-05T16:00:00Z".into(),
            cpu_percent: Some(12.5),
            memory: MemoryUsage {
                used_bytes: 1,
                total_bytes: 2,
            },
            disk: DiskUsage {
                mount: "/".into(),
                used_bytes: 3,
                total_bytes: 4,
            },
            network: NetworkRates {
                rx_bytes_per_second: Some(5.0),
                tx_bytes_per_second: None,
            },
            listening: vec![ListeningPort {
                port: 6443,
                protocol: "tcp".into(),
                address: "0.0.0.0".into(),
                process: Some("kube-apiserver".into()),
            }],
        }
    }

    fn mc(yaml: &str) -> Arc<ManagedCluster> {
        Arc::new(serde_yaml::from_str(yaml).expect("ManagedCluster"))
    }

    #[test]
    fn vms_get_their_cluster_figures_and_errors() {
        let dev = mc(r#"
apiVersion: tartinfra.dev/v1alpha1
kind: ManagedCluster
metadata: {name: dev}
spec:
  tier: dev
  provider: tart
  nodes:
    - {name: dev-master, role: controlPlane, cpu: 2, memoryMiB: 4096, diskGiB: 20}
    - {name: dev-worker1, role: worker, cpu: 2, memoryMiB: 4096, diskGiB: 20}
"#);
        let owners = owners(
            &[dev],
            &[
                ("platform".into(), vec!["platform-master".into()]),
                ("dev".into(), vec!["dev-master".into()]),
            ],
        );
        let polled = Polled {
            last: AgentVms {
                vms: vec![
                    vm("dev-worker1", VmState::Running),
                    vm("dev-master", VmState::Running),
                    vm("platform-master", VmState::Stopped),
                    vm("golden-1-33", VmState::Stopped),
                ],
                stats: vec![
                    VmStatsAnswer {
                        name: "dev-master".into(),
                        ip: Some([127, 0, 0, 5].into()),
                        stats: Some(figures()),
                        error: None,
                    },
                    VmStatsAnswer {
                        name: "dev-worker1".into(),
                        ip: None,
                        stats: None,
                        error: Some("connection refused".into()),
                    },
                    // Stopped since the agent's last tick: its old figures are not shown.
                    VmStatsAnswer {
                        name: "platform-master".into(),
                        ip: Some([127, 0, 0, 6].into()),
                        stats: Some(figures()),
                        error: None,
                    },
                ],
            },
            error: None,
        };
        let views = views(&polled, &owners);
        let keys: Vec<(&str, &str, &str)> = views
            .iter()
            .map(|v| (v.cluster.as_str(), v.name.as_str(), v.state.as_str()))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("", "golden-1-33", "stopped"),
                ("dev", "dev-master", "running"),
                ("dev", "dev-worker1", "running"),
                ("platform", "platform-master", "stopped"),
            ]
        );
        let master = &views[1];
        assert_eq!(master.ip.as_deref(), Some("127.0.0.5"));
        assert_eq!(
            master.resources.map(|r| (r.cpu, r.memory_mib, r.disk_gib)),
            Some((2, 4096, 20))
        );
        let stats = master.stats.as_ref().expect("figures");
        assert_eq!(stats.cpu_percent, Some(12.5));
        assert_eq!((stats.memory.used_bytes, stats.disk.total_bytes), (1, 4));
        assert_eq!(stats.network.tx_bytes_per_second, None);
        assert_eq!(
            stats.listening[0].process.as_deref(),
            Some("kube-apiserver")
        );
        assert_eq!(
            (views[2].stats.as_ref(), views[2].stats_error.as_deref()),
            (None, Some("connection refused"))
        );
        assert_eq!(
            (views[3].stats.as_ref(), views[3].ip.as_ref()),
            (None, None)
        );
    }

    #[test]
    fn the_contract_names_every_field_in_camel_case() {
        let polled = Polled {
            last: AgentVms {
                vms: vec![vm("dev-master", VmState::Running)],
                stats: vec![VmStatsAnswer {
                    name: "dev-master".into(),
                    ip: Some([127, 0, 0, 5].into()),
                    stats: Some(figures()),
                    error: None,
                }],
            },
            error: None,
        };
        let json = serde_json::to_value(&views(&polled, &BTreeMap::new())[0]).expect("json");
        assert_eq!(json["resources"]["memoryMiB"], 4096);
        assert_eq!(json["resources"]["diskGiB"], 20);
        assert_eq!(json["stats"]["cpuPercent"], 12.5);
        assert_eq!(json["stats"]["memory"]["totalBytes"], 2);
        assert_eq!(json["stats"]["disk"]["mount"], "/");
        assert_eq!(json["stats"]["network"]["rxBytesPerSecond"], 5.0);
        assert!(json["stats"]["network"]["txBytesPerSecond"].is_null());
        assert_eq!(json["stats"]["listening"][0]["port"], 6443);
        assert!(json["statsError"].is_null());
        assert_eq!(json["ip"], "127.0.0.5");
    }
}
