//! Run comparison (pure), shared by the LoadTest and ScalingExperiment controllers: when a
//! run with `spec.baseline` finishes, pick the baseline among the runs its observe read
//! (same kind, same namespace), compare what both measured metric by metric, and write
//! `status.comparison` and the `RegressionDetected` condition. Done once: a run that has the
//! condition is never compared again. What was not measured is never compared.

use std::collections::BTreeMap;
use std::sync::Arc;

use crds::common::{Condition, Time};
use crds::comparison::{
    BaselineRun, BaselineSelector, Comparison, ExperimentTolerance, LoadTestTolerance, Metric,
    MetricDelta,
};
use crds::conditions::{ComparisonCondition as C, ComparisonReason as R};
use crds::load_test::{LoadTestPhase, LoadTestReason, LoadTestStatus, Percentiles};
use crds::scaling_experiment::{ExperimentPhase, ExperimentReason, ScalingExperimentStatus};
use crds::{LoadTest, ScalingExperiment};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::reflector::Store;

use crate::conditions::{self, Stamp};

/// One metric of one run: `Ok(Some(v))` measured, `Ok(None)` the event did not happen (no
/// scale-up), `Err(why)` not measured.
pub type Reading = Result<Option<f64>, String>;

/// What comparison needs of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts {
    /// It has finished.
    pub finished: bool,
    /// When.
    pub finished_at: Option<Timestamp>,
    /// Each metric of its kind with its reading, or why the run measured nothing at all.
    pub readings: Result<Vec<(Metric, Reading)>, String>,
}

/// A kind whose runs can be compared.
pub trait Run: ResourceExt {
    /// The kind's name in messages, e.g. `LoadTest`.
    const KIND: &'static str;
    /// The run's facts, from its status.
    fn facts(&self) -> Facts;
}

/// How far a metric may move, in its worse direction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tolerance {
    /// Higher is worse: up by at most this percentage of the baseline.
    RisePercent(f64),
    /// Lower is worse: down by at most this percentage of the baseline.
    DropPercent(f64),
    /// A ratio (0 to 1) where higher is worse: up by at most this many percentage points.
    RisePoints(f64),
    /// Either way by at most this much.
    Either(f64),
}

impl Tolerance {
    fn describe(self) -> String {
        match self {
            Self::RisePercent(p) => format!("+{p}%"),
            Self::DropPercent(p) => format!("-{p}%"),
            Self::RisePoints(p) => format!("+{p} points"),
            Self::Either(n) => format!("±{n}"),
        }
    }

    /// Whether `current` is worse than `baseline` past this tolerance.
    fn passed(self, baseline: Option<f64>, current: Option<f64>) -> bool {
        let (b, c) = match (baseline, current) {
            (Some(b), Some(c)) => (b, c),
            // The event stopped happening (e.g. no scale-up any more): worse for a metric
            // where higher is worse and "never" is the worst; one that started is better.
            (Some(_), None) => return matches!(self, Self::RisePercent(_)),
            _ => return false,
        };
        match self {
            Self::RisePercent(p) if b > 0.0 => (c - b) / b * 100.0 > p,
            Self::RisePercent(_) => c > b,
            Self::DropPercent(p) if b > 0.0 => (b - c) / b * 100.0 > p,
            Self::DropPercent(_) => false,
            Self::RisePoints(p) => (c - b) * 100.0 > p,
            Self::Either(n) => (c - b).abs() > n,
        }
    }
}

/// The verdict of a finished run with a baseline.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The comparison, when a baseline was found that measured something.
    pub comparison: Option<Comparison>,
    /// True (regressed), False (within tolerance) or None (Unknown).
    pub regressed: Option<bool>,
    /// The condition's reason.
    pub reason: R,
    /// The condition's message.
    pub message: String,
}

impl Verdict {
    fn unknown(reason: R, message: String) -> Self {
        Self {
            comparison: None,
            regressed: None,
            reason,
            message,
        }
    }
}

/// Whether a run with a baseline still needs its comparison: finished, and not compared yet.
pub fn due(finished: bool, conditions: &[Condition]) -> bool {
    finished && conditions::get(conditions, C::RegressionDetected).is_none()
}

