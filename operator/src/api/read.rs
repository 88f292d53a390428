//! Read-only routes over the collectors' caches: the snapshot, clusters, pods, services,
//! HPA history and presets.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use crds::load_test::LoadTestPreset;
use crds::plan::PresetLoad;
use crds::scaling_experiment::ScalingPreset;
use k8s_openapi::jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::access::{Permission, Scope, Verb};
use super::auth::{Caller, Resource};
use super::cluster_answers::{Part, Sources};
use super::encoded::{self, Encoded};
use super::error::ApiError;
use super::openapi::Operation;
use super::{ApiState, Route};
use crate::collectors::ClusterCollector;
use crate::collectors::snapshot::{self, ClusterMeta};
use crate::collectors::{kubelet_summary, node_figures, vms};
use crate::model::{
    ClusterView, PodView, ScalingHistory, ServiceView, Snapshot, SourceError, TrafficView,
};

/// A cluster without its pods, for lists.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSummary {
    /// Name.
    pub name: String,
    /// Tier.
    pub tier: Option<String>,
    /// Phase.
    pub phase: Option<String>,
    /// Whether the API server answers.
    pub reachable: bool,
    /// Ready nodes.
    pub nodes_ready: usize,
    /// All nodes.
    pub nodes_total: usize,
    /// All pods.
    pub pods_total: usize,
    /// Running or completed pods.
    pub pods_running: usize,
    /// API server version.
    pub kubernetes_version: Option<String>,
}

/// A predefined test or experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PresetView {
    /// The name to put in spec.preset (LoadTest) or spec.load.preset (ScalingExperiment).
    pub name: String,
    /// `loadtest` or `experiment`.
    pub kind: String,
    /// HTTP, CPU, MEM, SCALE or CASCADE.
    pub tag: String,
    /// One line for humans.
    pub description: String,
    /// The explicit spec the preset stands for: an `http` or `stress` object.
    pub spec: serde_json::Value,
    /// Seconds of cooldown (experiments).
    pub cooldown_seconds: Option<u32>,
}

const TIER_ORDER: [&str; 4] = ["platform", "dev", "staging", "prod"];

fn tier_rank(tier: Option<&str>) -> usize {
    tier.and_then(|t| TIER_ORDER.iter().position(|x| *x == t))
        .unwrap_or(TIER_ORDER.len())
}

/// Every cluster: the platform first, then ManagedClusters by tier and name, each with its
/// collector when connected.
pub fn clusters(state: &ApiState) -> Vec<(ClusterMeta, Option<Arc<ClusterCollector>>)> {
    let mut managed: Vec<_> = state
        .managed
        .state()
        .iter()
        .map(|mc| snapshot::meta(mc))
        .filter(|m| m.name != state.platform_name)
        .map(|m| {
            let collector = state.clusters.collector(&m.name);
            (m, collector)
        })
        .collect();
    managed.sort_by(|(a, _), (b, _)| {
        (tier_rank(a.tier.as_deref()), &a.name).cmp(&(tier_rank(b.tier.as_deref()), &b.name))
    });
    let platform_meta = state
        .managed
        .state()
        .iter()
        .find(|mc| mc.metadata.name.as_deref() == Some(state.platform_name.as_str()))
        .map(|mc| snapshot::meta(mc))
        .unwrap_or_else(|| ClusterMeta {
            name: state.platform_name.clone(),
            tier: Some("platform".into()),
            ..ClusterMeta::default()
        });
    // The operator runs in the platform cluster: without a ManagedCluster of its own, it is
    // Ready once its watch caches have listed.
    let platform_phase = platform_meta.phase.clone().or_else(|| {
        Some(
            if state.platform_collector.synced() {
                "Ready"
            } else {
                "Pending"
            }
            .to_owned(),
        )
    });
    let platform_meta = ClusterMeta {
        phase: platform_phase,
        reachable: true,
        version: platform_meta
            .version
            .clone()
            .or_else(|| state.platform_version.clone()),
        ..platform_meta
    };
    let mut all = vec![(platform_meta, Some(state.platform_collector.clone()))];
    all.extend(managed);
    all
}

