//! TestSchedules in the API: `GET /api/v1/schedules`, each schedule with the history of
//! its runs (from the LoadTest and ScalingExperiment caches) as the dashboard reads it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::routing::get;
use crds::test_schedule::{ConcurrencyPolicy, RunKind, SCHEDULE_LABEL};
use crds::{LoadTest, ScalingExperiment, TestSchedule};
use kube::{Resource as _, ResourceExt as _};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::access::{NamespaceQuery, Permission, Scope, Verb};
use super::auth::Resource;
use super::loadtests::{RegressionView, regression_view};
use super::openapi::Operation;
use super::{ApiState, Route, phase_name};
use crate::controllers::test_schedule::run;

/// A TestSchedule and its runs' history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The cron schedule.
    pub schedule: String,
    /// Its IANA time zone.
    pub time_zone: String,
    /// Allow, Forbid or Replace.
    pub concurrency_policy: ConcurrencyPolicy,
    /// No runs are created while true.
    pub suspend: bool,
    /// The kind of its runs.
    pub run_kind: Option<RunKind>,
    /// The cluster its runs go to.
    pub cluster: Option<String>,
    /// When the next run is due (RFC 3339; none while suspended or invalid).
    pub next_schedule_time: Option<String>,
    /// When the newest run was due.
    pub last_schedule_time: Option<String>,
    /// When the newest successful run finished.
    pub last_successful_time: Option<String>,
    /// Runs not finished yet.
    pub active: Vec<String>,
    /// The Ready condition: whether it schedules (false: suspended or invalid; the message
    /// says why).
    pub ready: Option<bool>,
    /// The Ready condition's message.
    pub message: Option<String>,
    /// Why the newest due run was skipped, while the RunSkipped condition is True.
    pub skipped: Option<String>,
    /// Its runs, oldest first (as many as the history limits keep, plus the active ones).
    pub runs: Vec<ScheduleRun>,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RunOutcome {
    /// Not finished.
    Running,
    /// Succeeded (a LoadTest) or Completed (an experiment).
    Passed,
    /// Failed.
    Failed,
    /// Ran but measured nothing (a LoadTest Completed, e.g. on a simulated node).
    NotMeasured,
}

/// One run of a schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRun {
    /// Name (same namespace as the schedule).
    pub name: String,
    /// Phase.
    pub phase: Option<String>,
    /// How it ended.
    pub outcome: RunOutcome,
    /// When it was created.
    pub created_at: Option<String>,
    /// When it finished.
    pub finished_at: Option<String>,
    /// p95 request duration, ms (LoadTests that measured it).
    pub p95_ms: Option<f64>,
    /// Requests per second (LoadTests).
    pub rps: Option<f64>,
    /// Failed request ratio, 0 to 1 (LoadTests).
    pub error_rate: Option<f64>,
    /// Seconds from load start to the first scale-up (experiments).
    pub scale_up_latency_seconds: Option<f64>,
    /// Most replicas of all targets together (experiments).
    pub peak_replicas: Option<i32>,
    /// The run it was compared with.
    pub baseline: Option<String>,
    /// The comparison's verdict.
    pub regression: Option<RegressionView>,
}

