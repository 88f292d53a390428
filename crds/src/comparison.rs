//! Run comparison: a LoadTest or ScalingExperiment names a baseline run (by name, or the
//! newest finished run with the same labels) and tolerances; when it finishes, the operator
//! records the deltas in `status.comparison` and a `RegressionDetected` condition.

use std::collections::BTreeMap;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{ObjectName, Time};

/// Selects runs by their labels: every label here must be on the run with this value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabelMatch {
    /// The labels, e.g. `{app: checkout, suite: nightly}` (1 to 20).
    #[x_kube(validation = kube::core::Rule::new("size(self) >= 1 && size(self) <= 20")
        .message("latestWithLabels.matchLabels must hold 1 to 20 labels"))]
    pub match_labels: BTreeMap<String, String>,
}

/// Which earlier run is the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaselineSelector<'a> {
    /// The run of this name in the same namespace.
    Name(&'a str),
    /// The newest finished run in the same namespace that carries these labels and
    /// measured something (never the run itself).
    Labels(&'a BTreeMap<String, String>),
}

/// The CEL rule and message shared by both kinds' baselines.
const ONE_OF: &str = "has(self.name) != has(self.latestWithLabels)";
const ONE_OF_MESSAGE: &str = "set exactly one of baseline.name (an earlier run in this namespace) or baseline.latestWithLabels.matchLabels (the newest finished run with these labels)";

/// The baseline of a LoadTest and how far this run may drift from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(ONE_OF).message(ONE_OF_MESSAGE))]
pub struct LoadTestBaseline {
    /// An earlier LoadTest in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<ObjectName>,
    /// The newest finished LoadTest in this namespace with these labels that measured
    /// something (this test excluded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_with_labels: Option<LabelMatch>,
    /// How much worse than the baseline a metric may be before RegressionDetected is True.
    #[serde(default)]
    pub tolerance: LoadTestTolerance,
}

/// A LoadTest's tolerances: how much worse than the baseline each metric may be.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadTestTolerance {
    /// The p95 latency may rise by this percentage of the baseline's (0 to 10000). Default 10.
    #[serde(default = "ten")]
    #[schemars(range(min = 0.0, max = 10000.0))]
    pub p95_percent: f64,
    /// The p99 latency may rise by this percentage of the baseline's (0 to 10000). Default 10.
    #[serde(default = "ten")]
    #[schemars(range(min = 0.0, max = 10000.0))]
    pub p99_percent: f64,
    /// Requests per second may fall by this percentage of the baseline's (0 to 100).
    /// Default 10.
    #[serde(default = "ten")]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub rps_percent: f64,
    /// The error rate may rise by this many percentage points (0 to 100): 1 lets 0.5 %
    /// become 1.5 %. Default 1.
    #[serde(default = "one")]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub error_rate_points: f64,
    /// A stress test's bogo-ops per second may fall by this percentage of the baseline's
    /// (0 to 100). Default 10.
    #[serde(default = "ten")]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub bogo_ops_percent: f64,
}

impl Default for LoadTestTolerance {
    fn default() -> Self {
        Self {
            p95_percent: ten(),
            p99_percent: ten(),
            rps_percent: ten(),
            error_rate_points: one(),
            bogo_ops_percent: ten(),
        }
    }
}

/// The baseline of a ScalingExperiment and how far this run may drift from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(ONE_OF).message(ONE_OF_MESSAGE))]
pub struct ExperimentBaseline {
    /// An earlier ScalingExperiment in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<ObjectName>,
    /// The newest finished ScalingExperiment in this namespace with these labels that
    /// measured something (this experiment excluded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_with_labels: Option<LabelMatch>,
    /// How far from the baseline a KPI may be before RegressionDetected is True.
    #[serde(default)]
    pub tolerance: ExperimentTolerance,
}

/// A ScalingExperiment's tolerances.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentTolerance {
    /// The scale-up latency may rise by this percentage of the baseline's (0 to 10000).
    /// Default 20.
    #[serde(default = "twenty")]
    #[schemars(range(min = 0.0, max = 10000.0))]
    pub scale_up_latency_percent: f64,
    /// The peak replicas may differ from the baseline's by this many, up or down (0 to
    /// 1000): either way the HPAs reacted differently to the same load. Default 1.
    #[serde(default = "one_replica")]
    #[schemars(range(min = 0, max = 1000))]
    pub peak_replicas: i32,
}

impl Default for ExperimentTolerance {
    fn default() -> Self {
        Self {
            scale_up_latency_percent: twenty(),
            peak_replicas: one_replica(),
        }
    }
}

fn one() -> f64 {
    1.0
}
fn ten() -> f64 {
    10.0
}
fn twenty() -> f64 {
    20.0
}
fn one_replica() -> i32 {
    1
}

macro_rules! selector {
    ($t:ty) => {
        impl $t {
            /// Which run is the baseline (`None` only for a spec the API server would refuse,
            /// with neither field set).
            pub fn selector(&self) -> Option<BaselineSelector<'_>> {
                match (&self.name, &self.latest_with_labels) {
                    (Some(name), _) => Some(BaselineSelector::Name(name.as_str())),
                    (None, Some(m)) => Some(BaselineSelector::Labels(&m.match_labels)),
                    (None, None) => None,
                }
            }
        }
    };
}
selector!(LoadTestBaseline);
selector!(ExperimentBaseline);

/// What a finished run was compared with, and the deltas. Written once, when the run
/// finished and its baseline was found; the RegressionDetected condition has the verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    /// The baseline run.
    pub baseline: BaselineRun,
    /// One entry per metric both runs measured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    pub metrics: Vec<MetricDelta>,
    /// Metrics not compared, and why (e.g. percentiles per runner).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    pub not_compared: Vec<String>,
}

/// The run a comparison was made against.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BaselineRun {
    /// Its name (same namespace).
    pub name: String,
    /// Its uid: a run deleted and created again under the same name is another run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
}

/// A compared metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Metric {
    /// p95 request duration, ms (higher is worse).
    P95Ms,
    /// p99 request duration, ms (higher is worse).
    P99Ms,
    /// Requests per second (lower is worse).
    Rps,
    /// Failed request ratio, 0 to 1 (higher is worse; tolerance in percentage points).
    ErrorRate,
    /// Seconds from load start to the first scale-up (higher is worse).
    ScaleUpLatencySeconds,
    /// Most replicas of all targets together (a change either way past the tolerance).
    PeakReplicas,
    /// A stress test's bogo operations per second, all stressors (lower is worse).
    BogoOpsPerSecond,
}

impl Metric {
    /// The metric's name as written in status and messages.
    pub const fn name(self) -> &'static str {
        match self {
            Self::P95Ms => "p95Ms",
            Self::P99Ms => "p99Ms",
            Self::Rps => "rps",
            Self::ErrorRate => "errorRate",
            Self::ScaleUpLatencySeconds => "scaleUpLatencySeconds",
            Self::PeakReplicas => "peakReplicas",
            Self::BogoOpsPerSecond => "bogoOpsPerSecond",
        }
    }
}

/// One metric of both runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricDelta {
    /// Which metric.
    pub metric: Metric,
    /// The baseline's value (unset: the event did not happen, e.g. no scale-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// This run's value (unset: the event did not happen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<f64>,
    /// This run's value minus the baseline's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<f64>,
    /// The delta as a percentage of the baseline's value (unset when that is 0 or unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_percent: Option<f64>,
    /// The tolerance applied, as written in the spec (e.g. `10%`, `1 point`, `1 replica`).
    pub tolerance: String,
    /// The delta passes the tolerance in the worse direction.
    pub regressed: bool,
}
