//! `LoadTest`: one k6 HTTP load test or stress-ng CPU/memory stress, run once as a Job in a
//! managed cluster; its results land in status.

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{
    ByteSize, Condition, DnsLabel, GoDuration, HttpLoad, ImageRef, ObjectName, Time,
    conditions_list_type,
};
use crate::comparison::{Comparison, LoadTestBaseline};

/// The namespace runner Jobs go to in the target cluster unless spec.runnerNamespace says
/// otherwise.
pub const DEFAULT_RUNNER_NAMESPACE: &str = "tart-loadtest";

/// The desired test. The spec is immutable: a LoadTest runs once. To run it again, create a
/// new object (for example with `metadata.generateName` and `kubectl create`).
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "tartinfra.dev",
    version = "v1alpha1",
    kind = "LoadTest",
    namespaced,
    shortname = "lt",
    category = "tartinfra",
    status = "LoadTestStatus",
    derive = "PartialEq",
    doc = "A k6 HTTP load test or a stress-ng CPU/memory stress, run once as a Job in a managed cluster, with its results in status.",
    printcolumn(
        name = "Cluster",
        type_ = "string",
        json_path = ".spec.cluster",
        description = "The ManagedCluster the test runs in"
    ),
    printcolumn(
        name = "Type",
        type_ = "string",
        json_path = ".status.testType",
        description = "http, cpu or memory"
    ),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.reason",
        description = "Why it failed, or (Completed) why nothing was measured"
    ),
    printcolumn(
        name = "P95(ms)",
        type_ = "number",
        json_path = ".status.results.latencyMs.p95",
        description = "95th percentile request duration"
    ),
    printcolumn(
        name = "RPS",
        type_ = "number",
        json_path = ".status.results.rps",
        description = "Requests per second"
    ),
    printcolumn(
        name = "Errors",
        type_ = "number",
        json_path = ".status.results.errorRate",
        description = "Failed request ratio"
    ),
    printcolumn(
        name = "Regression",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"RegressionDetected\")].status",
        description = "True when a metric is worse than spec.baseline's past its tolerance"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("(has(self.preset) ? 1 : 0) + (has(self.http) ? 1 : 0) + (has(self.stress) ? 1 : 0) == 1")
    .message("set exactly one of preset, http or stress"))]
#[x_kube(validation = kube::core::Rule::new("self == oldSelf")
    .message("spec is immutable: a LoadTest runs once; create a new LoadTest (e.g. with metadata.generateName) to run again"))]
pub struct LoadTestSpec {
    /// The ManagedCluster (by name) the test runs in.
    pub cluster: ObjectName,
    /// A predefined test with the original dashboard's numbers: light-load (10 VUs, 15s),
    /// standard-load (50 VUs, 30s), heavy-load (200 VUs, 60s), ramp-up (100 VUs, 10s ramp,
    /// 30s sustain), httpbin-api (30 VUs, 20s on httpbin /get), strict-sla (50 VUs, 30s,
    /// p95 < 500 ms, errors < 1%), cpu-stress-light (1 worker, 30s), cpu-stress-heavy
    /// (2 workers, 60s), memory-stress-64m (1 × 64M, 30s), memory-stress-128m (2 × 128M, 60s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<LoadTestPreset>,
    /// An HTTP load test run by k6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpLoad>,
    /// A CPU or memory stress run by stress-ng.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stress: Option<StressLoad>,
    /// The namespace of the runner Job in the target cluster, one of the cluster's
    /// loadTestPolicy.runnerNamespaces. The operator creates it (labelled as its own) and
    /// refuses a namespace it did not create. Default tart-loadtest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_namespace: Option<DnsLabel>,
    /// CPU and memory of the runner container. The defaults fit the LimitRanges of the
    /// lab's dev, staging and prod clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Overrides the runner image (k6 for http, stress-ng for stress). Must be pinned to a
    /// tag other than latest or to a digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageRef>,
    /// Fail the test with reason Timeout when its runner has not finished this many seconds
    /// after it started (10 to 90000). Default: the test's duration plus 5 minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 90000))]
    pub timeout_seconds: Option<u32>,
    /// Delete the runner Job, its pods and its ConfigMap from the target cluster this many
    /// seconds after the test finished. The LoadTest and its results stay. Unset keeps them
    /// until the LoadTest is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2592000))]
    pub ttl_seconds_after_finished: Option<u32>,
    /// An earlier run to compare this one with when it finishes, and the tolerances: the
    /// deltas go to status.comparison and the verdict to the RegressionDetected condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<LoadTestBaseline>,
}

impl LoadTestSpec {
    /// A spec on `cluster` with nothing else set yet: set one of `preset`, `http` or
    /// `stress` (with struct update syntax) before using it.
    pub fn on(cluster: ObjectName) -> Self {
        Self {
            cluster,
            preset: None,
            http: None,
            stress: None,
            runner_namespace: None,
            resources: None,
            image: None,
            timeout_seconds: None,
            ttl_seconds_after_finished: None,
            baseline: None,
        }
    }
}

