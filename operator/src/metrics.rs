//! The Prometheus registry (prometheus-client). Every subsystem registers its metrics here
//! under the `tart_operator_` prefix.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

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
}

type HistogramFamily = Family<ControllerLabels, Histogram, fn() -> Histogram>;

fn reconcile_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 14))
}

/// The operator's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciliations: Family<ControllerLabels, Counter>,
    reconcile_errors: Family<ErrorLabels, Counter>,
    reconcile_duration: HistogramFamily,
}

impl Metrics {
    /// A registry with the build info and the controller metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tart_operator");
        registry.register(
            "build",
            "The operator's version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let reconciliations = Family::<ControllerLabels, Counter>::default();
        registry.register(
            "reconciliations",
            "Reconcile runs by controller",
            reconciliations.clone(),
        );
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "reconcile_errors",
            "Reconcile runs that failed, by controller and kind of error",
            reconcile_errors.clone(),
        );
        let reconcile_duration: HistogramFamily = Family::new_with_constructor(reconcile_histogram);
        registry.register(
            "reconcile_duration_seconds",
            "How long reconcile runs take, by controller",
            reconcile_duration.clone(),
        );
        Self {
            registry,
            reconciliations,
            reconcile_errors,
            reconcile_duration,
        }
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

    /// Records one failed reconcile run.
    pub fn reconcile_failed(&self, controller: &str, error: &str) {
        self.reconcile_errors
            .get_or_create(&ErrorLabels {
                controller: controller.to_owned(),
                error: error.to_owned(),
            })
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_series_follow_prometheus_naming() {
        let m = Metrics::new();
        m.reconciled("loadtest", Duration::from_millis(12));
        m.reconcile_failed("loadtest", "kube");
        let text = m.encode().expect("encodes");
        assert!(
            text.contains("tart_operator_reconciliations_total{controller=\"loadtest\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "tart_operator_reconcile_errors_total{controller=\"loadtest\",error=\"kube\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "tart_operator_reconcile_duration_seconds_count{controller=\"loadtest\"} 1"
            ),
            "{text}"
        );
    }
}