/// The clusters `caller` may `get` (a ManagedCluster by name; the platform by its name too).
/// A cluster whose check fails is left out rather than failing the whole list.
pub async fn visible_clusters(
    state: &ApiState,
    caller: &Caller,
) -> Vec<(ClusterMeta, Option<Arc<ClusterCollector>>)> {
    let mut visible = Vec::new();
    for (meta, collector) in clusters(state) {
        let may = state
            .auth
            .may(
                caller,
                Verb::Get,
                Resource::ManagedClusters,
                "",
                Some(&meta.name),
            )
            .await;
        if may.unwrap_or(false) {
            visible.push((meta, collector));
        }
    }
    visible
}

fn view(meta: &ClusterMeta, collector: Option<&Arc<ClusterCollector>>) -> ClusterView {
    match collector {
        Some(c) => snapshot::cluster_view(meta, &c.nodes.state(), &c.pods.state(), &c.usage()),
        None => snapshot::cluster_view(meta, &[], &[], &Default::default()),
    }
}

/// A cluster by name, with its collector when it is connected.
fn find(
    state: &ApiState,
    name: &str,
) -> Result<(ClusterMeta, Option<Arc<ClusterCollector>>), ApiError> {
    clusters(state)
        .into_iter()
        .find(|(m, _)| m.name == name)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no cluster {name:?}; GET /api/v1/clusters lists them"
            ))
        })
}

/// A cluster by name and its collector, which the cluster must have.
fn connected(
    state: &ApiState,
    name: &str,
) -> Result<(ClusterMeta, Arc<ClusterCollector>), ApiError> {
    let (meta, collector) = find(state, name)?;
    let collector = collector.ok_or_else(|| {
        ApiError::unavailable(format!(
            "cluster {name} is not connected; see its ManagedCluster's Reachable condition"
        ))
    })?;
    Ok((meta, collector))
}

/// Whether the snapshot's query (`pods=true|false`, default true) asks for pods.
fn pods_wanted(query: Option<&str>) -> Result<bool, ApiError> {
    let mut wanted = true;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=').unwrap_or((pair, "")) {
            ("pods", "true") => wanted = true,
            ("pods", "false") => wanted = false,
            ("pods", other) => {
                return Err(ApiError::bad_request(format!(
                    "query parameter pods is {other:?}; use pods=false to leave pods out or pods=true (the default)"
                ))
                .with_field("pods"));
            }
            (name, _) => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {name:?}; the snapshot takes only pods=true|false"
                ))
                .with_field(name.to_owned()));
            }
        }
    }
    Ok(wanted)
}

/// The answer of one cluster as `part`, built once per change of its sources (see
/// [`cluster_answers`](super::cluster_answers)).
fn cluster_answer(
    state: &ApiState,
    meta: &ClusterMeta,
    collector: Option<&Arc<ClusterCollector>>,
    part: Part,
) -> (Arc<Encoded>, Timestamp) {
    // Revisions first, then the caches they count (see `ClusterCollector::revision`).
    let sources = Sources {
        meta: meta.clone(),
        revision: collector.map(|c| c.revision()),
        figures: state.node_figures.revision(),
        kubelet: state.kubelet_figures.as_ref().map_or(0, |k| k.revision()),
    };
    state.answers.cluster(part, sources, || {
        let mut v = view(meta, collector);
        if part == Part::Overview {
            v.pods = Vec::new();
        }
        let polled = state.node_figures.polled();
        let kubelet = state.kubelet_figures.as_ref().map(|k| k.polled().last);
        with_node_figures(
            &mut v,
            state,
            collector,
            (&polled, kubelet.as_deref()),
            part == Part::Detail,
        );
        v
    })
}

