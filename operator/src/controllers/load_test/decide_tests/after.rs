//! Decisions while the runner runs and after: its pod's state, every way it ends, the TTL
//! and deletion.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    let unschedulable = |since: i64| {
        pod(
            json!({ "phase": "Pending", "conditions": [{ "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/2 nodes are available: Insufficient cpu", "lastTransitionTime": iso(since) }] }),
            None,
        )
    };
    let image_backoff = pod(
        container(
            json!({ "waiting": { "reason": "ImagePullBackOff", "message": "Back-off pulling image \"grafana/k6:9\"" } }),
        ),
        Some("dev-worker1"),
    );
    vec![
        (
            "a runner Job deleted behind the operator's back cancels the test",
            running(test(json!({}), with_runner(), json!({})), None, vec![]),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::Cancelled),
                next: Some(Next::Requeue(Duration::from_secs(1))),
                release: true,
                message: "was deleted before the test finished",
                ..Expect::default()
            },
        ),
        (
            "no pod yet: pending",
            with_pods(vec![]),
            Expect {
                phase: Some(P::Pending),
                next: poll(),
                message: "created in cluster dev; waiting for its pod",
                condition: Some(("ClusterReachable", "True", "Reachable")),
                ..Expect::default()
            },
        ),
        (
            "scheduled and pulling: starting",
            with_pods(vec![pod(
                json!({ "phase": "Pending" }),
                Some("dev-worker1"),
            )]),
            Expect {
                phase: Some(P::Starting),
                next: poll(),
                message: "scheduled on dev-worker1",
                ..Expect::default()
            },
        ),
        (
            "running: progress from the container's start",
            with_pods(vec![pod(
                container(json!({ "running": { "startedAt": iso(950) } })),
                Some("dev-worker1"),
            )]),
            Expect {
                phase: Some(P::Running),
                next: poll(),
                message: "running on cluster dev",
                ..Expect::default()
            },
        ),
        (
            "a clean k6 exit succeeds with results",
            with_pods(vec![pod(
                terminated(0, "Completed", K6_OK),
                Some("dev-worker1"),
            )]),
            Expect {
                phase: Some(P::Succeeded),
                next: Some(Next::Requeue(Duration::from_secs(1))),
                release: true,
                message: "every threshold held",
                condition: Some(("Complete", "True", "Succeeded")),
                ..Expect::default()
            },
        ),
        (
            "k6 exit 99: thresholds breached, results kept",
            with_pods(vec![pod(
                terminated(
                    99,
                    "Error",
                    &K6_OK.replace("\"passed\":true", "\"passed\":false"),
                ),
                Some("dev-worker1"),
            )]),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::ThresholdsBreached),
                release: true,
                message: "thresholds breached: http_req_duration p(95)<500",
                ..Expect::default()
            },
        ),
        (
            "out of memory",
            with_pods(vec![pod(
                terminated(137, "OOMKilled", ""),
                Some("dev-worker1"),
            )]),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::OomKilled),
                release: true,
                message: "ran out of memory",
                ..Expect::default()
            },
        ),
        (
            "unschedulable within the grace period: still pending",
            with_pods(vec![unschedulable(990)]),
            Expect {
                phase: Some(P::Pending),
                next: poll(),
                message: "cannot be scheduled",
                ..Expect::default()
            },
        ),
        (
            "unschedulable past the grace period: failed, and the stuck runner goes (holding its slot until it has)",
            with_pods(vec![unschedulable(900)]),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::Unschedulable),
                effect: "DeleteRunner",
                release: false,
                condition: Some(("RunnerStopped", "False", "PodsRunning")),
                message: "Insufficient cpu",
                ..Expect::default()
            },
        ),
        (
            "an image that cannot be pulled fails the test and removes the runner",
            with_pods(vec![image_backoff.clone()]),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::ImagePullFailed),
                effect: "DeleteRunner",
                release: false,
                message: "grafana/k6:9",
                ..Expect::default()
            },
        ),
        (
            "a failed removal of a stuck runner does not hold the result back",
            failing(with_pods(vec![image_backoff]), Class::Transient, "timeout"),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::ImagePullFailed),
                effect: "None",
                release: false,
                message: "grafana/k6:9",
                ..Expect::default()
            },
        ),
        (
            "a crashing runner: PodFailed with its last words",
            with_pods(vec![pod(
                terminated(107, "Error", "level=error msg=\"GoError: bad params\""),
                Some("dev-worker1"),
            )]),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::PodFailed),
                release: true,
                message: "exited with code 107: level=error",
                ..Expect::default()
            },
        ),
        (
            "the Job's deadline: Timeout",
            running(
                test(json!({}), with_runner(), json!({})),
                Some(job(
                    "uid-1",
                    json!([{ "type": "Failed", "status": "True", "reason": "DeadlineExceeded" }]),
                )),
                vec![],
            ),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::Timeout),
                release: true,
                message: "did not finish within 400s",
                ..Expect::default()
            },
        ),
        (
            "no result from a real node: NoResults",
            with_pods(vec![pod(
                terminated(0, "Completed", ""),
                Some("dev-worker1"),
            )]),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::NoResults),
                release: true,
                message: "left no readable result",
                ..Expect::default()
            },
        ),
        (
            "no result from a simulated node says why",
            Observed {
                simulated_node: Some("dev-worker1".into()),
                ..with_pods(vec![pod(
                    terminated(0, "Completed", ""),
                    Some("dev-worker1"),
                )])
            },
            Expect {
                phase: Some(P::Completed),
                reason: Some(Why::RunnerSimulated),
                release: true,
                message: "simulated node dev-worker1 in cluster dev (kwok): simulated pods do no work, so nothing was measured",
                condition: Some(("Measured", "False", "RunnerSimulated")),
                ..Expect::default()
            },
        ),
        (
            "a simulated runner that failed still fails",
            Observed {
                simulated_node: Some("dev-worker1".into()),
                ..with_pods(vec![pod(
                    terminated(2, "Error", "boom"),
                    Some("dev-worker1"),
                )])
            },
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::PodFailed),
                release: true,
                message: "exited with code 2",
                ..Expect::default()
            },
        ),
        (
            "Completed (nothing measured) is finished: its TTL removes the runner",
            observed(test(
                json!({ "ttlSecondsAfterFinished": 60 }),
                finished(json!({ "phase": "Completed", "reason": "RunnerSimulated" })),
                json!({}),
            )),
            Expect {
                effect: "DeleteRunner",
                next: Some(Next::AwaitChange),
                event: Some("RunnerDeleted"),
                condition: Some(("RunnerDeleted", "True", "TTLExpired")),
                ..Expect::default()
            },
        ),
        (
            "finished without a TTL: nothing more to do",
            observed(test(json!({}), finished(json!({})), json!({}))),
            Expect {
                phase: Some(P::Succeeded),
                next: Some(Next::AwaitChange),
                unchanged: true,
                ..Expect::default()
            },
        ),
        (
            "finished, TTL not over: look again when it is",
            observed(test(
                json!({ "ttlSecondsAfterFinished": 600 }),
                finished(json!({})),
                json!({}),
            )),
            Expect {
                next: Some(Next::Requeue(Duration::from_secs(100))),
                unchanged: true,
                ..Expect::default()
            },
        ),
        (
            "finished, TTL over: the runner goes, the results stay",
            observed(test(
                json!({ "ttlSecondsAfterFinished": 60 }),
                finished(json!({})),
                json!({}),
            )),
            Expect {
                effect: "DeleteRunner",
                next: Some(Next::AwaitChange),
                event: Some("RunnerDeleted"),
                condition: Some(("RunnerDeleted", "True", "TTLExpired")),
                ..Expect::default()
            },
        ),
        (
            "finished, TTL over, removal failed: try again later",
            failing(
                observed(test(
                    json!({ "ttlSecondsAfterFinished": 60 }),
                    finished(json!({})),
                    json!({}),
                )),
                Class::Transient,
                "timeout",
            ),
            Expect {
                next: Some(Next::Requeue(Duration::from_secs(30))),
                unchanged: true,
                ..Expect::default()
            },
        ),
        (
            "finished, TTL over, runner already removed",
            observed(test(
                json!({ "ttlSecondsAfterFinished": 60 }),
                finished(
                    json!({ "conditions": [stopped(), { "type": "RunnerDeleted", "status": "True", "reason": "TTLExpired", "message": "", "lastTransitionTime": iso(600) }] }),
                ),
                json!({}),
            )),
            Expect {
                next: Some(Next::AwaitChange),
                unchanged: true,
                ..Expect::default()
            },
        ),
        (
            "deleted, runner gone: the test goes and frees its slot",
            Observed {
                runner: Runner::Found {
                    job: None,
                    pods: vec![],
                },
                ..observed(deleted(with_runner(), 990))
            },
            Expect {
                effect: "DeleteRunner",
                next: Some(Next::AwaitChange),
                release: true,
                unchanged: true,
                ..Expect::default()
            },
        ),
        (
            "deleted while its runner is still there: removed, and the test (and its slot) stays until it is gone",
            running(
                deleted(with_runner(), 990),
                Some(job("uid-1", json!([]))),
                vec![pod(
                    container(json!({ "running": { "startedAt": iso(950) } })),
                    Some("w"),
                )],
            ),
            Expect {
                effect: "DeleteRunner",
                next: Some(Next::Retry(
                    "waiting for the runner Job tart-loadtest/lt-web-1b94fdd9f7 and its pods to go"
                        .into(),
                )),
                release: false,
                unchanged: true,
                ..Expect::default()
            },
        ),
        (
            "finished but its pod still runs: the slot stays taken and the runner is removed",
            running(
                test(
                    json!({}),
                    json!({ "phase": "Failed", "reason": "Timeout", "finishedAt": iso(500), "runner": { "cluster": "dev", "namespace": "tart-loadtest", "job": "lt-web-x" } }),
                    json!({}),
                ),
                Some(job(
                    "uid-1",
                    json!([{ "type": "Failed", "status": "True", "reason": "DeadlineExceeded" }]),
                )),
                vec![pod(
                    container(json!({ "running": { "startedAt": iso(950) } })),
                    Some("w"),
                )],
            ),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::Timeout),
                effect: "DeleteRunner",
                next: poll(),
                release: false,
                condition: Some(("RunnerStopped", "False", "PodsRunning")),
                ..Expect::default()
            },
        ),
        (
            "finished, its pod being deleted but still running: wait for it",
            running(
                test(
                    json!({}),
                    json!({ "phase": "Failed", "reason": "Timeout", "finishedAt": iso(500), "runner": { "cluster": "dev", "namespace": "tart-loadtest", "job": "lt-web-x" } }),
                    json!({}),
                ),
                None,
                vec![{
                    let mut p = pod(
                        container(json!({ "running": { "startedAt": iso(950) } })),
                        Some("w"),
                    );
                    p.metadata.deletion_timestamp =
                        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t(990)));
                    p
                }],
            ),
            Expect {
                effect: "None",
                next: poll(),
                release: false,
                condition: Some(("RunnerStopped", "False", "PodsRunning")),
                ..Expect::default()
            },
        ),
        (
            "finished and its pod stopped: the slot is freed",
            running(
                test(
                    json!({}),
                    json!({ "phase": "Failed", "reason": "Timeout", "finishedAt": iso(500), "runner": { "cluster": "dev", "namespace": "tart-loadtest", "job": "lt-web-x" } }),
                    json!({}),
                ),
                Some(job(
                    "uid-1",
                    json!([{ "type": "Failed", "status": "True", "reason": "DeadlineExceeded" }]),
                )),
                vec![pod(terminated(137, "Error", ""), Some("w"))],
            ),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::Timeout),
                next: Some(Next::Requeue(Duration::from_secs(1))),
                release: true,
                condition: Some(("RunnerStopped", "True", "PodsStopped")),
                ..Expect::default()
            },
        ),
        (
            "finished, runner unreadable: it keeps its slot until it can be read",
            observed(test(
                json!({}),
                json!({ "phase": "Succeeded", "finishedAt": iso(500), "runner": { "cluster": "dev", "namespace": "tart-loadtest", "job": "lt-web-x" } }),
                json!({}),
            )),
            Expect {
                next: Some(Next::Requeue(Duration::from_secs(30))),
                release: false,
                unchanged: true,
                ..Expect::default()
            },
        ),
        (
            "deleted before it had a runner, cluster gone: nothing to clean",
            no_cluster(observed(deleted(json!({ "phase": "Pending" }), 990))),
            Expect {
                next: Some(Next::AwaitChange),
                release: true,
                unchanged: true,
                ..Expect::default()
            },
        ),
        (
            "deleted while its cluster is gone: retried with backoff",
            no_cluster(observed(deleted(with_runner(), 990))),
            Expect {
                next: Some(Next::Retry("cluster dev is not connected".into())),
                release: true,
                unchanged: true,
                ..Expect::default()
            },
        ),
        (
            "deleted, removal failing past the cleanup timeout: give up loudly",
            failing(
                observed(deleted(with_runner(), 800)),
                Class::Transient,
                "connection refused",
            ),
            Expect {
                next: Some(Next::AwaitChange),
                release: true,
                event: Some("CleanupAbandoned"),
                unchanged: true,
                ..Expect::default()
            },
        ),
    ]
}
