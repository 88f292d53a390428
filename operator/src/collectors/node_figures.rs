//! Node disk and network for every cluster, from node-exporter's series in the platform's
//! Prometheus (the one `--prometheus-url` names; monitoring runs on the platform only, so
//! every cluster's node-exporter series are expected there: the platform's own scraped,
//! the other clusters' remote-written with their external `cluster` label).
//!
//! A series belongs to a node by two labels ([`SeriesLabels`]): the cluster label
//! (`cluster` by default; a series without it is the platform's own, since a Prometheus
//! puts its external labels only on what it sends away) and the node label (`instance` by
//! default: kube-prometheus-stack's node-exporter ServiceMonitor relabels it to the node's
//! name; a `:port` suffix is dropped). One background task ([`poll`]) asks four queries per
//! tick, each for every cluster at once, and keeps the answer in a [`FiguresCache`]; the API
//! reads the cache ([`apply`], pure), so no request waits on Prometheus.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::poll_cache::{self, PollCache};
use crate::model::{ClusterView, NetworkPoint, NodeFigures, VmDisk};
use crate::prometheus::{LabelledSeries, Prometheus};

/// The source name of a failing poll in the snapshot's errors.
pub const SOURCE: &str = "node-exporter";
/// How often Prometheus is asked.
pub const EVERY: Duration = Duration::from_secs(15);
/// How far back the network history (sparklines) reaches.
pub const HISTORY_SECS: i64 = 30 * 60;
/// The step of the network history.
pub const STEP_SECS: u64 = 30;
/// The rate window: four of kube-prometheus-stack's 30 s scrapes.
pub const RATE_WINDOW: &str = "2m";

/// File system types that are not disks (node-exporter leaves most of them out already).
const NOT_A_DISK: &str = "tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|autofs|fuse\\\\..*";
/// Loopback and virtual interfaces (containers' veth pairs, bridges, CNI and tunnel
/// devices): their bytes also cross a real interface, or never leave the node. A trailing
/// `*` matches any rest.
const VIRTUAL_NICS: [&str; 17] = [
    "lo",
    "veth*",
    "docker*",
    "br-*",
    "cni*",
    "flannel*",
    "cali*",
    "cilium_*",
    "lxc*",
    "vxlan*",
    "genev*",
    "tunl*",
    "virbr*",
    "kube-*",
    "ifb*",
    "tap*",
    "nodelocaldns",
];

/// Whether `name` is a loopback or virtual interface ([`VIRTUAL_NICS`]).
pub fn is_virtual_nic(name: &str) -> bool {
    VIRTUAL_NICS.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == *p,
    })
}

/// [`VIRTUAL_NICS`] as a PromQL regular expression.
fn not_a_nic() -> String {
    VIRTUAL_NICS
        .iter()
        .map(|p| p.replace('*', ".*"))
        .collect::<Vec<_>>()
        .join("|")
}

/// The labels that tie node-exporter's series to a cluster and a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesLabels {
    /// Names the cluster; absent or empty on the platform's own series.
    pub cluster: String,
    /// Names the node.
    pub node: String,
}

impl Default for SeriesLabels {
    fn default() -> Self {
        Self {
            cluster: "cluster".into(),
            node: "instance".into(),
        }
    }
}

/// A Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`, not `__` reserved ones).
pub fn label_name(value: &str) -> Result<String, String> {
    let ok = value
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !value.starts_with("__");
    ok.then(|| value.to_owned()).ok_or_else(|| {
        format!(
            "{value:?} is not a Prometheus label name: use letters, digits and underscores, not starting with a digit or __, e.g. cluster or instance"
        )
    })
}

/// What one query reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Query {
    /// The root file system's size, bytes.
    DiskSize,
    /// The root file system's bytes available to users.
    DiskAvailable,
    /// Received bytes per second.
    Receive,
    /// Sent bytes per second.
    Transmit,
}

impl Query {
    /// Every query.
    pub const ALL: [Self; 4] = [
        Self::DiskSize,
        Self::DiskAvailable,
        Self::Receive,
        Self::Transmit,
    ];

    /// Whether it is read over the history (rates) rather than now only (disk).
    fn over_history(self) -> bool {
        matches!(self, Self::Receive | Self::Transmit)
    }
}

