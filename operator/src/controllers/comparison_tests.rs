//! Table tests of run comparison: a finished run, the runs of its namespace, and the verdict.

use std::sync::Arc;

use crds::comparison::{ExperimentBaseline, LoadTestBaseline};
use serde_json::{Value, json};

use super::*;

const T0: i64 = 1_800_000_000;

fn iso(secs: i64) -> String {
    Timestamp::from_second(T0 + secs).expect("time").to_string()
}

/// A LoadTest `team/<name>` (uid = name) with `labels`, `spec.baseline` and `status`.
fn test(name: &str, labels: Value, baseline: Value, status: Value) -> LoadTest {
    serde_json::from_value(json!({
        "apiVersion": "tartinfra.dev/v1alpha1", "kind": "LoadTest",
        "metadata": { "name": name, "namespace": "team", "uid": name, "labels": labels },
        "spec": { "cluster": "dev", "preset": "light-load", "baseline": baseline },
        "status": status,
    }))
    .expect("loadtest")
}

/// A Succeeded test's status with these numbers, finished at `at`.
fn measured(at: i64, p95: f64, p99: f64, rps: f64, errors: f64) -> Value {
    json!({ "phase": "Succeeded", "finishedAt": iso(at), "results": {
        "rps": rps, "errorRate": errors, "latencyMs": { "p95": p95, "p99": p99 } } })
}

fn by_name(name: &str) -> Value {
    json!({ "name": name })
}

/// Compares `this` with `others` by its own spec.baseline.
fn judge(this: &LoadTest, others: &[LoadTest]) -> Verdict {
    let baseline: &LoadTestBaseline = this.spec.baseline.as_ref().expect("baseline");
    let others: Vec<Arc<LoadTest>> = others.iter().cloned().map(Arc::new).collect();
    verdict(
        this,
        &this.facts(),
        baseline.selector().expect("selector"),
        &others,
        load_test_tolerance(&baseline.tolerance),
    )
}

fn delta(v: &Verdict, metric: Metric) -> Option<&MetricDelta> {
    v.comparison
        .as_ref()?
        .metrics
        .iter()
        .find(|m| m.metric == metric)
}

#[test]
fn a_slower_run_regresses_and_the_message_names_the_metric() {
    let base = test(
        "v1",
        json!({}),
        Value::Null,
        measured(10, 100.0, 200.0, 50.0, 0.0),
    );
    let slow = test(
        "v2",
        json!({}),
        by_name("v1"),
        measured(20, 130.0, 210.0, 48.0, 0.005),
    );
    let v = judge(&slow, &[base]);
    assert_eq!((v.regressed, v.reason), (Some(true), R::Regressed));
    let p95 = delta(&v, Metric::P95Ms).expect("p95");
    assert_eq!((p95.delta, p95.delta_percent), (Some(30.0), Some(30.0)));
    assert!(p95.regressed);
    // p99 +5 %, RPS -4 %, errors +0.5 points: within the default tolerances.
    for m in [Metric::P99Ms, Metric::Rps, Metric::ErrorRate] {
        assert!(!delta(&v, m).expect("metric").regressed, "{m:?}");
    }
    assert!(
        v.message
            .contains("p95Ms 100 → 130 (+30.0%, tolerance +10%)"),
        "{}",
        v.message
    );
    assert!(!v.message.contains("p99Ms"), "{}", v.message);
    let c = v.comparison.expect("comparison");
    assert_eq!(
        (c.baseline.name.as_str(), c.baseline.uid.as_deref()),
        ("v1", Some("v1"))
    );
    assert_eq!(
        c.baseline.finished_at.map(|t| t.0.to_string()),
        Some(iso(10))
    );
}

#[test]
fn each_metric_regresses_in_its_worse_direction_only() {
    let base = || {
        test(
            "v1",
            json!({}),
            Value::Null,
            measured(10, 100.0, 100.0, 100.0, 0.01),
        )
    };
    // (name, this run's numbers, the metric that must regress; None: within tolerance)
    let cases: [(&str, Value, Option<Metric>); 6] = [
        ("faster is fine", measured(20, 50.0, 50.0, 200.0, 0.0), None),
        (
            "p99 up 11 %",
            measured(20, 100.0, 111.0, 100.0, 0.01),
            Some(Metric::P99Ms),
        ),
        (
            "rps down 11 %",
            measured(20, 100.0, 100.0, 89.0, 0.01),
            Some(Metric::Rps),
        ),
        (
            "rps down 10 % is the limit",
            measured(20, 100.0, 100.0, 90.0, 0.01),
            None,
        ),
        (
            "errors up 1.5 points",
            measured(20, 100.0, 100.0, 100.0, 0.025),
            Some(Metric::ErrorRate),
        ),
        (
            "errors up 1 point is the limit",
            measured(20, 100.0, 100.0, 100.0, 0.02),
            None,
        ),
    ];
    for (name, status, regressed) in cases {
        let run = test("v2", json!({}), by_name("v1"), status);
        let v = judge(&run, &[base()]);
        let flagged: Vec<Metric> = v
            .comparison
            .iter()
            .flat_map(|c| &c.metrics)
            .filter(|m| m.regressed)
            .map(|m| m.metric)
            .collect();
        assert_eq!(flagged, regressed.into_iter().collect::<Vec<_>>(), "{name}");
        let expect = if regressed.is_some() {
            R::Regressed
        } else {
            R::WithinTolerance
        };
        assert_eq!(v.reason, expect, "{name}");
        if regressed.is_none() {
            assert!(
                v.message.starts_with("within tolerance"),
                "{name}: {}",
                v.message
            );
        }
    }
}

