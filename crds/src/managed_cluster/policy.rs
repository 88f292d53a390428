//! `spec.loadTestPolicy` of a ManagedCluster: what LoadTests aimed at the cluster may do,
//! decided by the cluster's owner. Every field has a default that is safe for prod, and the
//! API server fills the defaults in (the field itself defaults to `{}`), so what `kubectl get
//! managedcluster -o yaml` shows is what applies. The controller enforces all of it
//! (`operator/src/controllers/load_test/policy.rs`); the chart's ValidatingAdmissionPolicy
//! refuses at create what the spec states (`charts/tart-operator/templates/loadtest-policy.yaml`).

use std::borrow::Cow;
use std::fmt;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::KubeSchema;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::common::{DnsLabel, GoDuration};
use crate::load_test::DEFAULT_RUNNER_NAMESPACE;

/// The entry of `allowedNamespaces` that allows every platform namespace.
pub const ANY_NAMESPACE: &str = "*";
/// Default `maxVUs`: heavy-load and scale-heavy, the largest presets, use 200.
pub const DEFAULT_MAX_VUS: u32 = 200;
/// Default `maxDuration`: the longest preset load (scale-heavy) is 2m.
pub const DEFAULT_MAX_DURATION: &str = "10m";
/// Default `maxWorkers`: the stress presets use at most 2.
pub const DEFAULT_MAX_WORKERS: u32 = 4;
/// Default `maxParallelism`: a test may spread over 4 runner pods.
pub const DEFAULT_MAX_PARALLELISM: u32 = 4;
/// Default `maxMemoryPerRunner`: twice the runner's default limit (512Mi).
pub const DEFAULT_MAX_MEMORY: &str = "1Gi";
/// Default `maxCpuPerRunner`: the runner's default limit.
pub const DEFAULT_MAX_CPU: &str = "1";

/// What LoadTests aimed at this cluster may do. A LoadTest that breaks a rule is refused at
/// create where the spec states it, and always by the operator, which ends it Failed with
/// reason PolicyViolation and a message naming the rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadTestPolicy {
    /// Platform namespaces whose LoadTests may target this cluster; `*` allows all.
    /// Default `[*]` (who may create LoadTests at all is RBAC's say).
    #[serde(default = "default_allowed_namespaces")]
    #[schemars(length(min = 1, max = 64))]
    pub allowed_namespaces: Vec<DnsLabelOrAny>,
    /// Images a LoadTest's spec.image may name: a registry or path prefix ending in `/`
    /// (`registry.example.com/loadtest/`), a repository (`grafana/k6`: any tag or digest of
    /// it), or an exact reference (`grafana/k6@sha256:...`). Default empty: spec.image must
    /// be unset, so runners use the operator's own images.
    #[serde(default)]
    #[schemars(length(max = 32))]
    pub allowed_images: Vec<ImagePattern>,
    /// Namespaces of this cluster runners may use (spec.runnerNamespace). The operator
    /// creates them and refuses one it did not create. Default `[tart-loadtest]`.
    #[serde(default = "default_runner_namespaces")]
    #[schemars(length(min = 1, max = 32))]
    pub runner_namespaces: Vec<DnsLabel>,
    /// The most virtual users of an HTTP test (vus, or the highest stage target), counted
    /// across all its runners (spec.http.parallelism splits them). Default 200.
    #[serde(rename = "maxVUs", default = "default_max_vus")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_vus: u32,
    /// The longest load (an HTTP test's ramps and hold, or stages; a stress test's
    /// timeout), e.g. `10m`. Default 10m.
    #[serde(default = "default_max_duration")]
    pub max_duration: GoDuration,
    /// The most stress-ng workers of a stress test. Default 4.
    #[serde(default = "default_max_workers")]
    #[schemars(range(min = 1, max = 64))]
    pub max_workers: u32,
    /// The most runner pods of one HTTP test (spec.http.parallelism). Each runner asks for
    /// spec.resources (within maxCpuPerRunner and maxMemoryPerRunner); a parallel test still
    /// takes one slot of maxConcurrentTests. Default 4.
    #[serde(default = "default_max_parallelism")]
    #[schemars(range(min = 1, max = 20))]
    pub max_parallelism: u32,
    /// The largest memory a runner may ask for (its spec.resources memory limit and request).
    /// Default 1Gi.
    #[serde(default = "default_max_memory")]
    pub max_memory_per_runner: Quantity,
    /// The most CPU a runner may ask for (its spec.resources CPU limit and request).
    /// Default 1.
    #[serde(default = "default_max_cpu")]
    pub max_cpu_per_runner: Quantity,
    /// At most this many LoadTests run at once on this cluster; lowers (never raises) the
    /// operator's --max-tests-per-cluster. Unset: the operator's setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_concurrent_tests: Option<u32>,
}

