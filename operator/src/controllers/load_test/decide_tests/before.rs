//! Decisions before the runner runs: the cluster, the spec, the queue, creating or adopting
//! the runner.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    let unavailable_since = |secs: i64| {
        test(
            json!({}),
            json!({ "phase": "Pending", "conditions": [{ "type": "ClusterReachable", "status": "False", "reason": "ClusterUnavailable", "message": "x", "lastTransitionTime": iso(secs) }] }),
            json!({}),
        )
    };
    let queued_before = test(
        json!({}),
        json!({ "phase": "Pending", "conditions": [{ "type": "Queued", "status": "True", "reason": "WaitingForSlot", "message": "x", "lastTransitionTime": iso(5) }] }),
        json!({}),
    );
    vec![
        (
            "a new test on a cluster the operator has no client for waits",
            no_cluster(observed(new_test())),
            Expect {
                phase: Some(P::Pending),
                next: poll(),
                event: Some("ClusterUnavailable"),
                message: "ManagedCluster dev is not connected",
                condition: Some(("ClusterReachable", "False", "ClusterUnavailable")),
                ..Expect::default()
            },
        ),
        (
            "a test already waiting for its cluster does not repeat the warning",
            no_cluster(observed(unavailable_since(900))),
            Expect {
                phase: Some(P::Pending),
                next: poll(),
                message: "waiting for cluster dev",
                ..Expect::default()
            },
        ),
        (
            "a cluster unavailable past the window fails the test",
            no_cluster(observed(unavailable_since(600))),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::ClusterUnavailable),
                next: poll(),
                release: true,
                message: "stayed unavailable for more than 300s",
                ..Expect::default()
            },
        ),
        (
            "a spec the planner refuses is InvalidSpec, not PodFailed",
            observed(test(
                json!({ "stress": { "kind": "cpu" } }),
                json!(null),
                json!({}),
            )),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::InvalidSpec),
                next: Some(Next::AwaitChange),
                release: true,
                message: "invalid spec: spec: set exactly one of preset, http or stress",
                condition: Some(("Complete", "True", "Failed")),
                ..Expect::default()
            },
        ),
        (
            "no free slot: queued with its place in line",
            Observed {
                admission: Some(Admission::Queued {
                    position: 2,
                    running: 2,
                }),
                ..observed(new_test())
            },
            Expect {
                phase: Some(P::Pending),
                next: poll(),
                message: "queued: 2 test(s) running on cluster dev (at most 2 at once); position 2 in line",
                condition: Some(("Queued", "True", "WaitingForSlot")),
                ..Expect::default()
            },
        ),
        (
            "admitted: the runner is created",
            admitted(new_test(), None),
            Expect {
                phase: Some(P::Pending),
                effect: "CreateRunner",
                next: Some(Next::Requeue(Duration::from_secs(2))),
                event: Some("RunnerCreated"),
                message: "created in cluster dev",
                condition: Some(("RunnerCreated", "True", "JobCreated")),
                ..Expect::default()
            },
        ),
        (
            "admitted after waiting: Queued turns False",
            admitted(queued_before.clone(), None),
            Expect {
                phase: Some(P::Pending),
                effect: "CreateRunner",
                event: Some("RunnerCreated"),
                message: "created",
                condition: Some(("Queued", "False", "Admitted")),
                ..Expect::default()
            },
        ),
        (
            "a header Secret that cannot be used ends the test with its reason, no runner",
            Observed {
                headers: Err("header authorization: Secret team/token is not labelled tartinfra.dev/loadtest-header".into()),
                ..admitted(new_test(), None)
            },
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::HeaderSecretInvalid),
                next: Some(Next::AwaitChange),
                release: true,
                message: "is not labelled tartinfra.dev/loadtest-header",
                ..Expect::default()
            },
        ),
        (
            "a runner created before a restart is adopted, not created twice",
            admitted(new_test(), Some(job("uid-1", json!([])))),
            Expect {
                phase: Some(P::Pending),
                effect: "None",
                event: Some("RunnerCreated"),
                message: "created in cluster dev",
                ..Expect::default()
            },
        ),
        (
            "a Job of the same name owned by another test is a permanent rejection",
            admitted(new_test(), Some(job("uid-other", json!([])))),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::RunnerRejected),
                next: Some(Next::AwaitChange),
                release: true,
                message: "belongs to another LoadTest",
                ..Expect::default()
            },
        ),
        (
            "the cluster refusing the runner for good (403, quota) fails at once",
            failing(
                admitted(new_test(), None),
                Class::Permanent,
                "jobs.batch is forbidden (HTTP 403)",
            ),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::RunnerRejected),
                next: Some(Next::AwaitChange),
                release: true,
                message: "cluster dev refused the runner: jobs.batch is forbidden",
                ..Expect::default()
            },
        ),
        (
            "a transient creation failure waits for the cluster and frees the slot",
            failing(
                admitted(queued_before, None),
                Class::Transient,
                "connection refused",
            ),
            Expect {
                phase: Some(P::Pending),
                next: poll(),
                release: true,
                event: Some("ClusterUnavailable"),
                message: "cannot create the runner in cluster dev: connection refused",
                condition: Some(("ClusterReachable", "False", "ClusterUnavailable")),
                ..Expect::default()
            },
        ),
        (
            "a test breaking its cluster's policy fails before it takes a slot",
            Observed {
                policy: Some(Ok(LoadTestPolicy {
                    max_vus: 5,
                    ..LoadTestPolicy::default()
                })),
                ..admitted(new_test(), None)
            },
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::PolicyViolation),
                next: Some(Next::AwaitChange),
                release: true,
                message: "cluster dev's loadTestPolicy refused the test: maxVUs: 10 VUs asked, at most 5",
                condition: Some(("Complete", "True", "Failed")),
                ..Expect::default()
            },
        ),
        (
            "a queued test breaking the policy fails without waiting for its turn",
            Observed {
                policy: Some(Ok(LoadTestPolicy {
                    allowed_namespaces: vec!["other".into()],
                    ..LoadTestPolicy::default()
                })),
                admission: Some(Admission::Queued {
                    position: 3,
                    running: 2,
                }),
                ..observed(new_test())
            },
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::PolicyViolation),
                release: true,
                message: "allowedNamespaces: LoadTests from namespace team may not target this cluster (allowed: other)",
                ..Expect::default()
            },
        ),
        (
            "a policy that cannot be read waits as for an unavailable cluster",
            Observed {
                policy: Some(Err("cannot read ManagedCluster dev: timed out".into())),
                ..observed(new_test())
            },
            Expect {
                phase: Some(P::Pending),
                next: poll(),
                event: Some("ClusterUnavailable"),
                message: "cannot read ManagedCluster dev: timed out",
                ..Expect::default()
            },
        ),
        (
            "a cluster policy's maxConcurrentTests shows in the queue message",
            Observed {
                policy: Some(Ok(LoadTestPolicy {
                    max_concurrent_tests: Some(1),
                    ..LoadTestPolicy::default()
                })),
                admission: Some(Admission::Queued {
                    position: 1,
                    running: 1,
                }),
                ..observed(new_test())
            },
            Expect {
                phase: Some(P::Pending),
                message: "queued: 1 test(s) running on cluster dev (at most 1 at once); position 1 in line",
                ..Expect::default()
            },
        ),
        (
            "a runner namespace the operator did not create is refused, never relabelled",
            Observed {
                runner_namespace: Some(RunnerNamespace::Foreign),
                ..admitted(new_test(), None)
            },
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::PolicyViolation),
                effect: "None",
                next: Some(Next::AwaitChange),
                release: true,
                message: "runner namespace tart-loadtest exists in cluster dev and was not created by the operator (it lacks the label app.kubernetes.io/managed-by=tart-operator)",
                ..Expect::default()
            },
        ),
        (
            "a runner that cannot be read waits for the cluster",
            Observed {
                runner: Runner::Unreadable("timed out".into()),
                ..observed(test(json!({}), with_runner(), json!({})))
            },
            Expect {
                phase: Some(P::Pending),
                next: poll(),
                event: Some("ClusterUnavailable"),
                message: "cannot read the runner in cluster dev: timed out",
                ..Expect::default()
            },
        ),
    ]
}