/// The snapshot of the clusters `caller` may read, served from the clusters' built answers:
/// a `304` when the caller has it already (`If-None-Match`), compressed when it accepts it.
/// `?pods=false` leaves every cluster's pods out (their namespace counts stay).
async fn get_snapshot(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let with_pods = pods_wanted(query.as_deref())?;
    let part = if with_pods {
        Part::Snapshot
    } else {
        Part::Overview
    };
    let visible = visible_clusters(&state, &caller).await;
    let names: Vec<String> = clusters(&state).into_iter().map(|(m, _)| m.name).collect();
    state
        .answers
        .keep_only(&names.iter().map(String::as_str).collect::<Vec<_>>());
    let mut tail = Snapshot {
        pods_omitted: !with_pods,
        ..Snapshot::default()
    };
    let mut newest = None;
    let mut parts = Vec::with_capacity(visible.len());
    for (meta, collector) in &visible {
        if let Some(c) = collector {
            tail.errors.extend(c.errors());
            tail.stale |= !c.synced();
        }
        let (answer, at) = cluster_answer(&state, meta, collector.as_ref(), part);
        newest = newest.max(Some(at));
        parts.push(answer);
    }
    tail.collected_at = newest.unwrap_or_else(Timestamp::now).to_string();
    add_vms(&mut tail, &state, &visible);
    if visible.iter().any(|(m, _)| m.name == state.platform_name) {
        add_poll_error(
            &mut tail,
            &state,
            node_figures::SOURCE,
            state.node_figures.polled().error,
        );
    }
    tail.stale |= !tail.errors.is_empty();
    let tail = serde_json::to_vec(&tail).map_err(ApiError::internal)?;
    let tag = encoded::tag_of_parts(
        parts
            .iter()
            .map(|p| p.tag())
            .chain([encoded::tag_of(&tail)]),
    );
    if let Some(not_modified) = encoded::unchanged(&headers, tag) {
        return Ok(not_modified);
    }
    let answer = state.answers.snapshot(tag, || assemble(&tail, &parts));
    Ok(encoded::respond(answer, &headers).await)
}

/// The snapshot's JSON: `tail` (a serialized [`Snapshot`] with no clusters) with the
/// clusters' serialized views in its `clusters` list.
fn assemble(tail: &[u8], clusters: &[Arc<Encoded>]) -> Vec<u8> {
    // `collectedAt` and `stale` come first and cannot hold this text, so the first one is
    // the field's.
    const EMPTY: &[u8] = b"\"clusters\":[]";
    let Some(at) = tail.windows(EMPTY.len()).position(|w| w == EMPTY) else {
        return tail.to_vec();
    };
    let size = tail.len() + clusters.iter().map(|c| c.json().len() + 1).sum::<usize>();
    let mut out = Vec::with_capacity(size);
    let (head, rest) = tail.split_at(at + EMPTY.len() - 1);
    out.extend_from_slice(head);
    for (i, c) in clusters.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(c.json());
    }
    out.extend_from_slice(rest);
    out
}

/// A failing poller's error (`(message, since)`), as one of the snapshot's errors on the
/// platform cluster, which marks the snapshot stale.
fn add_poll_error(
    answer: &mut Snapshot,
    state: &ApiState,
    source: &str,
    error: Option<(String, String)>,
) {
    if let Some((message, since)) = error {
        answer.stale = true;
        answer.errors.push(SourceError {
            cluster: state.platform_name.clone(),
            source: source.to_owned(),
            message,
            since,
        });
    }
}

fn with_node_figures(
    view: &mut ClusterView,
    state: &ApiState,
    collector: Option<&Arc<ClusterCollector>>,
    (polled, kubelet): (&node_figures::Polled, Option<&kubelet_summary::ByCluster>),
    history: bool,
) {
    let facts = node_figures::Facts {
        prometheus: state.prometheus.as_ref().map(|p| p.url()),
        labels: &state.node_series,
        platform: &state.platform_name,
        history,
        kubelet,
    };
    node_figures::apply(view, polled, &facts, |node| {
        collector.is_some_and(|c| c.simulated_node(node))
    });
}

/// The nodes to read the kubelet Summary API of: each connected cluster's nodes that are
/// not simulated and have no node-exporter figures; none while Prometheus has not answered
/// (or failed) once, so node-exporter's nodes are never read at start-up.
pub fn kubelet_targets(state: &ApiState) -> Vec<kubelet_summary::Target> {
    let polled = state.node_figures.polled();
    if state.prometheus.is_some() && polled.last.is_none() && polled.error.is_none() {
        return Vec::new();
    }
    let exporter = polled.last;
    clusters(state)
        .into_iter()
        .filter_map(|(meta, collector)| {
            let collector = collector?;
            let covered = exporter.as_deref().and_then(|f| f.get(&meta.name));
            let nodes: Vec<(String, Result<(), String>)> = collector
                .nodes
                .state()
                .iter()
                .filter_map(|node| {
                    let name = node.metadata.name.clone()?;
                    let skip = collector.simulated_node(&name)
                        || covered.is_some_and(|c| c.contains_key(&name));
                    (!skip).then(|| (name, kubelet_summary::readable(node)))
                })
                .collect();
            (!nodes.is_empty()).then(|| kubelet_summary::Target {
                cluster: meta.name,
                client: collector.client().clone(),
                nodes,
            })
        })
        .collect()
}