impl Default for LoadTestPolicy {
    fn default() -> Self {
        Self {
            allowed_namespaces: default_allowed_namespaces(),
            allowed_images: Vec::new(),
            runner_namespaces: default_runner_namespaces(),
            max_vus: default_max_vus(),
            max_duration: default_max_duration(),
            max_workers: default_max_workers(),
            max_parallelism: default_max_parallelism(),
            max_memory_per_runner: default_max_memory(),
            max_cpu_per_runner: default_max_cpu(),
            max_concurrent_tests: None,
        }
    }
}

fn default_allowed_namespaces() -> Vec<DnsLabelOrAny> {
    vec![DnsLabelOrAny(ANY_NAMESPACE.to_owned())]
}

fn default_runner_namespaces() -> Vec<DnsLabel> {
    vec![DnsLabel::from(DEFAULT_RUNNER_NAMESPACE)]
}

fn default_max_vus() -> u32 {
    DEFAULT_MAX_VUS
}

fn default_max_duration() -> GoDuration {
    GoDuration::from(DEFAULT_MAX_DURATION)
}

fn default_max_workers() -> u32 {
    DEFAULT_MAX_WORKERS
}

fn default_max_parallelism() -> u32 {
    DEFAULT_MAX_PARALLELISM
}

fn default_max_memory() -> Quantity {
    Quantity(DEFAULT_MAX_MEMORY.to_owned())
}

fn default_max_cpu() -> Quantity {
    Quantity(DEFAULT_MAX_CPU.to_owned())
}

validated_string!(
    /// A namespace name, or `*` for every namespace.
    DnsLabelOrAny,
    max = 63,
    rule = "self == '*' || self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",
    message = "must be a namespace name (a DNS label) or * for every namespace"
);

validated_string!(
    /// An image allow-list entry: a prefix ending in `/`, a repository, or an exact reference.
    ImagePattern,
    max = 512,
    rule = "self.matches('^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$')",
    message = "must be a registry or path prefix ending in / (registry.example.com/loadtest/), a repository (grafana/k6) or an exact image reference (grafana/k6@sha256:...)"
);

impl ImagePattern {
    /// Whether `image` is allowed by this entry: equal to it, under it when it ends in `/`,
    /// or a tag or digest of it when it names a repository.
    pub fn allows(&self, image: &str) -> bool {
        let e = self.as_str();
        image == e
            || (e.ends_with('/') && image.starts_with(e))
            || image
                .strip_prefix(e)
                .is_some_and(|rest| rest.starts_with(':') || rest.starts_with('@'))
    }
}

impl DnsLabelOrAny {
    /// Whether this entry allows namespace `ns`.
    pub fn allows(&self, ns: &str) -> bool {
        self.as_str() == ANY_NAMESPACE || self.as_str() == ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_entries_match_prefixes_repositories_and_exact_references() {
        let prefix = ImagePattern::from("registry.example.com/loadtest/");
        assert!(prefix.allows("registry.example.com/loadtest/k6:1.0"));
        assert!(!prefix.allows("registry.example.com/other/k6:1.0"));
        let repo = ImagePattern::from("grafana/k6");
        assert!(repo.allows("grafana/k6:1.7.1"));
        assert!(repo.allows("grafana/k6@sha256:abc"));
        assert!(
            !repo.allows("grafana/k6-evil:1.0"),
            "a repository is not a string prefix"
        );
        let exact = ImagePattern::from("grafana/k6@sha256:abc");
        assert!(exact.allows("grafana/k6@sha256:abc"));
        assert!(!exact.allows("grafana/k6@sha256:abd"));
    }

    #[test]
    fn an_absent_policy_reads_as_the_defaults() {
        let p: LoadTestPolicy = serde_json::from_str("{}").expect("json");
        assert_eq!(p, LoadTestPolicy::default());
        assert!(p.allowed_namespaces[0].allows("anything"));
        assert!(p.allowed_images.is_empty());
        assert_eq!(p.runner_namespaces, [DnsLabel::from("tart-loadtest")]);
    }
}
