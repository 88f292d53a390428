//! The operator's HTTP API (`/api/v1`), health endpoints and metrics.
//!
//! Handlers read from watch caches, never from the API server per request; writes go
//! through the API server as the caller (so its RBAC, admission and validation apply, see
//! [`impersonation`]). The route table in [`routes`]
//! builds the router, the checks the router enforces before each handler (request body,
//! names, then the route's [`access::Permission`] with TokenReview and SubjectAccessReview,
//! see [`auth`]) and the OpenAPI document, so the three cannot drift apart.

pub mod access;
pub mod answer_cache;
pub mod auth;
pub mod body;
pub mod cluster_answers;
pub mod encoded;
pub mod error;
pub mod events;
pub mod experiments;
pub mod export;
pub mod headers;
pub mod impersonation;
pub mod limits;
pub mod loadtests;
pub mod openapi;
pub mod read;
pub mod resources;
pub mod schedules;
pub mod series;
pub mod server;
pub mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use crds::{LoadTest, ManagedCluster, ScalingExperiment};
use kube::Client;
use kube::runtime::reflector::Store;
use tokio::sync::broadcast;

use crate::clusters::Registry;
use crate::collectors::{ClusterCollector, CollectorSettings};
use crate::controllers::scaling_experiment::live::Live;
use crate::metrics::Metrics;

/// API settings.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// The platform cluster's name in the API.
    pub platform_name: String,
    /// Allow reads without a token (a lab on a trusted machine).
    pub anonymous_read: bool,
    /// The audience callers' tokens must be for (`tart-operator` by default).
    pub token_audience: String,
    /// Serve `/metrics` on the API's port too (without a token), besides its own listener.
    pub metrics_on_api_port: bool,
    /// The platform API server's version (the preflight learns it).
    pub platform_version: Option<String>,
    /// How collectors sample (intervals, Hubble Relay addresses).
    pub collectors: CollectorSettings,
    /// The platform's Prometheus (its HTTP API), where k6 runners write their live
    /// numbers; none: test series say no Prometheus is configured.
    pub prometheus_url: Option<reqwest::Url>,
    /// The labels that tie node-exporter's series in that Prometheus to a cluster and node.
    pub node_series: crate::collectors::node_figures::SeriesLabels,
    /// Read the kubelet Summary API for nodes node-exporter gives nothing for.
    pub kubelet_summary: bool,
}

/// Background tasks of the API, stopped when dropped.
pub struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// What a platform watch tells the API's feeds (metrics, the event stream).
#[derive(Debug, PartialEq)]
enum Notice<K> {
    /// An object is new or changed (also every object of a relist).
    Changed(K),
    /// An object is gone (deleted, or missing from a relist).
    Deleted(K),
    /// A relist finished: listeners may have missed changes and should refetch.
    Relisted,
}

/// Follows one watch through its relists. A relist (after a restart, or when the watch
/// fell too far behind) lists every object again: each is reported as changed, and what
/// the cache held before the relist but the relist did not contain was deleted during the
/// gap and is reported as deleted.
struct Relists<K: kube::Resource<DynamicType = ()>> {
    before: Vec<Arc<K>>,
    listed: std::collections::HashSet<kube::runtime::reflector::ObjectRef<K>>,
}

impl<K> Relists<K>
where
    K: kube::Resource<DynamicType = ()> + Clone,
{
    fn new() -> Self {
        Self {
            before: Vec::new(),
            listed: std::collections::HashSet::new(),
        }
    }

    /// The notices for one watcher event; `held` is what the cache holds while a relist
    /// starts (the reflector swaps in the new list only when it is complete).
    fn notices(
        &mut self,
        event: &kube::runtime::watcher::Event<K>,
        held: impl FnOnce() -> Vec<Arc<K>>,
    ) -> Vec<Notice<K>> {
        use kube::runtime::reflector::ObjectRef;
        use kube::runtime::watcher::Event;
        match event {
            Event::Apply(obj) => vec![Notice::Changed(obj.clone())],
            Event::Delete(obj) => vec![Notice::Deleted(obj.clone())],
            Event::Init => {
                self.before = held();
                self.listed.clear();
                Vec::new()
            }
            Event::InitApply(obj) => {
                self.listed.insert(ObjectRef::from_obj(obj));
                vec![Notice::Changed(obj.clone())]
            }
            Event::InitDone => {
                let listed = std::mem::take(&mut self.listed);
                let mut notices: Vec<Notice<K>> = std::mem::take(&mut self.before)
                    .into_iter()
                    .filter(|o| !listed.contains(&ObjectRef::from_obj(o.as_ref())))
                    .map(|o| Notice::Deleted(o.as_ref().clone()))
                    .collect();
                notices.push(Notice::Relisted);
                notices
            }
        }
    }
}

