//! `GET /api/v1/tests/export.csv`: finished LoadTests and ScalingExperiments as CSV, in the
//! original dashboard's 27 columns, properly escaped.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use crds::common::Time;
use crds::load_test::{LoadTestPhase, StressKind};
use crds::plan::{LoadShape, Plan, plan_experiment, plan_load_test};
use crds::scaling_experiment::ExperimentPhase;
use crds::{LoadTest, ScalingExperiment};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::access::{Permission, Verb};
use super::auth::Resource;
use super::error::ApiError;
use super::openapi::Operation;
use super::{ApiState, Route};

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

/// The columns between `target_url` and `error`, which each kind fills its own way.
const KIND_COLUMNS: usize = 15;

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The `status` column of a finished run: `completed`, `failed`, or `not_measured` (a
/// LoadTest whose runner was simulated); `None` while it has not finished.
fn outcome<P: PartialEq>(phase: Option<P>, succeeded: P, failed: P) -> Option<&'static str> {
    let phase = phase?;
    (phase == failed || phase == succeeded).then_some(if phase == failed {
        "failed"
    } else {
        "completed"
    })
}

/// The `status` column of a LoadTest that ran but measured nothing (phase Completed); its
/// `error` column says why.
const NOT_MEASURED: &str = "not_measured";

/// What every finished run fills: the first 11 columns and `error`.
struct Finished<'a> {
    meta: &'a ObjectMeta,
    kind: &'static str,
    preset: Option<&'static str>,
    cluster: &'a str,
    status: &'static str,
    started: Option<&'a Time>,
    finished: Option<&'a Time>,
    shape: Option<&'a LoadShape>,
    urls: Option<&'a [String]>,
    message: Option<&'a str>,
}

impl Finished<'_> {
    /// The row, with the kind's own columns in the middle.
    fn row(self, middle: [String; KIND_COLUMNS]) -> Vec<String> {
        let duration = match (self.started, self.finished) {
            (Some(s), Some(e)) => format!("{:.1}", e.0.duration_since(s.0).as_secs_f64()),
            _ => String::new(),
        };
        let mut row = vec![
            format!(
                "{}/{}",
                self.meta.namespace.as_deref().unwrap_or_default(),
                self.meta.name.as_deref().unwrap_or_default()
            ),
            self.kind.into(),
            self.preset.unwrap_or("custom").into(),
            self.cluster.into(),
            self.status.into(),
            opt(self.started.map(|t| t.0)),
            opt(self.finished.map(|t| t.0)),
            duration,
            opt(self.shape.map(LoadShape::max_vus)),
            opt(self
                .shape
                .map(|s| crds::common::format_go_duration(s.total_secs()))),
            self.urls.map(|u| u.join(" ")).unwrap_or_default(),
        ];
        row.extend(middle);
        // Why it failed, or why nothing was measured.
        row.push(match (self.status, self.message) {
            ("completed", _) | (_, None) => String::new(),
            (_, Some(m)) => m.to_owned(),
        });
        row
    }
}

/// One CSV row per finished LoadTest (pure).
pub fn test_row(lt: &LoadTest) -> Option<Vec<String>> {
    let s = lt.status.as_ref()?;
    let status = if s.phase == Some(LoadTestPhase::Completed) {
        NOT_MEASURED
    } else {
        outcome(s.phase, LoadTestPhase::Succeeded, LoadTestPhase::Failed)?
    };
    let plan = plan_load_test(&lt.spec).ok();
    let r = s.results.clone().unwrap_or_default();
    let l = r.latency_ms.clone().unwrap_or_default();
    let (mut workers, mut timeout, mut bytes) = Default::default();
    let (mut kind, mut cpu_ops, mut mem_ops) = ("load", String::new(), String::new());
    if let Some(Plan::Stress(st)) = &plan {
        workers = st.workers.to_string();
        timeout = format!("{}s", st.timeout_secs);
        bytes = st.vm_bytes.clone().unwrap_or_default();
        if st.kind == StressKind::Cpu {
            (kind, cpu_ops) = ("stress-cpu", opt(r.bogo_ops));
        } else {
            (kind, mem_ops) = ("stress-memory", opt(r.bogo_ops));
        }
    }
    let http = match &plan {
        Some(Plan::Http(h)) => Some(h),
        _ => None,
    };
    let run = Finished {
        meta: &lt.metadata,
        kind,
        preset: lt.spec.preset.map(|p| p.name()),
        cluster: &lt.spec.cluster.0,
        status,
        started: s.started_at.as_ref(),
        finished: s.finished_at.as_ref(),
        shape: http.map(|h| &h.shape),
        urls: http.map(|h| h.urls.as_slice()),
        message: s.message.as_deref(),
    };
    Some(run.row([
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
    ]))
}

