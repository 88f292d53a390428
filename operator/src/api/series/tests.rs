//! The series decision: which reason, which window, which step; points from rows.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;

/// `team/web`, 10 VUs for 100 s unless `spec` says otherwise, with `status`.
fn test(spec: serde_json::Value, status: serde_json::Value) -> LoadTest {
    let mut all = json!({ "cluster": "dev", "http": { "targetUrl": "http://web", "vus": 10, "duration": "100s" } });
    if let (Some(all), Some(spec)) = (all.as_object_mut(), spec.as_object()) {
        for (k, v) in spec {
            all.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(json!({
        "apiVersion": "tartinfra.dev/v1alpha1", "kind": "LoadTest",
        "metadata": { "name": "web", "namespace": "team", "uid": "0f0f0f0f-0000-4000-8000-000000000001" },
        "spec": all,
        "status": status,
    }))
    .expect("loadtest")
}

const START: i64 = 1_764_930_000;

fn running() -> serde_json::Value {
    json!({ "phase": "Running", "startedAt": "2025-12-05T10:20:00Z" })
}

fn facts(prometheus: Option<&str>, simulated: Option<&str>, now: i64) -> Facts {
    Facts {
        simulated_node: simulated.map(str::to_owned),
        prometheus: prometheus.map(str::to_owned),
        now,
    }
}

fn reason(d: &Decision) -> Option<&str> {
    match d {
        Decision::Answer(a) => a.reason.as_deref(),
        Decision::Query { .. } => None,
    }
}

#[test]
fn without_measured_points_the_answer_says_why() {
    let prom = Some("http://127.0.0.1:9090");
    for (name, lt, facts, says) in [
        (
            "the lab without a Prometheus",
            test(json!({}), running()),
            facts(None, Some("dev-worker1"), START + 10),
            "the lab's runners are simulated (node dev-worker1",
        ),
        (
            "the lab before the start",
            test(json!({}), json!({ "phase": "Pending" })),
            facts(prom, Some("dev-worker1"), START),
            "the lab's runners are simulated (node dev-worker1",
        ),
        (
            "no Prometheus",
            test(json!({}), running()),
            facts(None, None, START + 10),
            "no Prometheus configured (--prometheus-url)",
        ),
        (
            "a stress test",
            test(
                json!({ "http": null, "stress": { "kind": "cpu" } }),
                running(),
            ),
            facts(prom, None, START + 10),
            "a stress test sends no requests",
        ),
        (
            "not started",
            test(json!({}), json!({ "phase": "Pending" })),
            facts(prom, None, START),
            "the runner has not started yet",
        ),
    ] {
        let d = decide(&lt, &facts);
        let r = reason(&d).unwrap_or_else(|| panic!("{name}: {d:?}"));
        assert!(r.starts_with(says), "{name}: {r}");
        let Decision::Answer(a) = d else {
            unreachable!()
        };
        assert_eq!(a.source, SeriesSource::Unavailable, "{name}");
        assert!(a.points.is_empty() && a.percentiles.is_none(), "{name}");
    }
}

#[test]
fn a_started_test_is_queried_from_its_start_to_its_end_or_now() {
    let prom = Some("http://127.0.0.1:9090");
    let lt = test(json!({}), running());
    let Decision::Query {
        base,
        testid,
        start,
        end,
        if_empty,
    } = decide(&lt, &facts(prom, None, START + 42))
    else {
        panic!("query")
    };
    assert_eq!(testid, runner::test_id(&lt));
    assert!(
        if_empty.starts_with(&format!(
            "Prometheus at http://127.0.0.1:9090 has no k6 samples tagged testid=\"{testid}\""
        )),
        "{if_empty}"
    );
    // In the lab, samples are looked up too (a test may write them), and their absence is the
    // lab's reason.
    let Decision::Query { if_empty, .. } =
        decide(&lt, &facts(prom, Some("dev-worker1"), START + 42))
    else {
        panic!("query")
    };
    assert!(
        if_empty.starts_with("the lab's runners are simulated (node dev-worker1"),
        "{if_empty}"
    );
    assert_eq!((start, end), (START, START + 42), "running: until now");
    assert_eq!(base.step_seconds, 5);
    assert_eq!(base.source, SeriesSource::Prometheus);
    assert_eq!(
        base.load,
        [
            LoadPoint {
                offset_seconds: 0,
                vus: 10
            },
            LoadPoint {
                offset_seconds: 100,
                vus: 10
            }
        ]
    );
    assert_eq!(base.started_at.as_deref(), Some("2025-12-05T10:20:00Z"));
    let done = test(
        json!({}),
        json!({ "phase": "Succeeded", "startedAt": "2025-12-05T10:20:00Z", "finishedAt": "2025-12-05T10:21:45Z" }),
    );
    let Decision::Query { end, base, .. } = decide(&done, &facts(prom, None, START + 9999)) else {
        panic!("query")
    };
    assert_eq!(end, START + 105, "finished: until the finish");
    assert_eq!(base.finished_at.as_deref(), Some("2025-12-05T10:21:45Z"));
    // A two-hour test keeps at most MAX_POINTS points.
    let long = test(json!({ "http": { "vus": 1, "duration": "2h" } }), running());
    let Decision::Query { base, .. } = decide(&long, &facts(prom, None, START + 1)) else {
        panic!("query")
    };
    assert_eq!(base.step_seconds, 10);
}

fn row(time: i64, values: &[(Measure, f64)]) -> Row {
    Row {
        time,
        values: values.iter().copied().collect::<BTreeMap<_, _>>(),
    }
}

#[test]
fn prometheus_answers_become_points_or_reasons() {
    let lt = test(json!({}), running());
    let Decision::Query { base, .. } = decide(&lt, &facts(Some("http://p:9090"), None, START + 20))
    else {
        panic!("query")
    };
    let rows = vec![
        row(
            START,
            &[
                (Measure::Rps, 40.0),
                (Measure::P95, 0.25),
                (Measure::Vus, 10.0),
            ],
        ),
        row(START + 5, &[(Measure::ErrorRate, 0.5), (Measure::P99, 1.5)]),
    ];
    let a = answered(base.clone(), "none".into(), Ok(rows));
    assert_eq!(a.source, SeriesSource::Prometheus);
    assert_eq!(a.reason, None);
    assert_eq!(a.percentiles, Some(SeriesPercentiles::Merged));
    assert_eq!(
        a.points[0],
        SeriesPoint {
            time: "2025-12-05T10:20:00Z".into(),
            rps: Some(40.0),
            error_rate: None,
            p95_ms: Some(250.0),
            p99_ms: None,
            vus: Some(10.0),
        }
    );
    assert_eq!(a.points[1].p99_ms, Some(1500.0));
    let empty = answered(base.clone(), "none".into(), Ok(vec![]));
    assert_eq!(empty.source, SeriesSource::Prometheus);
    assert_eq!(empty.percentiles, None);
    assert_eq!(empty.reason.as_deref(), Some("none"));
    let down = answered(
        base,
        "none".into(),
        Err(PrometheusError::Unreachable {
            url: "http://p:9090".into(),
            message: "connection refused".into(),
        }),
    );
    assert_eq!(down.source, SeriesSource::Unavailable);
    assert_eq!(
        down.reason.as_deref(),
        Some("Prometheus at http://p:9090 is unreachable: connection refused")
    );
}

#[test]
fn the_poller_sends_only_points_it_has_not_sent() {
    let rows = [row(10, &[]), row(15, &[]), row(20, &[])];
    let (points, last) = new_points(&rows, None);
    assert_eq!((points.len(), last), (3, Some(20)));
    let (points, last) = new_points(&rows, Some(15));
    assert_eq!((points.len(), last), (1, Some(20)));
    let (points, last) = new_points(&rows[..1], Some(20));
    assert_eq!((points.len(), last), (0, Some(20)), "nothing new");
}

#[test]
fn the_answer_has_the_contract_s_json_names() {
    let a = TestSeries {
        source: SeriesSource::Unavailable,
        reason: Some("why".into()),
        step_seconds: 5,
        started_at: None,
        finished_at: None,
        load: vec![LoadPoint {
            offset_seconds: 0,
            vus: 1,
        }],
        points: vec![point(&row(START, &[(Measure::P95, 0.1)]))],
        percentiles: Some(SeriesPercentiles::Merged),
    };
    assert_eq!(
        serde_json::to_value(&a).expect("json"),
        json!({
            "source": "unavailable", "reason": "why", "stepSeconds": 5,
            "startedAt": null, "finishedAt": null,
            "load": [{ "offsetSeconds": 0, "vus": 1 }],
            "points": [{ "time": "2025-12-05T10:20:00Z", "rps": null, "errorRate": null, "p95Ms": 100.0, "p99Ms": null, "vus": null }],
            "percentiles": "merged",
        })
    );
    let event = ApiEvent::TestSeries {
        namespace: "team".into(),
        name: "web".into(),
        point: a.points[0].clone(),
    };
    let v = serde_json::to_value(&event).expect("json");
    assert_eq!(v["type"], "testSeries");
    assert_eq!(v["point"]["p95Ms"], 100.0);
}