fn cache<K>(
    client: &Client,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    on_notice: impl Fn(Notice<&K>) + Send + 'static,
) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    use futures::StreamExt;
    use kube::runtime::{WatchStreamExt, reflector, watcher};
    let (reader, writer) = reflector::store();
    let stream = watcher(
        kube::Api::<K>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .modify(|o: &mut K| o.meta_mut().managed_fields = None)
    .reflect(writer);
    let held = reader.clone();
    tasks.push(tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        let mut relists = Relists::new();
        while let Some(event) = stream.next().await {
            match event {
                Ok(event) => {
                    for notice in relists.notices(&event, || held.state()) {
                        on_notice(match &notice {
                            Notice::Changed(o) => Notice::Changed(o),
                            Notice::Deleted(o) => Notice::Deleted(o),
                            Notice::Relisted => Notice::Relisted,
                        });
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, kind = %K::kind(&()), "API cache watch interrupted")
                }
            }
        }
    }));
    reader
}

fn phase_name<T: serde::Serialize>(phase: Option<T>) -> Option<String> {
    phase.and_then(|p| serde_json::to_value(p).ok()?.as_str().map(str::to_owned))
}

/// Starts the API's caches and feeds: ManagedClusters, LoadTests, ScalingExperiments and TestSchedules of
/// the platform, the platform cluster's collectors, and the event stream.
pub fn start(
    client: Client,
    clusters: Arc<Registry>,
    samplers: Arc<Live>,
    metrics: Arc<Metrics>,
    config: &ApiConfig,
) -> (Arc<ApiState>, Tasks) {
    let (events_tx, _) = broadcast::channel(1024);
    let mut tasks = Vec::new();
    let m = metrics.clone();
    let tx = events_tx.clone();
    let managed = cache::<ManagedCluster>(&client, &mut tasks, move |notice| {
        let (mc, deleted) = match notice {
            Notice::Changed(mc) => (mc, false),
            Notice::Deleted(mc) => (mc, true),
            Notice::Relisted => {
                let _ = tx.send(events::ApiEvent::Resync);
                return;
            }
        };
        let name = mc.metadata.name.clone().unwrap_or_default();
        let _ = tx.send(events::ApiEvent::Cluster {
            cluster: name.clone(),
            phase: phase_name(mc.status.as_ref().and_then(|s| s.phase)),
            deleted,
        });
        if deleted {
            m.forget_cluster(&name);
            return;
        }
        let status = mc.status.clone().unwrap_or_default();
        let ready = status.phase == Some(crds::managed_cluster::ClusterPhase::Ready);
        m.observe_cluster(
            &name,
            ready,
            status.nodes.iter().filter(|n| n.ready).count(),
            status.nodes.len(),
        );
    });
    let tx = events_tx.clone();
    let m = metrics.clone();
    let tests = cache::<LoadTest>(&client, &mut tasks, move |notice| {
        let (lt, deleted) = match notice {
            Notice::Changed(lt) => (lt, false),
            Notice::Deleted(lt) => (lt, true),
            Notice::Relisted => {
                let _ = tx.send(events::ApiEvent::Resync);
                return;
            }
        };
        if deleted {
            m.forget_loadtest(lt);
        } else {
            m.observe_loadtest(lt);
        }
        let _ = tx.send(events::ApiEvent::Test {
            namespace: lt.metadata.namespace.clone().unwrap_or_default(),
            name: lt.metadata.name.clone().unwrap_or_default(),
            phase: phase_name(lt.status.as_ref().and_then(|s| s.phase)),
            deleted,
        });
    });
    let tx = events_tx.clone();
    let experiments = cache::<ScalingExperiment>(&client, &mut tasks, move |notice| {
        let (se, deleted) = match notice {
            Notice::Changed(se) => (se, false),
            Notice::Deleted(se) => (se, true),
            Notice::Relisted => {
                let _ = tx.send(events::ApiEvent::Resync);
                return;
            }
        };
        let _ = tx.send(events::ApiEvent::Experiment {
            namespace: se.metadata.namespace.clone().unwrap_or_default(),
            name: se.metadata.name.clone().unwrap_or_default(),
            phase: phase_name(se.status.as_ref().and_then(|s| s.phase)),
            deleted,
        });
    });
    // Schedules change rarely and their runs' changes are announced as tests and
    // experiments: no notice of their own.
    let schedules = cache::<crds::TestSchedule>(&client, &mut tasks, |_| {});
    let state = Arc::new(ApiState {
        platform_collector: ClusterCollector::start(
            &config.platform_name,
            client.clone(),
            config.collectors.clone(),
            metrics.clone(),
        ),
        platform_name: config.platform_name.clone(),
        platform_version: config.platform_version.clone(),
        auth: auth::Authenticator::new(
            client.clone(),
            config.anonymous_read,
            &config.token_audience,
        ),
        metrics_on_api_port: config.metrics_on_api_port,
        platform: client,
        clusters,
        managed,
        tests,
        experiments,
        schedules,
        samplers,
        events: events_tx.clone(),
        metrics,
        ready: AtomicBool::new(false),
        prometheus: config
            .prometheus_url
            .clone()
            .map(crate::prometheus::Prometheus::new),
        series_cache: series::series_cache(),
        vms: Default::default(),
        node_series: config.node_series.clone(),
        node_figures: Default::default(),
        kubelet_figures: config.kubelet_summary.then(Default::default),
        answers: Default::default(),
    });
    if let Some(prometheus) = state.prometheus.clone() {
        tasks.push(tokio::spawn(series::poll(
            state.clone(),
            prometheus.clone(),
        )));
        tasks.push(tokio::spawn(crate::collectors::node_figures::poll(
            prometheus,
            config.node_series.clone(),
            config.platform_name.clone(),
            state.node_figures.clone(),
            crate::collectors::node_figures::EVERY,
        )));
    }
    if let Some(cache) = state.kubelet_figures.clone() {
        let targets = Arc::downgrade(&state);
        tasks.push(tokio::spawn(crate::collectors::kubelet_summary::poll(
            move || {
                targets
                    .upgrade()
                    .map_or_else(Vec::new, |s| read::kubelet_targets(&s))
            },
            cache,
            config.collectors.usage,
        )));
    }
    // Pods, nodes and usage go out as deltas (see `collectors::changes`); VMs and node
    // figures are polled: tell listeners to refetch at the metrics pace.
    let ticker = {
        let every = config.collectors.usage;
        let tx = events_tx.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if tx.receiver_count() > 0 {
                    let _ = tx.send(events::ApiEvent::Snapshot {
                        collected_at: k8s_openapi::jiff::Timestamp::now().to_string(),
                    });
                }
            }
        })
    };
    tasks.push(tokio::spawn(publish_deltas(state.clone(), events_tx)));
    tasks.push(ticker);
    let ready_state = state.clone();
    tasks.push(tokio::spawn(async move {
        let (m, t, e, s) = (
            ready_state.managed.clone(),
            ready_state.tests.clone(),
            ready_state.experiments.clone(),
            ready_state.schedules.clone(),
        );
        if m.wait_until_ready().await.is_ok()
            && t.wait_until_ready().await.is_ok()
            && e.wait_until_ready().await.is_ok()
            && s.wait_until_ready().await.is_ok()
        {
            ready_state.ready.store(true, Ordering::Release);
        }
    }));
    (state, Tasks(tasks))
}