/// The host agent's VMs of the visible clusters (and those of no cluster, to whoever sees
/// the platform), from the poller's cache; a failing poll is one of the snapshot's errors.
fn add_vms(
    answer: &mut Snapshot,
    state: &ApiState,
    visible: &[(ClusterMeta, Option<Arc<ClusterCollector>>)],
) {
    let polled = state.vms.polled();
    let nodes: Vec<(String, Vec<String>)> = visible
        .iter()
        .filter_map(|(meta, collector)| {
            let names = collector
                .as_ref()?
                .nodes
                .state()
                .iter()
                .filter_map(|n| n.metadata.name.clone())
                .collect();
            Some((meta.name.clone(), names))
        })
        .collect();
    let owners = vms::owners(&state.managed.state(), &nodes);
    let sees = |cluster: &str| {
        let cluster = if cluster.is_empty() {
            state.platform_name.as_str()
        } else {
            cluster
        };
        visible.iter().any(|(m, _)| m.name == cluster)
    };
    answer.vms = vms::views(&polled, &owners)
        .into_iter()
        .filter(|v| sees(&v.cluster))
        .collect();
    if sees("") {
        add_poll_error(answer, state, vms::SOURCE, polled.error);
    }
}

async fn list_clusters(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
) -> Json<Vec<ClusterSummary>> {
    let list = visible_clusters(&state, &caller)
        .await
        .iter()
        .map(|(meta, collector)| {
            let v = view(meta, collector.as_ref());
            ClusterSummary {
                nodes_ready: v.nodes.iter().filter(|n| n.status == "Ready").count(),
                nodes_total: v.nodes.len(),
                pods_total: v.pods.len(),
                pods_running: v.namespaces.iter().map(|n| n.running).sum(),
                name: v.name,
                tier: v.tier,
                phase: v.phase,
                reachable: v.reachable,
                kubernetes_version: v.kubernetes_version,
            }
        })
        .collect();
    Json(list)
}

async fn get_cluster(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (meta, collector) = find(&state, &name)?;
    let (answer, _) = cluster_answer(&state, &meta, collector.as_ref(), Part::Detail);
    Ok(encoded::respond(answer, &headers).await)
}

async fn cluster_pods(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
) -> Result<Json<Vec<PodView>>, ApiError> {
    let (meta, c) = connected(&state, &name)?;
    Ok(Json(view(&meta, Some(&c)).pods))
}

async fn cluster_services(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
) -> Result<Json<Vec<ServiceView>>, ApiError> {
    let (_, c) = connected(&state, &name)?;
    Ok(Json(snapshot::services(
        &c.services.state(),
        &c.slices.state(),
    )))
}

async fn cluster_scaling(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
) -> Result<Json<ScalingHistory>, ApiError> {
    let (_, c) = connected(&state, &name)?;
    Ok(Json(ScalingHistory {
        cluster: name,
        interval_seconds: c.scaling_interval().as_secs(),
        points: c.scaling(),
    }))
}

fn traffic_of(name: &str, collector: Option<&Arc<ClusterCollector>>) -> TrafficView {
    match collector {
        Some(c) => c.traffic(),
        None => TrafficView {
            cluster: name.to_owned(),
            message: Some(
                "the cluster is not connected; see its ManagedCluster's Reachable condition".into(),
            ),
            ..TrafficView::default()
        },
    }
}

async fn cluster_traffic(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
) -> Result<Json<TrafficView>, ApiError> {
    let (_, collector) = find(&state, &name)?;
    Ok(Json(traffic_of(&name, collector.as_ref())))
}