/// The candidate baselines of a run that has a spec.baseline (`has_baseline`) and is not
/// compared yet: the other runs of its namespace in the controller's cache. None otherwise,
/// so a compared run costs nothing.
pub fn candidates<K>(
    run: &K,
    has_baseline: bool,
    conditions: &[Condition],
    cache: &Store<K>,
) -> Vec<Arc<K>>
where
    K: Run + kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    if !has_baseline || conditions::get(conditions, C::RegressionDetected).is_some() {
        return Vec::new();
    }
    cache
        .state()
        .into_iter()
        .filter(|other| other.namespace() == run.namespace() && other.uid() != run.uid())
        .collect()
}

/// Writes a verdict into a run's status.
pub fn record(
    verdict: Verdict,
    comparison: &mut Option<Comparison>,
    conditions: &mut Vec<Condition>,
    at: Stamp,
) {
    *comparison = verdict.comparison;
    at.set_status(
        conditions,
        C::RegressionDetected,
        verdict.regressed,
        verdict.reason,
        verdict.message,
    );
}

/// Compares the finished run `this` (its `facts` from the status about to be written) with
/// the baseline `selector` picks among `candidates` (runs of the same kind and namespace),
/// within `tolerance` per metric (pure).
pub fn verdict<K: Run>(
    this: &K,
    facts: &Facts,
    selector: BaselineSelector<'_>,
    candidates: &[std::sync::Arc<K>],
    tolerance: impl Fn(Metric) -> Tolerance,
) -> Verdict {
    let kind = K::KIND;
    let ns = this.namespace().unwrap_or_default();
    let current = match &facts.readings {
        Ok(r) => r,
        Err(why) => {
            return Verdict::unknown(
                R::NotMeasured,
                format!("not compared: this run measured nothing ({why})"),
            );
        }
    };
    let baseline = match pick(this, facts, selector, candidates) {
        Ok(b) => b,
        Err((reason, message)) => return Verdict::unknown(reason, message),
    };
    let base_facts = baseline.facts();
    let base_name = baseline.name_any();
    let base_readings = match &base_facts.readings {
        Ok(r) => r,
        Err(why) => {
            return Verdict::unknown(
                R::BaselineNotMeasured,
                format!(
                    "not compared: baseline {kind} {ns}/{base_name} measured nothing ({why}); name a run that measured something in spec.baseline of a new run"
                ),
            );
        }
    };
    let base: BTreeMap<_, _> = base_readings.iter().map(|(m, r)| (m.name(), r)).collect();
    let mut metrics = Vec::new();
    let mut not_compared = Vec::new();
    for (metric, reading) in current {
        let Some(base_reading) = base.get(metric.name()) else {
            continue;
        };
        let (b, c) = match (base_reading, reading) {
            (Ok(b), Ok(c)) => (*b, *c),
            (Err(why), _) => {
                not_compared.push(format!("{}: baseline {why}", metric.name()));
                continue;
            }
            (_, Err(why)) => {
                not_compared.push(format!("{}: {why}", metric.name()));
                continue;
            }
        };
        let t = tolerance(*metric);
        let delta = b.zip(c).map(|(b, c)| c - b);
        metrics.push(MetricDelta {
            metric: *metric,
            baseline: b,
            current: c,
            delta,
            delta_percent: delta
                .zip(b)
                .filter(|(_, b)| *b != 0.0)
                .map(|(d, b)| d / b * 100.0),
            tolerance: t.describe(),
            regressed: t.passed(b, c),
        });
    }
    let comparison = Comparison {
        baseline: BaselineRun {
            name: base_name.clone(),
            uid: baseline.uid(),
            finished_at: base_facts.finished_at.map(Time),
        },
        metrics,
        not_compared,
    };
    let against = format!("baseline {kind} {base_name}");
    let skipped = if comparison.not_compared.is_empty() {
        String::new()
    } else {
        format!("; not compared: {}", comparison.not_compared.join(", "))
    };
    if comparison.metrics.is_empty() {
        return Verdict {
            message: format!(
                "not compared: this run and {against} measured no metric in common{skipped}"
            ),
            comparison: Some(comparison),
            regressed: None,
            reason: R::NothingToCompare,
        };
    }
    let regressed: Vec<String> = comparison
        .metrics
        .iter()
        .filter(|m| m.regressed)
        .map(describe)
        .collect();
    let (regressed, reason, message) = if regressed.is_empty() {
        let all: Vec<String> = comparison.metrics.iter().map(describe).collect();
        let message = format!("within tolerance of {against}: {}{skipped}", all.join(", "));
        (false, R::WithinTolerance, message)
    } else {
        let message = format!(
            "worse than {against} past tolerance: {}{skipped}",
            regressed.join(", ")
        );
        (true, R::Regressed, message)
    };
    Verdict {
        comparison: Some(comparison),
        regressed: Some(regressed),
        reason,
        message,
    }
}

