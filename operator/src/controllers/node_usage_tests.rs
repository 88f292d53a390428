//! Table tests of a run's node usage record: readings around a run, folded as the run's
//! controller looks at it.

use std::collections::HashMap;

use super::*;

const T0: i64 = 1_800_000_000;
const SETTLE: Duration = Duration::from_secs(30);

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(T0 + secs).expect("time")
}

/// A poll at `secs` with (node, CPU millicores, memory MiB) figures.
fn poll(secs: i64, nodes: &[(&str, u64, u64)]) -> NodeSample {
    NodeSample {
        at: t(secs),
        nodes: Ok(nodes
            .iter()
            .map(|(n, cpu, mib)| ((*n).to_owned(), (*cpu, mib * 1024 * 1024)))
            .collect::<HashMap<_, _>>()),
    }
}

fn failed(secs: i64, why: &str) -> NodeSample {
    NodeSample {
        at: t(secs),
        nodes: Err(why.to_owned()),
    }
}

/// Two nodes of 4 CPUs and 8 GiB; `w2` simulated by kwok.
fn readings(samples: Vec<NodeSample>) -> Readings {
    let node = |simulated| NodeFacts {
        cpu_allocatable: Some(4000),
        memory_allocatable: Some(8 * 1024 * 1024 * 1024),
        simulated,
    };
    Readings {
        samples,
        nodes: [
            ("w1".to_owned(), node(false)),
            ("w2".to_owned(), node(true)),
        ]
        .into(),
    }
}

/// A run from 0 to `finished`.
fn run(finished: Option<i64>) -> Window {
    Window {
        started: t(0),
        finished: finished.map(t),
    }
}

fn cpu(f: Option<NodeUsageFigures>) -> Option<u64> {
    f.map(|f| f.cpu_millis)
}

fn node<'a>(rec: &'a NodeUsageRecord, name: &str) -> &'a NodeUsageSummary {
    rec.nodes.iter().find(|n| n.node == name).expect("node")
}

#[test]
fn before_peak_and_after_come_from_the_readings_around_the_run() {
    let r = readings(vec![
        poll(-200, &[("w1", 9000, 1)]), // older than the before window
        poll(-20, &[("w1", 100, 1000), ("w2", 50, 500)]),
        poll(-5, &[("w1", 120, 1024), ("w2", 60, 512)]),
        poll(5, &[("w1", 900, 1500), ("w2", 70, 600)]),
        poll(10, &[("w1", 700, 2048), ("w2", 80, 550)]),
        poll(30, &[("w1", 400, 1800)]), // after the end, before the settle time
        poll(46, &[("w1", 150, 1100), ("w2", 55, 510)]),
        poll(60, &[("w1", 1, 1)]),
    ]);
    let rec = fold(None, Some(&r), run(Some(15)), SETTLE, t(62));
    assert_eq!(rec.before_at, Some(Time(t(-5))));
    assert_eq!(rec.after_at, Some(Time(t(46))));
    assert_eq!(rec.during_through, Some(Time(t(10))));
    assert_eq!(rec.samples_during, 2);
    assert!(rec.settled() && rec.not_measured.is_none() && rec.after_missing.is_none());
    let w1 = node(&rec, "w1");
    assert_eq!(
        (cpu(w1.before), cpu(w1.peak), cpu(w1.after)),
        (Some(120), Some(900), Some(150))
    );
    // The peak is the highest CPU and the highest memory, each at its own reading.
    let peak = w1.peak.expect("peak");
    assert_eq!(peak.memory_bytes, 2048 * 1024 * 1024);
    assert_eq!(
        (peak.cpu_percent, peak.memory_percent),
        (Some(22.5), Some(25.0))
    );
    assert!(!w1.simulated && node(&rec, "w2").simulated);
    assert_eq!(rec.nodes.len(), 2, "sorted by name, one entry each");
    assert_eq!(rec.nodes[0].node, "w1");
    // Final: nothing later changes it.
    let later = readings(vec![poll(100, &[("w1", 4000, 8000)])]);
    assert_eq!(
        fold(Some(&rec), Some(&later), run(Some(15)), SETTLE, t(120)),
        rec
    );
}