async fn all_traffic(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
) -> Json<Vec<TrafficView>> {
    Json(
        visible_clusters(&state, &caller)
            .await
            .iter()
            .map(|(m, c)| traffic_of(&m.name, c.as_ref()))
            .collect(),
    )
}

/// Every preset with the spec it stands for.
pub fn presets() -> Vec<PresetView> {
    let mut out: Vec<PresetView> = LoadTestPreset::ALL
        .iter()
        .map(|p| {
            let (tag, spec) = match p.load() {
                PresetLoad::Http(h) => ("HTTP", serde_json::json!({ "http": h })),
                PresetLoad::Stress(s) => {
                    let tag = if s.kind == crds::load_test::StressKind::Cpu {
                        "CPU"
                    } else {
                        "MEM"
                    };
                    (tag, serde_json::json!({ "stress": s }))
                }
            };
            PresetView {
                name: p.name().into(),
                kind: "loadtest".into(),
                tag: tag.into(),
                description: p.description().into(),
                spec,
                cooldown_seconds: None,
            }
        })
        .collect();
    out.extend(ScalingPreset::ALL.iter().map(|p| {
        PresetView {
            name: p.name().into(),
            kind: "experiment".into(),
            tag: if p.name().starts_with("cascade") {
                "CASCADE"
            } else {
                "SCALE"
            }
            .into(),
            description: p.description().into(),
            spec: serde_json::json!({ "http": p.load() }),
            cooldown_seconds: Some(p.cooldown_seconds()),
        }
    }));
    out
}

async fn list_presets() -> Json<Vec<PresetView>> {
    Json(presets())
}

const CLUSTER: &str = "The cluster's name (GET /api/v1/clusters)";

/// A `GET` of cluster data: of the cluster `{name}` when the path names one (needs `get
/// managedclusters/<name>`, so rules limited to some `resourceNames` work; answers 404 for
/// an unknown name), else of the clusters the caller may `get`.
fn cluster_read<T: JsonSchema>(
    path: &'static str,
    summary: &'static str,
    answer: &'static str,
    handler: MethodRouter<Arc<ApiState>>,
) -> Route {
    let (permission, doc, errors): (_, _, &[u16]) = if path.contains("{name}") {
        let doc = Operation::new().path("name", CLUSTER);
        let one = Permission::rbac(Verb::Get, Resource::ManagedClusters).scoped(Scope::Named);
        (one, doc, &[401, 403, 404, 503])
    } else {
        (Permission::Filtered, Operation::new(), &[401, 503])
    };
    Route {
        method: "GET",
        path,
        summary,
        permission,
        doc: doc.json::<T>(200, answer).errors(errors),
        handler,
    }
}

/// A route whose answers carry an ETag: `If-None-Match` with it gets a 304.
fn revalidated(route: Route, more: impl FnOnce(Operation) -> Operation) -> Route {
    let doc = more(route.doc).empty(
        304,
        "Not modified: the If-None-Match ETag is the answer's (answers are gzip or br encoded when accepted)",
    );
    Route { doc, ..route }
}

