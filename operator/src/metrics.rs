//! The Prometheus registry (prometheus-client), under the `tart_operator_` prefix:
//! controller runs, per-LoadTest results, per-cluster health, HPA replicas and collector
//! errors. Series of objects that go away are removed.
//!
//! `/metrics` answers in OpenMetrics when the scraper asks for it (Prometheus does) and in
//! the Prometheus text format 0.0.4 otherwise (curl, promtool).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use crds::LoadTest;
use crds::load_test::LoadTestPhase;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::model::HpaSample;

/// Labels of per-controller series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// `managedcluster` or `loadtest`.
    pub controller: String,
}

/// Labels of reconcile failures.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The controller.
    pub controller: String,
    /// The kind of error, e.g. `kube`, `finalizer`.
    pub error: String,
    /// `transient` (retried with backoff) or `permanent` (needs a change to succeed).
    pub class: String,
}

/// Labels of per-LoadTest series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TestLabels {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Target cluster.
    pub cluster: String,
}

/// Labels of the per-LoadTest state series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TestStateLabels {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Target cluster.
    pub cluster: String,
    /// Pending, Starting, Running, Succeeded, Failed or Completed.
    pub state: String,
}

/// Labels of per-cluster series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabels {
    /// The cluster.
    pub cluster: String,
}

/// Labels of per-HPA series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HpaLabels {
    /// The cluster.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// The HPA's name.
    pub hpa: String,
}

/// Labels of collector errors.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// The cluster.
    pub cluster: String,
    /// The source: nodes, pods, metrics, ...
    pub source: String,
}

type HistogramFamily = Family<ControllerLabels, Histogram, fn() -> Histogram>;
type F64Gauge = Gauge<f64, AtomicU64>;

fn reconcile_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 14))
}

/// Records a reconcile run's duration when dropped (see [`Metrics::reconcile_timer`]).
#[must_use = "the run is recorded when the timer drops"]
pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    controller: &'static str,
    started: Instant,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.metrics
            .reconciled(self.controller, self.started.elapsed());
    }
}

/// The operator's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciliations: Family<ControllerLabels, Counter>,
    reconcile_errors: Family<ErrorLabels, Counter>,
    reconcile_duration: HistogramFamily,
    test_p95: Family<TestLabels, F64Gauge>,
    test_p99: Family<TestLabels, F64Gauge>,
    test_rps: Family<TestLabels, F64Gauge>,
    test_errors: Family<TestLabels, F64Gauge>,
    test_state: Family<TestStateLabels, Gauge>,
    cluster_ready: Family<ClusterLabels, Gauge>,
    cluster_nodes_ready: Family<ClusterLabels, Gauge>,
    cluster_nodes: Family<ClusterLabels, Gauge>,
    cluster_connections: Family<ClusterLabels, Counter>,
    hpa_current: Family<HpaLabels, Gauge>,
    hpa_desired: Family<HpaLabels, Gauge>,
    hpas_seen: Mutex<HashMap<String, HashSet<HpaLabels>>>,
    collector_errors: Family<SourceLabels, Counter>,
    leader: Gauge,
}