/// The predefined tests (the original dashboard's presets, without the scaling and cascade
/// ones, which are ScalingExperiment presets).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LoadTestPreset {
    LightLoad,
    StandardLoad,
    HeavyLoad,
    RampUp,
    HttpbinApi,
    StrictSla,
    CpuStressLight,
    CpuStressHeavy,
    #[serde(rename = "memory-stress-64m")]
    MemoryStress64m,
    #[serde(rename = "memory-stress-128m")]
    MemoryStress128m,
}

impl LoadTestPreset {
    /// Every preset, in the order the dashboard lists them.
    pub const ALL: [LoadTestPreset; 10] = [
        Self::LightLoad,
        Self::StandardLoad,
        Self::HeavyLoad,
        Self::RampUp,
        Self::HttpbinApi,
        Self::StrictSla,
        Self::CpuStressLight,
        Self::CpuStressHeavy,
        Self::MemoryStress64m,
        Self::MemoryStress128m,
    ];

    /// The preset's name as written in a spec, e.g. `light-load`.
    pub fn name(self) -> &'static str {
        match self {
            Self::LightLoad => "light-load",
            Self::StandardLoad => "standard-load",
            Self::HeavyLoad => "heavy-load",
            Self::RampUp => "ramp-up",
            Self::HttpbinApi => "httpbin-api",
            Self::StrictSla => "strict-sla",
            Self::CpuStressLight => "cpu-stress-light",
            Self::CpuStressHeavy => "cpu-stress-heavy",
            Self::MemoryStress64m => "memory-stress-64m",
            Self::MemoryStress128m => "memory-stress-128m",
        }
    }
}

/// A stress-ng run: CPU workers, or memory workers that each allocate and touch vmBytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("self.kind == 'memory' || !has(self.vmBytes)")
    .message("vmBytes applies to kind memory only")
    .field_path(".vmBytes"))]
pub struct StressLoad {
    /// `cpu` (stress-ng --cpu) or `memory` (stress-ng --vm).
    pub kind: StressKind,
    /// Number of stress-ng workers (1 to 64). Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub workers: Option<u32>,
    /// How long stress-ng runs, e.g. `30s`. Default 30s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    /// Memory per worker for kind memory, e.g. `64M`. Default 64M.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_bytes: Option<ByteSize>,
}

/// What a stress test exercises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StressKind {
    Cpu,
    Memory,
}

/// The observed state of a LoadTest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadTestStatus {
    /// Pending (waiting or queued), Starting (runner scheduled, pulling), Running,
    /// Succeeded, Failed, or Completed (ran, measured nothing: see reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<LoadTestPhase>,
    /// Why the test failed (or was cancelled), or, under Completed, why it measured nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<LoadTestReason>,
    /// A human-readable explanation of the phase and reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What runs: `http` (k6), `cpu` or `memory` (stress-ng).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_type: Option<TestType>,
    /// When the runner container started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When the test reached Succeeded, Failed or Completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// Elapsed time over expected duration while running, 0 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub progress_percent: Option<u32>,
    /// The measured results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<LoadTestResults>,
    /// Where the runner Job lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<RunnerRef>,
    /// The comparison with spec.baseline, once the test finished and its baseline was
    /// found (the RegressionDetected condition has the verdict).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// The target cluster's node CPU and memory before, during (peak) and after the run,
    /// from its metrics API; or why they were not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_usage: Option<crate::node_usage::NodeUsageRecord>,
    /// Conditions: Queued, RunnerCreated, Complete, RegressionDetected, and others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = conditions_list_type())]
    pub conditions: Vec<Condition>,
    /// The spec generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Phase of a LoadTest. Completed: the runner ran to its end but measured nothing (it ran on
/// a simulated node), neither a pass nor a failure; status.reason and the Measured condition
/// say why, and a gate or a threshold check never passes on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum LoadTestPhase {
    Pending,
    Starting,
    Running,
    Succeeded,
    Failed,
    Completed,
}

impl LoadTestPhase {
    /// Every phase.
    pub const ALL: [LoadTestPhase; 6] = [
        Self::Pending,
        Self::Starting,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Completed,
    ];

    /// Succeeded, Failed or Completed: the test is over.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Completed)
    }
}