/// `p95Ms 120 → 150 (+25.0%, tolerance +10%)`.
fn describe(m: &MetricDelta) -> String {
    let value = |v: Option<f64>| v.map_or_else(|| "none".to_owned(), |v| format!("{}", round(v)));
    let percent = m
        .delta_percent
        .map(|p| format!("{p:+.1}%, "))
        .unwrap_or_default();
    format!(
        "{} {} → {} ({percent}tolerance {})",
        m.metric.name(),
        value(m.baseline),
        value(m.current),
        m.tolerance
    )
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The baseline run, or the Unknown reason and message saying why there is none.
fn pick<'a, K: Run>(
    this: &K,
    facts: &Facts,
    selector: BaselineSelector<'_>,
    candidates: &'a [std::sync::Arc<K>],
) -> Result<&'a K, (R, String)> {
    let kind = K::KIND;
    let ns = this.namespace().unwrap_or_default();
    let others = candidates
        .iter()
        .map(AsRef::as_ref)
        .filter(|c| c.uid() != this.uid() && c.namespace() == this.namespace());
    match selector {
        BaselineSelector::Name(name) => {
            let Some(found) = others.into_iter().find(|c| c.name_any() == name) else {
                return Err((
                    R::BaselineNotFound,
                    format!(
                        "not compared: spec.baseline.name names no other {kind} in namespace {ns}: {name:?}; run again with the name of an earlier run (`kubectl get {} -n {ns}`)",
                        kind.to_lowercase()
                    ),
                ));
            };
            if !found.facts().finished {
                return Err((
                    R::BaselineNotFinished,
                    format!(
                        "not compared: baseline {kind} {ns}/{name} had not finished when this run did; name a finished run in spec.baseline.name"
                    ),
                ));
            }
            Ok(found)
        }
        BaselineSelector::Labels(labels) => {
            let matches = |c: &K| {
                let have = c.labels();
                labels.iter().all(|(k, v)| have.get(k) == Some(v))
            };
            others
                .filter(|c| matches(c))
                .map(|c| (c, c.facts()))
                .filter(|(_, f)| f.finished && f.readings.is_ok())
                .filter(|(_, f)| match (f.finished_at, facts.finished_at) {
                    (Some(theirs), Some(ours)) => theirs <= ours,
                    _ => true,
                })
                .max_by_key(|(c, f)| (f.finished_at, c.name_any()))
                .map(|(c, _)| c)
                .ok_or_else(|| {
                    let selector: Vec<String> =
                        labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    (
                        R::BaselineNotFound,
                        format!(
                            "not compared: no earlier finished {kind} in namespace {ns} with labels {} measured anything; this run can be the baseline of the next one",
                            selector.join(",")
                        ),
                    )
                })
        }
    }
}

impl Run for LoadTest {
    const KIND: &'static str = "LoadTest";

    fn facts(&self) -> Facts {
        match &self.status {
            Some(s) => load_test_facts(s),
            None => load_test_facts(&LoadTestStatus::default()),
        }
    }
}

