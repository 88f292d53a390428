//! The collectors of one cluster: watch caches (reflectors) of nodes, pods, HPAs, Services
//! and EndpointSlices, the metrics-API poller and the HPA sampler. Each source reports its
//! own errors; one failing source (or cluster) never stops the others. Dropping the
//! collector stops its tasks.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Debug;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

use super::changes::{self, Change, ChangeLog, Flushed, Resume};
use super::hubble::{self, TrafficState};
use super::usage::{self, NodeSample, UsageData};
use super::{scaling, slim, views};
use crate::metrics::Metrics;
use crate::model::{ObjectKey, ScalingPoint, SourceError, TrafficView, UsageReading};

/// How the collectors sample.
#[derive(Clone, Debug)]
pub struct CollectorSettings {
    /// Metrics API polls (the 15 s).
    pub usage: Duration,
    /// HPA samples (the original's 5 s).
    pub scaling: Duration,
    /// Hubble Relay addresses (`host:port`) by cluster; clusters without one are reached
    /// through a port-forward to their hubble-relay pod.
    pub hubble: std::collections::HashMap<String, String>,
}

impl Default for CollectorSettings {
    fn default() -> Self {
        Self {
            usage: Duration::from_secs(15),
            scaling: Duration::from_secs(5),
            hubble: Default::default(),
        }
    }
}

#[derive(Clone, Debug, Default)]
struct SourceHealth {
    synced: bool,
    error: Option<(String, Timestamp)>,
}

/// Per-source health of one cluster.
#[derive(Clone, Debug)]
pub struct Health {
    cluster: String,
    sources: Arc<Mutex<BTreeMap<&'static str, SourceHealth>>>,
    metrics: Arc<Metrics>,
}

impl Health {
    fn new(cluster: &str, metrics: Arc<Metrics>) -> Self {
        Self {
            cluster: cluster.to_owned(),
            sources: Arc::default(),
            metrics,
        }
    }

    fn update(&self, source: &'static str, f: impl FnOnce(&mut SourceHealth)) {
        if let Ok(mut map) = self.sources.lock() {
            f(map.entry(source).or_default());
        }
    }

    /// The source works (again).
    pub fn ok(&self, source: &'static str) {
        self.update(source, |h| h.error = None);
    }

    /// The source has listed everything once.
    pub fn synced(&self, source: &'static str) {
        self.update(source, |h| {
            h.synced = true;
            h.error = None;
        });
    }

    /// The source fails; the first failure time is kept.
    pub fn failed(&self, source: &'static str, message: String) {
        self.metrics.collector_error(&self.cluster, source);
        self.update(source, |h| {
            let since = h.error.as_ref().map_or_else(Timestamp::now, |(_, t)| *t);
            h.error = Some((message, since));
        });
    }

    fn snapshot(&self) -> BTreeMap<&'static str, SourceHealth> {
        self.sources.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// The sources whose caches must list once before the cluster counts as synced.
pub const CACHED_SOURCES: [&str; 5] = [
    "nodes",
    "pods",
    "horizontalpodautoscalers",
    "services",
    "endpointslices",
];

/// The collectors of one cluster.
pub struct ClusterCollector {
    /// The cluster's name.
    pub name: String,
    /// Its API server.
    client: Client,
    /// Nodes.
    pub nodes: Store<Node>,
    /// Pods.
    pub pods: Store<Pod>,
    /// HorizontalPodAutoscalers.
    pub hpas: Store<HorizontalPodAutoscaler>,
    /// Services.
    pub services: Store<Service>,
    /// EndpointSlices.
    pub slices: Store<EndpointSlice>,
    health: Health,
    usage: Arc<RwLock<UsageData>>,
    node_history: Arc<Mutex<VecDeque<NodeSample>>>,
    scaling: Arc<Mutex<VecDeque<ScalingPoint>>>,
    traffic: Arc<Mutex<TrafficState>>,
    changes: Arc<Mutex<ChangeLog>>,
    interval: CollectorSettings,
    _tasks: Tasks,
}

/// Starts a watch cache of `K`; `on_event` sees each watch event once the cache holds it.
fn reflect<K>(
    client: &Client,
    source: &'static str,
    health: &Health,
    tasks: &mut Vec<JoinHandle<()>>,
    trim: fn(&mut K),
    on_event: impl Fn(&watcher::Event<K>) + Send + 'static,
) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let api: Api<K> = Api::all(client.clone());
    let health = health.clone();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(trim)
        .reflect(writer);
    tasks.push(tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(event) => {
                    if matches!(event, watcher::Event::InitDone) {
                        health.synced(source);
                    } else {
                        health.ok(source);
                    }
                    on_event(&event);
                }
                Err(e) => health.failed(source, e.to_string()),
            }
        }
    }));
    reader
}

