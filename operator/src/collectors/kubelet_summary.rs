//! Node disk and network from the kubelet Summary API (`/stats/summary`), read through each
//! cluster's API server (`/api/v1/nodes/{name}/proxy/stats/summary`), for the nodes
//! node-exporter gives no figures for (see [`super::node_figures`]).
//!
//! The node proxy needs `get` on `nodes/proxy`, which also lets its holder run commands in
//! pods through the kubelet; a cluster whose credentials lack it answers 403, and its nodes
//! say so. One background task ([`poll`]) reads every wanted node at the metrics pace; a node's
//! rates are the change of the kubelet's byte counters between two reads ([`next`], pure),
//! so they appear from the second read on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::Timestamp;
use serde::Deserialize;

use super::node_figures::{self, HISTORY_SECS};
use super::poll_cache::PollCache;
use crate::model::{NetworkPoint, NodeFigures, VmDisk, VmNetwork};

/// Where the figures come from, as the API says it.
pub const SOURCE: &str = "kubelet Summary API through the API server's node proxy";
/// How long one read may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Reads in flight per cluster.
const IN_FLIGHT: usize = 4;
/// The disk the Summary API reports: the file system of the kubelet's root directory.
pub const NODEFS: &str = "nodefs";

/// What one read of a node's Summary gives.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    /// When the kubelet read the network counters (unix seconds); none without them.
    pub time: Option<f64>,
    /// Bytes received and sent since boot over every interface but loopback and virtual
    /// ones; none when the kubelet reports no such interface.
    pub bytes: Option<(u64, u64)>,
    /// The kubelet's file system (used is capacity less available).
    pub disk: Option<VmDisk>,
}

#[derive(Deserialize)]
struct Summary {
    node: NodeStats,
}

#[derive(Deserialize)]
struct NodeStats {
    network: Option<NetworkStats>,
    fs: Option<FsStats>,
}

