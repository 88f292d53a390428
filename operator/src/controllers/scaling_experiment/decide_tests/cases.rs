//! The table: an experiment from its first look to its end.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    let new = || experiment(json!({}), json!(null));
    let baseline = |extra: Value| experiment(json!({}), resolved(extra));
    let loading = |extra: Value| {
        let mut s =
            json!({ "phase": "Loading", "loadTest": "scale-load", "loadStartedAt": iso(950) });
        merge(&mut s, extra);
        baseline(s)
    };
    let cooling = |ended: i64, spec: Value| {
        experiment(
            spec,
            resolved(
                json!({ "phase": "CoolingDown", "loadTest": "scale-load", "loadStartedAt": iso(700), "loadEndedAt": iso(ended) }),
            ),
        )
    };
    let running_child = child_lt("se-1", json!({ "phase": "Running", "startedAt": iso(950) }));
    let done_child = |failure: Option<&str>, started: Option<i64>| {
        child_lt(
            "se-1",
            json!({ "phase": if failure.is_some() { "Failed" } else { "Succeeded" }, "message": failure, "startedAt": started.map(iso), "finishedAt": iso(990) }),
        )
    };
    let two_samples = series(&[(980, 1), (985, 1)]);
    let full = settings().max_live_experiments;
    vec![
        (
            "a new experiment waits while the most experiments sample",
            with(observed(new()), |o| {
                o.series = None;
                o.sampling = full;
            }),
            Expect {
                phase: Some(P::Pending),
                effect: "None",
                sampler: "Keep",
                next: requeue(5),
                message: "waiting to start: 20 experiments are sampling, at most 20 at once",
                ..Expect::default()
            },
        ),
        (
            "a begun experiment without its sampler (after a restart) resumes it however many sample",
            with(observed(baseline(json!({}))), |o| {
                o.series = None;
                o.sampling = full + 5;
            }),
            Expect {
                phase: Some(P::Baseline),
                sampler: "Start",
                ..Expect::default()
            },
        ),
        (
            "a finished experiment stops its sampler and waits",
            observed(experiment(json!({}), json!({ "phase": "Completed" }))),
            Expect {
                effect: "None",
                sampler: "Stop",
                next: Some(Next::AwaitChange),
                unchanged: true,
                ..Expect::default()
            },
        ),
        (
            "a finished experiment without a sampler does nothing",
            with(
                observed(experiment(json!({}), json!({ "phase": "Failed" }))),
                |o| o.series = None,
            ),
            Expect {
                effect: "None",
                sampler: "Keep",
                next: Some(Next::AwaitChange),
                unchanged: true,
                ..Expect::default()
            },
        ),
        (
            "a load the planner refuses is InvalidSpec",
            observed(experiment(
                json!({ "load": { "preset": "scale-light", "http": { "targetUrl": "http://x" } } }),
                json!(null),
            )),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::InvalidSpec),
                effect: "None",
                sampler: "Stop",
                next: Some(Next::AwaitChange),
                message: "invalid spec: spec.load: set exactly one",
                condition: Some(("Complete", "True", "InvalidSpec")),
                ..Expect::default()
            },
        ),
        (
            "an unusable cluster: wait and say why",
            with(observed(new()), |o| {
                o.unusable = Some("ManagedCluster dev is not connected".into())
            }),
            Expect {
                phase: Some(P::Pending),
                effect: "None",
                sampler: "Keep",
                next: requeue(5),
                message: "waiting for cluster dev: ManagedCluster dev is not connected",
                condition: Some(("ClusterReachable", "False", "ClusterUnavailable")),
                ..Expect::default()
            },
        ),
        (
            "a cluster unusable past the window fails the experiment",
            with(
                observed(experiment(
                    json!({}),
                    json!({ "phase": "Baseline", "conditions": [{ "type": "ClusterReachable", "status": "False", "reason": "ClusterUnavailable", "message": "x", "lastTransitionTime": iso(100) }] }),
                )),
                |o| o.unusable = Some("gone".into()),
            ),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::ClusterUnavailable),
                effect: "None",
                sampler: "Stop",
                next: Some(Next::AwaitChange),
                message: "stayed unavailable for more than 300s: gone",
                ..Expect::default()
            },
        ),
        (
            "a new experiment resolves its targets, starts sampling and takes a baseline",
            with(observed(new()), |o| {
                o.hpas = vec![hpa("web", "nginx-web", Some(120))];
                o.series = None;
            }),
            Expect {
                phase: Some(P::Baseline),
                effect: "None",
                sampler: "Start",
                next: requeue(10),
                message: "sampling 1 target(s) every 5s for a baseline",
                condition: Some(("CooldownSufficient", "True", "ExceedsStabilizationWindow")),
                ..Expect::default()
            },
        ),
        (
            "a cooldown shorter than an HPA's scale-down window warns",
            with(observed(new()), |o| {
                o.hpas = vec![hpa("web", "nginx-web", None)]
            }),
            Expect {
                phase: Some(P::Baseline),
                effect: "None",
                sampler: "Keep",
                event: Some("CooldownTooShort"),
                message: "baseline",
                condition: Some((
                    "CooldownSufficient",
                    "False",
                    "ShorterThanStabilizationWindow",
                )),
                ..Expect::default()
            },
        ),
        (
            "no HPA in the target namespace: NoHpa with the fix",
            observed(new()),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::NoHpa),
                effect: "None",
                sampler: "Stop",
                next: Some(Next::AwaitChange),
                message: "namespace demo of cluster dev has no HPA",
                condition: Some(("TargetsResolved", "False", "NoHpa")),
                ..Expect::default()
            },
        ),
        (
            "a LoadTest of the child's name owned by someone else fails the experiment",
            with(observed(baseline(json!({}))), |o| {
                o.child = Some(child_lt("other", json!(null)))
            }),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::LoadTestFailed),
                effect: "None",
                sampler: "Stop",
                message: "does not belong to this experiment",
                ..Expect::default()
            },
        ),
        (
            "one baseline sample: look again at the next sample",
            with(observed(baseline(json!({}))), |o| {
                o.series = Some(series(&[(990, 1)]))
            }),
            Expect {
                phase: Some(P::Baseline),
                effect: "None",
                sampler: "Keep",
                next: requeue(5),
                ..Expect::default()
            },
        ),
        (
            "two baseline samples: the child LoadTest is created",
            with(observed(baseline(json!({}))), |o| {
                o.series = Some(two_samples.clone())
            }),
            Expect {
                phase: Some(P::Baseline),
                effect: "CreateChild",
                sampler: "Keep",
                message: "baseline taken; LoadTest scale-load created",
                ..Expect::default()
            },
        ),
        (
            "a sample from the current second does not count for the baseline",
            with(observed(baseline(json!({}))), |o| {
                o.series = Some(series(&[(990, 1), (NOW, 1)]))
            }),
            Expect {
                phase: Some(P::Baseline),
                effect: "None",
                sampler: "Keep",
                ..Expect::default()
            },
        ),
        (
            "the child refused for good: LoadTestFailed",
            with(observed(baseline(json!({}))), |o| {
                o.series = Some(two_samples.clone());
                o.failure = Some(Failure {
                    class: Class::Permanent,
                    message: "spec.cluster: Invalid value (HTTP 422)".into(),
                });
            }),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::LoadTestFailed),
                effect: "None",
                sampler: "Stop",
                message: "cannot create LoadTest team/scale-load: spec.cluster",
                ..Expect::default()
            },
        ),
        (
            "the child not created for a passing reason: retried with backoff",
            with(observed(baseline(json!({}))), |o| {
                o.series = Some(two_samples.clone());
                o.failure = Some(Failure {
                    class: Class::Transient,
                    message: "etcd leader changed".into(),
                });
            }),
            Expect {
                effect: "None",
                sampler: "Keep",
                next: Some(Next::Retry(
                    "cannot create LoadTest team/scale-load: etcd leader changed".into(),
                )),
                unchanged: true,
                ..Expect::default()
            },
        ),
        (
            "the child exists but its runner does not run yet",
            with(
                observed(baseline(json!({ "loadTest": "scale-load" }))),
                |o| {
                    o.series = Some(two_samples.clone());
                    o.child = Some(child_lt("se-1", json!({ "phase": "Pending" })));
                },
            ),
            Expect {
                phase: Some(P::Baseline),
                effect: "None",
                sampler: "Keep",
                next: requeue(10),
                ..Expect::default()
            },
        ),
        (
            "the runner runs: the load clock starts at the runner's start",
            with(
                observed(baseline(json!({ "loadTest": "scale-load" }))),
                |o| o.child = Some(running_child.clone()),
            ),
            Expect {
                phase: Some(P::Loading),
                effect: "None",
                sampler: "Keep",
                message: "load running since",
                ..Expect::default()
            },
        ),
        (
            "loading while the runner runs: nothing new",
            with(observed(loading(json!({}))), |o| {
                o.child = Some(running_child.clone())
            }),
            Expect {
                phase: Some(P::Loading),
                effect: "None",
                sampler: "Keep",
                next: requeue(10),
                ..Expect::default()
            },
        ),
        (
            "the load ended: cooldown",
            with(observed(loading(json!({}))), |o| {
                o.child = Some(done_child(None, Some(950)))
            }),
            Expect {
                phase: Some(P::CoolingDown),
                effect: "None",
                sampler: "Keep",
                message: "load ended; sampling for up to 180s of cooldown",
                ..Expect::default()
            },
        ),
        (
            "the load failed after it started: still cooling down, and said so",
            with(observed(loading(json!({}))), |o| {
                o.child = Some(done_child(Some("thresholds breached"), Some(950)))
            }),
            Expect {
                phase: Some(P::CoolingDown),
                effect: "None",
                sampler: "Keep",
                message: "(the LoadTest failed: thresholds breached)",
                ..Expect::default()
            },
        ),
        (
            "a load that never ran fails the experiment",
            with(
                observed(baseline(json!({ "loadTest": "scale-load" }))),
                |o| o.child = Some(done_child(Some("Unschedulable"), None)),
            ),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::LoadTestFailed),
                effect: "None",
                sampler: "Stop",
                message: "the load never ran: Unschedulable",
                ..Expect::default()
            },
        ),
        (
            "the child deleted during the load cancels",
            observed(loading(json!({}))),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::Cancelled),
                effect: "None",
                sampler: "Stop",
                next: Some(Next::AwaitChange),
                message: "deleted before the load finished",
                ..Expect::default()
            },
        ),
        (
            "cooling down: look again when the cooldown ends, at the latest",
            with(observed(cooling(995, json!({}))), |o| {
                o.child = Some(done_child(None, Some(700)))
            }),
            Expect {
                phase: Some(P::CoolingDown),
                effect: "None",
                sampler: "Keep",
                next: requeue(10),
                ..Expect::default()
            },
        ),
        (
            "cooldown over: Completed, and the sampler stops",
            with(observed(cooling(800, json!({}))), |o| {
                o.child = Some(done_child(None, Some(700)))
            }),
            Expect {
                phase: Some(P::Completed),
                effect: "None",
                sampler: "Stop",
                next: Some(Next::AwaitChange),
                message: "cooldown of 180s over",
                condition: Some(("Complete", "True", "Completed")),
                ..Expect::default()
            },
        ),
        (
            "back at baseline with endCooldownWhenBaselineRestored: Completed early",
            with(
                observed(cooling(
                    990,
                    json!({ "endCooldownWhenBaselineRestored": true }),
                )),
                |o| {
                    o.child = Some(done_child(None, Some(700)));
                    o.series = Some(series(&[(600, 1), (650, 1), (750, 4), (995, 1)]));
                },
            ),
            Expect {
                phase: Some(P::Completed),
                effect: "None",
                sampler: "Stop",
                message: "every target is back at its baseline",
                ..Expect::default()
            },
        ),
        (
            "nothing urgent and written 3 s ago: no write, look again when due",
            with(
                observed(loading(json!({ "message": "load running since x" }))),
                |o| {
                    o.child = Some(running_child.clone());
                    o.since_written = Some(Duration::from_secs(3));
                },
            ),
            Expect {
                effect: "None",
                sampler: "Keep",
                next: requeue(7),
                unchanged: true,
                ..Expect::default()
            },
        ),
        (
            "after an operator restart the sampler resumes from the samples in status",
            with(
                observed(loading(
                    json!({ "samples": [{ "time": iso(900), "phase": "Baseline", "replicas": [1], "cpuPercent": [50] }] }),
                )),
                |o| {
                    o.child = Some(running_child.clone());
                    o.series = None;
                },
            ),
            Expect {
                phase: Some(P::Loading),
                effect: "None",
                sampler: "Start",
                ..Expect::default()
            },
        ),
    ]
}