/// The annotation kwok puts on (or reads from) the nodes it simulates.
pub const KWOK_NODE_ANNOTATION: &str = "kwok.x-k8s.io/node";

/// Why a data source of a cluster cannot be used yet.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    /// Its watch or poll is failing.
    #[error("{data} failing since {since}: {message}")]
    Failing {
        /// The source, e.g. `horizontalpodautoscalers`.
        data: &'static str,
        /// Since when.
        since: Timestamp,
        /// The last error.
        message: String,
    },
    /// It has not listed once yet.
    #[error("{data} not listed yet")]
    NotListed {
        /// The source.
        data: &'static str,
    },
}

impl ClusterCollector {
    /// Starts every collector of a cluster.
    pub fn start(
        name: &str,
        client: Client,
        interval: CollectorSettings,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let health = Health::new(name, metrics.clone());
        let mut tasks = Vec::new();
        let usage = Arc::new(RwLock::new(UsageData::default()));
        let changes = Arc::new(Mutex::new(ChangeLog::new(
            name,
            start_revision(),
            changes::CAPACITY,
        )));
        let pods = reflect::<Pod>(
            &client,
            "pods",
            &health,
            &mut tasks,
            slim::pod,
            pod_changes(changes.clone(), usage.clone()),
        );
        let nodes = reflect::<Node>(
            &client,
            "nodes",
            &health,
            &mut tasks,
            slim::meta,
            node_changes(changes.clone(), usage.clone(), pods.clone()),
        );
        let hpas = reflect::<HorizontalPodAutoscaler>(
            &client,
            "horizontalpodautoscalers",
            &health,
            &mut tasks,
            slim::meta,
            |_| {},
        );
        let services =
            reflect::<Service>(&client, "services", &health, &mut tasks, slim::meta, |_| {});
        let slices = reflect::<EndpointSlice>(
            &client,
            "endpointslices",
            &health,
            &mut tasks,
            slim::endpoint_slice,
            |_| {},
        );
        let node_history = Arc::new(Mutex::new(VecDeque::new()));
        let scaling = Arc::new(Mutex::new(VecDeque::new()));
        let traffic = Arc::new(Mutex::new(TrafficState::default()));
        tasks.push(tokio::spawn(hubble::run(
            client.clone(),
            pods.clone(),
            interval.hubble.get(name).cloned(),
            traffic.clone(),
            health.clone(),
        )));
        tasks.push(tokio::spawn(poll_usage(
            client.clone(),
            usage.clone(),
            node_history.clone(),
            changes.clone(),
            health.clone(),
            interval.usage,
        )));
        tasks.push(tokio::spawn(sample_hpas(
            name.to_owned(),
            hpas.clone(),
            scaling.clone(),
            interval.scaling,
            metrics,
        )));
        Arc::new(Self {
            name: name.to_owned(),
            client,
            nodes,
            pods,
            hpas,
            services,
            slices,
            health,
            usage,
            node_history,
            scaling,
            traffic,
            changes,
            interval,
            _tasks: Tasks(tasks),
        })
    }

    /// The cluster's revision: bumped by every change of its pods, nodes and usage once the
    /// change is in the caches, so a view built after reading revision `r` holds every change
    /// up to `r` (read it before the caches). One counter with the event stream's deltas.
    pub fn revision(&self) -> u64 {
        self.changes.lock().map_or(0, |c| c.revision())
    }

    /// The revision of the last delta sent to the event stream.
    pub fn published_revision(&self) -> u64 {
        self.changes.lock().map_or(0, |c| c.published())
    }

