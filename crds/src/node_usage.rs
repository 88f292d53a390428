//! Node CPU and memory of a run's target cluster before, during and after the run, from
//! the cluster's metrics API (metrics-server), as the operator sampled it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::Time;

/// The target cluster's nodes around a run: the last reading before it started, the
/// highest during it and one a settle time after it ended. Either `nodes` or `notMeasured`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeUsageRecord {
    /// Why nothing was measured (e.g. the metrics API is not served), never zeros.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_measured: Option<String>,
    /// When the `before` figures were read (the last reading before the run started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_at: Option<Time>,
    /// The newest reading during the run that went into `peak`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub during_through: Option<Time>,
    /// How many readings during the run went into `peak`.
    #[serde(default)]
    pub samples_during: u32,
    /// When the `after` figures were read (a settle time after the run ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_at: Option<Time>,
    /// Why there are no `after` figures (the readings after the run failed or stopped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_missing: Option<String>,
    /// Per node, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 200))]
    pub nodes: Vec<NodeUsageSummary>,
}

impl NodeUsageRecord {
    /// Whether the record is final: the `after` figures were read, or why not is known.
    pub fn settled(&self) -> bool {
        self.after_at.is_some() || self.after_missing.is_some()
    }
}

/// One node around a run; a reading the operator did not get is unset, never 0.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeUsageSummary {
    /// The node.
    pub node: String,
    /// kwok simulates this node: its figures are kwok's simulated usage, not a machine's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub simulated: bool,
    /// The last reading before the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<NodeUsageFigures>,
    /// The highest CPU and the highest memory read during the run (each at its own time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak: Option<NodeUsageFigures>,
    /// The reading a settle time after the run ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<NodeUsageFigures>,
}

/// A node's CPU and memory use; percentages of its allocatable resources, when known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeUsageFigures {
    /// CPU in millicores.
    pub cpu_millis: u64,
    /// CPU as a percentage of the node's allocatable CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    /// Memory (working set) in bytes.
    pub memory_bytes: u64,
    /// Memory as a percentage of the node's allocatable memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_percent: Option<f64>,
}