/// The schedule's view with its runs from the caches (pure).
pub fn schedule_view(
    ts: &TestSchedule,
    tests: &[Arc<LoadTest>],
    experiments: &[Arc<ScalingExperiment>],
) -> ScheduleView {
    let s = ts.status.clone().unwrap_or_default();
    let owned = |meta: &kube::core::ObjectMeta| {
        meta.namespace == ts.metadata.namespace
            && meta.labels.as_ref().and_then(|l| l.get(SCHEDULE_LABEL)) == ts.metadata.name.as_ref()
            && meta
                .owner_references
                .iter()
                .flatten()
                .any(|o| Some(&o.uid) == ts.metadata.uid.as_ref())
    };
    let kind = run::kind(ts);
    let mut runs: Vec<ScheduleRun> = match kind {
        Some(RunKind::LoadTest) => tests
            .iter()
            .filter(|lt| owned(lt.meta()))
            .map(|lt| load_test_run(lt))
            .collect(),
        Some(RunKind::ScalingExperiment) => experiments
            .iter()
            .filter(|se| owned(se.meta()))
            .map(|se| experiment_run(se))
            .collect(),
        None => Vec::new(),
    };
    runs.sort_by(|a, b| (&a.created_at, &a.name).cmp(&(&b.created_at, &b.name)));
    let condition = |type_| crate::conditions::get(&s.conditions, type_);
    let ready = condition(crds::conditions::ScheduleCondition::Ready);
    let skipped = condition(crds::conditions::ScheduleCondition::RunSkipped)
        .filter(|c| c.status == "True")
        .map(|c| c.message.clone());
    let time = |t: Option<crds::common::Time>| t.map(|t| t.0.to_string());
    ScheduleView {
        namespace: ts.namespace().unwrap_or_default(),
        name: ts.name_any(),
        schedule: ts.spec.schedule.to_string(),
        time_zone: ts.spec.time_zone.to_string(),
        concurrency_policy: ts.spec.concurrency_policy,
        suspend: ts.spec.suspend,
        run_kind: kind,
        cluster: ts
            .spec
            .load_test
            .as_ref()
            .map(|t| t.spec.cluster.to_string())
            .or_else(|| {
                ts.spec
                    .scaling_experiment
                    .as_ref()
                    .map(|t| t.spec.cluster.to_string())
            }),
        next_schedule_time: time(s.next_schedule_time),
        last_schedule_time: time(s.last_schedule_time),
        last_successful_time: time(s.last_successful_time),
        active: s.active,
        ready: ready.map(|c| c.status == "True"),
        message: ready.map(|c| c.message.clone()),
        skipped,
        runs,
    }
}

fn load_test_run(lt: &LoadTest) -> ScheduleRun {
    let s = lt.status.clone().unwrap_or_default();
    let outcome = match s.phase {
        Some(crds::load_test::LoadTestPhase::Succeeded) => RunOutcome::Passed,
        Some(crds::load_test::LoadTestPhase::Failed) => RunOutcome::Failed,
        Some(crds::load_test::LoadTestPhase::Completed) => RunOutcome::NotMeasured,
        _ => RunOutcome::Running,
    };
    let results = s.results.clone().unwrap_or_default();
    ScheduleRun {
        name: lt.name_any(),
        phase: phase_name(s.phase),
        outcome,
        created_at: lt.creation_timestamp().map(|t| t.0.to_string()),
        finished_at: s.finished_at.as_ref().map(|t| t.0.to_string()),
        p95_ms: results.latency_ms.as_ref().and_then(|l| l.p95),
        rps: results.rps,
        error_rate: results.error_rate,
        scale_up_latency_seconds: None,
        peak_replicas: None,
        baseline: s.comparison.as_ref().map(|c| c.baseline.name.clone()),
        regression: regression_view(&s.conditions),
    }
}

fn experiment_run(se: &ScalingExperiment) -> ScheduleRun {
    let s = se.status.clone().unwrap_or_default();
    let outcome = match s.phase {
        Some(crds::scaling_experiment::ExperimentPhase::Completed) => RunOutcome::Passed,
        Some(crds::scaling_experiment::ExperimentPhase::Failed) => RunOutcome::Failed,
        _ => RunOutcome::Running,
    };
    let kpis = s.kpis.clone().unwrap_or_default();
    ScheduleRun {
        name: se.name_any(),
        phase: phase_name(s.phase),
        outcome,
        created_at: se.creation_timestamp().map(|t| t.0.to_string()),
        finished_at: s.finished_at.as_ref().map(|t| t.0.to_string()),
        p95_ms: None,
        rps: None,
        error_rate: None,
        scale_up_latency_seconds: kpis.scale_up_latency_seconds,
        peak_replicas: kpis.peak_replicas,
        baseline: s.comparison.as_ref().map(|c| c.baseline.name.clone()),
        regression: regression_view(&s.conditions),
    }
}

async fn list(
    State(state): State<Arc<ApiState>>,
    Query(q): Query<NamespaceQuery>,
) -> Json<Vec<ScheduleView>> {
    let ns = q.namespace.unwrap_or_default();
    let (tests, experiments) = (state.tests.state(), state.experiments.state());
    let mut views: Vec<ScheduleView> = state
        .schedules
        .state()
        .iter()
        .filter(|ts| ns.is_empty() || ts.metadata.namespace.as_deref() == Some(ns.as_str()))
        .map(|ts| schedule_view(ts, &tests, &experiments))
        .collect();
    views.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Json(views)
}