    /// Turns the changes since the last call into one delta for the event stream (see
    /// [`changes`]), with the counts of the namespaces whose pods changed and of the pods
    /// bound to each node.
    pub fn flush_changes(&self) -> Flushed {
        let Ok(mut log) = self.changes.lock() else {
            return Flushed::Nothing;
        };
        let touched = log.touched_namespaces();
        if touched.is_empty() {
            return log.flush(Vec::new(), BTreeMap::new());
        }
        let pods = self.pods.state();
        let mut node_pods = BTreeMap::new();
        for node in pods
            .iter()
            .filter_map(|p| p.spec.as_ref()?.node_name.as_ref())
        {
            *node_pods.entry(node.clone()).or_default() += 1;
        }
        let views: Vec<_> = pods
            .iter()
            .filter(|p| touched.contains(p.metadata.namespace.as_deref().unwrap_or_default()))
            .map(|p| views::pod_view(p, None))
            .collect();
        log.flush(views::namespace_counts(&views), node_pods)
    }

    /// What a client that has this cluster's deltas up to `revision` must receive.
    pub fn changes_since(&self, revision: u64) -> Resume {
        self.changes
            .lock()
            .map_or(Resume::Resync, |c| c.since(revision))
    }

    /// Whether every watch cache has listed once.
    pub fn synced(&self) -> bool {
        let health = self.health.snapshot();
        CACHED_SOURCES
            .iter()
            .all(|s| health.get(s).is_some_and(|h| h.synced))
    }

    /// Whether `source` has listed once and is not failing now; otherwise why not.
    pub fn source_ready(&self, source: &'static str) -> Result<(), NotReady> {
        match self.health.snapshot().get(source) {
            Some(SourceHealth {
                error: Some((message, since)),
                ..
            }) => Err(NotReady::Failing {
                data: source,
                since: *since,
                message: message.clone(),
            }),
            Some(h) if h.synced => Ok(()),
            _ => Err(NotReady::NotListed { data: source }),
        }
    }

    /// The cluster's API server.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether `node` is simulated by kwok (annotation `kwok.x-k8s.io/node`): its pods do no
    /// work. False when the node is unknown.
    pub fn simulated_node(&self, node: &str) -> bool {
        self.nodes.get(&ObjectRef::new(node)).is_some_and(|n| {
            n.metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(KWOK_NODE_ANNOTATION))
        })
    }

    /// The failing sources.
    pub fn errors(&self) -> Vec<SourceError> {
        self.health
            .snapshot()
            .into_iter()
            .filter_map(|(source, h)| {
                let (message, since) = h.error?;
                Some(SourceError {
                    cluster: self.name.clone(),
                    source: source.to_owned(),
                    message,
                    since: since.to_string(),
                })
            })
            .collect()
    }

    /// The latest metrics-API reading.
    pub fn usage(&self) -> UsageData {
        self.usage.read().map(|u| u.clone()).unwrap_or_default()
    }

    /// The node usage polls taken at or after `since`, oldest first (a run's look copies
    /// only what it has not folded yet, not the whole history).
    pub fn node_samples(&self, since: Timestamp) -> Vec<NodeSample> {
        self.node_history
            .lock()
            .map(|h| h.iter().filter(|s| s.at >= since).cloned().collect())
            .unwrap_or_default()
    }

    /// The HPA history, oldest first.
    pub fn scaling(&self) -> Vec<ScalingPoint> {
        self.scaling
            .lock()
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The traffic view.
    pub fn traffic(&self) -> TrafficView {
        self.traffic
            .lock()
            .map(|t| t.view(&self.name))
            .unwrap_or_default()
    }

    /// Seconds between HPA samples.
    pub fn scaling_interval(&self) -> Duration {
        self.interval.scaling
    }

    /// The health record, for sources run elsewhere (traffic).
    pub fn health(&self) -> &Health {
        &self.health
    }
}

/// The first revision of a collector: its start time in microseconds, so that revisions of
/// an earlier run are older than this run's change log (see [`changes`]).
fn start_revision() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn object_key<K: Resource>(obj: &K) -> ObjectKey {
    ObjectKey {
        namespace: obj.meta().namespace.clone().unwrap_or_default(),
        name: obj.meta().name.clone().unwrap_or_default(),
    }
}

/// Records the change a watch event makes; a relist resets the log (what changed during the
/// gap is unknown, clients resync).
fn record<K>(
    changes: &Mutex<ChangeLog>,
    event: &watcher::Event<K>,
    applied: impl FnOnce(&K) -> Change,
    deleted: impl FnOnce(&K) -> Change,
) {
    let Ok(mut log) = changes.lock() else {
        return;
    };
    match event {
        watcher::Event::Apply(obj) => log.record(applied(obj)),
        watcher::Event::Delete(obj) => log.record(deleted(obj)),
        watcher::Event::InitDone => log.reset(),
        watcher::Event::Init | watcher::Event::InitApply(_) => {}
    }
}