/// The PromQL of `query`, by cluster and node for all clusters at once.
pub fn promql(query: Query, labels: &SeriesLabels) -> String {
    let by = format!("{}, {}", labels.cluster, labels.node);
    let disk = |metric: &str| {
        format!("max by ({by}) ({metric}{{mountpoint=\"/\",fstype!~\"{NOT_A_DISK}\"}})")
    };
    let rate = |metric: &str| {
        format!(
            "sum by ({by}) (rate({metric}{{device!~\"{}\"}}[{RATE_WINDOW}]))",
            not_a_nic()
        )
    };
    match query {
        Query::DiskSize => disk("node_filesystem_size_bytes"),
        Query::DiskAvailable => disk("node_filesystem_avail_bytes"),
        Query::Receive => rate("node_network_receive_bytes_total"),
        Query::Transmit => rate("node_network_transmit_bytes_total"),
    }
}

/// The (cluster, node) of a series: the cluster label (the platform when absent or empty)
/// and the node label without a `:port` suffix; none without a node.
pub fn node_key(
    metric: &BTreeMap<String, String>,
    labels: &SeriesLabels,
    platform: &str,
) -> Option<(String, String)> {
    let cluster = metric
        .get(&labels.cluster)
        .filter(|c| !c.is_empty())
        .map_or(platform, String::as_str);
    let node = metric.get(&labels.node)?;
    let node = match node.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => node.as_str(),
    };
    (!node.is_empty()).then(|| (cluster.to_owned(), node.to_owned()))
}

/// Figures by cluster, then node.
pub type Figures = BTreeMap<String, BTreeMap<String, NodeFigures>>;

/// The figures of the four queries' answers (pure). A rate's current value is its point at
/// `end` (the query's last time, within one step); an older last point means node-exporter
/// stopped answering, and the node has no current rate.
pub fn assemble(
    answers: &[(Query, Vec<LabelledSeries>)],
    labels: &SeriesLabels,
    platform: &str,
    source: &str,
    collected_at: &str,
    end: i64,
) -> Figures {
    let mut figures: Figures = BTreeMap::new();
    let mut disks: BTreeMap<(String, String), (Option<f64>, Option<f64>)> = BTreeMap::new();
    let mut history: BTreeMap<(String, String), BTreeMap<i64, NetworkPoint>> = BTreeMap::new();
    for (query, series) in answers {
        for (metric, points) in series {
            let Some(key) = node_key(metric, labels, platform) else {
                continue;
            };
            let node = figures
                .entry(key.0.clone())
                .or_default()
                .entry(key.1.clone())
                .or_insert_with(|| NodeFigures {
                    source: source.to_owned(),
                    collected_at: collected_at.to_owned(),
                    ..NodeFigures::default()
                });
            let last = points.last().copied();
            match query {
                Query::DiskSize => disks.entry(key).or_default().0 = last.map(|p| p.1),
                Query::DiskAvailable => disks.entry(key).or_default().1 = last.map(|p| p.1),
                Query::Receive | Query::Transmit => {
                    let now = last
                        .filter(|(t, _)| *t >= (end - STEP_SECS as i64) as f64)
                        .map(|p| p.1);
                    let by_time = history.entry(key).or_default();
                    for (t, v) in points {
                        let time = t.round() as i64;
                        let point = by_time.entry(time).or_insert(NetworkPoint {
                            time,
                            ..NetworkPoint::default()
                        });
                        if *query == Query::Receive {
                            point.rx_bytes_per_second = Some(*v);
                        } else {
                            point.tx_bytes_per_second = Some(*v);
                        }
                    }
                    if *query == Query::Receive {
                        node.network.rx_bytes_per_second = now;
                    } else {
                        node.network.tx_bytes_per_second = now;
                    }
                }
            }
        }
    }
    for ((cluster, node), (size, available)) in disks {
        let (Some(size), Some(available)) = (size, available) else {
            continue;
        };
        if let Some(f) = figures.get_mut(&cluster).and_then(|c| c.get_mut(&node))
            && size > 0.0
        {
            let total = size.round() as u64;
            f.disk = Some(VmDisk {
                mount: "/".into(),
                used_bytes: total.saturating_sub(available.round() as u64),
                total_bytes: total,
            });
        }
    }
    for ((cluster, node), points) in history {
        if let Some(f) = figures.get_mut(&cluster).and_then(|c| c.get_mut(&node)) {
            f.network_history = points.into_values().collect();
        }
    }
    figures
}

/// The figures of the last poll of Prometheus that worked (none before the first; shared, so
/// an API call that reads them copies no history), and why the latest poll failed.
pub type Polled = poll_cache::Polled<Option<Arc<Figures>>>;

/// The last [`Polled`], shared by the poller and the API.
pub type FiguresCache = PollCache<Option<Arc<Figures>>>;

/// Where the figures come from, as the API says it.
pub fn source_name(prometheus_url: &str) -> String {
    format!("node-exporter via Prometheus at {prometheus_url}")
}