#[test]
fn folding_while_the_run_runs_counts_each_reading_once_and_keeps_a_peak_the_history_lost() {
    let first = readings(vec![
        poll(-3, &[("w1", 100, 1000)]),
        poll(2, &[("w1", 800, 1200)]),
    ]);
    let rec = fold(None, Some(&first), run(None), SETTLE, t(3));
    assert_eq!(
        fold(Some(&rec), Some(&first), run(None), SETTLE, t(4)),
        rec,
        "idempotent"
    );
    assert_eq!((rec.samples_during, rec.after_at.clone()), (1, None));
    assert!(!rec.settled());
    // The history dropped the first readings; the peak already holds them.
    let second = readings(vec![poll(4, &[("w1", 300, 1300)])]);
    let rec = fold(Some(&rec), Some(&second), run(None), SETTLE, t(5));
    let w1 = node(&rec, "w1");
    assert_eq!((cpu(w1.before), cpu(w1.peak)), (Some(100), Some(800)));
    assert_eq!(w1.peak.map(|p| p.memory_bytes), Some(1300 * 1024 * 1024));
    assert_eq!(rec.samples_during, 2);
    // A reading from before the start that arrives late is never a `before` once the run
    // has readings during it.
    let late = readings(vec![poll(-1, &[("w1", 5, 5)])]);
    assert_eq!(
        cpu(node(
            &fold(Some(&rec), Some(&late), run(None), SETTLE, t(6)),
            "w1"
        )
        .before),
        Some(100)
    );
}

#[test]
fn without_the_metrics_api_the_record_says_why_and_holds_no_zero() {
    let why = "the metrics API (metrics.k8s.io) is not served in this cluster: install metrics-server (the metricsServer addon)";
    let r = readings(vec![failed(-5, why), failed(5, why), failed(50, why)]);
    let running = fold(None, Some(&r), run(None), SETTLE, t(6));
    assert_eq!(running.not_measured.as_deref(), Some(why));
    assert!(running.nodes.is_empty() && running.samples_during == 0);
    // Ended: waits for the settle time and its grace, then says why there is no `after`.
    let waiting = fold(Some(&running), Some(&r), run(Some(10)), SETTLE, t(60));
    assert!(!waiting.settled());
    let done = fold(Some(&running), Some(&r), run(Some(10)), SETTLE, t(101));
    assert!(done.settled() && done.nodes.is_empty());
    assert_eq!(done.after_missing.as_deref(), Some(why));
    assert_eq!(done.not_measured.as_deref(), Some(why));
    // metrics-server answering with no node yet (warming up) is said as such.
    let empty = readings(vec![poll(-5, &[]), poll(5, &[])]);
    assert_eq!(
        fold(None, Some(&empty), run(None), SETTLE, t(6))
            .not_measured
            .as_deref(),
        Some("metrics-server listed no node figures yet")
    );
    // A failure after figures: the figures stay, only `after` is missing and says why.
    let r = readings(vec![
        poll(-5, &[("w1", 100, 100)]),
        poll(5, &[("w1", 500, 100)]),
        failed(45, "metrics API: connection refused"),
    ]);
    let rec = fold(None, Some(&r), run(Some(10)), SETTLE, t(101));
    assert!(rec.not_measured.is_none());
    // A reading past the grace is not this run's `after`.
    let late = readings(vec![
        poll(-5, &[("w1", 100, 100)]),
        poll(101, &[("w1", 7, 7)]),
    ]);
    let lapsed = fold(None, Some(&late), run(Some(10)), SETTLE, t(102));
    assert_eq!(
        (lapsed.after_at.clone(), cpu(node(&lapsed, "w1").after)),
        (None, None)
    );
    assert!(lapsed.settled());
    assert_eq!(
        rec.after_missing.as_deref(),
        Some("metrics API: connection refused")
    );
    assert_eq!(cpu(node(&rec, "w1").after), None);
}

#[test]
fn a_cluster_not_connected_after_the_run_ends_the_wait_with_the_reason() {
    let r = readings(vec![
        poll(-5, &[("w1", 100, 100)]),
        poll(5, &[("w1", 200, 100)]),
    ]);
    let rec = fold(None, Some(&r), run(Some(10)), SETTLE, t(11));
    assert!(!rec.settled());
    let rec = fold(Some(&rec), None, run(Some(10)), SETTLE, t(30));
    assert!(!rec.settled(), "still within the settle time");
    let rec = fold(Some(&rec), None, run(Some(10)), SETTLE, t(101));
    assert!(rec.settled());
    assert!(
        rec.after_missing
            .as_deref()
            .is_some_and(|m| m.contains("not connected"))
    );
    assert_eq!(cpu(node(&rec, "w1").peak), Some(200));
}

#[test]
fn a_finished_run_looks_again_when_its_after_reading_is_due() {
    let open = NodeUsageRecord::default();
    // (finished, now, next look)
    let rows = [
        (None, 5, None),
        (Some(10), 11, Some(Duration::from_secs(30))),
        (Some(10), 39, Some(Duration::from_secs(2))),
        (Some(10), 40, Some(AFTER_POLL)),
    ];
    for (finished, now, want) in rows {
        assert_eq!(
            next_look(&open, finished.map(t), SETTLE, t(now)),
            want,
            "{finished:?} at {now}"
        );
    }
    let done = NodeUsageRecord {
        after_at: Some(Time(t(41))),
        ..NodeUsageRecord::default()
    };
    assert_eq!(next_look(&done, Some(t(10)), SETTLE, t(45)), None);
}

