//! Table tests of the ScalingExperiment decisions: each case is an observation (the
//! experiment, the cluster's HPAs, the series so far, the child LoadTest) and what the
//! decision must be. No cluster, no clock: the time is a parameter.

use std::sync::Arc;

use crds::scaling_experiment::{ExperimentPhase as P, ExperimentReason as Why};
use crds::{LoadTest, ScalingExperiment};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use serde_json::{Value, json};

use super::*;
use crate::controllers::error::Failure;
use crate::controllers::scaling_experiment::kpis::Reading;

const T0: i64 = 1_800_000_000;
/// The decision time of every case.
const NOW: i64 = 1_000;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(T0 + secs).expect("time")
}

fn iso(secs: i64) -> String {
    t(secs).to_string()
}

fn settings() -> Settings {
    Settings {
        cluster_unavailable_timeout: Duration::from_secs(300),
        ..Settings::default()
    }
}

fn merge(base: &mut Value, over: Value) {
    if let (Value::Object(b), Value::Object(o)) = (base, over) {
        for (k, v) in o {
            b.insert(k, v);
        }
    }
}

/// Experiment `team/scale` on dev: 10 VUs for 60 s, HPAs of namespace demo, a sample every
/// 5 s, 180 s of cooldown, unless `spec` says otherwise.
fn experiment(spec: Value, status: Value) -> ScalingExperiment {
    let mut all = json!({
        "cluster": "dev",
        "load": { "http": { "targetUrl": "http://nginx-web.demo", "vus": 10, "duration": "60s" } },
        "targetNamespace": "demo", "sampleIntervalSeconds": 5, "cooldownSeconds": 180,
    });
    merge(&mut all, spec);
    serde_json::from_value(json!({
        "apiVersion": "tartinfra.dev/v1alpha1", "kind": "ScalingExperiment",
        "metadata": { "name": "scale", "namespace": "team", "uid": "se-1", "generation": 1, "creationTimestamp": iso(0) },
        "spec": all, "status": status,
    }))
    .expect("experiment")
}

/// The status of an experiment whose target nginx-web (HPA web) is resolved.
fn resolved(extra: Value) -> Value {
    let mut s = json!({
        "phase": "Baseline", "startedAt": iso(900), "observedGeneration": 1,
        "deployments": [{ "namespace": "demo", "name": "nginx-web", "hpa": "web" }],
        "conditions": [
            { "type": "ClusterReachable", "status": "True", "reason": "Reachable", "message": "", "lastTransitionTime": iso(900), "observedGeneration": 1 },
            { "type": "TargetsResolved", "status": "True", "reason": "Resolved", "message": "demo/nginx-web (HPA web)", "lastTransitionTime": iso(900) },
            { "type": "CooldownSufficient", "status": "True", "reason": "ExceedsStabilizationWindow", "message": "", "lastTransitionTime": iso(900) },
        ],
    });
    merge(&mut s, extra);
    s
}

fn hpa(name: &str, target: &str, window: Option<i32>) -> Arc<HorizontalPodAutoscaler> {
    let behavior = window.map(|w| json!({ "scaleDown": { "stabilizationWindowSeconds": w } }));
    Arc::new(
        serde_json::from_value(json!({
            "metadata": { "name": name, "namespace": "demo" },
            "spec": { "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": target }, "maxReplicas": 10, "behavior": behavior },
        }))
        .expect("hpa"),
    )
}

/// The child LoadTest, owned by `owner`, with `status`.
fn child_lt(owner: &str, status: Value) -> LoadTest {
    serde_json::from_value(json!({
        "apiVersion": "tartinfra.dev/v1alpha1", "kind": "LoadTest",
        "metadata": { "name": "scale-load", "namespace": "team", "ownerReferences": [{ "apiVersion": "tartinfra.dev/v1alpha1", "kind": "ScalingExperiment", "name": "scale", "uid": owner, "controller": true }] },
        "spec": { "cluster": "dev", "preset": "light-load" },
        "status": status,
    }))
    .expect("loadtest")
}

/// A series of `replicas` at the given seconds.
fn series(points: &[(i64, i32)]) -> Vec<Point> {
    points
        .iter()
        .map(|(at, r)| Point {
            at: t(*at),
            readings: vec![Reading {
                replicas: Some(*r),
                cpu: Some(50),
            }],
        })
        .collect()
}

fn observed(se: ScalingExperiment) -> Observed {
    Observed {
        experiment: Arc::new(se),
        unusable: None,
        hpas: vec![],
        series: Some(vec![]),
        child: None,
        since_written: None,
        failure: None,
    }
}

fn with(o: Observed, f: impl FnOnce(&mut Observed)) -> Observed {
    let mut o = o;
    f(&mut o);
    o
}

