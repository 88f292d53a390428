//! LoadTests in the API: the view the dashboard reads and what `/api/v1/tests` does
//! differently from the other kinds (see [`super::resources`]).

use crds::comparison::Comparison;
use crds::conditions::ComparisonCondition;
use crds::load_test::{
    LoadTestPhase, LoadTestPreset, LoadTestReason, LoadTestResults, RunnerRef, TestType,
};
use crds::plan::{Plan, plan_load_test};
use crds::{LoadTest, LoadTestSpec};
use kube::runtime::reflector::Store;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::auth::Resource;
use super::resources::{Docs, Kind};

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
    /// Pending, Starting, Running, Succeeded, Failed, or Completed (ran, measured nothing).
    pub phase: Option<LoadTestPhase>,
    /// Why it failed, or (Completed) why nothing was measured.
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
    /// The comparison with spec.baseline, once made.
    pub comparison: Option<Comparison>,
    /// The RegressionDetected condition, once the run was compared with spec.baseline.
    pub regression: Option<RegressionView>,
    /// The target cluster's node CPU and memory before, during (peak) and after the run, or
    /// why they were not measured.
    pub node_usage: Option<crds::node_usage::NodeUsageRecord>,
}

/// The verdict of a run's comparison with its baseline (its RegressionDetected condition).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegressionView {
    /// `True` (worse past a tolerance), `False` (within tolerance) or `Unknown` (not
    /// compared: the reason says why).
    pub status: String,
    /// Regressed, WithinTolerance, BaselineNotFound, BaselineNotFinished,
    /// BaselineNotMeasured, NotMeasured or NothingToCompare.
    pub reason: String,
    /// Which metrics, by how much; or why nothing was compared.
    pub message: String,
}

/// The RegressionDetected condition among `conditions`, as the dashboard reads it (pure).
pub fn regression_view(conditions: &[crds::common::Condition]) -> Option<RegressionView> {
    crate::conditions::get(conditions, ComparisonCondition::RegressionDetected).map(|c| {
        RegressionView {
            status: c.status.clone(),
            reason: c.reason.clone(),
            message: c.message.clone(),
        }
    })
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
        queued: crate::conditions::is_true(
            &s.conditions,
            crds::conditions::LoadTestCondition::Queued,
        ),
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
        regression: regression_view(&s.conditions),
        comparison: s.comparison,
        node_usage: s.node_usage,
        results: s.results,
        runner: s.runner,
    }
}

impl Kind for LoadTest {
    const COLLECTION: &'static str = "/api/v1/tests";
    const ITEM: &'static str = "/api/v1/tests/{namespace}/{name}";
    const RESOURCE: Resource = Resource::LoadTests;
    const DOCS: Docs = Docs {
        list: "LoadTests, newest first",
        namespace_filter: "Only this namespace (checks `list loadtests` there instead of cluster-wide)",
        listed: "The tests",
        create_schema: "CreateTest",
        generated_name: "The name; generated from the preset or test type when absent.",
        create: "Create a LoadTest (validated by the API server)",
        created: "The LoadTest was created",
        get: "One LoadTest",
        got: "The test",
        delete: "Delete a LoadTest (its runner goes first)",
        namespace: "The LoadTest's namespace",
        name: "The LoadTest's name",
    };
    type Spec = LoadTestSpec;
    type View = TestView;

    fn cache(state: &ApiState) -> &Store<Self> {
        &state.tests
    }

    fn view(_: &ApiState, object: &Self) -> TestView {
        test_view(object)
    }

    fn sort_key(view: &TestView) -> (Option<&str>, &str) {
        (view.created_at.as_deref(), &view.name)
    }

    /// The preset's name, else the test type.
    fn name_prefix(spec: &LoadTestSpec) -> String {
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
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A LoadTest that failed its thresholds (also the CSV export's fixture).
    pub(crate) fn finished(message: &str) -> LoadTest {
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
    fn names_are_generated_per_kind_and_views_know_the_plan() {
        let mut lt = finished("");
        lt.status.as_mut().expect("status").phase = Some(LoadTestPhase::Running);
        assert_eq!(LoadTest::name_prefix(&lt.spec), "strict-sla-");
        let view = test_view(&lt);
        assert_eq!(view.expected_duration_seconds, Some(30));
        assert_eq!(
            view.test_type,
            Some(TestType::Http),
            "known from the spec before the operator reconciles"
        );
    }
}