/// How long changes of a cluster gather before they go out as one delta: at most one
/// delta event per cluster per period, the latest state of each object winning.
pub const COALESCE: std::time::Duration = std::time::Duration::from_millis(500);

/// Sends each connected cluster's changes as one delta per [`COALESCE`] period (a relist
/// as a resync).
async fn publish_deltas(state: Arc<ApiState>, tx: broadcast::Sender<events::ApiEvent>) {
    use crate::collectors::changes::Flushed;
    let mut tick = tokio::time::interval(COALESCE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for (_, collector) in read::clusters(&state) {
            match collector.map(|c| c.flush_changes()) {
                Some(Flushed::Delta(delta)) => {
                    let _ = tx.send(events::ApiEvent::Delta(events::SharedDelta(delta)));
                }
                Some(Flushed::Resync) => {
                    let _ = tx.send(events::ApiEvent::Resync);
                }
                Some(Flushed::Nothing) | None => {}
            }
        }
    }
}

/// Shared state of the handlers.
pub struct ApiState {
    /// The platform cluster.
    pub platform: Client,
    /// The platform cluster's name in the API.
    pub platform_name: String,
    /// The platform cluster's collectors.
    pub platform_collector: Arc<ClusterCollector>,
    /// The platform API server's version.
    pub platform_version: Option<String>,
    /// Managed clusters and their collectors.
    pub clusters: Arc<Registry>,
    /// ManagedClusters (cache).
    pub managed: Store<ManagedCluster>,
    /// LoadTests (cache).
    pub tests: Store<LoadTest>,
    /// ScalingExperiments (cache).
    pub experiments: Store<ScalingExperiment>,
    /// TestSchedules (cache).
    pub schedules: Store<crds::TestSchedule>,
    /// The series of running experiments.
    pub samplers: Arc<Live>,
    /// Authentication and authorization.
    pub auth: auth::Authenticator,
    /// Changes pushed to `/api/v1/events`.
    pub events: broadcast::Sender<events::ApiEvent>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Set once the platform caches have synced.
    pub ready: AtomicBool,
    /// `/metrics` is served on the API's port too.
    pub metrics_on_api_port: bool,
    /// The platform's Prometheus, for test series.
    pub prometheus: Option<crate::prometheus::Prometheus>,
    /// Finished tests' series.
    pub series_cache: series::SeriesCache,
    /// Tart VMs and their figures from the host agent (filled by
    /// [`crate::collectors::vms::poll`]).
    pub vms: crate::collectors::vms::VmCache,
    /// The labels that tie node-exporter's series to a cluster and node.
    pub node_series: crate::collectors::node_figures::SeriesLabels,
    /// Nodes' disk and network from node-exporter's series in Prometheus (filled by
    /// [`crate::collectors::node_figures::poll`]).
    pub node_figures: crate::collectors::node_figures::FiguresCache,
    /// Nodes' disk and network from the kubelet Summary API, for nodes node-exporter gives
    /// nothing for (filled by [`crate::collectors::kubelet_summary::poll`]); none when
    /// `--no-kubelet-summary`.
    pub kubelet_figures: Option<crate::collectors::kubelet_summary::KubeletCache>,
    /// The clusters' answers, built once per change.
    pub answers: cluster_answers::ClusterAnswers,
}