/// Records pod changes as their views, with their usage.
fn pod_changes(
    changes: Arc<Mutex<ChangeLog>>,
    usage: Arc<RwLock<UsageData>>,
) -> impl Fn(&watcher::Event<Pod>) + Send + 'static {
    move |event| {
        let applied = |pod: &Pod| {
            let key = object_key(pod);
            let used = usage.read().ok().and_then(|u| {
                u.pods
                    .get(&(key.namespace.clone(), key.name.clone()))
                    .copied()
            });
            let view = views::pod_view(pod, used);
            Change::Pod(key, Some(view))
        };
        record(&changes, event, applied, |pod| {
            Change::Pod(object_key(pod), None)
        });
    }
}

/// Records node changes as their views, with their usage and the count of pods bound to
/// them.
fn node_changes(
    changes: Arc<Mutex<ChangeLog>>,
    usage: Arc<RwLock<UsageData>>,
    pods: Store<Pod>,
) -> impl Fn(&watcher::Event<Node>) + Send + 'static {
    move |event| {
        let applied = |node: &Node| {
            let name = node.metadata.name.clone().unwrap_or_default();
            let used = usage.read().ok().and_then(|u| u.nodes.get(&name).copied());
            let bound = pods
                .state()
                .iter()
                .filter(|p| {
                    p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(name.as_str())
                })
                .count();
            Change::Node(name, Some(views::node_view(node, used, bound)))
        };
        record(&changes, event, applied, |node| {
            Change::Node(node.metadata.name.clone().unwrap_or_default(), None)
        });
    }
}

/// A metrics-API reading in the compact form of the event stream.
fn usage_reading(data: &UsageData) -> UsageReading {
    let mut reading = UsageReading {
        metrics_available: data.available,
        nodes: data
            .nodes
            .iter()
            .map(|(n, (cpu, mem))| (n.clone(), [*cpu, *mem]))
            .collect(),
        ..UsageReading::default()
    };
    for ((ns, name), (cpu, mem)) in &data.pods {
        reading
            .pods
            .entry(ns.clone())
            .or_default()
            .insert(name.clone(), [*cpu, *mem]);
    }
    reading
}

async fn poll_usage(
    client: Client,
    usage: Arc<RwLock<UsageData>>,
    node_history: Arc<Mutex<VecDeque<NodeSample>>>,
    changes: Arc<Mutex<ChangeLog>>,
    health: Health,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let reading = usage::fetch(&client).await;
        let at = Timestamp::now();
        let (data, nodes) = match reading {
            Ok(Some(data)) => {
                health.synced("metrics");
                let nodes = Ok(data.nodes.clone());
                (data, nodes)
            }
            Ok(None) => {
                health.ok("metrics");
                let why = "the metrics API (metrics.k8s.io) is not served in this cluster: install metrics-server (the metricsServer addon)";
                (UsageData::default(), Err(why.to_owned()))
            }
            Err(e) => {
                let why = e.to_string();
                health.failed("metrics", why.clone());
                (UsageData::default(), Err(why))
            }
        };
        let reading = usage_reading(&data);
        if let Ok(mut u) = usage.write() {
            *u = data;
        }
        // After the reading is in the cache: a view built after reading revision `r` holds
        // every change up to `r`.
        if let Ok(mut c) = changes.lock() {
            c.record(Change::Usage(reading));
        }
        if let Ok(mut h) = node_history.lock() {
            usage::push(&mut h, NodeSample { at, nodes });
        }
    }
}

async fn sample_hpas(
    cluster: String,
    hpas: Store<HorizontalPodAutoscaler>,
    history: Arc<Mutex<VecDeque<ScalingPoint>>>,
    every: Duration,
    metrics: Arc<Metrics>,
) {
    if hpas.wait_until_ready().await.is_err() {
        return;
    }
    // Interval ticks keep real wall-clock spacing: a slow sample does not shift the rest.
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let mut samples: Vec<_> = hpas
            .state()
            .iter()
            .map(|h| scaling::hpa_sample(h))
            .collect();
        samples.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        metrics.observe_hpas(&cluster, &samples);
        let point = ScalingPoint {
            timestamp: Timestamp::now().to_string(),
            hpas: samples,
        };
        if let Ok(mut h) = history.lock() {
            scaling::push(&mut h, point);
        }
    }
}
