//! `ScalingExperiment`: drive HTTP load at a target cluster while sampling its HPAs, then
//! record how the HPAs reacted (scale-up latency, peak, scale-down, replicas per deployment).

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Condition, DnsLabel, HttpLoad, ObjectName, Time, conditions_list_type};
use crate::comparison::{Comparison, ExperimentBaseline};

/// The most samples kept in status (the full series is in the operator's memory while the
/// experiment runs and through its API).
pub const MAX_STATUS_SAMPLES: usize = 240;
/// The most replica-change events kept in status.
pub const MAX_STATUS_EVENTS: usize = 200;

/// The desired experiment. The spec is immutable: an experiment runs once.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "tartinfra.dev",
    version = "v1alpha1",
    kind = "ScalingExperiment",
    namespaced,
    shortname = "se",
    category = "tartinfra",
    status = "ScalingExperimentStatus",
    derive = "PartialEq",
    doc = "Drives HTTP load at a managed cluster (through a child LoadTest) while sampling its HPAs, and records how they scaled.",
    printcolumn(
        name = "Cluster",
        type_ = "string",
        json_path = ".spec.cluster",
        description = "The ManagedCluster under test"
    ),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "ScaleUp(s)",
        type_ = "number",
        json_path = ".status.kpis.scaleUpLatencySeconds",
        description = "Seconds from load start to the first scale-up"
    ),
    printcolumn(
        name = "Peak",
        type_ = "integer",
        json_path = ".status.kpis.peakReplicas",
        description = "Most replicas of all targets together"
    ),
    printcolumn(
        name = "Regression",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"RegressionDetected\")].status",
        description = "True when a KPI is worse than spec.baseline's past its tolerance"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("self == oldSelf")
    .message("spec is immutable: a ScalingExperiment runs once; create a new one to run again"))]
pub struct ScalingExperimentSpec {
    /// The ManagedCluster (by name) whose HPAs are measured; the load runs there too.
    pub cluster: ObjectName,
    /// The load: a preset or an HTTP load description.
    pub load: ExperimentLoad,
    /// The namespace (in the target cluster) whose HPAs are sampled when targets is empty.
    /// Default demo.
    #[serde(default = "default_target_namespace")]
    pub target_namespace: DnsLabel,
    /// The deployments to measure, each through its HPA. Empty: every HPA in
    /// targetNamespace (or the preset's targets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["namespace".into(), "deployment".into()]))]
    pub targets: Vec<ScalingTarget>,
    /// Seconds between HPA samples (1 to 60). Default 5.
    #[serde(default = "default_sample_interval")]
    #[schemars(range(min = 1, max = 60))]
    pub sample_interval_seconds: u32,
    /// Seconds to keep sampling after the load ends (0 to 3600). Default: the preset's
    /// cooldown, else 180, which exceeds the demo HPAs' 120 s scale-down window. A
    /// condition warns when it is shorter than a target HPA's scale-down stabilization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 3600))]
    pub cooldown_seconds: Option<u32>,
    /// End the cooldown early once every target is back at its baseline replicas.
    #[serde(default)]
    pub end_cooldown_when_baseline_restored: bool,
    /// An earlier experiment to compare this one with when it completes, and the
    /// tolerances: the deltas go to status.comparison and the verdict to the
    /// RegressionDetected condition. (Not to be confused with the Baseline phase, the
    /// replicas before the load.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<ExperimentBaseline>,
}

fn default_target_namespace() -> DnsLabel {
    DnsLabel("demo".to_owned())
}

fn default_sample_interval() -> u32 {
    5
}

/// The load of an experiment: exactly one of preset and http.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.preset) != has(self.http)")
    .message("set exactly one of load.preset or load.http"))]
pub struct ExperimentLoad {
    /// A predefined load: scale-light (30 VUs, 60s), scale-heavy (200 VUs, 120s), scale-ramp
    /// (150 VUs, 30s ramp, 60s), cascade-light (30 VUs, 60s), cascade-heavy (150 VUs, 120s),
    /// cascade-ramp (100 VUs, 20s ramp, 60s); scale-* hit nginx-web, cascade-* hit nginx-web
    /// and httpbin /get in each iteration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<ScalingPreset>,
    /// An HTTP load description, as in a LoadTest's spec.http.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpLoad>,
}

/// The predefined experiment loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ScalingPreset {
    ScaleLight,
    ScaleHeavy,
    ScaleRamp,
    CascadeLight,
    CascadeHeavy,
    CascadeRamp,
}

impl ScalingPreset {
    /// Every preset, in the order the dashboard lists them.
    pub const ALL: [ScalingPreset; 6] = [
        Self::ScaleLight,
        Self::ScaleHeavy,
        Self::ScaleRamp,
        Self::CascadeLight,
        Self::CascadeHeavy,
        Self::CascadeRamp,
    ];

    /// The preset's name as written in a spec, e.g. `scale-light`.
    pub fn name(self) -> &'static str {
        match self {
            Self::ScaleLight => "scale-light",
            Self::ScaleHeavy => "scale-heavy",
            Self::ScaleRamp => "scale-ramp",
            Self::CascadeLight => "cascade-light",
            Self::CascadeHeavy => "cascade-heavy",
            Self::CascadeRamp => "cascade-ramp",
        }
    }
}