/// Why a LoadTest failed, or (phase Completed) why it measured nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum LoadTestReason {
    /// k6 finished but at least one threshold failed; results are recorded.
    ThresholdsBreached,
    /// The runner ran past timeoutSeconds.
    Timeout,
    /// The runner exited non-zero for another reason.
    PodFailed,
    /// The runner ran out of memory.
    #[serde(rename = "OOMKilled")]
    OomKilled,
    /// No node can run the runner pod.
    Unschedulable,
    /// The runner image cannot be pulled.
    ImagePullFailed,
    /// The target cluster stayed unreachable past the retry window.
    ClusterUnavailable,
    /// The runner exited 0 without a parseable result.
    NoResults,
    /// The test was stopped before it finished.
    Cancelled,
    /// The spec cannot be planned (the API server's schema lets it through, the planner
    /// does not); the message names the field.
    InvalidSpec,
    /// The target cluster refused the runner for good (forbidden, invalid, over a quota, or
    /// a Job of that name belongs to another LoadTest); the message has the API server's
    /// words.
    RunnerRejected,
    /// The test breaks its cluster's spec.loadTestPolicy, or names a runner namespace the
    /// operator did not create; the message names the rule and the limit.
    PolicyViolation,
    /// The platform's API server refused the status that records the outcome (e.g. a result
    /// past the schema's range); the test ends with this minimal status instead of holding
    /// its cluster's slot. The runner's own report stays in its pod's termination message.
    StatusRejected,
    /// A header's valueFrom Secret cannot be used (missing, without the key, or not
    /// labelled `tartinfra.dev/loadtest-header: "true"`); the message names it.
    HeaderSecretInvalid,
    /// Phase Completed, not a failure: the runner ran on a simulated (kwok) node, whose pods
    /// do no work, so there are no latency, RPS or bogo-ops numbers and no threshold verdict.
    RunnerSimulated,
}

impl LoadTestReason {
    /// Every reason.
    pub const ALL: &[LoadTestReason] = &[
        Self::ThresholdsBreached,
        Self::Timeout,
        Self::PodFailed,
        Self::OomKilled,
        Self::Unschedulable,
        Self::ImagePullFailed,
        Self::ClusterUnavailable,
        Self::NoResults,
        Self::Cancelled,
        Self::InvalidSpec,
        Self::RunnerRejected,
        Self::PolicyViolation,
        Self::StatusRejected,
        Self::HeaderSecretInvalid,
        Self::RunnerSimulated,
    ];

    /// The reason as written in status.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ThresholdsBreached => "ThresholdsBreached",
            Self::Timeout => "Timeout",
            Self::PodFailed => "PodFailed",
            Self::OomKilled => "OOMKilled",
            Self::Unschedulable => "Unschedulable",
            Self::ImagePullFailed => "ImagePullFailed",
            Self::ClusterUnavailable => "ClusterUnavailable",
            Self::NoResults => "NoResults",
            Self::Cancelled => "Cancelled",
            Self::InvalidSpec => "InvalidSpec",
            Self::RunnerRejected => "RunnerRejected",
            Self::PolicyViolation => "PolicyViolation",
            Self::StatusRejected => "StatusRejected",
            Self::HeaderSecretInvalid => "HeaderSecretInvalid",
            Self::RunnerSimulated => "RunnerSimulated",
        }
    }
}

/// What a LoadTest runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TestType {
    Http,
    Cpu,
    Memory,
}

/// The measured results. HTTP fields come from k6's summary, bogo-ops from stress-ng.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadTestResults {
    /// Completed HTTP requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// Requests per second, averaged over the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rps: Option<f64>,
    /// Request duration statistics in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<LatencyMs>,
    /// Ratio of failed requests, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// The status-200 check's counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Checks>,
    /// Each threshold with its verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<ThresholdResult>,
    /// stress-ng bogo operations (all workers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bogo_ops: Option<u64>,
    /// stress-ng bogo operations per second of wall-clock time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bogo_ops_per_second: Option<f64>,
    /// How the latency percentiles were obtained when the test had several runners
    /// (spec.http.parallelism): `PerRunner` (each runner's in `runners`; percentiles cannot
    /// be merged from k6's summaries, so latencyMs keeps only the exactly mergeable avg, min
    /// and max) or `Merged` (from merged histograms). Unset with one runner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentiles: Option<Percentiles>,
    /// Each runner's own numbers, by index, when the test had several runners.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runners: Vec<RunnerResult>,
}

/// How a parallel test's latency percentiles were obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Percentiles {
    /// Reported per runner in `runners`, never averaged.
    PerRunner,
    /// Computed from the runners' merged histograms.
    Merged,
}

/// One runner's numbers in a parallel test.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunnerResult {
    /// The runner's index (its k6 execution segment is index/N to (index+1)/N).
    pub index: u32,
    /// Completed HTTP requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// Requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rps: Option<f64>,
    /// Ratio of failed requests, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// This runner's request duration statistics in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<LatencyMs>,
    /// Whether every threshold held on this runner's share of the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds_passed: Option<bool>,
}

/// Request duration statistics in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LatencyMs {
    /// Mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg: Option<f64>,
    /// Minimum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Median.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub med: Option<f64>,
    /// 90th percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90: Option<f64>,
    /// 95th percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95: Option<f64>,
    /// 99th percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<f64>,
    /// Maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// Check counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Checks {
    /// Passed checks.
    pub passed: u64,
    /// Failed checks.
    pub failed: u64,
}

/// One threshold and its verdict.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThresholdResult {
    /// The k6 metric, e.g. http_req_duration.
    pub metric: String,
    /// The expression, e.g. p(95)<2000.
    pub expression: String,
    /// Whether it held.
    pub passed: bool,
}

/// Where a runner Job lives.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunnerRef {
    /// The ManagedCluster.
    pub cluster: String,
    /// The namespace in that cluster.
    pub namespace: String,
    /// The Job's name.
    pub job: String,
}