/// The read routes.
pub fn routes() -> Vec<Route> {
    vec![
        revalidated(
            cluster_read::<Snapshot>(
                "/api/v1/snapshot",
                "Every cluster with nodes, pods, usage and per-namespace counts",
                "The snapshot",
                get(get_snapshot),
            ),
            |doc| {
                doc.query(
                    "pods",
                    "false leaves every cluster's pods out (its namespace counts stay); default true",
                )
                .errors(&[400])
            },
        ),
        cluster_read::<Vec<ClusterSummary>>(
            "/api/v1/clusters",
            "The clusters, summarized",
            "The clusters",
            get(list_clusters),
        ),
        revalidated(
            cluster_read::<ClusterView>(
                "/api/v1/clusters/{name}",
                "One cluster with its nodes and pods",
                "The cluster",
                get(get_cluster),
            ),
            |doc| doc,
        ),
        cluster_read::<Vec<PodView>>(
            "/api/v1/clusters/{name}/pods",
            "A cluster's pods with status reasons, restarts, requests and usage",
            "The pods",
            get(cluster_pods),
        ),
        cluster_read::<Vec<ServiceView>>(
            "/api/v1/clusters/{name}/services",
            "A cluster's Services with their endpoints",
            "The Services",
            get(cluster_services),
        ),
        cluster_read::<ScalingHistory>(
            "/api/v1/clusters/{name}/scaling",
            "A cluster's HPA history: one point every 5 s, the last 30 minutes",
            "The history",
            get(cluster_scaling),
        ),
        cluster_read::<TrafficView>(
            "/api/v1/clusters/{name}/traffic",
            "A cluster's last 200 Hubble flows and their service-to-service edges",
            "The traffic",
            get(cluster_traffic),
        ),
        cluster_read::<Vec<TrafficView>>(
            "/api/v1/traffic",
            "Every cluster's traffic",
            "The traffic of every cluster",
            get(all_traffic),
        ),
        Route {
            method: "GET",
            path: "/api/v1/presets",
            summary: "The predefined tests and experiments",
            permission: Permission::Public,
            doc: Operation::new().json::<Vec<PresetView>>(200, "The presets"),
            handler: get(list_presets),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_cover_every_test_and_experiment_with_tags() {
        let p = presets();
        assert_eq!(p.len(), 16, "the original's 16 scenarios");
        let tags: std::collections::BTreeSet<&str> = p.iter().map(|p| p.tag.as_str()).collect();
        assert_eq!(
            tags,
            ["CASCADE", "CPU", "HTTP", "MEM", "SCALE"]
                .into_iter()
                .collect()
        );
        let ramp = p.iter().find(|p| p.name == "ramp-up").expect("ramp-up");
        assert_eq!(ramp.spec["http"]["rampUp"], "10s");
        assert!(
            p.iter()
                .filter(|p| p.kind == "experiment")
                .all(|p| p.cooldown_seconds.is_some_and(|c| c > 120))
        );
    }

    #[test]
    fn an_assembled_snapshot_is_the_snapshot() {
        let cluster = |name: &str, pods: usize| ClusterView {
            name: name.into(),
            pods: vec![
                PodView {
                    name: "web".into(),
                    ..PodView::default()
                };
                pods
            ],
            ..ClusterView::default()
        };
        let clusters = vec![cluster("platform", 0), cluster("dev", 3)];
        let whole = Snapshot {
            collected_at: "2026-12-05T22:00:00Z".into(),
            stale: true,
            clusters: clusters.clone(),
            vms: Vec::new(),
            errors: vec![SourceError {
                cluster: "dev".into(),
                source: "pods".into(),
                message: "a \"clusters\":[] in a message".into(),
                since: "2026-12-05T21:00:00Z".into(),
            }],
            pods_omitted: false,
        };
        let tail = Snapshot {
            clusters: Vec::new(),
            ..whole.clone()
        };
        let parts: Vec<_> = clusters
            .iter()
            .map(|c| Arc::new(Encoded::new(serde_json::to_vec(c).expect("json"))))
            .collect();
        let json = assemble(&serde_json::to_vec(&tail).expect("json"), &parts);
        let back: Snapshot = serde_json::from_slice(&json).expect("valid JSON");
        assert_eq!(back, whole);
        let none = assemble(&serde_json::to_vec(&tail).expect("json"), &[]);
        assert_eq!(
            serde_json::from_slice::<Snapshot>(&none).expect("json"),
            tail
        );
    }

    #[test]
    fn the_snapshot_query_takes_pods_only() {
        assert_eq!(pods_wanted(None).ok(), Some(true));
        assert_eq!(pods_wanted(Some("pods=false")).ok(), Some(false));
        assert_eq!(pods_wanted(Some("pods=true")).ok(), Some(true));
        let bad = pods_wanted(Some("pods=no")).expect_err("refused");
        assert!(bad.message.contains("pods=false"), "{}", bad.message);
        assert_eq!(bad.field.as_deref(), Some("pods"));
        let unknown = pods_wanted(Some("pod=false")).expect_err("refused");
        assert_eq!(unknown.field.as_deref(), Some("pod"));
    }

    #[test]
    fn tiers_sort_platform_first() {
        assert!(tier_rank(Some("platform")) < tier_rank(Some("dev")));
        assert!(tier_rank(Some("prod")) < tier_rank(None));
    }
}