/// `GET /api/v1/schedules`: reading a schedule's history reads its runs too.
pub fn route() -> Route {
    Route {
        method: "GET",
        path: "/api/v1/schedules",
        summary: "TestSchedules with their runs' history",
        permission: Permission::rbac(Verb::List, Resource::TestSchedules)
            .and(Resource::LoadTests)
            .and(Resource::ScalingExperiments)
            .scoped(Scope::Query),
        doc: Operation::new()
            .query("namespace", "Only schedules in this namespace")
            .json::<Vec<ScheduleView>>(
                200,
                "The schedules, by namespace and name, each with its runs oldest first",
            )
            .errors(&[400, 401, 403, 503]),
        handler: get(list),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> TestSchedule {
        let mut ts: TestSchedule = serde_yaml::from_str(
            "apiVersion: tartinfra.dev/v1alpha1\nkind: TestSchedule\nmetadata: {name: nightly, namespace: team, uid: u1}\nspec: {schedule: '0 2 * * *', loadTest: {spec: {cluster: dev, preset: light-load}}}\nstatus: {active: [nightly-2], nextScheduleTime: '2026-12-06T02:00:00Z', conditions: [{type: Ready, status: 'True', reason: Scheduled, message: next, lastTransitionTime: '2026-12-05T00:00:00Z'}]}\n",
        )
        .expect("schedule");
        ts.metadata.namespace = Some("team".into());
        ts
    }

    fn run(name: &str, owner: &str, created: &str, status: &str) -> Arc<LoadTest> {
        Arc::new(
            serde_yaml::from_str(&format!(
                "apiVersion: tartinfra.dev/v1alpha1\nkind: LoadTest\nmetadata: {{name: {name}, namespace: team, creationTimestamp: '{created}', labels: {{tartinfra.dev/schedule: nightly}}, ownerReferences: [{{apiVersion: tartinfra.dev/v1alpha1, kind: TestSchedule, name: nightly, uid: {owner}}}]}}\nspec: {{cluster: dev, preset: light-load}}\nstatus: {status}\n"
            ))
            .expect("run"),
        )
    }

    #[test]
    fn a_schedule_shows_its_owned_runs_oldest_first_with_their_numbers() {
        let tests = vec![
            run(
                "nightly-2",
                "u1",
                "2026-12-05T02:00:00Z",
                "{phase: Running}",
            ),
            run(
                "nightly-1",
                "u1",
                "2026-12-04T02:00:00Z",
                "{phase: Succeeded, finishedAt: '2026-12-04T02:01:00Z', results: {rps: 50, errorRate: 0.01, latencyMs: {p95: 120}}}",
            ),
            run(
                "lab-1",
                "u1",
                "2026-12-03T02:00:00Z",
                "{phase: Completed, finishedAt: '2026-12-03T02:01:00Z'}",
            ),
            run(
                "someone-elses",
                "u2",
                "2026-12-05T03:00:00Z",
                "{phase: Running}",
            ),
        ];
        let v = schedule_view(&schedule(), &tests, &[]);
        let names: Vec<&str> = v.runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["lab-1", "nightly-1", "nightly-2"]);
        assert_eq!(v.runs[0].outcome, RunOutcome::NotMeasured);
        assert_eq!(v.runs[0].p95_ms, None, "nothing measured, nothing invented");
        assert_eq!(
            (v.runs[1].outcome, v.runs[1].p95_ms, v.runs[1].rps),
            (RunOutcome::Passed, Some(120.0), Some(50.0))
        );
        assert_eq!(
            v.runs[1].finished_at.as_deref(),
            Some("2026-12-04T02:01:00Z")
        );
        assert_eq!(v.runs[2].outcome, RunOutcome::Running);
        assert_eq!(
            (v.ready, v.active.as_slice()),
            (Some(true), &["nightly-2".to_owned()][..])
        );
        assert_eq!(
            v.next_schedule_time.as_deref(),
            Some("2026-12-06T02:00:00Z")
        );
        assert_eq!(
            (v.run_kind, v.cluster.as_deref()),
            (Some(RunKind::LoadTest), Some("dev"))
        );
    }
}