#[test]
fn tolerances_come_from_the_spec() {
    let base = test(
        "v1",
        json!({}),
        Value::Null,
        measured(10, 100.0, 100.0, 100.0, 0.0),
    );
    let strict = json!({ "name": "v1", "tolerance": { "p95Percent": 0, "p99Percent": 50 } });
    let run = test(
        "v2",
        json!({}),
        strict,
        measured(20, 101.0, 140.0, 100.0, 0.0),
    );
    let v = judge(&run, &[base]);
    assert!(delta(&v, Metric::P95Ms).expect("p95").regressed);
    assert!(!delta(&v, Metric::P99Ms).expect("p99").regressed);
    assert_eq!(
        delta(&v, Metric::P99Ms).map(|m| m.tolerance.as_str()),
        Some("+50%")
    );
}

#[test]
fn unknown_when_there_is_nothing_to_compare_with_a_reason_and_the_fix() {
    let simulated =
        json!({ "phase": "Completed", "reason": "RunnerSimulated", "finishedAt": iso(10) });
    let running = json!({ "phase": "Running" });
    let failed = json!({ "phase": "Failed", "reason": "Timeout", "finishedAt": iso(10) });
    let ok = || measured(20, 100.0, 100.0, 100.0, 0.0);
    let cases: [(&str, LoadTest, Vec<LoadTest>, R, &str); 6] = [
        (
            "no such run",
            test("v2", json!({}), by_name("v0"), ok()),
            vec![],
            R::BaselineNotFound,
            "spec.baseline.name names no other LoadTest in namespace team: \"v0\"",
        ),
        (
            "the baseline still runs",
            test("v2", json!({}), by_name("v1"), ok()),
            vec![test("v1", json!({}), Value::Null, running)],
            R::BaselineNotFinished,
            "had not finished",
        ),
        (
            "the baseline ran on a simulated node",
            test("v2", json!({}), by_name("v1"), ok()),
            vec![test("v1", json!({}), Value::Null, simulated.clone())],
            R::BaselineNotMeasured,
            "RunnerSimulated",
        ),
        (
            "this run ran on a simulated node",
            test("v2", json!({}), by_name("v1"), simulated),
            vec![test("v1", json!({}), Value::Null, ok())],
            R::NotMeasured,
            "this run measured nothing (RunnerSimulated",
        ),
        (
            "this run failed without results",
            test("v2", json!({}), by_name("v1"), failed),
            vec![test("v1", json!({}), Value::Null, ok())],
            R::NotMeasured,
            "it ended Timeout without results",
        ),
        (
            "a run is never its own baseline",
            test("v2", json!({}), by_name("v2"), ok()),
            vec![test("v2", json!({}), by_name("v2"), ok())],
            R::BaselineNotFound,
            "names no other LoadTest",
        ),
    ];
    for (name, run, others, reason, says) in cases {
        let v = judge(&run, &others);
        assert_eq!((v.regressed, v.reason), (None, reason), "{name}");
        assert!(v.message.contains(says), "{name}: {}", v.message);
        assert!(v.comparison.is_none(), "{name}");
    }
}