#[test]
fn readings_within_a_second_of_a_written_record_are_counted_once() {
    // Status times have whole seconds; readings do not.
    let at = |ms: i64| NodeSample {
        at: Timestamp::from_millisecond((T0 * 1000) + ms).expect("time"),
        nodes: Ok([("w1".to_owned(), (ms.unsigned_abs() / 100, 1))].into()),
    };
    let r = readings(vec![at(-2500), at(-500), at(1500), at(3500)]);
    let through_json = |rec: &NodeUsageRecord| -> NodeUsageRecord {
        serde_json::from_value(serde_json::to_value(rec).expect("json")).expect("record")
    };
    let mut rec = fold(None, Some(&r), run(None), SETTLE, t(4));
    assert_eq!(
        rec.before_at.as_ref().map(|t| t.0.as_millisecond()),
        Some(T0 * 1000 - 500)
    );
    for _ in 0..3 {
        rec = through_json(&fold(
            Some(&through_json(&rec)),
            Some(&r),
            run(None),
            SETTLE,
            t(4),
        ));
    }
    assert_eq!(rec.samples_during, 2);
    assert_eq!(cpu(node(&rec, "w1").before), Some(5));
    assert_eq!(cpu(node(&rec, "w1").peak), Some(35));
}

#[test]
fn a_reading_in_the_second_the_run_started_is_its_before() {
    // The run started at 0.9 s and its status says 0 s: a reading at 0.6 s came before it,
    // and was the first the cluster had (metrics-server's first scrapes give no nodes).
    let at = |ms: i64| NodeSample {
        at: Timestamp::from_millisecond((T0 * 1000) + ms).expect("time"),
        nodes: Ok([("w1".to_owned(), (ms.unsigned_abs() / 100, 1))].into()),
    };
    let empty = NodeSample {
        at: t(-2),
        nodes: Ok(HashMap::new()),
    };
    let r = readings(vec![empty, at(600), at(2600)]);
    let rec = fold(None, Some(&r), run(None), SETTLE, t(3));
    assert_eq!(
        rec.before_at.as_ref().map(|t| t.0.as_millisecond()),
        Some(T0 * 1000 + 600)
    );
    assert_eq!(cpu(node(&rec, "w1").before), Some(6));
    assert_eq!(cpu(node(&rec, "w1").peak), Some(26));
}

#[test]
fn a_look_needs_only_the_readings_since_the_last_one_folded() {
    let through = |before: Option<i64>, during: Option<i64>| NodeUsageRecord {
        before_at: before.map(|s| Time(t(s))),
        during_through: during.map(|s| Time(t(s))),
        ..NodeUsageRecord::default()
    };
    let cases = [
        ("no record yet: the before window", None, t(-120)),
        ("nothing folded yet", Some(through(None, None)), t(-120)),
        (
            "before taken: from the start",
            Some(through(Some(-5), None)),
            t(0),
        ),
        (
            "a reading folded: from its second",
            Some(through(Some(-5), Some(10))),
            t(10),
        ),
        (
            "no before, a reading folded",
            Some(through(None, Some(20))),
            t(20),
        ),
    ];
    for (case, prev, want) in cases {
        assert_eq!(needed_since(prev.as_ref(), t(0)), want, "{case}");
    }
}

#[test]
fn folding_only_the_readings_since_gives_the_record_of_the_whole_history() {
    let all = vec![
        poll(-200, &[("w1", 9000, 1)]),
        failed(-150, "metrics API unavailable"),
        poll(-20, &[("w1", 100, 1000), ("w2", 50, 500)]),
        poll(-5, &[("w1", 120, 1024), ("w2", 60, 512)]),
        poll(5, &[("w1", 900, 1500), ("w2", 70, 600)]),
        poll(10, &[("w1", 700, 2048), ("w2", 80, 550)]),
        failed(20, "metrics API unavailable"),
        poll(30, &[("w1", 400, 1800)]),
        poll(46, &[("w1", 150, 1100), ("w2", 55, 510)]),
        poll(60, &[("w1", 1, 1)]),
    ];
    for finished in [Some(15), None] {
        let (mut whole, mut since) = (None, None);
        for look in [1, 6, 12, 25, 47, 62, 120] {
            let known: Vec<NodeSample> = all.iter().filter(|s| s.at <= t(look)).cloned().collect();
            let from = needed_since(since.as_ref(), t(0));
            let recent = known.iter().filter(|s| s.at >= from).cloned().collect();
            let w = fold(
                whole.as_ref(),
                Some(&readings(known)),
                run(finished),
                SETTLE,
                t(look),
            );
            let s = fold(
                since.as_ref(),
                Some(&readings(recent)),
                run(finished),
                SETTLE,
                t(look),
            );
            assert_eq!(s, w, "look at {look}s, finished {finished:?}");
            (whole, since) = (Some(w), Some(s));
        }
    }
}
