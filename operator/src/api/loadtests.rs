//! `/api/v1/tests`: list, create, read and delete LoadTests, and export finished tests and
//! experiments as CSV (the original's 27 columns, properly escaped).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use crds::load_test::{
    LoadTestPhase, LoadTestPreset, LoadTestReason, LoadTestResults, RunnerRef, TestType,
};
use crds::plan::{LoadShape, Plan, plan_experiment, plan_load_test};
use crds::scaling_experiment::ExperimentPhase;
use crds::{LoadTest, LoadTestSpec, ScalingExperiment};
use kube::Api;
use kube::api::DeleteParams;
use kube::runtime::reflector::ObjectRef;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::auth::Resource;
use super::body::{JsonBody, check_names};
use super::error::ApiError;
use super::openapi::Operation;
use super::{ApiState, Route};

/// A LoadTest to create.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTest {
    /// The namespace (default `default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The name; generated from the preset or test type when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// The LoadTest's spec, exactly as in a manifest.
    pub spec: LoadTestSpec,
}

/// A LoadTest as the dashboard reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestView {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The target ManagedCluster.
    pub cluster: String,
    /// http, cpu or memory.
    pub test_type: Option<TestType>,
    /// The preset, when it is one.
    pub preset: Option<LoadTestPreset>,
    /// Pending, Starting, Running, Succeeded or Failed.
    pub phase: Option<LoadTestPhase>,
    /// Why it failed.
    pub reason: Option<LoadTestReason>,
    /// What is happening.
    pub message: Option<String>,
    /// Waiting for a free slot on its cluster.
    pub queued: bool,
    /// 0 to 100 while running.
    pub progress_percent: Option<u32>,
    /// Expected seconds of load.
    pub expected_duration_seconds: Option<u64>,
    /// When it was created (RFC 3339).
    pub created_at: Option<String>,
    /// When the runner started.
    pub started_at: Option<String>,
    /// When it finished.
    pub finished_at: Option<String>,
    /// Being deleted.
    pub deleting: bool,
    /// The spec.
    pub spec: LoadTestSpec,
    /// The results.
    pub results: Option<LoadTestResults>,
    /// Where the runner runs.
    pub runner: Option<RunnerRef>,
}

/// The dashboard's view of a LoadTest (pure).
pub fn test_view(lt: &LoadTest) -> TestView {
    let s = lt.status.clone().unwrap_or_default();
    let plan = plan_load_test(&lt.spec).ok();
    TestView {
        namespace: lt.metadata.namespace.clone().unwrap_or_default(),
        name: lt.metadata.name.clone().unwrap_or_default(),
        cluster: lt.spec.cluster.0.clone(),
        test_type: s.test_type.or(plan.as_ref().map(Plan::test_type)),
        preset: lt.spec.preset,
        phase: s.phase,
        reason: s.reason,
        message: s.message,
        queued: s
            .conditions
            .iter()
            .any(|c| c.type_ == "Queued" && c.status == "True"),
        progress_percent: s.progress_percent,
        expected_duration_seconds: plan.as_ref().map(Plan::expected_duration_secs),
        created_at: lt
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.to_string()),
        started_at: s.started_at.map(|t| t.0.to_string()),
        finished_at: s.finished_at.map(|t| t.0.to_string()),
        deleting: lt.metadata.deletion_timestamp.is_some(),
        spec: lt.spec.clone(),
        results: s.results,
        runner: s.runner,
    }
}

/// The `?namespace=` filter.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceQuery {
    /// Only this namespace.
    pub namespace: Option<String>,
}

async fn list(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Query(q): Query<NamespaceQuery>,
) -> Result<Json<Vec<TestView>>, ApiError> {
    let ns = q.namespace.unwrap_or_default();
    state
        .auth
        .authorize(&headers, "list", Resource::LoadTests, &ns)
        .await?;
    let mut tests: Vec<TestView> = state
        .tests
        .state()
        .iter()
        .filter(|lt| ns.is_empty() || lt.metadata.namespace.as_deref() == Some(ns.as_str()))
        .map(|lt| test_view(lt))
        .collect();
    tests.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(Json(tests))
}

/// The name prefix of a generated LoadTest name.
fn generate_name(spec: &LoadTestSpec) -> String {
    match (&spec.preset, &spec.http, &spec.stress) {
        (Some(p), _, _) => format!("{}-", p.name()),
        (None, Some(_), _) => "http-".into(),
        (None, None, Some(s)) => format!(
            "{}-stress-",
            if s.kind == crds::load_test::StressKind::Cpu {
                "cpu"
            } else {
                "memory"
            }
        ),
        _ => "test-".into(),
    }
}