impl ApiState {
    /// Whether the operator is ready: its platform caches have listed once.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) && self.platform_collector.synced()
    }
}

/// One route: method, path, permission, documentation and handler. The router (with the
/// guard that enforces the permission) and the OpenAPI document are both built from the
/// list in [`routes`].
pub struct Route {
    /// GET, POST or DELETE.
    pub method: &'static str,
    /// The axum path, e.g. `/api/v1/tests/{namespace}/{name}`.
    pub path: &'static str,
    /// One line for the OpenAPI summary.
    pub summary: &'static str,
    /// What the caller needs; the router enforces it.
    pub permission: access::Permission,
    /// The request body schema and response schemas by status.
    pub doc: openapi::Operation,
    /// The handler.
    pub handler: MethodRouter<Arc<ApiState>>,
}

/// Every route of the API.
pub fn routes() -> Vec<Route> {
    let mut all = read::routes();
    all.extend(resources::routes::<LoadTest>());
    all.push(export::route());
    all.push(series::route());
    all.extend(resources::routes::<ScalingExperiment>());
    all.push(schedules::route());
    all.extend(events::routes());
    all.push(openapi::route());
    all
}

/// The whole HTTP application: [`router`], plus the dashboard's files from `dashboard` at
/// `/` when given (any path that is not a file gets `index.html`, so deep links work on
/// reload). Unknown `/api/` paths stay JSON 404s.
pub fn app(state: Arc<ApiState>, dashboard: Option<&std::path::Path>) -> Router {
    let router = router(state);
    match dashboard {
        Some(dir) => router.fallback_service(
            tower_http::services::ServeDir::new(dir)
                .fallback(tower_http::services::ServeFile::new(dir.join("index.html"))),
        ),
        None => router,
    }
}

async fn no_such_route(uri: axum::http::Uri) -> Response {
    error::ApiError::not_found(format!(
        "no API route {}; the routes are listed in /api/v1/openapi.json",
        uri.path()
    ))
    .into_response()
}

