//! The collectors of one cluster: watch caches (reflectors) of nodes, pods, HPAs, Services
//! and EndpointSlices, the metrics-API poller and the HPA sampler. Each source reports its
//! own errors; one failing source (or cluster) never stops the others. Dropping the
//! collector stops its tasks.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
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

use super::hubble::{self, TrafficState};
use super::usage::{self, NodeSample, UsageData};
use super::{scaling, slim};
use crate::metrics::Metrics;
use crate::model::{ScalingPoint, SourceError, TrafficView};

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
    interval: CollectorSettings,
    revision: Revision,
    _tasks: Tasks,
}

/// A count of the changes to what a cluster's view is built from (its nodes, its pods and
/// their usage), bumped after each change is in the caches: a view built after reading
/// revision `r` holds every change up to `r`.
#[derive(Clone, Debug, Default)]
pub struct Revision(Arc<AtomicU64>);

impl Revision {
    fn bump(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }

    /// The count now.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

fn reflect<K>(
    client: &Client,
    source: &'static str,
    health: &Health,
    tasks: &mut Vec<JoinHandle<()>>,
    trim: fn(&mut K),
    revision: Option<Revision>,
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
            // The reflector has stored the event by now.
            if let (Ok(_), Some(r)) = (&event, &revision) {
                r.bump();
            }
            match event {
                Ok(watcher::Event::InitDone) => health.synced(source),
                Ok(_) => health.ok(source),
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
        let revision = Revision::default();
        let mut tasks = Vec::new();
        let viewed = Some(revision.clone());
        let nodes = reflect::<Node>(
            &client,
            "nodes",
            &health,
            &mut tasks,
            slim::meta,
            viewed.clone(),
        );
        let pods = reflect::<Pod>(&client, "pods", &health, &mut tasks, slim::pod, viewed);
        let hpas = reflect::<HorizontalPodAutoscaler>(
            &client,
            "horizontalpodautoscalers",
            &health,
            &mut tasks,
            slim::meta,
            None,
        );
        let services = reflect::<Service>(
            &client,
            "services",
            &health,
            &mut tasks,
            slim::service,
            None,
        );
        let slices = reflect::<EndpointSlice>(
            &client,
            "endpointslices",
            &health,
            &mut tasks,
            slim::endpoint_slice,
            None,
        );
        let usage = Arc::new(RwLock::new(UsageData::default()));
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
            client,
            usage.clone(),
            node_history.clone(),
            health.clone(),
            interval.usage,
            revision.clone(),
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
            interval,
            revision,
            _tasks: Tasks(tasks),
        })
    }

    /// The count of changes to what the cluster's view is built from; read it before the
    /// caches (see [`Revision`]).
    pub fn revision(&self) -> u64 {
        self.revision.get()
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

async fn poll_usage(
    client: Client,
    usage: Arc<RwLock<UsageData>>,
    node_history: Arc<Mutex<VecDeque<NodeSample>>>,
    health: Health,
    every: Duration,
    revision: Revision,
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
        if let Ok(mut u) = usage.write()
            && *u != data
        {
            *u = data;
            revision.bump();
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