/// Creates a tartinfra.dev object through the API server with strict field validation,
/// mapping the answer's field paths to the request body's.
pub async fn create_object<K>(
    state: &ApiState,
    plural: &str,
    namespace: &str,
    object: serde_json::Value,
) -> Result<K, ApiError>
where
    K: serde::de::DeserializeOwned,
{
    let url = format!(
        "/apis/{}/{}/namespaces/{namespace}/{plural}?fieldValidation=Strict&fieldManager=tart-operator-api",
        crds::GROUP,
        crds::VERSION
    );
    let body = serde_json::to_vec(&object).map_err(ApiError::internal)?;
    let req = http::Request::post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .map_err(ApiError::internal)?;
    state.platform.request::<K>(req).await.map_err(|e| {
        let mut err = ApiError::from_kube(e);
        err.field = err.field.map(|f| match f.as_str() {
            "metadata.name" | "metadata.generateName" => "name".to_owned(),
            "metadata.namespace" => "namespace".to_owned(),
            _ => f,
        });
        if err.status == StatusCode::NOT_FOUND && err.message.contains("namespaces") {
            err.field = Some("namespace".into());
        }
        err
    })
}

async fn create(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: JsonBody<CreateTest>,
) -> Result<(StatusCode, Json<TestView>), ApiError> {
    let ns = body
        .value
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    check_names(&ns, body.value.name.as_deref())?;
    state
        .auth
        .authorize(&headers, "create", Resource::LoadTests, &ns)
        .await?;
    let mut metadata = serde_json::json!({ "namespace": ns });
    match &body.value.name {
        Some(name) => metadata["name"] = name.clone().into(),
        None => metadata["generateName"] = generate_name(&body.value.spec).into(),
    }
    let object = serde_json::json!({
        "apiVersion": format!("{}/{}", crds::GROUP, crds::VERSION),
        "kind": "LoadTest",
        "metadata": metadata,
        // The raw spec, so fields the typed parse would ignore reach the API server's
        // strict validation instead of being dropped.
        "spec": body.raw["spec"],
    });
    let created: LoadTest = create_object(&state, "loadtests", &ns, object).await?;
    Ok((StatusCode::CREATED, Json(test_view(&created))))
}

fn lookup(state: &ApiState, namespace: &str, name: &str) -> Result<Arc<LoadTest>, ApiError> {
    state
        .tests
        .get(&ObjectRef::new(name).within(namespace))
        .ok_or_else(|| ApiError::not_found(format!("no LoadTest {namespace}/{name}")))
}