/// A LoadTest's facts from its status: an HTTP test's p95, p99 (whole-run percentiles
/// only), RPS and error rate; a stress test's bogo-ops per second.
pub fn load_test_facts(s: &LoadTestStatus) -> Facts {
    let finished = s.phase.is_some_and(LoadTestPhase::is_finished);
    let readings = match (&s.results, s.phase, s.reason) {
        (_, Some(LoadTestPhase::Completed), reason) => Err(format!(
            "{}: it ran but measured nothing",
            reason.map_or("Completed", LoadTestReason::name)
        )),
        (None, _, Some(reason)) => Err(format!("it ended {} without results", reason.name())),
        (None, _, None) => Err("it has no results".to_owned()),
        (Some(r), _, _) if r.bogo_ops.is_some() || r.bogo_ops_per_second.is_some() => Ok(vec![(
            Metric::BogoOpsPerSecond,
            r.bogo_ops_per_second
                .map(Some)
                .ok_or_else(|| "not measured".to_owned()),
        )]),
        (Some(r), _, _) => {
            let measured = |v: Option<f64>| v.map(Some).ok_or_else(|| "not measured".to_owned());
            let percentile = |v: Option<f64>| {
                if r.percentiles == Some(Percentiles::PerRunner) {
                    Err("percentiles per runner, never merged".to_owned())
                } else {
                    measured(v)
                }
            };
            let latency = r.latency_ms.clone().unwrap_or_default();
            Ok(vec![
                (Metric::P95Ms, percentile(latency.p95)),
                (Metric::P99Ms, percentile(latency.p99)),
                (Metric::Rps, measured(r.rps)),
                (Metric::ErrorRate, measured(r.error_rate)),
            ])
        }
    };
    Facts {
        finished,
        finished_at: s.finished_at.as_ref().map(|t| t.0),
        readings,
    }
}

/// A LoadTest's tolerance of each metric.
pub fn load_test_tolerance(t: &LoadTestTolerance) -> impl Fn(Metric) -> Tolerance + '_ {
    |m| match m {
        Metric::P95Ms => Tolerance::RisePercent(t.p95_percent),
        Metric::P99Ms => Tolerance::RisePercent(t.p99_percent),
        Metric::Rps => Tolerance::DropPercent(t.rps_percent),
        Metric::ErrorRate => Tolerance::RisePoints(t.error_rate_points),
        Metric::BogoOpsPerSecond => Tolerance::DropPercent(t.bogo_ops_percent),
        Metric::ScaleUpLatencySeconds | Metric::PeakReplicas => Tolerance::Either(0.0),
    }
}

impl Run for ScalingExperiment {
    const KIND: &'static str = "ScalingExperiment";

    fn facts(&self) -> Facts {
        match &self.status {
            Some(s) => experiment_facts(s),
            None => experiment_facts(&ScalingExperimentStatus::default()),
        }
    }
}

/// An experiment's facts from its status: scale-up latency and peak replicas.
pub fn experiment_facts(s: &ScalingExperimentStatus) -> Facts {
    let readings = match (s.phase, s.reason, &s.kpis) {
        (Some(ExperimentPhase::Failed), reason, _) => Err(format!(
            "it failed ({})",
            reason.map_or("Failed", ExperimentReason::name)
        )),
        (_, _, Some(k)) if k.peak_replicas.is_some() => Ok(vec![
            (
                Metric::ScaleUpLatencySeconds,
                Ok(k.scale_up_latency_seconds),
            ),
            (Metric::PeakReplicas, Ok(k.peak_replicas.map(f64::from))),
        ]),
        _ => Err("it has no HPA samples".to_owned()),
    };
    Facts {
        finished: s.phase.is_some_and(ExperimentPhase::is_finished),
        finished_at: s.finished_at.as_ref().map(|t| t.0),
        readings,
    }
}

/// An experiment's tolerance of each metric.
pub fn experiment_tolerance(t: &ExperimentTolerance) -> impl Fn(Metric) -> Tolerance + '_ {
    |m| match m {
        Metric::ScaleUpLatencySeconds => Tolerance::RisePercent(t.scale_up_latency_percent),
        Metric::PeakReplicas => Tolerance::Either(f64::from(t.peak_replicas)),
        Metric::P95Ms
        | Metric::P99Ms
        | Metric::Rps
        | Metric::ErrorRate
        | Metric::BogoOpsPerSecond => Tolerance::Either(0.0),
    }
}

#[cfg(test)]
#[path = "comparison_tests.rs"]
mod tests;