/// A deployment measured through its HPA.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingTarget {
    /// The deployment's namespace in the target cluster.
    pub namespace: DnsLabel,
    /// The deployment's name (its HPA is found by scaleTargetRef).
    pub deployment: ObjectName,
}

/// The observed state of a ScalingExperiment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingExperimentStatus {
    /// Pending, Baseline (sampling before load), Loading (from the moment the load runner
    /// runs), CoolingDown (after the load ends), Completed or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ExperimentPhase>,
    /// Why the experiment failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ExperimentReason>,
    /// A human-readable explanation of the phase and reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The name of the child LoadTest (same namespace) that drives the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_test: Option<String>,
    /// When the experiment started sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When the load runner started running (the KPI clock's zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_started_at: Option<Time>,
    /// When the load finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_ended_at: Option<Time>,
    /// When the experiment completed or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// The key results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kpis: Option<Kpis>,
    /// Per deployment: baseline, peak and final replicas and CPU. Also the column order of
    /// samples[].replicas and samples[].cpuPercent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub deployments: Vec<DeploymentResult>,
    /// Replica changes, oldest first (at most 200).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 200))]
    pub events: Vec<ReplicaEvent>,
    /// The sampled series, downsampled to at most 240 points.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 240))]
    pub samples: Vec<Sample>,
    /// The comparison with spec.baseline, once the experiment finished and its baseline
    /// was found (the RegressionDetected condition has the verdict).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// Conditions: TargetsResolved, CooldownSufficient, Complete, RegressionDetected, and
    /// others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = conditions_list_type())]
    pub conditions: Vec<Condition>,
    /// The spec generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Phase of a ScalingExperiment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ExperimentPhase {
    Pending,
    Baseline,
    Loading,
    CoolingDown,
    Completed,
    Failed,
}

impl ExperimentPhase {
    /// Completed or Failed: the experiment is over.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// Why a ScalingExperiment failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ExperimentReason {
    /// The child LoadTest failed before producing load.
    LoadTestFailed,
    /// The target cluster became unreachable.
    ClusterUnavailable,
    /// A target deployment has no HPA (or the namespace has none).
    NoHpa,
    /// The experiment was stopped before it finished (its LoadTest was deleted).
    Cancelled,
    /// The spec cannot be planned (e.g. an invalid load); the message names the field.
    InvalidSpec,
}

impl ExperimentReason {
    /// Every reason.
    pub const ALL: &[ExperimentReason] = &[
        Self::LoadTestFailed,
        Self::ClusterUnavailable,
        Self::NoHpa,
        Self::Cancelled,
        Self::InvalidSpec,
    ];

    /// The reason as written in status.
    pub const fn name(self) -> &'static str {
        match self {
            Self::LoadTestFailed => "LoadTestFailed",
            Self::ClusterUnavailable => "ClusterUnavailable",
            Self::NoHpa => "NoHpa",
            Self::Cancelled => "Cancelled",
            Self::InvalidSpec => "InvalidSpec",
        }
    }
}

/// The key results, in seconds from the load's start or end. Definitions are in the
/// project's docs; unset means the event did not happen during the experiment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Kpis {
    /// First sample after load start where any target's replicas exceed its baseline,
    /// minus load start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_up_latency_seconds: Option<f64>,
    /// The maximum over samples of the targets' summed current replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_replicas: Option<i32>,
    /// First sample after load end where any target is below its peak so far (since load
    /// start), minus load end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_start_seconds: Option<f64>,
    /// First sample after load end where every target is at or below its baseline, minus
    /// load end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_baseline_seconds: Option<f64>,
    /// The load's requests per second divided by the mean summed replicas during load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_rps_per_pod: Option<f64>,
}

/// Replicas and CPU of one target deployment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentResult {
    /// Namespace.
    pub namespace: String,
    /// Deployment name.
    pub name: String,
    /// The HPA that scales it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hpa: Option<String>,
    /// Replicas before the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_replicas: Option<i32>,
    /// Most replicas during the experiment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_replicas: Option<i32>,
    /// Replicas at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_replicas: Option<i32>,
    /// CPU utilisation (percent of requests) before the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_cpu_percent: Option<i32>,
    /// Highest CPU utilisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_cpu_percent: Option<i32>,
    /// CPU utilisation at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_cpu_percent: Option<i32>,
    /// First sample after load start with this target above its baseline replicas, minus
    /// load start; unset when it never scaled up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_up_latency_seconds: Option<f64>,
}

/// The phase a sample or event belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SamplePhase {
    Baseline,
    Load,
    Cooldown,
}

/// A change of a deployment's current replicas.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaEvent {
    /// When the change was sampled.
    pub time: Time,
    /// The experiment phase at that time.
    pub phase: SamplePhase,
    /// Namespace.
    pub namespace: String,
    /// Deployment name.
    pub deployment: String,
    /// Replicas before.
    pub from_replicas: i32,
    /// Replicas after.
    pub to_replicas: i32,
    /// CPU utilisation at that time, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<i32>,
}

/// One sample of every target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// When it was taken.
    pub time: Time,
    /// The experiment phase at that time.
    pub phase: SamplePhase,
    /// Current replicas per target, in the order of status.deployments (null: no data).
    #[schemars(length(max = 20))]
    pub replicas: Vec<Option<i32>>,
    /// CPU utilisation per target, in the order of status.deployments (null: unknown).
    #[schemars(length(max = 20))]
    pub cpu_percent: Vec<Option<i32>>,
}