async fn get_one(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<TestView>, ApiError> {
    check_names(&namespace, Some(&name))?;
    state
        .auth
        .authorize(&headers, "get", Resource::LoadTests, &namespace)
        .await?;
    Ok(Json(test_view(lookup(&state, &namespace, &name)?.as_ref())))
}

async fn delete(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<(StatusCode, Json<TestView>), ApiError> {
    check_names(&namespace, Some(&name))?;
    state
        .auth
        .authorize(&headers, "delete", Resource::LoadTests, &namespace)
        .await?;
    let api: Api<LoadTest> = Api::namespaced(state.platform.clone(), &namespace);
    let view = match api
        .delete(&name, &DeleteParams::default())
        .await
        .map_err(ApiError::from_kube)?
    {
        either::Either::Left(lt) => test_view(&lt),
        either::Either::Right(_) => test_view(lookup(&state, &namespace, &name)?.as_ref()),
    };
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// The CSV columns of the original dashboard's export.
pub const CSV_COLUMNS: [&str; 27] = [
    "id",
    "type",
    "scenario",
    "cluster",
    "status",
    "started_at",
    "completed_at",
    "duration_sec",
    "vus",
    "load_duration",
    "target_url",
    "stress_workers",
    "stress_timeout",
    "stress_vm_bytes",
    "p95_latency_ms",
    "p99_latency_ms",
    "avg_latency_ms",
    "error_rate",
    "rps",
    "total_requests",
    "cpu_bogo_ops",
    "memory_bogo_ops",
    "scale_up_latency_ms",
    "peak_replicas",
    "scale_down_started_ms",
    "avg_rps_per_pod",
    "error",
];

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn duration_between(
    start: Option<&crds::common::Time>,
    end: Option<&crds::common::Time>,
) -> String {
    match (start, end) {
        (Some(s), Some(e)) => format!("{:.1}", e.0.duration_since(s.0).as_secs_f64()),
        _ => String::new(),
    }
}

fn shape_columns(shape: &LoadShape) -> (String, String) {
    (
        shape.max_vus().to_string(),
        crds::common::format_go_duration(shape.total_secs()),
    )
}

/// One CSV row per finished LoadTest (pure).
pub fn test_row(lt: &LoadTest) -> Option<Vec<String>> {
    let s = lt.status.clone().unwrap_or_default();
    let status = match s.phase? {
        LoadTestPhase::Succeeded => "completed",
        LoadTestPhase::Failed => "failed",
        _ => return None,
    };
    let plan = plan_load_test(&lt.spec).ok();
    let r = s.results.clone().unwrap_or_default();
    let l = r.latency_ms.clone().unwrap_or_default();
    let (mut vus, mut duration, mut url, mut workers, mut timeout, mut bytes) = Default::default();
    let (mut kind, mut cpu_ops, mut mem_ops) = ("load", String::new(), String::new());
    match &plan {
        Some(Plan::Http(h)) => {
            (vus, duration) = shape_columns(&h.shape);
            url = h.urls.join(" ");
        }
        Some(Plan::Stress(st)) => {
            workers = st.workers.to_string();
            timeout = format!("{}s", st.timeout_secs);
            bytes = st.vm_bytes.clone().unwrap_or_default();
            if st.kind == crds::load_test::StressKind::Cpu {
                kind = "stress-cpu";
                cpu_ops = opt(r.bogo_ops);
            } else {
                kind = "stress-memory";
                mem_ops = opt(r.bogo_ops);
            }
        }
        None => {}
    }
    let scenario = lt
        .spec
        .preset
        .map_or_else(|| "custom".to_owned(), |p| p.name().to_owned());
    Some(vec![
        format!(
            "{}/{}",
            lt.metadata.namespace.clone().unwrap_or_default(),
            lt.metadata.name.clone().unwrap_or_default()
        ),
        kind.into(),
        scenario,
        lt.spec.cluster.0.clone(),
        status.into(),
        opt(s.started_at.as_ref().map(|t| t.0)),
        opt(s.finished_at.as_ref().map(|t| t.0)),
        duration_between(s.started_at.as_ref(), s.finished_at.as_ref()),
        vus,
        duration,
        url,
        workers,
        timeout,
        bytes,
        opt(l.p95),
        opt(l.p99),
        opt(l.avg),
        opt(r.error_rate),
        opt(r.rps),
        opt(r.requests),
        cpu_ops,
        mem_ops,
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        if status == "failed" {
            s.message.unwrap_or_default()
        } else {
            String::new()
        },
    ])
}

/// One CSV row per finished ScalingExperiment (pure).
pub fn experiment_row(se: &ScalingExperiment) -> Option<Vec<String>> {
    let s = se.status.clone().unwrap_or_default();
    let status = match s.phase? {
        ExperimentPhase::Completed => "completed",
        ExperimentPhase::Failed => "failed",
        _ => return None,
    };
    let plan = plan_experiment(&se.spec).ok();
    let k = s.kpis.clone().unwrap_or_default();
    let (vus, duration) = plan
        .as_ref()
        .map(|p| shape_columns(&p.http.shape))
        .unwrap_or_default();
    let preset = se.spec.load.preset;
    let kind = if preset.is_some_and(|p| p.name().starts_with("cascade")) {
        "cascade-test"
    } else {
        "scaling-test"
    };
    let ms = |secs: Option<f64>| opt(secs.map(|s| (s * 1000.0).round() as i64));
    Some(vec![
        format!(
            "{}/{}",
            se.metadata.namespace.clone().unwrap_or_default(),
            se.metadata.name.clone().unwrap_or_default()
        ),
        kind.into(),
        preset.map_or_else(|| "custom".to_owned(), |p| p.name().to_owned()),
        se.spec.cluster.0.clone(),
        status.into(),
        opt(s.started_at.as_ref().map(|t| t.0)),
        opt(s.finished_at.as_ref().map(|t| t.0)),
        duration_between(s.started_at.as_ref(), s.finished_at.as_ref()),
        vus,
        duration,
        plan.map(|p| p.http.urls.join(" ")).unwrap_or_default(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        ms(k.scale_up_latency_seconds),
        opt(k.peak_replicas),
        ms(k.scale_down_start_seconds),
        opt(k.avg_rps_per_pod.map(|v| format!("{v:.1}"))),
        if status == "failed" {
            s.message.unwrap_or_default()
        } else {
            String::new()
        },
    ])
}

/// The CSV document (RFC 4180 quoting where needed).
pub fn csv(rows: impl Iterator<Item = Vec<String>>) -> Result<String, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_COLUMNS).map_err(ApiError::internal)?;
    for row in rows {
        w.write_record(&row).map_err(ApiError::internal)?;
    }
    String::from_utf8(w.into_inner().map_err(ApiError::internal)?).map_err(ApiError::internal)
}

async fn export(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state
        .auth
        .authorize(&headers, "list", Resource::LoadTests, "")
        .await?;
    state
        .auth
        .authorize(&headers, "list", Resource::ScalingExperiments, "")
        .await?;
    let tests = state.tests.state();
    let experiments = state.experiments.state();
    let body = csv(tests
        .iter()
        .filter_map(|t| test_row(t))
        .chain(experiments.iter().filter_map(|e| experiment_row(e))))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"tart-infra-tests.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

const NS: &str = "The LoadTest's namespace";
const NAME: &str = "The LoadTest's name";

/// The `/api/v1/tests` routes.
pub fn routes() -> Vec<Route> {
    vec![
        Route {
            method: "GET",
            path: "/api/v1/tests",
            summary: "LoadTests, newest first",
            permission: Some("list loadtests"),
            doc: Operation::new()
                .query(
                    "namespace",
                    "Only this namespace (checks `list loadtests` there instead of cluster-wide)",
                )
                .json::<Vec<TestView>>(200, "The tests")
                .errors(&[400, 401, 403, 503]),
            handler: get(list),
        },
        Route {
            method: "POST",
            path: "/api/v1/tests",
            summary: "Create a LoadTest (validated by the API server)",
            permission: Some("create loadtests"),
            doc: Operation::new()
                .request::<CreateTest>()
                .json::<TestView>(201, "The LoadTest was created")
                .errors(&[400, 401, 403, 404, 409, 415, 422, 503]),
            handler: post(create),
        },
        Route {
            method: "GET",
            path: "/api/v1/tests/export.csv",
            summary: "Finished tests and experiments as CSV (the original dashboard's 27 columns)",
            permission: Some("list loadtests and scalingexperiments"),
            doc: Operation::new()
                .text(200, "The CSV", "text/csv")
                .errors(&[401, 403, 503]),
            handler: get(export),
        },
        Route {
            method: "GET",
            path: "/api/v1/tests/{namespace}/{name}",
            summary: "One LoadTest",
            permission: Some("get loadtests"),
            doc: Operation::new()
                .path("namespace", NS)
                .path("name", NAME)
                .json::<TestView>(200, "The test")
                .errors(&[401, 403, 404, 503]),
            handler: get(get_one),
        },
        Route {
            method: "DELETE",
            path: "/api/v1/tests/{namespace}/{name}",
            summary: "Delete a LoadTest (its runner goes first)",
            permission: Some("delete loadtests"),
            doc: Operation::new()
                .path("namespace", NS)
                .path("name", NAME)
                .json::<TestView>(202, "Deletion started")
                .errors(&[401, 403, 404, 503]),
            handler: axum::routing::delete(delete),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(message: &str) -> LoadTest {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "tartinfra.dev/v1alpha1", "kind": "LoadTest",
            "metadata": { "name": "x", "namespace": "team" },
            "spec": { "cluster": "dev", "preset": "strict-sla" },
            "status": { "phase": "Failed", "reason": "ThresholdsBreached", "message": message,
                        "startedAt": "2026-11-28T10:00:00Z", "finishedAt": "2026-11-28T10:00:31Z",
                        "results": { "requests": 1500, "rps": 49.6, "errorRate": 0.08, "latencyMs": { "p95": 1204.77, "p99": 2850.1, "avg": 612.5 } } },
        }))
        .expect("loadtest")
    }

    #[test]
    fn csv_rows_follow_the_original_columns_and_escape_text() {
        let lt = finished("thresholds breached: \"p(95)<500\", rate<0.01\nsee logs");
        let row = test_row(&lt).expect("finished");
        assert_eq!(row.len(), CSV_COLUMNS.len());
        assert_eq!(&row[..5], ["team/x", "load", "strict-sla", "dev", "failed"]);
        assert_eq!(
            (row[7].as_str(), row[8].as_str(), row[9].as_str()),
            ("31.0", "50", "30s")
        );
        assert_eq!(row[14], "1204.77");
        let text = csv(std::iter::once(row)).expect("csv");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let parsed: Vec<csv::StringRecord> = reader
            .records()
            .collect::<Result<_, _>>()
            .expect("parses back");
        assert_eq!(parsed.len(), 1);
        assert_eq!(
            &parsed[0][26],
            "thresholds breached: \"p(95)<500\", rate<0.01\nsee logs"
        );
        assert!(text.starts_with("id,type,scenario,cluster,status,"));
    }

    #[test]
    fn running_tests_are_not_exported_and_names_are_generated_per_kind() {
        let mut lt = finished("");
        lt.status.as_mut().expect("status").phase = Some(LoadTestPhase::Running);
        assert!(test_row(&lt).is_none());
        assert_eq!(generate_name(&lt.spec), "strict-sla-");
        let view = test_view(&lt);
        assert_eq!(view.expected_duration_seconds, Some(30));
        assert_eq!(
            view.test_type,
            Some(TestType::Http),
            "known from the spec before the operator reconciles"
        );
    }
}