/// One CSV row per finished ScalingExperiment (pure).
pub fn experiment_row(se: &ScalingExperiment) -> Option<Vec<String>> {
    let s = se.status.as_ref()?;
    let status = outcome(s.phase, ExperimentPhase::Completed, ExperimentPhase::Failed)?;
    let plan = plan_experiment(&se.spec).ok();
    let k = s.kpis.clone().unwrap_or_default();
    let preset = se.spec.load.preset.map(|p| p.name());
    let run = Finished {
        meta: &se.metadata,
        kind: if preset.is_some_and(|p| p.starts_with("cascade")) {
            "cascade-test"
        } else {
            "scaling-test"
        },
        preset,
        cluster: &se.spec.cluster.0,
        status,
        started: s.started_at.as_ref(),
        finished: s.finished_at.as_ref(),
        shape: plan.as_ref().map(|p| &p.http.shape),
        urls: plan.as_ref().map(|p| p.http.urls.as_slice()),
        message: s.message.as_deref(),
    };
    let ms = |secs: Option<f64>| opt(secs.map(|s| (s * 1000.0).round() as i64));
    let mut middle: [String; KIND_COLUMNS] = Default::default();
    middle[11..].clone_from_slice(&[
        ms(k.scale_up_latency_seconds),
        opt(k.peak_replicas),
        ms(k.scale_down_start_seconds),
        opt(k.avg_rps_per_pod.map(|v| format!("{v:.1}"))),
    ]);
    Some(run.row(middle))
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

async fn export(State(state): State<Arc<ApiState>>) -> Result<impl IntoResponse, ApiError> {
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
    ))
}

/// The route.
pub fn route() -> Route {
    Route {
        method: "GET",
        path: "/api/v1/tests/export.csv",
        summary: "Finished tests and experiments as CSV (the original dashboard's 27 columns)",
        permission: Permission::rbac(Verb::List, Resource::LoadTests)
            .and(Resource::ScalingExperiments),
        doc: Operation::new()
            .text(200, "The CSV", "text/csv")
            .errors(&[401, 403, 503]),
        handler: get(export),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::loadtests::tests::finished;

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
    fn stress_tests_and_experiments_fill_their_own_columns() {
        let stress: LoadTest = serde_json::from_value(serde_json::json!({
            "apiVersion": "tartinfra.dev/v1alpha1", "kind": "LoadTest",
            "metadata": { "name": "s", "namespace": "team" },
            "spec": { "cluster": "dev", "preset": "cpu-stress-light" },
            "status": { "phase": "Succeeded", "message": "done",
                        "startedAt": "2026-11-28T10:00:00Z", "finishedAt": "2026-11-28T10:00:30Z",
                        "results": { "bogoOps": 1234 } },
        }))
        .expect("loadtest");
        let row = test_row(&stress).expect("finished");
        assert_eq!(row.len(), CSV_COLUMNS.len());
        assert_eq!(
            &row[..14],
            [
                "team/s",
                "stress-cpu",
                "cpu-stress-light",
                "dev",
                "completed",
                "2026-11-28T10:00:00Z",
                "2026-11-28T10:00:30Z",
                "30.0",
                "",
                "",
                "",
                "1",
                "30s",
                ""
            ]
        );
        assert_eq!(
            &row[20..],
            ["1234", "", "", "", "", "", ""],
            "no error when completed"
        );

        let simulated: LoadTest = serde_json::from_value(serde_json::json!({
            "apiVersion": "tartinfra.dev/v1alpha1", "kind": "LoadTest",
            "metadata": { "name": "l", "namespace": "team" },
            "spec": { "cluster": "dev", "preset": "light-load" },
            "status": { "phase": "Completed", "reason": "RunnerSimulated",
                        "message": "the runner ran on simulated node dev-worker1" },
        }))
        .expect("loadtest");
        let row = test_row(&simulated).expect("finished");
        assert_eq!(row[4], "not_measured", "neither completed nor failed");
        assert_eq!(
            &row[14..20],
            ["", "", "", "", "", ""],
            "no invented numbers"
        );
        assert_eq!(row[26], "the runner ran on simulated node dev-worker1");

        let se: ScalingExperiment = serde_json::from_value(serde_json::json!({
            "apiVersion": "tartinfra.dev/v1alpha1", "kind": "ScalingExperiment",
            "metadata": { "name": "e", "namespace": "team" },
            "spec": { "cluster": "dev", "load": { "preset": "cascade-light" } },
            "status": { "phase": "Failed", "message": "the HPA went away",
                        "kpis": { "scaleUpLatencySeconds": 12.3456, "peakReplicas": 7,
                                  "scaleDownStartSeconds": 40.0, "avgRpsPerPod": 12.345 } },
        }))
        .expect("experiment");
        let row = experiment_row(&se).expect("finished");
        assert_eq!(row.len(), CSV_COLUMNS.len());
        assert_eq!(
            &row[..6],
            [
                "team/e",
                "cascade-test",
                "cascade-light",
                "dev",
                "failed",
                ""
            ]
        );
        assert_eq!(row[8], "30", "the preset's VUs");
        assert_eq!(row[10].split(' ').count(), 2, "both URLs of the cascade");
        assert!(row[11..22].iter().all(String::is_empty), "{row:?}");
        assert_eq!(
            &row[22..],
            ["12346", "7", "40000", "12.3", "the HPA went away"]
        );
    }

    #[test]
    fn running_tests_are_not_exported() {
        let mut lt = finished("");
        lt.status.as_mut().expect("status").phase = Some(LoadTestPhase::Running);
        assert!(test_row(&lt).is_none());
    }
}