#[test]
fn per_runner_percentiles_are_never_compared() {
    let per_runner = |rps: f64| {
        json!({ "phase": "Succeeded", "finishedAt": iso(10), "results": {
            "rps": rps, "errorRate": 0.0, "percentiles": "PerRunner", "latencyMs": { "avg": 10.0 } } })
    };
    let base = test(
        "v1",
        json!({}),
        Value::Null,
        measured(5, 10.0, 10.0, 100.0, 0.0),
    );
    let run = test("v2", json!({}), by_name("v1"), per_runner(50.0));
    let v = judge(&run, &[base]);
    assert_eq!(v.reason, R::Regressed);
    let c = v.comparison.expect("comparison");
    let compared: Vec<Metric> = c.metrics.iter().map(|m| m.metric).collect();
    assert_eq!(compared, [Metric::Rps, Metric::ErrorRate]);
    assert_eq!(c.not_compared.len(), 2);
    assert!(c.not_compared[0].starts_with("p95Ms: percentiles per runner"));
    // A stress test without its rate (an older status) measures nothing comparable:
    // Unknown, never a verdict.
    let stress =
        json!({ "phase": "Succeeded", "finishedAt": iso(10), "results": { "bogoOps": 5 } });
    let base = test("v1", json!({}), Value::Null, stress.clone());
    let v = judge(&test("v2", json!({}), by_name("v1"), stress), &[base]);
    assert_eq!((v.regressed, v.reason), (None, R::NothingToCompare));
    assert_eq!(
        v.comparison.map(|c| c.not_compared),
        Some(vec!["bogoOpsPerSecond: baseline not measured".to_owned()])
    );
}

/// A Succeeded stress test's status with this rate, finished at `at`.
fn stressed(at: i64, per_second: f64) -> Value {
    json!({ "phase": "Succeeded", "finishedAt": iso(at), "results": {
        "bogoOps": (per_second * 60.0) as u64, "bogoOpsPerSecond": per_second } })
}

#[test]
fn stress_tests_compare_bogo_ops_per_second_and_a_drop_past_the_tolerance_regresses() {
    // (baseline rate, this rate, spec tolerance, regressed, delta %)
    let rows = [
        (1000.0, 1000.0, json!({}), false, Some(0.0)),
        (1000.0, 905.0, json!({}), false, Some(-9.5)),
        (1000.0, 850.0, json!({}), true, Some(-15.0)),
        (1000.0, 2000.0, json!({}), false, Some(100.0)),
        (
            1000.0,
            850.0,
            json!({ "bogoOpsPercent": 20 }),
            false,
            Some(-15.0),
        ),
        (
            1000.0,
            999.0,
            json!({ "bogoOpsPercent": 0 }),
            true,
            Some(-0.1),
        ),
        // A baseline of 0 ops/s: no percentage, and nothing can fall below it.
        (0.0, 0.0, json!({}), false, None),
    ];
    for (base_rate, rate, tolerance, regressed, percent) in rows {
        let base = test("v1", json!({}), Value::Null, stressed(10, base_rate));
        let spec = json!({ "name": "v1", "tolerance": tolerance });
        let run = test("v2", json!({}), spec, stressed(20, rate));
        let v = judge(&run, &[base]);
        let row = format!("{base_rate} → {rate} ({tolerance}): {}", v.message);
        let c = v.comparison.as_ref().expect("comparison");
        assert_eq!(c.metrics.len(), 1, "{row}");
        assert!(c.not_compared.is_empty(), "{row}");
        let m = delta(&v, Metric::BogoOpsPerSecond).expect("bogo-ops");
        assert_eq!(m.regressed, regressed, "{row}");
        assert_eq!(v.regressed, Some(regressed), "{row}");
        assert_eq!(
            m.delta_percent.map(|p| (p * 10.0).round() / 10.0),
            percent,
            "{row}"
        );
        assert!(m.tolerance.starts_with('-'), "{row}");
    }
    let base = test("v1", json!({}), Value::Null, stressed(10, 1000.0));
    let v = judge(
        &test("v2", json!({}), by_name("v1"), stressed(20, 800.0)),
        &[base],
    );
    assert_eq!(v.reason, R::Regressed);
    assert!(
        v.message
            .contains("bogoOpsPerSecond 1000 → 800 (-20.0%, tolerance -10%)"),
        "{}",
        v.message
    );
    // An HTTP test against a stress baseline: no metric in common, never a verdict.
    let base = test("v1", json!({}), Value::Null, stressed(10, 1000.0));
    let http = test(
        "v2",
        json!({}),
        by_name("v1"),
        measured(20, 1.0, 1.0, 1.0, 0.0),
    );
    let v = judge(&http, &[base]);
    assert_eq!((v.regressed, v.reason), (None, R::NothingToCompare));
}