impl Metrics {
    /// A registry with every metric registered.
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("tart_operator");
        let build = Family::<Vec<(String, String)>, Gauge>::default();
        build
            .get_or_create(&vec![(
                "version".to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
            )])
            .set(1);
        r.register("build_info", "The operator's version (always 1)", build);
        macro_rules! reg {
            ($name:expr, $help:expr, $metric:expr) => {{
                let m = $metric;
                r.register($name, $help, m.clone());
                m
            }};
        }
        let reconcile_duration: HistogramFamily = Family::new_with_constructor(reconcile_histogram);
        Self {
            leader: reg!(
                "leader",
                "1 when this replica leads (reconciles); 0 while it follows",
                Gauge::default()
            ),
            reconciliations: reg!(
                "reconciliations",
                "Reconcile runs by controller",
                Family::default()
            ),
            reconcile_errors: reg!(
                "reconcile_errors",
                "Reconcile runs that failed, by controller, kind of error and class (transient or permanent)",
                Family::default()
            ),
            reconcile_duration: reg!(
                "reconcile_duration_seconds",
                "How long reconcile runs take, by controller",
                reconcile_duration
            ),
            test_p95: reg!(
                "loadtest_latency_p95_seconds",
                "95th percentile request duration of a finished LoadTest",
                Family::default()
            ),
            test_p99: reg!(
                "loadtest_latency_p99_seconds",
                "99th percentile request duration of a finished LoadTest",
                Family::default()
            ),
            test_rps: reg!(
                "loadtest_requests_per_second",
                "Requests per second of a finished LoadTest",
                Family::default()
            ),
            test_errors: reg!(
                "loadtest_error_ratio",
                "Ratio of failed requests of a finished LoadTest",
                Family::default()
            ),
            test_state: reg!(
                "loadtest_state",
                "1 for the LoadTest's current phase",
                Family::default()
            ),
            cluster_ready: reg!(
                "cluster_ready",
                "1 when the managed cluster is Ready",
                Family::default()
            ),
            cluster_nodes_ready: reg!(
                "cluster_nodes_ready",
                "Ready nodes of the managed cluster",
                Family::default()
            ),
            cluster_nodes: reg!(
                "cluster_nodes",
                "Nodes of the managed cluster",
                Family::default()
            ),
            cluster_connections: reg!(
                "cluster_connections",
                "Clients built for a managed cluster: its first connection and every reconnect after its kubeconfig changed",
                Family::default()
            ),
            hpa_current: reg!(
                "hpa_current_replicas",
                "Current replicas of an HPA",
                Family::default()
            ),
            hpa_desired: reg!(
                "hpa_desired_replicas",
                "Desired replicas of an HPA",
                Family::default()
            ),
            collector_errors: reg!(
                "collector_errors",
                "Failures of a data source of a cluster",
                Family::default()
            ),
            hpas_seen: Mutex::default(),
            registry: r,
        }
    }

    /// Times one reconcile run of `controller`: the run is recorded when the guard drops,
    /// on every path out of the reconcile.
    pub fn reconcile_timer(&self, controller: &'static str) -> ReconcileTimer<'_> {
        ReconcileTimer {
            metrics: self,
            controller,
            started: Instant::now(),
        }
    }

    /// Whether this replica leads.
    pub fn set_leader(&self, leads: bool) {
        self.leader.set(i64::from(leads));
    }

    /// Records one reconcile run.
    pub fn reconciled(&self, controller: &str, took: Duration) {
        let labels = ControllerLabels {
            controller: controller.to_owned(),
        };
        self.reconciliations.get_or_create(&labels).inc();
        self.reconcile_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// Records one failed reconcile run: the kind of error and its class.
    pub fn reconcile_failed(&self, controller: &str, error: &str, class: &str) {
        self.reconcile_errors
            .get_or_create(&ErrorLabels {
                controller: controller.to_owned(),
                error: error.to_owned(),
                class: class.to_owned(),
            })
            .inc();
    }

    fn test_labels(lt: &LoadTest) -> TestLabels {
        TestLabels {
            namespace: lt.metadata.namespace.clone().unwrap_or_default(),
            name: lt.metadata.name.clone().unwrap_or_default(),
            cluster: lt.spec.cluster.0.clone(),
        }
    }

    fn state_labels(l: &TestLabels, phase: LoadTestPhase) -> TestStateLabels {
        TestStateLabels {
            namespace: l.namespace.clone(),
            name: l.name.clone(),
            cluster: l.cluster.clone(),
            state: format!("{phase:?}"),
        }
    }

    /// Updates a LoadTest's series.
    pub fn observe_loadtest(&self, lt: &LoadTest) {
        let l = Self::test_labels(lt);
        let status = lt.status.clone().unwrap_or_default();
        for phase in LoadTestPhase::ALL {
            let labels = Self::state_labels(&l, phase);
            if Some(phase) == status.phase {
                self.test_state.get_or_create(&labels).set(1);
            } else {
                self.test_state.remove(&labels);
            }
        }
        let results = status.results.unwrap_or_default();
        let latency = results.latency_ms.unwrap_or_default();
        for (family, value) in [
            (&self.test_p95, latency.p95.map(|ms| ms / 1000.0)),
            (&self.test_p99, latency.p99.map(|ms| ms / 1000.0)),
            (&self.test_rps, results.rps),
            (&self.test_errors, results.error_rate),
        ] {
            match value {
                Some(v) => {
                    family.get_or_create(&l).set(v);
                }
                None => {
                    family.remove(&l);
                }
            }
        }
    }

    /// Removes a deleted LoadTest's series.
    pub fn forget_loadtest(&self, lt: &LoadTest) {
        let l = Self::test_labels(lt);
        for family in [
            &self.test_p95,
            &self.test_p99,
            &self.test_rps,
            &self.test_errors,
        ] {
            family.remove(&l);
        }
        for phase in LoadTestPhase::ALL {
            self.test_state.remove(&Self::state_labels(&l, phase));
        }
    }

    /// Updates a managed cluster's series.
    pub fn observe_cluster(&self, name: &str, ready: bool, nodes_ready: usize, nodes: usize) {
        let l = ClusterLabels {
            cluster: name.to_owned(),
        };
        self.cluster_ready.get_or_create(&l).set(i64::from(ready));
        self.cluster_nodes_ready
            .get_or_create(&l)
            .set(nodes_ready as i64);
        self.cluster_nodes.get_or_create(&l).set(nodes as i64);
    }

    /// Counts a client built for a managed cluster.
    pub fn cluster_connected(&self, name: &str) {
        self.cluster_connections
            .get_or_create(&ClusterLabels {
                cluster: name.to_owned(),
            })
            .inc();
    }

    /// Removes a deleted managed cluster's series (and its HPAs').
    pub fn forget_cluster(&self, name: &str) {
        let l = ClusterLabels {
            cluster: name.to_owned(),
        };
        self.cluster_ready.remove(&l);
        self.cluster_nodes_ready.remove(&l);
        self.cluster_nodes.remove(&l);
        self.observe_hpas(name, &[]);
    }

    /// Sets a cluster's HPA series to `samples`, removing HPAs that are gone.
    pub fn observe_hpas(&self, cluster: &str, samples: &[HpaSample]) {
        let mut now = HashSet::new();
        for s in samples {
            let labels = HpaLabels {
                cluster: cluster.to_owned(),
                namespace: s.namespace.clone(),
                hpa: s.name.clone(),
            };
            self.hpa_current
                .get_or_create(&labels)
                .set(i64::from(s.current_replicas));
            self.hpa_desired
                .get_or_create(&labels)
                .set(i64::from(s.desired_replicas));
            now.insert(labels);
        }
        if let Ok(mut seen) = self.hpas_seen.lock() {
            let before = seen
                .insert(cluster.to_owned(), now.clone())
                .unwrap_or_default();
            for gone in before.difference(&now) {
                self.hpa_current.remove(gone);
                self.hpa_desired.remove(gone);
            }
        }
    }

    /// Counts a failure of a cluster's data source.
    pub fn collector_error(&self, cluster: &str, source: &str) {
        self.collector_errors
            .get_or_create(&SourceLabels {
                cluster: cluster.to_owned(),
                source: source.to_owned(),
            })
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// The Prometheus text format 0.0.4 exposition.
    pub fn encode_text(&self) -> Result<String, std::fmt::Error> {
        Ok(openmetrics_to_text(&self.encode()?))
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Rewrites OpenMetrics as the Prometheus text format 0.0.4: counter families are named
/// with their `_total` samples, and the `# EOF` and `# UNIT` lines go.
pub fn openmetrics_to_text(openmetrics: &str) -> String {
    let counters: HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_series_follow_prometheus_naming() {
        let m = Metrics::new();
        drop(m.reconcile_timer("loadtest"));
        m.reconcile_failed("loadtest", "kube", "transient");
        let text = m.encode().expect("encodes");
        assert!(
            text.contains("tart_operator_reconciliations_total{controller=\"loadtest\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "tart_operator_reconcile_errors_total{controller=\"loadtest\",error=\"kube\",class=\"transient\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "tart_operator_reconcile_duration_seconds_count{controller=\"loadtest\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("tart_operator_build_info{version="), "{text}");
    }

    fn loadtest(phase: &str) -> LoadTest {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "tartinfra.dev/v1alpha1", "kind": "LoadTest",
            "metadata": { "name": "t", "namespace": "ns" },
            "spec": { "cluster": "dev", "preset": "light-load" },
            "status": { "phase": phase, "results": { "rps": 41.5, "errorRate": 0.01, "latencyMs": { "p95": 120.0, "p99": 250.0 } } },
        }))
        .expect("loadtest")
    }

    #[test]
    fn loadtest_series_follow_the_object_and_go_with_it() {
        let m = Metrics::new();
        m.observe_loadtest(&loadtest("Running"));
        m.observe_loadtest(&loadtest("Succeeded"));
        let text = m.encode().expect("encodes");
        assert!(text.contains(r#"tart_operator_loadtest_state{namespace="ns",name="t",cluster="dev",state="Succeeded"} 1"#), "{text}");
        assert!(
            !text.contains(r#"state="Running""#),
            "only the current state: {text}"
        );
        assert!(text.contains(r#"tart_operator_loadtest_latency_p95_seconds{namespace="ns",name="t",cluster="dev"} 0.12"#), "{text}");
        // A run that measured nothing has its own state, not Failed's (which alerts).
        m.observe_loadtest(&loadtest("Completed"));
        let text = m.encode().expect("encodes");
        assert!(text.contains(r#"tart_operator_loadtest_state{namespace="ns",name="t",cluster="dev",state="Completed"} 1"#), "{text}");
        assert!(!text.contains(r#"state="Succeeded""#), "{text}");
        m.forget_loadtest(&loadtest("Completed"));
        let text = m.encode().expect("encodes");
        assert!(!text.contains(r#"name="t""#), "{text}");
    }

    #[test]
    fn hpa_series_of_removed_hpas_go() {
        let m = Metrics::new();
        let s = |name: &str| HpaSample {
            namespace: "demo".into(),
            name: name.into(),
            current_replicas: 3,
            desired_replicas: 4,
            ..HpaSample::default()
        };
        m.observe_hpas("dev", &[s("a"), s("b")]);
        m.observe_hpas("dev", &[s("a")]);
        let text = m.encode().expect("encodes");
        assert!(
            text.contains(
                r#"tart_operator_hpa_desired_replicas{cluster="dev",namespace="demo",hpa="a"} 4"#
            ),
            "{text}"
        );
        assert!(!text.contains(r#"hpa="b""#), "{text}");
        m.forget_cluster("dev");
        assert!(!m.encode().expect("encodes").contains(r#"hpa="a""#));
    }

    #[test]
    fn the_text_format_names_counters_with_their_samples() {
        let m = Metrics::new();
        m.reconciled("x", Duration::from_millis(1));
        let text = m.encode_text().expect("encodes");
        assert!(
            text.contains("# TYPE tart_operator_reconciliations_total counter"),
            "{text}"
        );
        assert!(
            text.contains("# HELP tart_operator_reconciliations_total "),
            "{text}"
        );
        assert!(!text.contains("# EOF"));
    }
}
