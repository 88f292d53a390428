//! `GET /api/v1/tests/{namespace}/{name}/series`: a test's live numbers over time (RPS,
//! error rate, p95/p99 from the runners' merged histograms, VUs) from the platform's
//! Prometheus, where k6 remote-writes them (see [`crate::prometheus`]), next to the planned
//! VU curve from the spec. Without Prometheus, before the start, for stress tests and for
//! the lab's simulated runners the answer has no points and says why: nothing is invented.
//!
//! While someone listens on `/api/v1/events`, [`poll`] asks Prometheus once per step for
//! each running test and sends the new points as `testSeries` events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::get;
use crds::LoadTest;
use crds::load_test::LoadTestPhase;
use crds::plan::{Plan, plan_load_test};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::access::{ObjectPath, Permission, Scope, Verb};
use super::answer_cache::AnswerCache;
use super::auth::Resource;
use super::error::ApiError;
use super::events::ApiEvent;
use super::openapi::Operation;
use super::{ApiState, Route};
use crate::controllers::load_test::runner;
use crate::prometheus::{self, Measure, Prometheus, PrometheusError, Row};

/// Where the points come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SeriesSource {
    /// The platform's Prometheus (k6's remote-write output).
    Prometheus,
    /// Nowhere: `reason` says why.
    Unavailable,
}

/// How p95/p99 were obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SeriesPercentiles {
    /// From the runners' histograms merged (summed) before the quantile. Series come only
    /// from Prometheus, so this is the one way; a parallel test without Prometheus has no
    /// series, and its final results carry each runner's percentiles.
    Merged,
}

/// One corner of the planned VU curve (piecewise linear from the start).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadPoint {
    /// Seconds after the start of the load.
    pub offset_seconds: u64,
    /// Planned virtual users then.
    pub vus: u32,
}

/// The measured numbers at one time (each null where nothing was measured).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeriesPoint {
    /// RFC 3339.
    pub time: String,
    /// Requests per second, all runners.
    pub rps: Option<f64>,
    /// Failed requests over all requests (0 to 1).
    pub error_rate: Option<f64>,
    /// 95th percentile of request duration, milliseconds.
    pub p95_ms: Option<f64>,
    /// 99th percentile of request duration, milliseconds.
    pub p99_ms: Option<f64>,
    /// Active virtual users, all runners.
    pub vus: Option<f64>,
}

/// A test's series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestSeries {
    /// Where the points come from.
    pub source: SeriesSource,
    /// Why there are no measured points, for the user.
    pub reason: Option<String>,
    /// Seconds between points.
    pub step_seconds: u64,
    /// When the runner started (RFC 3339).
    pub started_at: Option<String>,
    /// When the test finished (RFC 3339).
    pub finished_at: Option<String>,
    /// The planned VUs from the runner's parameters; empty for stress tests.
    pub load: Vec<LoadPoint>,
    /// The measured points, oldest first.
    pub points: Vec<SeriesPoint>,
    /// How p95/p99 were obtained; null when there are no points.
    pub percentiles: Option<SeriesPercentiles>,
}

/// The planned VU curve of a test (pure); empty for stress tests and specs that do not plan.
pub fn load(lt: &LoadTest) -> Vec<LoadPoint> {
    plan_load_test(&lt.spec)
        .map(|p| p.load_corners())
        .unwrap_or_default()
        .into_iter()
        .map(|c| LoadPoint {
            offset_seconds: c.offset_secs,
            vus: c.vus,
        })
        .collect()
}

/// A row of Prometheus's numbers as a point: seconds become milliseconds.
pub fn point(row: &Row) -> SeriesPoint {
    let v = |m| row.values.get(&m).copied();
    SeriesPoint {
        time: Timestamp::from_second(row.time)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        rps: v(Measure::Rps),
        error_rate: v(Measure::ErrorRate),
        p95_ms: v(Measure::P95).map(|s| s * 1000.0),
        p99_ms: v(Measure::P99).map(|s| s * 1000.0),
        vus: v(Measure::Vus),
    }
}