/// Asks `prometheus` for every cluster's node figures every `every`, until aborted.
pub async fn poll(
    prometheus: Prometheus,
    labels: SeriesLabels,
    platform: String,
    cache: FiguresCache,
    every: Duration,
) {
    let source = source_name(prometheus.url());
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = Timestamp::now();
        let end = now.as_second();
        let answers = futures::future::join_all(Query::ALL.map(|q| {
            let (prometheus, labels) = (&prometheus, &labels);
            async move {
                let start = if q.over_history() {
                    end - HISTORY_SECS
                } else {
                    end
                };
                prometheus
                    .query_range_series(&promql(q, labels), start, end, STEP_SECS)
                    .await
                    .map(|series| (q, series))
            }
        }))
        .await;
        match answers.into_iter().collect::<Result<Vec<_>, _>>() {
            Ok(answers) => cache.set(Some(Arc::new(assemble(
                &answers,
                &labels,
                &platform,
                &source,
                &now.to_string(),
                end,
            )))),
            Err(e) => {
                tracing::debug!(error = %e, "reading node figures from Prometheus failed");
                cache.fail(e.to_string());
            }
        }
    }
}

/// What [`apply`] needs besides the cache.
pub struct Facts<'a> {
    /// The configured Prometheus's URL, none without `--prometheus-url`.
    pub prometheus: Option<&'a str>,
    /// The labels series are matched by.
    pub labels: &'a SeriesLabels,
    /// The platform cluster's name.
    pub platform: &'a str,
    /// Whether nodes carry their network history: the cluster's own answer does, the
    /// snapshot does not.
    pub history: bool,
    /// What the kubelet Summary API gave for nodes without node-exporter figures; none when
    /// that fallback is off (`--kubelet-summary=false`).
    pub kubelet: Option<&'a super::kubelet_summary::ByCluster>,
}

/// Puts each node's figures into `view` (node-exporter's, else the kubelet Summary API's),
/// or why it has none (pure). `simulated` says whether a node is simulated (kwok: no
/// kubelet, no node-exporter).
pub fn apply(
    view: &mut ClusterView,
    polled: &Polled,
    facts: &Facts<'_>,
    simulated: impl Fn(&str) -> bool,
) {
    let cluster = view.name.clone();
    let of_cluster = polled.last.as_deref().and_then(|f| f.get(&cluster));
    let kubelet_of_cluster = facts.kubelet.and_then(|k| k.get(&cluster));
    for node in &mut view.nodes {
        let kubelet = kubelet_of_cluster.and_then(|c| c.get(&node.name));
        node.figures = of_cluster
            .and_then(|c| c.get(&node.name))
            .or_else(|| kubelet.and_then(|k| k.figures.as_ref()))
            .map(|f| NodeFigures {
                source: f.source.clone(),
                collected_at: f.collected_at.clone(),
                disk: f.disk.clone(),
                network: f.network,
                network_history: if facts.history {
                    f.network_history.clone()
                } else {
                    Vec::new()
                },
            });
        node.figures_missing = if node.figures.is_some() {
            None
        } else if simulated(&node.name) {
            Some("simulated node (kwok): it has no kubelet and no node-exporter, so there is no disk or network to measure".into())
        } else {
            let exporter = missing(&cluster, &node.name, polled, facts, of_cluster.is_some());
            Some(match facts.kubelet {
                None => exporter,
                Some(_) => format!(
                    "{exporter}; kubelet Summary API: {}",
                    kubelet
                        .and_then(|k| k.error.as_deref())
                        .unwrap_or("not read yet")
                ),
            })
        };
    }
}

fn missing(
    cluster: &str,
    node: &str,
    polled: &Polled,
    facts: &Facts<'_>,
    cluster_has_series: bool,
) -> String {
    let Some(url) = facts.prometheus else {
        return "not collected: no Prometheus configured (--prometheus-url); node disk and network come from node-exporter's series there".into();
    };
    let labels = facts.labels;
    match (&polled.last, &polled.error) {
        (None, Some((message, _))) => format!("not collected: {message}"),
        (None, None) => {
            format!("not read yet: the first query of Prometheus at {url} is under way")
        }
        (Some(_), _) if !cluster_has_series => {
            let expected = if cluster == facts.platform {
                format!(
                    "{}=\"{cluster}\" or no {} label",
                    labels.cluster, labels.cluster
                )
            } else {
                format!("{}=\"{cluster}\"", labels.cluster)
            };
            format!(
                "no node-exporter series for cluster {cluster} in Prometheus at {url} (looked for {expected})"
            )
        }
        (Some(_), _) => format!(
            "no node-exporter series for node {node} of cluster {cluster} in Prometheus at {url} (looked for {}=\"{node}\")",
            labels.node
        ),
    }
}

#[cfg(test)]
mod tests;
