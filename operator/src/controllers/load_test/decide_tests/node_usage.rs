//! status.nodeUsage in the LoadTest's decisions: folded from the cluster's readings, and a
//! finished test looks again when its `after` reading is due.

use std::collections::HashMap;

use super::*;
use crate::collectors::usage::NodeSample;
use crate::controllers::node_usage::{NodeFacts, Readings};

fn readings(polls: &[(i64, u64)]) -> Readings {
    Readings {
        samples: polls
            .iter()
            .map(|(at, cpu)| NodeSample {
                at: t(*at),
                nodes: Ok(HashMap::from([("w1".to_owned(), (*cpu, 1 << 30))])),
            })
            .collect(),
        nodes: [(
            "w1".to_owned(),
            NodeFacts {
                cpu_allocatable: Some(4000),
                ..NodeFacts::default()
            },
        )]
        .into(),
    }
}

fn finished_at(at: i64) -> Observed {
    let status = finished(json!({ "startedAt": iso(20), "finishedAt": iso(at) }));
    observed(test(json!({}), status, json!({})))
}

#[test]
fn a_finished_test_records_its_nodes_and_looks_again_for_the_after_reading() {
    let polls = [(10, 100), (100, 900), (400, 300), (995, 120)];
    // Ended at 990: the after reading is due at 1020 (30 s settle), the look 1 s later.
    let o = Observed {
        node_usage: Some(readings(&polls)),
        ..finished_at(990)
    };
    let d = decide(&o, &settings(), t(NOW));
    let rec = d.status.node_usage.clone().expect("record");
    let w1 = &rec.nodes[0];
    assert_eq!(w1.before.map(|f| f.cpu_millis), Some(100));
    assert_eq!(
        w1.peak.map(|f| (f.cpu_millis, f.cpu_percent)),
        Some((900, Some(22.5)))
    );
    assert_eq!((w1.after, rec.samples_during), (None, 2));
    assert_eq!(d.next, Next::Requeue(Duration::from_secs(21)));

    // Ended at 960: the reading at 995 is the first past the settle time; final, no look.
    let o = Observed {
        node_usage: Some(readings(&polls)),
        ..finished_at(960)
    };
    let d = decide(&o, &settings(), t(NOW));
    let rec = d.status.node_usage.expect("record");
    assert_eq!(rec.nodes[0].after.map(|f| f.cpu_millis), Some(120));
    assert!(rec.settled());
    assert_ne!(d.next, Next::Requeue(Duration::from_secs(5)));
}

#[test]
fn no_record_before_the_test_has_readings_or_started() {
    let d = decide(&finished_at(990), &settings(), t(NOW));
    assert_eq!(d.status.node_usage, None, "no collector, no record yet");
    let pending = Observed {
        node_usage: Some(readings(&[(10, 100)])),
        ..observed(test(json!({}), with_runner(), json!({})))
    };
    assert_eq!(
        decide(&pending, &settings(), t(NOW)).status.node_usage,
        None
    );
}