/// What a decision must be; unset fields are not checked.
#[derive(Default)]
struct Expect {
    phase: Option<P>,
    reason: Option<Why>,
    effect: &'static str,
    sampler: &'static str,
    next: Option<Next>,
    event: Option<&'static str>,
    message: &'static str,
    condition: Option<(&'static str, &'static str, &'static str)>,
    unchanged: bool,
}

fn sampler_name(s: &Sampler) -> &'static str {
    match s {
        Sampler::Keep => "Keep",
        Sampler::Start { .. } => "Start",
        Sampler::Stop => "Stop",
    }
}

fn check(name: &str, o: &Observed, want: &Expect) {
    let d = decide(o, &settings(), t(NOW));
    assert_eq!(d, decide(o, &settings(), t(NOW)), "{name}: deterministic");
    let s = &d.status;
    if want.unchanged {
        assert_eq!(
            Some(s),
            o.experiment.status.as_ref(),
            "{name}: status must not change"
        );
    }
    if let Some(phase) = want.phase {
        assert_eq!(s.phase, Some(phase), "{name}: phase ({:?})", s.message);
        assert_eq!(s.reason, want.reason, "{name}: reason ({:?})", s.message);
    }
    let or = |s: &'static str, default| if s.is_empty() { default } else { s };
    assert_eq!(d.effect.name(), or(want.effect, "None"), "{name}: effect");
    assert_eq!(
        sampler_name(&d.sampler),
        or(want.sampler, "Keep"),
        "{name}: sampler"
    );
    if let Some(next) = &want.next {
        assert_eq!(&d.next, next, "{name}: next");
    }
    assert_eq!(
        d.event.as_ref().map(|e| e.reason.as_str()),
        want.event,
        "{name}: event"
    );
    let message = s.message.clone().unwrap_or_default();
    assert!(
        message.contains(want.message),
        "{name}: message {message:?} lacks {:?}",
        want.message
    );
    if let Some((type_, status, reason)) = want.condition {
        let c = s
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .unwrap_or_else(|| panic!("{name}: no condition {type_}"));
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            (status, reason),
            "{name}: {type_}"
        );
    }
}

fn requeue(secs: u64) -> Option<Next> {
    Some(Next::Requeue(Duration::from_secs(secs)))
}

#[test]
fn decisions() {
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
    let cases: Vec<(&str, Observed, Expect)> = vec![
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
    ];
    assert!(cases.len() >= 25, "{} cases", cases.len());
    for (name, o, want) in &cases {
        check(name, o, want);
    }
}

#[test]
fn numbers_come_from_the_series_when_due() {
    let se = experiment(
        json!({}),
        resolved(
            json!({ "phase": "Loading", "loadTest": "scale-load", "loadStartedAt": iso(900) }),
        ),
    );
    let child = child_lt(
        "se-1",
        json!({ "phase": "Running", "startedAt": iso(900), "results": { "rps": 40.0 } }),
    );
    let o = with(observed(se), |o| {
        o.child = Some(child);
        o.series = Some(series(&[(880, 1), (890, 1), (905, 2), (920, 4)]));
        o.since_written = Some(Duration::from_secs(30));
    });
    let d = decide(&o, &settings(), t(NOW));
    let k = d.status.kpis.expect("kpis written when due");
    assert_eq!(
        (k.peak_replicas, k.scale_up_latency_seconds),
        (Some(4), Some(5.0))
    );
    assert_eq!(d.status.samples.len(), 4);
    assert_eq!(d.status.deployments[0].peak_replicas, Some(4));
}

#[test]
fn the_child_is_built_for_the_experiment_and_its_sampler_gets_the_plan() {
    let o = with(observed(experiment(json!({}), resolved(json!({})))), |o| {
        o.series = None;
        o.hpas = vec![];
    });
    let d = decide(&o, &settings(), t(NOW));
    match &d.sampler {
        Sampler::Start {
            targets,
            every,
            seed,
        } => {
            assert_eq!(targets.len(), 1);
            assert_eq!(targets[0].hpa, "web");
            assert_eq!(*every, Duration::from_secs(5));
            assert!(seed.is_empty());
        }
        other => panic!("{other:?}"),
    }
    let o = with(observed(experiment(json!({}), resolved(json!({})))), |o| {
        o.series = Some(series(&[(980, 1), (985, 1)]))
    });
    let Effect::CreateChild(lt) = decide(&o, &settings(), t(NOW)).effect else {
        panic!("no child")
    };
    assert_eq!(lt.metadata.name.as_deref(), Some("scale-load"));
    assert_eq!(lt.metadata.namespace.as_deref(), Some("team"));
    assert_eq!(lt.owner_references()[0].uid, "se-1");
    assert_eq!(lt.spec.http.as_ref().map(|h| h.vus), Some(Some(10)));
}

#[test]
fn a_finished_child_without_a_finish_time_ended_at_the_decision_time() {
    let mut lt = child_lt(
        "se-1",
        json!({ "phase": "Succeeded", "startedAt": iso(900) }),
    );
    lt.status.as_mut().expect("status").finished_at = None;
    assert_eq!(
        Child::of(Some(&lt), true, t(NOW)),
        Child::Finished {
            started: Some(t(900)),
            finished: t(NOW),
            failure: None
        }
    );
}