/// The router: `/api/v1` (from [`routes`], each route behind its guard), `/healthz`,
/// `/readyz`, and `/metrics` only with `--metrics-on-api-port` (it has its own listener,
/// [`metrics_router`]).
pub fn router(state: Arc<ApiState>) -> Router {
    let mut router = Router::new();
    let mut by_path: Vec<(&'static str, MethodRouter<Arc<ApiState>>)> = Vec::new();
    for route in routes() {
        let body = route.doc.body_check();
        let handler = access::guarded(route.handler, state.clone(), route.permission, body);
        match by_path.iter_mut().find(|(p, _)| *p == route.path) {
            Some((_, existing)) => {
                let merged = std::mem::take(existing).merge(handler);
                *existing = merged;
            }
            None => by_path.push((route.path, handler)),
        }
    }
    for (path, handler) in by_path {
        router = router.route(path, handler);
    }
    router = router
        .route("/api/{*rest}", axum::routing::any(no_such_route))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz));
    if state.metrics_on_api_port {
        router = router.route("/metrics", get(metrics));
    }
    router
        .layer(DefaultBodyLimit::max(body::MAX_BODY_BYTES))
        .with_state(state)
}

/// The metrics listener's router: `/metrics` only.
pub fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .with_state(metrics)
}

async fn readyz(State(state): State<Arc<ApiState>>) -> Response {
    if state.is_ready() {
        "ok".into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the watch caches have not synced yet",
        )
            .into_response()
    }
}

async fn metrics(State(state): State<Arc<ApiState>>, headers: axum::http::HeaderMap) -> Response {
    metrics_handler(State(state.metrics.clone()), headers).await
}

