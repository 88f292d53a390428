//! Decisions of a parallel test (spec.http.parallelism 2): the starter is created once both
//! runners are ready, and a starter the cluster refuses ends the test.

use super::*;

fn two_runners() -> LoadTest {
    test(
        json!({ "http": { "targetUrl": "http://web", "vus": 10, "duration": "100s", "parallelism": 2 } }),
        with_runner(),
        json!({}),
    )
}

/// Runner `i`, running and ready (its k6 API answers).
fn ready(i: u32) -> Pod {
    serde_json::from_value(json!({
        "metadata": { "name": format!("lt-web-x-{i}"), "creationTimestamp": iso(11),
                      "annotations": { "batch.kubernetes.io/job-completion-index": i.to_string() } },
        "spec": { "nodeName": "dev-worker1", "containers": [{ "name": "runner" }] },
        "status": { "phase": "Running", "podIP": format!("10.1.0.{i}"),
                    "conditions": [{ "type": "Ready", "status": "True" }],
                    "containerStatuses": [{ "name": "runner", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
                                            "state": { "running": { "startedAt": iso(950) } } }] },
    }))
    .expect("pod")
}

/// Runner `i`, exited 0 without a result (what a simulated runner leaves).
fn done_without_result(i: u32) -> Pod {
    let mut pod = pod(terminated(0, "Completed", ""), Some("dev-worker1"));
    pod.metadata.name = Some(format!("lt-web-x-{i}"));
    pod.metadata.annotations = Some(
        [(
            "batch.kubernetes.io/job-completion-index".to_owned(),
            i.to_string(),
        )]
        .into(),
    );
    pod
}

fn both_ready() -> Observed {
    running(
        two_runners(),
        Some(job("uid-1", json!([]))),
        vec![ready(0), ready(1)],
    )
}

pub(super) fn cases() -> Vec<Case> {
    vec![
        (
            "parallel: one runner ready of two waits, paused",
            running(two_runners(), Some(job("uid-1", json!([]))), vec![ready(1)]),
            Expect {
                phase: Some(P::Starting),
                next: poll(),
                message: "1 of 2 runners ready, paused until all are; runner 0: waiting for the runner pod to be created",
                ..Expect::default()
            },
        ),
        (
            "parallel: both ready creates the starter",
            both_ready(),
            Expect {
                phase: Some(P::Starting),
                effect: "CreateStarter",
                event: Some("RunnersStarting"),
                message: "all 2 runners are ready and paused; starter Job tart-loadtest/st-",
                ..Expect::default()
            },
        ),
        (
            "parallel: a starter the cluster refuses for good ends the test and removes the runners",
            failing(both_ready(), Class::Permanent, "jobs.batch is forbidden"),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::RunnerRejected),
                effect: "DeleteRunner",
                message: "refused the starter Job",
                ..Expect::default()
            },
        ),
        (
            "parallel: simulated runners that measured nothing complete without a verdict",
            Observed {
                simulated_node: Some("dev-worker1".into()),
                ..running(
                    two_runners(),
                    Some(job(
                        "uid-1",
                        json!([{ "type": "Complete", "status": "True" }]),
                    )),
                    vec![done_without_result(0), done_without_result(1)],
                )
            },
            // The first runner without a result ends the test and removes the others; the
            // slot is freed once they are gone.
            Expect {
                phase: Some(P::Completed),
                reason: Some(Why::RunnerSimulated),
                effect: "DeleteRunner",
                release: false,
                message: "simulated pods do no work, so nothing was measured",
                condition: Some(("Measured", "False", "RunnerSimulated")),
                ..Expect::default()
            },
        ),
        (
            "parallel: a starter not created yet for a passing reason is tried again",
            failing(both_ready(), Class::Transient, "connection reset"),
            Expect {
                phase: Some(P::Starting),
                next: poll(),
                message: "cannot create the starter Job",
                ..Expect::default()
            },
        ),
    ]
}