#[test]
fn far_back_in_a_long_line_the_status_changes_only_at_round_positions() {
    let cases = [
        (
            1,
            "queued: 3 test(s) running on cluster dev (at most 3 at once); position 1 in line",
        ),
        (
            10,
            "queued: 3 test(s) running on cluster dev (at most 3 at once); position 10 in line",
        ),
        (
            11,
            "queued: cluster dev runs at most 3 test(s) at once; further back than position 10 in line",
        ),
        (
            20,
            "queued: cluster dev runs at most 3 test(s) at once; further back than position 10 in line",
        ),
        (
            21,
            "queued: cluster dev runs at most 3 test(s) at once; further back than position 20 in line",
        ),
        (
            57,
            "queued: cluster dev runs at most 3 test(s) at once; further back than position 50 in line",
        ),
        (
            970,
            "queued: cluster dev runs at most 3 test(s) at once; further back than position 500 in line",
        ),
        (
            1001,
            "queued: cluster dev runs at most 3 test(s) at once; further back than position 1000 in line",
        ),
    ];
    for (position, want) in cases {
        assert_eq!(
            super::super::queued_message(position, 3, "dev", 3),
            want,
            "position {position}"
        );
    }
    // Over a line of 1 000 draining one by one, a test's status changes at most 16 times.
    let messages: std::collections::HashSet<String> = (1..=1000)
        .map(|p| super::super::queued_message(p, 3, "dev", 3))
        .collect();
    assert_eq!(messages.len(), 10 + 6);
}
