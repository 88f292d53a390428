//! ScalingExperiments in the API: the view the dashboard reads (with the live series of a
//! running experiment) and what `/api/v1/experiments` does differently from the other
//! kinds (see [`super::resources`]).

use crds::comparison::Comparison;
use crds::scaling_experiment::{
    DeploymentResult, ExperimentPhase, ExperimentReason, Kpis, ReplicaEvent, Sample, ScalingPreset,
};
use crds::{ScalingExperiment, ScalingExperimentSpec};
use kube::runtime::reflector::Store;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::auth::Resource;
use super::loadtests::{RegressionView, regression_view};
use super::resources::{Docs, Kind};
use crate::controllers::scaling_experiment::kpis::Point;
use crate::controllers::scaling_experiment::live::MAX_POINTS;
use crate::controllers::scaling_experiment::with_series;

/// A ScalingExperiment as the dashboard reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentView {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The cluster under test.
    pub cluster: String,
    /// The preset, when it is one.
    pub preset: Option<ScalingPreset>,
    /// Phase.
    pub phase: Option<ExperimentPhase>,
    /// Why it failed.
    pub reason: Option<ExperimentReason>,
    /// What is happening.
    pub message: Option<String>,
    /// Still running (samples keep coming).
    pub live: bool,
    /// The child LoadTest.
    pub load_test: Option<String>,
    /// When sampling started.
    pub started_at: Option<String>,
    /// When the load started.
    pub load_started_at: Option<String>,
    /// When the load ended.
    pub load_ended_at: Option<String>,
    /// When it finished.
    pub finished_at: Option<String>,
    /// Being deleted.
    pub deleting: bool,
    /// The KPIs.
    pub kpis: Option<Kpis>,
    /// Per deployment results (also the column order of samples).
    pub deployments: Vec<DeploymentResult>,
    /// Replica changes.
    pub events: Vec<ReplicaEvent>,
    /// The sampled series.
    pub samples: Vec<Sample>,
    /// The spec.
    pub spec: ScalingExperimentSpec,
    /// The comparison with spec.baseline, once made.
    pub comparison: Option<Comparison>,
    /// The RegressionDetected condition, once the run was compared with spec.baseline.
    pub regression: Option<RegressionView>,
}

/// The dashboard's view of a ScalingExperiment (pure). `live` is the full series of a
/// running experiment; its numbers replace the (downsampled, up to 10 s old) stored ones.
pub fn experiment_view(se: &ScalingExperiment, live: Option<&[Point]>) -> ExperimentView {
    let mut s = se.status.clone().unwrap_or_default();
    if let Some(points) = live {
        with_series(&mut s, points, None, MAX_POINTS, MAX_POINTS);
    }
    let t = |t: Option<crds::common::Time>| t.map(|t| t.0.to_string());
    ExperimentView {
        namespace: se.metadata.namespace.clone().unwrap_or_default(),
        name: se.metadata.name.clone().unwrap_or_default(),
        cluster: se.spec.cluster.0.clone(),
        preset: se.spec.load.preset,
        live: !matches!(
            s.phase,
            Some(ExperimentPhase::Completed | ExperimentPhase::Failed)
        ),
        phase: s.phase,
        reason: s.reason,
        message: s.message,
        load_test: s.load_test,
        started_at: t(s.started_at),
        load_started_at: t(s.load_started_at),
        load_ended_at: t(s.load_ended_at),
        finished_at: t(s.finished_at),
        deleting: se.metadata.deletion_timestamp.is_some(),
        kpis: s.kpis,
        deployments: s.deployments,
        events: s.events,
        samples: s.samples,
        spec: se.spec.clone(),
        regression: regression_view(&s.conditions),
        comparison: s.comparison,
    }
}

impl Kind for ScalingExperiment {
    const COLLECTION: &'static str = "/api/v1/experiments";
    const ITEM: &'static str = "/api/v1/experiments/{namespace}/{name}";
    const RESOURCE: Resource = Resource::ScalingExperiments;
    const DOCS: Docs = Docs {
        list: "ScalingExperiments, newest first",
        namespace_filter: "Only this namespace",
        listed: "The experiments",
        create_schema: "CreateExperiment",
        generated_name: "The name; generated from the preset when absent.",
        create: "Create a ScalingExperiment (validated by the API server)",
        created: "The experiment was created",
        get: "One ScalingExperiment with its KPIs and samples",
        got: "The experiment",
        delete: "Delete a ScalingExperiment",
        namespace: "The experiment's namespace",
        name: "The experiment's name",
    };
    type Spec = ScalingExperimentSpec;
    type View = ExperimentView;

    fn cache(state: &ApiState) -> &Store<Self> {
        &state.experiments
    }

    /// With the live series while the experiment samples.
    fn view(state: &ApiState, se: &Self) -> ExperimentView {
        let run = se
            .metadata
            .uid
            .as_deref()
            .and_then(|uid| state.samplers.get(uid));
        let points = run.map(|r| r.points());
        experiment_view(se, points.as_deref())
    }

    /// Without the series: a list of long experiments would otherwise send up to
    /// [`MAX_POINTS`] samples each; the detail route has them.
    fn list_view(_: &ApiState, se: &Self) -> ExperimentView {
        ExperimentView {
            samples: Vec::new(),
            ..experiment_view(se, None)
        }
    }

    fn sort_key(view: &ExperimentView) -> (Option<&str>, &str) {
        (view.started_at.as_deref(), &view.name)
    }

    /// The preset's name, else `experiment`.
    fn name_prefix(spec: &ScalingExperimentSpec) -> String {
        let prefix = spec.load.preset.map_or("experiment", ScalingPreset::name);
        format!("{prefix}-")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lists_leave_the_series_to_the_detail_route() {
        let se: ScalingExperiment = serde_json::from_value(serde_json::json!({
            "apiVersion": "tartinfra.dev/v1alpha1", "kind": "ScalingExperiment",
            "metadata": { "name": "scale", "namespace": "team", "uid": "se-1" },
            "spec": { "cluster": "dev", "targetNamespace": "demo",
                      "load": { "http": { "targetUrl": "http://nginx-web.demo", "vus": 10, "duration": "60s" } } },
            "status": { "phase": "Completed",
                        "samples": [{ "time": "2026-11-28T10:00:00Z", "phase": "Load", "replicas": [2], "cpuPercent": [80] }] },
        }))
        .expect("experiment");
        let (state, _tasks) = crate::api::tests::state_with(false);
        let detail = <ScalingExperiment as Kind>::view(&state, &se);
        let listed = <ScalingExperiment as Kind>::list_view(&state, &se);
        assert_eq!(detail.samples.len(), 1);
        assert!(listed.samples.is_empty());
        assert_eq!(listed.phase, detail.phase);
        assert_eq!(listed.name, detail.name);
    }
}