/// OpenMetrics when the scraper accepts it (Prometheus does), else the text format 0.0.4.
async fn metrics_handler(
    State(metrics): State<Arc<Metrics>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    let (body, content_type) = if openmetrics {
        (
            metrics.encode(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )
    } else {
        (
            metrics.encode_text(),
            "text/plain; version=0.0.4; charset=utf-8",
        )
    };
    match body {
        Ok(body) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics").into_response(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn state() -> (Arc<ApiState>, Tasks) {
        state_with(false)
    }

    fn named(name: &str) -> ManagedCluster {
        ManagedCluster::new(
            name,
            serde_json::from_value(serde_json::json!({"tier": "dev", "provider": "external"}))
                .expect("spec"),
        )
    }

    #[test]
    fn a_relist_reports_every_object_and_what_went_during_the_gap() {
        use kube::runtime::watcher::Event;
        let (a, b, c) = (named("a"), named("b"), named("c"));
        let mut relists = Relists::new();
        // The first list: nothing was held, everything listed is new.
        assert_eq!(relists.notices(&Event::Init, Vec::new), []);
        assert_eq!(
            relists.notices(&Event::InitApply(a.clone()), Vec::new),
            [Notice::Changed(a.clone())]
        );
        assert_eq!(
            relists.notices(&Event::InitApply(b.clone()), Vec::new),
            [Notice::Changed(b.clone())]
        );
        assert_eq!(
            relists.notices(&Event::InitDone, Vec::new),
            [Notice::Relisted]
        );
        assert_eq!(
            relists.notices(&Event::Apply(c.clone()), Vec::new),
            [Notice::Changed(c.clone())]
        );
        // The watch broke; b was deleted meanwhile, so the relist lists a and c only.
        let held = vec![
            Arc::new(a.clone()),
            Arc::new(b.clone()),
            Arc::new(c.clone()),
        ];
        assert_eq!(relists.notices(&Event::Init, || held), []);
        relists.notices(&Event::InitApply(a.clone()), Vec::new);
        relists.notices(&Event::InitApply(c.clone()), Vec::new);
        assert_eq!(
            relists.notices(&Event::InitDone, Vec::new),
            [Notice::Deleted(b.clone()), Notice::Relisted]
        );
        assert_eq!(
            relists.notices(&Event::Delete(a.clone()), Vec::new),
            [Notice::Deleted(a)]
        );
    }

    /// A state whose platform client points at a closed port: the routes under test answer
    /// without asking it (public routes, authentication failures, body checks).
    pub(crate) fn state_with(anonymous_read: bool) -> (Arc<ApiState>, Tasks) {
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("uri"));
        let client = Client::try_from(config).expect("client");
        let metrics = Arc::new(Metrics::new());
        let (wake, _) = futures::channel::mpsc::unbounded();
        let clusters = Arc::new(Registry::new(
            wake,
            CollectorSettings::default(),
            metrics.clone(),
        ));
        let config = ApiConfig {
            platform_name: "platform".into(),
            anonymous_read,
            token_audience: auth::DEFAULT_AUDIENCE.into(),
            metrics_on_api_port: false,
            platform_version: None,
            collectors: CollectorSettings::default(),
            prometheus_url: None,
            node_series: Default::default(),
            kubelet_summary: true,
        };
        start(client, clusters, Arc::default(), metrics, &config)
    }

    async fn call(
        state: &Arc<ApiState>,
        req: axum::http::Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        call_on(router(state.clone()), req).await
    }

    async fn call_on(
        app: Router,
        req: axum::http::Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let res = app.oneshot(req).await.expect("infallible");
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    fn get(path: &str) -> axum::http::Request<Body> {
        axum::http::Request::get(path)
            .body(Body::empty())
            .expect("request")
    }

    #[tokio::test]
    async fn health_and_readiness() {
        let (state, _tasks) = state();
        assert_eq!(call(&state, get("/healthz")).await.0, StatusCode::OK);
        let (status, _, body) = call(&state, get("/readyz")).await;
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "caches cannot sync against a closed port"
        );
        assert!(body.contains("not synced"), "{body}");
    }

    #[tokio::test]
    async fn public_routes_answer_without_a_token() {
        let (state, _tasks) = state();
        let (status, _, body) = call(&state, get("/api/v1/presets")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            serde_json::from_str::<Vec<read::PresetView>>(&body)
                .expect("presets")
                .len(),
            16
        );
        let (status, _, body) = call(&state, get("/api/v1/openapi.json")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("\"openapi\":\"3.1.0\""));
        assert_eq!(
            call(&state, get("/api/v1/nothing-here")).await.0,
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn protected_routes_need_a_bearer_token() {
        let (state, _tasks) = state();
        for path in [
            "/api/v1/snapshot",
            "/api/v1/clusters",
            "/api/v1/tests",
            "/api/v1/experiments",
            "/api/v1/traffic",
            "/api/v1/events",
        ] {
            let (status, _, body) = call(&state, get(path)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
            let err: error::ErrorBody = serde_json::from_str(&body).expect("error body");
            assert_eq!(err.error.code, "Unauthorized");
        }
        let basic = axum::http::Request::get("/api/v1/snapshot")
            .header("authorization", "Basic YTpi")
            .body(Body::empty())
            .expect("request");
        assert_eq!(call(&state, basic).await.0, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn bodies_are_checked_before_anything_else() {
        let (state, _tasks) = state();
        let post = |ct: &str, body: &'static str| {
            axum::http::Request::post("/api/v1/tests")
                .header("content-type", ct)
                .body(Body::from(body))
                .expect("request")
        };
        let (status, _, body) = call(&state, post("text/plain", "{}")).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
        let (status, _, body) = call(
            &state,
            post(
                "application/json",
                r#"{"spec":{"cluster":"dev","http":{"vus":"x"}}}"#,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.contains(r#""field":"spec.http.vus""#), "{body}");
        let big = Box::leak(
            format!("{{\"x\":\"{}\"}}", "a".repeat(body::MAX_BODY_BYTES)).into_boxed_str(),
        );
        let (status, _, _) = call(&state, post("application/json", big)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let (status, _, _) = call(
            &state,
            axum::http::Request::delete("/api/v1/tests/Bad%20NS/x")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "names are checked before authorization is asked"
        );
    }

    #[tokio::test]
    async fn metrics_are_off_the_api_port_unless_asked() {
        let (state, _tasks) = state();
        assert_eq!(call(&state, get("/metrics")).await.0, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn metrics_follow_the_accept_header() {
        let (state, _tasks) = state();
        let app = || metrics_router(state.metrics.clone());
        let (status, headers, body) = call_on(app(), get("/metrics")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap_or("")
                .starts_with("text/plain; version=0.0.4")
        );
        assert!(!body.contains("# EOF"));
        let om = axum::http::Request::get("/metrics")
            .header("accept", "application/openmetrics-text; version=1.0.0")
            .body(Body::empty())
            .expect("request");
        let (_, headers, body) = call_on(app(), om).await;
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap_or("")
                .starts_with("application/openmetrics-text")
        );
        assert!(body.ends_with("# EOF\n"));
    }
}