/// What answering needs from the world besides the test.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facts {
    /// A simulated (kwok) node the runner ran on, or that its cluster is made of.
    pub simulated_node: Option<String>,
    /// Prometheus's base URL, if one is configured.
    pub prometheus: Option<String>,
    /// Now, unix seconds.
    pub now: i64,
}

/// What to do for a test's series (pure).
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Answer without asking anyone.
    Answer(TestSeries),
    /// Ask Prometheus for the test `testid` from `start` to `end` every `step` seconds, then
    /// [`answered`].
    Query {
        /// The answer without points.
        base: TestSeries,
        /// The runners' `testid` tag.
        testid: String,
        /// Unix seconds.
        start: i64,
        /// Unix seconds.
        end: i64,
        /// The reason to give when Prometheus has no samples of the test.
        if_empty: String,
    },
}

fn unix(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> i64 {
    t.0.as_second()
}

/// Decides how to answer for `lt` (pure): the reasons come in the order a user needs them.
/// A started test is looked up in Prometheus wherever it ran: samples are measurements
/// whoever wrote them. On simulated (kwok) nodes nothing writes any, so there the answer
/// without samples, or without Prometheus, is the lab's reason.
pub fn decide(lt: &LoadTest, facts: &Facts) -> Decision {
    let status = lt.status.clone().unwrap_or_default();
    let plan = plan_load_test(&lt.spec).ok();
    let expected = plan.as_ref().map_or(0, Plan::expected_duration_secs);
    let started = status.started_at.as_ref().map(unix);
    let end = status.finished_at.as_ref().map(unix).unwrap_or(facts.now);
    let span = started.map_or(0, |s| u64::try_from(end - s).unwrap_or(0));
    let base = TestSeries {
        source: SeriesSource::Unavailable,
        reason: None,
        step_seconds: prometheus::step_secs(expected.max(span)),
        started_at: status.started_at.as_ref().map(|t| t.0.to_string()),
        finished_at: status.finished_at.as_ref().map(|t| t.0.to_string()),
        load: load(lt),
        points: Vec::new(),
        percentiles: None,
    };
    let unavailable = |reason: String| {
        Decision::Answer(TestSeries {
            reason: Some(reason),
            ..base.clone()
        })
    };
    if let Some(Plan::Stress(_)) = plan {
        return unavailable(
            "a stress test sends no requests: it has no request rate or latency series".into(),
        );
    }
    let simulated = facts.simulated_node.as_ref().map(|node| {
        format!(
            "the lab's runners are simulated (node {node} is a kwok node, its pods do no work): nothing was measured"
        )
    });
    let Some(url) = &facts.prometheus else {
        return unavailable(simulated.unwrap_or_else(|| {
            "no Prometheus configured (--prometheus-url): the operator reads live series from the platform's Prometheus, where k6 runners write with --prometheus-remote-write-url".into()
        }));
    };
    let Some(start) = started else {
        return unavailable(simulated.unwrap_or_else(|| {
            format!("the runner has not started yet; its series will come from Prometheus at {url}")
        }));
    };
    let testid = runner::test_id(lt);
    Decision::Query {
        base: TestSeries {
            source: SeriesSource::Prometheus,
            ..base
        },
        if_empty: simulated.unwrap_or_else(|| {
            format!(
                "Prometheus at {url} has no k6 samples tagged testid=\"{testid}\" in this window: the runners write there only when the operator runs with --prometheus-remote-write-url"
            )
        }),
        testid,
        start,
        end: end.max(start),
    }
}

/// The answer from Prometheus's rows, or why there is none (pure): `if_empty` when it has
/// no samples of the test.
pub fn answered(
    base: TestSeries,
    if_empty: String,
    rows: Result<Vec<Row>, PrometheusError>,
) -> TestSeries {
    match rows {
        Ok(rows) if rows.is_empty() => TestSeries {
            reason: Some(if_empty),
            ..base
        },
        Ok(rows) => TestSeries {
            reason: None,
            points: rows.iter().map(point).collect(),
            percentiles: Some(SeriesPercentiles::Merged),
            ..base
        },
        Err(e) => TestSeries {
            source: SeriesSource::Unavailable,
            reason: Some(e.to_string()),
            ..base
        },
    }
}

/// A simulated node the test's runner ran on, or, when its pods are gone, one of its
/// cluster's nodes if they are all simulated (the lab).
fn simulated_node(state: &ApiState, lt: &LoadTest) -> Option<String> {
    let collector = state.clusters.collector(&lt.spec.cluster.0)?;
    let runner = lt.status.as_ref().and_then(|s| s.runner.clone());
    if let Some(r) = &runner {
        let on = collector.pods.state().iter().find_map(|p| {
            let mine = p.metadata.namespace.as_deref() == Some(r.namespace.as_str())
                && p.labels().get("job-name") == Some(&r.job);
            let node = p.spec.as_ref()?.node_name.clone()?;
            (mine && collector.simulated_node(&node)).then_some(node)
        });
        if on.is_some() {
            return on;
        }
    }
    let nodes = collector.nodes.state();
    let names: Vec<String> = nodes.iter().map(|n| n.name_any()).collect();
    (!names.is_empty() && names.iter().all(|n| collector.simulated_node(n)))
        .then(|| names.into_iter().next())
        .flatten()
}

fn facts(state: &ApiState, lt: &LoadTest) -> Facts {
    Facts {
        simulated_node: simulated_node(state, lt),
        prometheus: state.prometheus.as_ref().map(|p| p.url().to_owned()),
        now: Timestamp::now().as_second(),
    }
}

/// Finished tests' answers from Prometheus, by namespace, name and uid: they no longer
/// change once the last pushes are in.
pub type SeriesCache = Mutex<AnswerCache<(String, String, String), Arc<TestSeries>>>;

/// A cache for [`SeriesCache`]: an hour, 64 answers (each at most [`prometheus::MAX_POINTS`]
/// points, about 100 KB).
pub fn series_cache() -> SeriesCache {
    Mutex::new(AnswerCache::new(Duration::from_secs(3600), 64))
}

/// Seconds after a test finished by which its runners' last pushes are in Prometheus.
const SETTLED_SECS: i64 = 60;

async fn series(
    State(state): State<Arc<ApiState>>,
    Path(p): Path<ObjectPath>,
) -> Result<Json<TestSeries>, ApiError> {
    let lt = state
        .tests
        .get(&ObjectRef::new(&p.name).within(&p.namespace))
        .ok_or_else(|| ApiError::not_found(format!("no LoadTest {}/{}", p.namespace, p.name)))?;
    let key = (
        p.namespace.clone(),
        p.name.clone(),
        lt.uid().unwrap_or_default(),
    );
    if let Some(hit) = state
        .series_cache
        .lock()
        .ok()
        .and_then(|c| c.get(&key, Instant::now()))
    {
        return Ok(Json((*hit).clone()));
    }
    let facts = facts(&state, &lt);
    let (base, testid, start, end, if_empty) = match decide(&lt, &facts) {
        Decision::Answer(answer) => return Ok(Json(answer)),
        Decision::Query {
            base,
            testid,
            start,
            end,
            if_empty,
        } => (base, testid, start, end, if_empty),
    };
    let Some(prom) = &state.prometheus else {
        return Err(ApiError::internal("Prometheus was configured a moment ago"));
    };
    let rows = prom.test_rows(&testid, start, end, base.step_seconds).await;
    let answer = answered(base, if_empty, rows);
    let settled = lt
        .status
        .as_ref()
        .and_then(|s| s.finished_at.as_ref())
        .is_some_and(|f| unix(f) + SETTLED_SECS < facts.now);
    if settled
        && answer.source == SeriesSource::Prometheus
        && let Ok(mut cache) = state.series_cache.lock()
    {
        cache.insert(key, Arc::new(answer.clone()), Instant::now());
    }
    Ok(Json(answer))
}

/// Whether the poller follows `lt`: a running HTTP test.
fn live(lt: &LoadTest) -> bool {
    let status = lt.status.as_ref();
    status.and_then(|s| s.phase) == Some(LoadTestPhase::Running)
        && status.and_then(|s| s.started_at.as_ref()).is_some()
        && matches!(plan_load_test(&lt.spec), Ok(Plan::Http(_)))
}

/// The points of `rows` after `last` (unix seconds), and the new last (pure).
pub fn new_points(rows: &[Row], last: Option<i64>) -> (Vec<SeriesPoint>, Option<i64>) {
    let fresh: Vec<&Row> = rows
        .iter()
        .filter(|r| last.is_none_or(|l| r.time > l))
        .collect();
    let newest = fresh.iter().map(|r| r.time).max().or(last);
    (fresh.into_iter().map(point).collect(), newest)
}

/// Sends `testSeries` events while anyone listens: once per step, for each running HTTP
/// test on real runners, the points since the last one sent. Memory is one timestamp per
/// running test; a test that stops running is forgotten.
pub async fn poll(state: Arc<ApiState>, prometheus: Prometheus) {
    let mut tick = tokio::time::interval(Duration::from_secs(prometheus::MIN_STEP_SECS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent: HashMap<ObjectRef<LoadTest>, i64> = HashMap::new();
    loop {
        tick.tick().await;
        if state.events.receiver_count() == 0 {
            sent.clear();
            continue;
        }
        let running: Vec<Arc<LoadTest>> = state
            .tests
            .state()
            .into_iter()
            .filter(|lt| live(lt))
            .collect();
        let keys: std::collections::HashSet<ObjectRef<LoadTest>> = running
            .iter()
            .map(|lt| ObjectRef::from_obj(lt.as_ref()))
            .collect();
        sent.retain(|k, _| keys.contains(k));
        for lt in running {
            let Decision::Query {
                base,
                testid,
                start,
                end,
                ..
            } = decide(&lt, &facts(&state, &lt))
            else {
                continue;
            };
            let key = ObjectRef::from_obj(lt.as_ref());
            let step = base.step_seconds as i64;
            // The grid of the test's GET answer (start + k * step), from a few steps back:
            // a runner's latest push may land a push interval late.
            let from = start + ((end - start - 3 * step).max(0) / step) * step;
            let rows = match prometheus
                .test_rows(&testid, from, end, base.step_seconds)
                .await
            {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::debug!(error = %e, test = %key, "live series poll failed");
                    continue;
                }
            };
            let (points, newest) = new_points(&rows, sent.get(&key).copied());
            if let Some(newest) = newest {
                sent.insert(key, newest);
            }
            for point in points {
                let _ = state.events.send(ApiEvent::TestSeries {
                    namespace: lt.namespace().unwrap_or_default(),
                    name: lt.name_any(),
                    point,
                });
            }
        }
    }
}

/// The route.
pub fn route() -> Route {
    Route {
        method: "GET",
        path: "/api/v1/tests/{namespace}/{name}/series",
        summary: "A LoadTest's live series (RPS, error rate, p95/p99 merged across runners, VUs) from Prometheus, with its planned VU curve; without measured points the answer says why",
        permission: Permission::rbac(Verb::Get, Resource::LoadTests).scoped(Scope::Path),
        doc: Operation::new()
            .path("namespace", "The LoadTest's namespace")
            .path("name", "The LoadTest's name")
            .json::<TestSeries>(200, "The series")
            .errors(&[401, 403, 404, 503]),
        handler: get(series),
    }
}

#[cfg(test)]
mod tests;