#[test]
fn baseline_by_labels_is_the_newest_finished_measured_run_before_this_one() {
    let nightly = json!({ "suite": "nightly" });
    let labels = json!({ "latestWithLabels": { "matchLabels": { "suite": "nightly" } } });
    let others = vec![
        test(
            "old",
            nightly.clone(),
            Value::Null,
            measured(10, 100.0, 100.0, 100.0, 0.0),
        ),
        test(
            "newest",
            nightly.clone(),
            Value::Null,
            measured(30, 200.0, 200.0, 100.0, 0.0),
        ),
        test(
            "other-suite",
            json!({ "suite": "weekly" }),
            Value::Null,
            measured(40, 1.0, 1.0, 1.0, 0.0),
        ),
        test(
            "simulated",
            nightly.clone(),
            Value::Null,
            json!({ "phase": "Completed", "reason": "RunnerSimulated", "finishedAt": iso(45) }),
        ),
        test(
            "running",
            nightly.clone(),
            Value::Null,
            json!({ "phase": "Running" }),
        ),
        test(
            "later",
            nightly.clone(),
            Value::Null,
            measured(90, 1.0, 1.0, 1.0, 0.0),
        ),
    ];
    let run = test(
        "this",
        nightly,
        labels.clone(),
        measured(50, 210.0, 210.0, 100.0, 0.0),
    );
    let v = judge(&run, &others);
    assert_eq!(
        v.comparison.map(|c| c.baseline.name),
        Some("newest".to_owned())
    );
    assert_eq!(v.reason, R::WithinTolerance);
    // No earlier run: Unknown, and this run is the next one's baseline.
    let first = test(
        "first",
        json!({ "suite": "nightly" }),
        labels,
        measured(50, 1.0, 1.0, 1.0, 0.0),
    );
    let v = judge(&first, &[]);
    assert_eq!(v.reason, R::BaselineNotFound);
    assert!(v.message.contains("labels suite=nightly"), "{}", v.message);
}

#[test]
fn experiments_compare_scale_up_latency_and_peak_replicas() {
    let experiment = |name: &str, baseline: Value, status: Value| -> ScalingExperiment {
        serde_json::from_value(json!({
            "apiVersion": "tartinfra.dev/v1alpha1", "kind": "ScalingExperiment",
            "metadata": { "name": name, "namespace": "team", "uid": name },
            "spec": { "cluster": "dev", "load": { "preset": "scale-light" }, "baseline": baseline },
            "status": status,
        }))
        .expect("experiment")
    };
    let kpis = |at: i64, latency: Value, peak: i32| {
        json!({ "phase": "Completed", "finishedAt": iso(at),
            "kpis": { "scaleUpLatencySeconds": latency, "peakReplicas": peak } })
    };
    let judge = |run: &ScalingExperiment, others: &[ScalingExperiment]| {
        let b: &ExperimentBaseline = run.spec.baseline.as_ref().expect("baseline");
        let others: Vec<Arc<ScalingExperiment>> = others.iter().cloned().map(Arc::new).collect();
        verdict(
            run,
            &run.facts(),
            b.selector().expect("selector"),
            &others,
            experiment_tolerance(&b.tolerance),
        )
    };
    let base = experiment("e1", Value::Null, kpis(10, json!(20.0), 5));
    let cases: [(&str, Value, Option<bool>, &str); 5] = [
        (
            "same",
            kpis(20, json!(22.0), 6),
            Some(false),
            "within tolerance",
        ),
        (
            "slower by 25 %",
            kpis(20, json!(25.0), 5),
            Some(true),
            "scaleUpLatencySeconds 20 → 25",
        ),
        (
            "two more replicas",
            kpis(20, json!(20.0), 7),
            Some(true),
            "peakReplicas 5 → 7",
        ),
        (
            "two fewer replicas",
            kpis(20, json!(20.0), 3),
            Some(true),
            "peakReplicas 5 → 3",
        ),
        (
            "no scale-up any more",
            kpis(20, Value::Null, 5),
            Some(true),
            "scaleUpLatencySeconds 20 → none",
        ),
    ];
    for (name, status, regressed, says) in cases {
        let run = experiment("e2", by_name("e1"), status);
        let v = judge(&run, std::slice::from_ref(&base));
        assert_eq!(v.regressed, regressed, "{name}: {}", v.message);
        assert!(v.message.contains(says), "{name}: {}", v.message);
    }
    let failed = experiment(
        "e0",
        Value::Null,
        json!({ "phase": "Failed", "reason": "NoHpa" }),
    );
    let v = judge(
        &experiment("e2", by_name("e0"), kpis(20, json!(1.0), 1)),
        &[failed],
    );
    assert_eq!((v.reason, v.regressed), (R::BaselineNotMeasured, None));
    assert!(v.message.contains("it failed (NoHpa)"), "{}", v.message);
}

#[test]
fn a_verdict_is_recorded_once_as_a_condition() {
    let at = Stamp {
        generation: Some(1),
        now: Timestamp::from_second(T0).expect("time"),
    };
    let mut conditions = Vec::new();
    let mut comparison = None;
    assert!(due(true, &conditions) && !due(false, &conditions));
    let v = Verdict::unknown(R::NotMeasured, "not compared: x".into());
    record(v, &mut comparison, &mut conditions, at);
    assert_eq!(
        (
            conditions[0].type_.as_str(),
            conditions[0].status.as_str(),
            conditions[0].reason.as_str()
        ),
        ("RegressionDetected", "Unknown", "NotMeasured")
    );
    assert!(!due(true, &conditions));
}
