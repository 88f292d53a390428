//! The decide table of the TestSchedule controller: each case a schedule, its runs and the
//! time, and what must follow.

use std::sync::Arc;
use std::time::Duration;

use crds::common::Time;
use crds::test_schedule::{ConcurrencyPolicy, SCHEDULE_LABEL, TestScheduleSpec};
use crds::{TestSchedule, TestScheduleStatus};
use jiff::Timestamp;

use super::*;
use crate::controllers::error::Class;
use crate::controllers::expect;

fn at(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

/// A schedule `cron` created at 2026-12-05T10:00:00Z, with `change` applied.
fn schedule(cron: &str, change: impl FnOnce(&mut TestSchedule)) -> Arc<TestSchedule> {
    let spec: TestScheduleSpec = serde_json::from_value(serde_json::json!({
        "schedule": cron,
        "loadTest": {"metadata": {"labels": {"suite": "nightly"}}, "spec": {"cluster": "dev", "preset": "light-load"}},
    }))
    .expect("spec");
    let mut ts = TestSchedule::new("nightly", spec);
    ts.metadata.namespace = Some("team".into());
    ts.metadata.uid = Some("uid-1".into());
    ts.metadata.generation = Some(2);
    ts.metadata.creation_timestamp = Some(Time(at("2026-12-05T10:00:00Z")));
    change(&mut ts);
    Arc::new(ts)
}

fn run(name: &str, created: &str, finished: Option<(bool, &str)>) -> Run {
    Run {
        name: name.into(),
        created: at(created),
        finished: finished.map(|(succeeded, t)| Finished {
            succeeded,
            at: at(t),
        }),
        deleting: false,
    }
}

fn last_scheduled(t: &str) -> impl FnOnce(&mut TestSchedule) {
    let t = at(t);
    move |ts| {
        ts.status = Some(TestScheduleStatus {
            last_schedule_time: Some(Time(t)),
            ..Default::default()
        })
    }
}

struct Case {
    name: &'static str,
    schedule: Arc<TestSchedule>,
    runs: Vec<Run>,
    now: &'static str,
    creates: Option<&'static str>,
    deletes: &'static [&'static str],
    event: Option<&'static str>,
    message: &'static str,
    condition: Option<(&'static str, &'static str, &'static str)>,
    requeue: Option<u64>,
}

#[test]
fn decide_table() {
    // Run names carry the due time in unix minutes.
    let m = |t: &str| at(t).as_second() / 60;
    let cases = vec![
        Case {
            name: "nothing due yet: wait until the next due time",
            schedule: schedule("*/5 * * * *", |_| {}),
            runs: vec![],
            now: "2026-12-05T10:03:30Z",
            creates: None,
            deletes: &[],
            event: None,
            message: "",
            condition: Some(("Ready", "True", "Scheduled")),
            requeue: Some(90),
        },
        Case {
            name: "due: one run named for its due minute",
            schedule: schedule("*/5 * * * *", |_| {}),
            runs: vec![],
            now: "2026-12-05T10:05:02Z",
            creates: Some("nightly-%05"),
            deletes: &[],
            event: Some("RunCreated"),
            message: "due at 2026-12-05T10:05:00Z",
            condition: Some(("Ready", "True", "Scheduled")),
            requeue: Some(298),
        },
        Case {
            name: "after downtime: only the most recent missed run, no burst",
            schedule: schedule("*/5 * * * *", last_scheduled("2026-12-05T10:05:00Z")),
            runs: vec![],
            now: "2026-12-05T13:31:00Z",
            creates: Some("nightly-1330"),
            deletes: &[],
            event: Some("RunCreated"),
            message: "due at 2026-12-05T13:30:00Z",
            condition: None,
            requeue: Some(240),
        },
        Case {
            name: "later than startingDeadlineSeconds: skipped and said so",
            schedule: schedule("*/5 * * * *", |ts| {
                ts.spec.starting_deadline_seconds = Some(30);
                ts.status = Some(TestScheduleStatus {
                    last_schedule_time: Some(Time(at("2026-12-05T10:05:00Z"))),
                    ..Default::default()
                });
            }),
            runs: vec![],
            now: "2026-12-05T13:31:00Z",
            creates: None,
            deletes: &[],
            event: Some("RunSkipped"),
            message: "60s late, more than startingDeadlineSeconds (30s)",
            condition: Some(("RunSkipped", "True", "MissedStartingDeadline")),
            requeue: Some(240),
        },
        Case {
            name: "within startingDeadlineSeconds: created",
            schedule: schedule("*/5 * * * *", |ts| {
                ts.spec.starting_deadline_seconds = Some(90)
            }),
            runs: vec![],
            now: "2026-12-05T10:06:00Z",
            creates: Some("nightly-%05"),
            deletes: &[],
            event: Some("RunCreated"),
            message: "",
            condition: None,
            requeue: Some(240),
        },
        Case {
            name: "Forbid while a run is active: skipped and recorded",
            schedule: schedule("*/5 * * * *", last_scheduled("2026-12-05T10:05:00Z")),
            runs: vec![run("nightly-a", "2026-12-05T10:05:00Z", None)],
            now: "2026-12-05T10:10:00Z",
            creates: None,
            deletes: &[],
            event: Some("RunSkipped"),
            message: "concurrencyPolicy is Forbid and nightly-a is still active",
            condition: Some(("RunSkipped", "True", "ConcurrencyForbidden")),
            requeue: Some(300),
        },
        Case {
            name: "Allow while a run is active: both run",
            schedule: schedule("*/5 * * * *", |ts| {
                ts.spec.concurrency_policy = ConcurrencyPolicy::Allow;
            }),
            runs: vec![run("nightly-a", "2026-12-05T10:01:00Z", None)],
            now: "2026-12-05T10:05:00Z",
            creates: Some("nightly-%05"),
            deletes: &[],
            event: Some("RunCreated"),
            message: "",
            condition: None,
            requeue: Some(300),
        },
        Case {
            name: "Replace while a run is active: it is deleted, the new one created",
            schedule: schedule("*/5 * * * *", |ts| {
                ts.spec.concurrency_policy = ConcurrencyPolicy::Replace;
            }),
            runs: vec![run("nightly-a", "2026-12-05T10:01:00Z", None)],
            now: "2026-12-05T10:05:00Z",
            creates: Some("nightly-%05"),
            deletes: &["nightly-a"],
            event: Some("RunReplaced"),
            message: "replacing nightly-a",
            condition: None,
            requeue: Some(300),
        },
        Case {
            name: "the run exists already (a retry after its create): not created again",
            schedule: schedule("*/5 * * * *", |_| {}),
            runs: vec![run(
                &format!("nightly-{}", m("2026-12-05T10:05:00Z")),
                "2026-12-05T10:05:01Z",
                None,
            )],
            now: "2026-12-05T10:05:03Z",
            creates: None,
            deletes: &[],
            event: None,
            message: "",
            condition: Some(("Ready", "True", "Scheduled")),
            requeue: Some(297),
        },
        Case {
            name: "history: the oldest finished runs beyond the limits are deleted",
            schedule: schedule("0 0 1 1 *", |ts| {
                ts.spec.successful_runs_history_limit = 2;
                ts.spec.failed_runs_history_limit = 0;
            }),
            runs: vec![
                run(
                    "s1",
                    "2026-12-01T00:00:00Z",
                    Some((true, "2026-12-01T00:05:00Z")),
                ),
                run(
                    "s3",
                    "2026-12-03T00:00:00Z",
                    Some((true, "2026-12-03T00:05:00Z")),
                ),
                run(
                    "s2",
                    "2026-12-02T00:00:00Z",
                    Some((true, "2026-12-02T00:05:00Z")),
                ),
                run(
                    "f1",
                    "2026-12-02T00:00:00Z",
                    Some((false, "2026-12-02T00:01:00Z")),
                ),
                run("active", "2026-12-04T00:00:00Z", None),
                Run {
                    deleting: true,
                    ..run(
                        "s0",
                        "2026-11-01T00:00:00Z",
                        Some((true, "2026-11-01T00:05:00Z")),
                    )
                },
            ],
            now: "2026-12-05T10:30:00Z",
            creates: None,
            deletes: &["s1", "f1"],
            event: Some("HistoryPruned"),
            message: "s1, f1",
            condition: None,
            // The next is 2027-01-01T00:00:00Z.
            requeue: Some(26 * 86400 + 13 * 3600 + 1800),
        },
        Case {
            name: "suspended: nothing created, no next time",
            schedule: schedule("*/5 * * * *", |ts| ts.spec.suspend = true),
            runs: vec![],
            now: "2026-12-05T10:05:00Z",
            creates: None,
            deletes: &[],
            event: None,
            message: "",
            condition: Some(("Ready", "False", "Suspended")),
            requeue: None,
        },
        Case {
            name: "an invalid schedule: a condition naming spec.schedule",
            schedule: schedule("0 25 * * *", |_| {}),
            runs: vec![],
            now: "2026-12-05T10:05:00Z",
            creates: None,
            deletes: &[],
            event: Some("ScheduleInvalid"),
            message: "spec.schedule",
            condition: Some(("Ready", "False", "ScheduleInvalid")),
            requeue: None,
        },
        Case {
            name: "a schedule that never matches (31 February): refused once, not searched again",
            schedule: schedule("0 0 31 2 *", |_| {}),
            runs: vec![],
            now: "2026-12-05T10:05:00Z",
            creates: None,
            deletes: &[],
            event: Some("ScheduleInvalid"),
            message: "never matches",
            condition: Some(("Ready", "False", "ScheduleInvalid")),
            requeue: None,
        },
        Case {
            name: "an unknown time zone: a condition naming spec.timeZone",
            schedule: schedule("0 2 * * *", |ts| ts.spec.time_zone = "Mars/Olympus".into()),
            runs: vec![],
            now: "2026-12-05T10:05:00Z",
            creates: None,
            deletes: &[],
            event: Some("TimeZoneInvalid"),
            message: "spec.timeZone",
            condition: Some(("Ready", "False", "TimeZoneInvalid")),
            requeue: None,
        },
        Case {
            name: "in a zone across the spring-forward gap: 02:30 runs at 03:00 CEST",
            schedule: schedule("30 2 * * *", |ts| {
                ts.spec.time_zone = "Europe/Berlin".into();
                ts.metadata.creation_timestamp = Some(Time(at("2026-03-28T12:00:00Z")));
            }),
            runs: vec![],
            now: "2026-03-29T01:00:10Z",
            creates: Some("nightly-dst"),
            deletes: &[],
            event: Some("RunCreated"),
            message: "due at 2026-03-29T01:00:00Z",
            condition: None,
            // The next is 02:30 CEST on the 30th: 00:30 UTC.
            requeue: Some(23 * 3600 + 29 * 60 + 50),
        },
    ];
    for c in cases {
        let now = at(c.now);
        let o = Observed {
            schedule: c.schedule.clone(),
            runs: c.runs.clone(),
            failure: None,
        };
        let d = decide(&o, now);
        let created = d.effect.create.as_ref().map(NewRun::name);
        let want = c.creates.map(|w| match w {
            "nightly-%05" => format!("nightly-{}", m("2026-12-05T10:05:00Z")),
            "nightly-1330" => format!("nightly-{}", m("2026-12-05T13:30:00Z")),
            "nightly-dst" => format!("nightly-{}", m("2026-03-29T01:00:00Z")),
            other => other.to_owned(),
        });
        assert_eq!(created, want, "{}: created", c.name);
        assert_eq!(d.effect.delete, c.deletes, "{}: deleted", c.name);
        expect::common(
            c.name,
            d.event.as_ref(),
            c.event,
            d.event.as_ref().map(|e| e.message.as_str()),
            c.message,
            &d.status.conditions,
            c.condition,
        );
        match (c.requeue, &d.next) {
            (Some(secs), Next::Requeue(after)) => {
                assert_eq!(*after, Duration::from_secs(secs), "{}: requeue", c.name)
            }
            (None, Next::AwaitChange) => {}
            (want, got) => panic!("{}: next {got:?}, want requeue {want:?}", c.name),
        }
        if let Some(name) = &created {
            assert!(d.status.active.contains(name), "{}: active", c.name);
            assert_eq!(d.status.observed_generation, Some(2));
        }
    }
}

#[test]
fn a_run_is_owned_labelled_and_compared_with_the_previous_one() {
    let ts = schedule("*/5 * * * *", |_| {});
    let d = decide(
        &Observed {
            schedule: ts,
            runs: vec![],
            failure: None,
        },
        at("2026-12-05T10:05:00Z"),
    );
    let Some(NewRun::LoadTest(lt)) = d.effect.create else {
        panic!("a LoadTest");
    };
    let labels = lt.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.get(SCHEDULE_LABEL).map(String::as_str),
        Some("nightly")
    );
    assert_eq!(labels.get("suite").map(String::as_str), Some("nightly"));
    assert_eq!(lt.metadata.namespace.as_deref(), Some("team"));
    let owner = &lt.metadata.owner_references.clone().unwrap_or_default()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("TestSchedule", "uid-1", Some(true))
    );
    let baseline = lt.spec.baseline.clone().expect("a baseline");
    let labels = baseline.latest_with_labels.expect("by labels").match_labels;
    assert_eq!(
        labels,
        [(SCHEDULE_LABEL.to_owned(), "nightly".to_owned())].into()
    );
    assert_eq!(
        d.status.last_schedule_time,
        Some(Time(at("2026-12-05T10:05:00Z")))
    );

    // A template's own baseline is kept.
    let ts = schedule("*/5 * * * *", |ts| {
        if let Some(t) = ts.spec.load_test.as_mut() {
            t.spec.baseline = serde_json::from_value(serde_json::json!({"name": "golden"})).ok();
        }
    });
    let d = decide(
        &Observed {
            schedule: ts,
            runs: vec![],
            failure: None,
        },
        at("2026-12-05T10:05:00Z"),
    );
    let Some(NewRun::LoadTest(lt)) = d.effect.create else {
        panic!("a LoadTest");
    };
    assert_eq!(
        lt.spec.baseline.and_then(|b| b.name).map(|n| n.0),
        Some("golden".to_owned())
    );
}