#[derive(Deserialize)]
struct NetworkStats {
    time: Option<String>,
    #[serde(flatten)]
    default: InterfaceStats,
    #[serde(default)]
    interfaces: Vec<InterfaceStats>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InterfaceStats {
    #[serde(default)]
    name: String,
    rx_bytes: Option<u64>,
    tx_bytes: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FsStats {
    available_bytes: Option<u64>,
    capacity_bytes: Option<u64>,
}

/// Reads a Summary (`k8s.io/kubelet/pkg/apis/stats/v1alpha1`'s JSON) (pure). The network
/// counters are the sum over `interfaces` (or the default interface when the list is
/// absent), leaving out loopback and virtual interfaces as node-exporter's figures do.
pub fn parse(body: &[u8]) -> Result<Sample, String> {
    let summary: Summary = serde_json::from_slice(body)
        .map_err(|e| format!("the kubelet's answer is not a Summary: {e}"))?;
    let node = summary.node;
    let disk = node.fs.and_then(|fs| {
        let (total, available) = (fs.capacity_bytes?, fs.available_bytes?);
        (total > 0).then(|| VmDisk {
            mount: NODEFS.into(),
            used_bytes: total.saturating_sub(available),
            total_bytes: total,
        })
    });
    let (time, bytes) = match node.network {
        None => (None, None),
        Some(network) => {
            let time = match network.time.as_deref() {
                Some(t) => Some(
                    t.parse::<Timestamp>()
                        .map_err(|e| format!("node.network.time {t:?} is not a time: {e}"))?
                        .as_millisecond() as f64
                        / 1000.0,
                ),
                None => None,
            };
            let interfaces = if network.interfaces.is_empty() {
                vec![network.default]
            } else {
                network.interfaces
            };
            let counted: Vec<(u64, u64)> = interfaces
                .iter()
                .filter(|i| !node_figures::is_virtual_nic(&i.name))
                .filter_map(|i| Some((i.rx_bytes?, i.tx_bytes?)))
                .collect();
            let bytes = (!counted.is_empty()).then(|| {
                counted.iter().fold((0u64, 0u64), |(r, t), (rx, tx)| {
                    (r.saturating_add(*rx), t.saturating_add(*tx))
                })
            });
            (time, bytes)
        }
    };
    Ok(Sample { time, bytes, disk })
}

/// What is kept of a node between reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Kept {
    /// The last read that worked.
    pub sample: Option<Sample>,
    /// The figures of the last read that worked, with the rates of the last two.
    pub figures: Option<NodeFigures>,
    /// Why the latest read failed; none when it worked.
    pub error: Option<String>,
    /// Reads failed in a row.
    pub failures: u32,
    /// Polls to let pass before the next read ([`backoff`]).
    pub wait: u32,
}

/// Polls to let pass after `failures` failed reads in a row: none after one, then 1, 3, 7
/// and at most 15 (about 4 minutes at 15 s), so a kubelet that does not answer is asked
/// (and the API server's 5xx logged) ever more rarely.
pub fn backoff(failures: u32) -> u32 {
    (1u32 << failures.saturating_sub(1).min(4)) - 1
}

/// Whether a node's kubelet can be read through the node proxy, or why not (pure): the API
/// server needs an address of the node, and a node that is not Ready has a kubelet that
/// stopped posting its status.
pub fn readable(node: &Node) -> Result<(), String> {
    let status = node.status.as_ref();
    if status
        .and_then(|s| s.addresses.as_ref())
        .is_none_or(Vec::is_empty)
    {
        return Err("not read: the node reports no address".into());
    }
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True");
    if !ready {
        return Err(
            "not read: the node is not Ready, so its kubelet is not expected to answer".into(),
        );
    }
    Ok(())
}

/// Kept figures by cluster, then node.
pub type ByCluster = BTreeMap<String, BTreeMap<String, Kept>>;

/// The last poll, shared by the poller and the API.
pub type KubeletCache = PollCache<Arc<ByCluster>>;

/// What a node keeps after a read (pure): a read that worked gives new figures, with rates
/// from the counters' change since the previous read (none after a counter went back, as
/// after a reboot) and the rates of the last [`HISTORY_SECS`]; a failed read keeps the last
/// figures, says why and waits [`backoff`] polls before the next.
pub fn next(kept: &Kept, read: Result<Sample, String>, collected_at: &str) -> Kept {
    let sample = match read {
        Ok(sample) => sample,
        Err(error) => {
            let failures = kept.failures.saturating_add(1);
            return Kept {
                error: Some(error),
                failures,
                wait: backoff(failures),
                ..kept.clone()
            };
        }
    };
    let rates = match (&kept.sample, &sample) {
        (
            Some(Sample {
                time: Some(t0),
                bytes: Some((rx0, tx0)),
                ..
            }),
            Sample {
                time: Some(t1),
                bytes: Some((rx1, tx1)),
                ..
            },
        ) if t1 > t0 && rx1 >= rx0 && tx1 >= tx0 => Some((
            (rx1 - rx0) as f64 / (t1 - t0),
            (tx1 - tx0) as f64 / (t1 - t0),
        )),
        _ => None,
    };
    let mut history = kept
        .figures
        .as_ref()
        .map(|f| f.network_history.clone())
        .unwrap_or_default();
    if let (Some((rx, tx)), Some(time)) = (rates, sample.time) {
        let time = time.round() as i64;
        history.retain(|p| p.time > time - HISTORY_SECS && p.time < time);
        history.push(NetworkPoint {
            time,
            rx_bytes_per_second: Some(rx),
            tx_bytes_per_second: Some(tx),
        });
    }
    Kept {
        figures: Some(NodeFigures {
            source: SOURCE.into(),
            collected_at: collected_at.to_owned(),
            disk: sample.disk.clone(),
            network: VmNetwork {
                rx_bytes_per_second: rates.map(|r| r.0),
                tx_bytes_per_second: rates.map(|r| r.1),
            },
            network_history: history,
        }),
        sample: Some(sample),
        error: None,
        failures: 0,
        wait: 0,
    }
}

/// The nodes of one cluster to read.
pub struct Target {
    /// The cluster's name.
    pub cluster: String,
    /// Its API server.
    pub client: kube::Client,
    /// The nodes node-exporter gives nothing for (simulated nodes left out), each with
    /// why it cannot be read ([`readable`]).
    pub nodes: Vec<(String, Result<(), String>)>,
}

/// How a refusal for want of `nodes/proxy` begins.
const FORBIDDEN: &str = "forbidden: ";

/// Why a read failed, as the node says it.
fn failure(cluster: &str, error: kube::Error) -> String {
    match error {
        kube::Error::Api(s) if s.code == 403 => format!(
            "{FORBIDDEN}the operator's credentials for cluster {cluster} may not get nodes/proxy (bind the `kubeletSummary` rules of the chart's files/rbac.yaml to them, knowing that nodes/proxy also lets its holder run commands in pods through the kubelet, or run node-exporter)"
        ),
        kube::Error::Api(s) => format!(
            "the API server's node proxy answered {}: {}",
            s.code, s.message
        ),
        e => format!("reading it failed: {e}"),
    }
}

/// Reads one node's Summary through the node proxy.
async fn read(client: &kube::Client, cluster: &str, node: &str) -> Result<Sample, String> {
    let request = http::Request::get(format!("/api/v1/nodes/{node}/proxy/stats/summary"))
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(TIMEOUT, client.request_text(request)).await {
        Err(_) => Err(format!(
            "the kubelet did not answer within {} s",
            TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => Err(failure(cluster, e)),
        Ok(Ok(text)) => parse(text.as_bytes()),
    }
}

/// Reads the nodes of one cluster: the first alone, and when it is forbidden no other
/// (they would all be). Returns the cluster's name with the reads.
async fn read_cluster(target: Target) -> (String, Vec<(String, Result<Sample, String>)>) {
    let Target {
        cluster,
        client,
        nodes,
    } = target;
    let mut nodes = nodes.into_iter().map(|(n, _)| n);
    let Some(first) = nodes.next() else {
        return (cluster, Vec::new());
    };
    let answer = read(&client, &cluster, &first).await;
    let forbidden = matches!(&answer, Err(e) if e.starts_with(FORBIDDEN));
    let mut reads = vec![(first, answer.clone())];
    if forbidden {
        reads.extend(nodes.map(|n| (n, answer.clone())));
        return (cluster, reads);
    }
    let others: Vec<_> = futures::stream::iter(nodes.map(|node| {
        let (client, cluster) = (client.clone(), cluster.clone());
        async move {
            let read = read(&client, &cluster, &node).await;
            (node, read)
        }
    }))
    .buffer_unordered(IN_FLIGHT)
    .collect()
    .await;
    reads.extend(others);
    (cluster, reads)
}

/// One poll: reads every readable node of `targets` whose [`backoff`] has passed, and
/// keeps each node's figures from `before` ([`next`]); nodes no longer named are forgotten.
pub async fn poll_once(targets: Vec<Target>, before: &ByCluster) -> ByCluster {
    let mut after = ByCluster::new();
    let mut reading = Vec::new();
    for target in targets {
        let was = before.get(&target.cluster);
        let nodes = after.entry(target.cluster.clone()).or_default();
        let mut to_read = Vec::new();
        for (node, readable) in target.nodes {
            let kept = was.and_then(|w| w.get(&node)).cloned().unwrap_or_default();
            match readable {
                Err(why) => {
                    nodes.insert(
                        node,
                        Kept {
                            error: Some(why),
                            ..kept
                        },
                    );
                }
                Ok(()) if kept.wait > 0 => {
                    nodes.insert(
                        node,
                        Kept {
                            wait: kept.wait - 1,
                            ..kept
                        },
                    );
                }
                Ok(()) => {
                    nodes.insert(node.clone(), kept);
                    to_read.push(node);
                }
            }
        }
        reading.push(read_cluster(Target {
            nodes: to_read.into_iter().map(|n| (n, Ok(()))).collect(),
            ..target
        }));
    }
    let reads = futures::future::join_all(reading).await;
    let at = Timestamp::now().to_string();
    for (cluster, reads) in reads {
        let nodes = after.entry(cluster).or_default();
        for (node, read) in reads {
            let kept = nodes.remove(&node).unwrap_or_default();
            nodes.insert(node, next(&kept, read, &at));
        }
    }
    after
}

/// Polls the nodes `targets` names every `every`, until aborted.
pub async fn poll(targets: impl Fn() -> Vec<Target>, cache: KubeletCache, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let before = cache.polled().last;
        let after = poll_once(targets(), &before).await;
        if !after.is_empty() || !before.is_empty() {
            cache.set(Arc::new(after));
        }
    }
}

#[cfg(test)]
mod tests;
