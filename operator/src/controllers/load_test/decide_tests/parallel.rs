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
    finished_runner(i, "")
}

/// Runner `i`, exited 0 with `report` as its termination message.
fn finished_runner(i: u32, report: &str) -> Pod {
    let mut pod = pod(terminated(0, "Completed", report), Some("dev-worker1"));
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

/// The runner Job, created 40 s ago: within the grace for creating its pods.
fn recent_job() -> Box<Job> {
    let mut j = job("uid-1", json!([]));
    j.metadata.creation_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t(960)));
    j
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
            running(two_runners(), Some(recent_job()), vec![ready(1)]),
            Expect {
                phase: Some(P::Starting),
                next: poll(),
                message: "1 of 2 runners ready, paused until all are; runner 0: waiting for the runner pod to be created",
                ..Expect::default()
            },
        ),
        (
            "parallel: a runner pod still not created after the grace ends the test and removes the runners",
            running(two_runners(), Some(job("uid-1", json!([]))), vec![ready(1)]),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::RunnerRejected),
                effect: "DeleteRunner",
                message: "only 1 of 2 runner pods exist 100s after the Job was created",
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

/// Both runners finished with their reports; `merged` is what Prometheus answered.
fn both_finished(merged: Option<Result<RunPercentiles, String>>) -> Observed {
    Observed {
        merged_percentiles: merged,
        ..running(
            two_runners(),
            Some(job(
                "uid-1",
                json!([{ "type": "Complete", "status": "True" }]),
            )),
            vec![finished_runner(0, K6_OK), finished_runner(1, K6_OK)],
        )
    }
}

#[test]
fn merged_percentiles_from_prometheus_replace_the_per_runner_ones() {
    let results = |o: &Observed| {
        let d = decide(o, &settings(), t(NOW));
        assert_eq!(d.status.phase, Some(P::Succeeded), "{:?}", d.status.message);
        (
            d.status.results.expect("results"),
            d.status.message.unwrap_or_default(),
        )
    };
    // Without Prometheus: per runner, never averaged.
    let (r, message) = results(&both_finished(None));
    assert_eq!(r.percentiles, Some(Percentiles::PerRunner));
    assert_eq!(r.latency_ms.as_ref().and_then(|l| l.p95), None);
    assert_eq!(r.runners.len(), 2);
    assert!(!message.contains("percentiles"), "{message}");
    // With the merged histograms' answer: merged, and the runners stay.
    let merged = RunPercentiles {
        med: Some(40.0),
        p90: Some(110.0),
        p95: Some(130.5),
        p99: Some(480.0),
    };
    let (r, _) = results(&both_finished(Some(Ok(merged))));
    assert_eq!(r.percentiles, Some(Percentiles::Merged));
    let l = r.latency_ms.expect("latency");
    assert_eq!(
        (l.med, l.p90, l.p95, l.p99),
        (Some(40.0), Some(110.0), Some(130.5), Some(480.0))
    );
    assert_eq!(r.runners.len(), 2);
    // Prometheus without samples, or failing: per runner, and the message says why.
    let (r, message) = results(&both_finished(Some(Ok(RunPercentiles::default()))));
    assert_eq!(r.percentiles, Some(Percentiles::PerRunner));
    assert!(
        message.contains("Prometheus has no duration samples"),
        "{message}"
    );
    let failed = Err("Prometheus at http://p:9090 is unreachable: connection refused".to_owned());
    let (r, message) = results(&both_finished(Some(failed)));
    assert_eq!(r.percentiles, Some(Percentiles::PerRunner));
    assert!(
        message.ends_with(
            "percentiles per runner: Prometheus at http://p:9090 is unreachable: connection refused"
        ),
        "{message}"
    );
}