#[test]
fn a_failed_create_keeps_the_due_time_for_the_retry() {
    let o = Observed {
        schedule: schedule("*/5 * * * *", |_| {}),
        runs: vec![],
        failure: Some(Failure {
            class: Class::Transient,
            message: "etcd is busy".into(),
        }),
    };
    let d = decide(&o, at("2026-12-05T10:05:00Z"));
    assert_eq!(d.effect, Effect::default());
    assert_eq!(d.status.last_schedule_time, None, "the run is due again");
    assert!(d.status.active.is_empty());
    assert!(matches!(d.next, Next::Retry(ref m) if m == "etcd is busy"));
    assert_eq!(d.event.map(|e| e.reason), Some("RunNotCreated".to_owned()));
}

#[test]
fn finished_runs_leave_active_and_set_the_last_success() {
    let o = Observed {
        schedule: schedule("0 0 1 1 *", |_| {}),
        runs: vec![
            run(
                "a",
                "2026-12-01T00:00:00Z",
                Some((true, "2026-12-01T00:05:00Z")),
            ),
            run(
                "b",
                "2026-12-02T00:00:00Z",
                Some((false, "2026-12-02T00:05:00Z")),
            ),
            run("c", "2026-12-03T00:00:00Z", None),
        ],
        failure: None,
    };
    let d = decide(&o, at("2026-12-05T10:05:00Z"));
    assert_eq!(d.status.active, ["c"]);
    assert_eq!(d.status.active_count, Some(1));
    assert_eq!(
        d.status.last_successful_time,
        Some(Time(at("2026-12-01T00:05:00Z")))
    );
}
