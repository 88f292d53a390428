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

mod cases;

/// One row: a name, what was observed, what the decision must be.
type Case = (&'static str, Observed, Expect);
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
        sampling: 1,
        child: None,
        since_written: None,
        baselines: vec![],
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
    crate::controllers::expect::common(
        name,
        d.event.as_ref(),
        want.event,
        s.message.as_deref(),
        want.message,
        &s.conditions,
        want.condition,
    );
}

fn requeue(secs: u64) -> Option<Next> {
    Some(Next::Requeue(Duration::from_secs(secs)))
}

#[test]
fn decisions() {
    let cases = cases::cases();
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

#[test]
fn a_completing_experiment_with_a_baseline_is_compared_once_never_on_a_simulated_load() {
    let cooling = experiment(
        json!({ "baseline": { "name": "base" } }),
        resolved(
            json!({ "phase": "CoolingDown", "loadTest": "scale-load", "loadStartedAt": iso(700), "loadEndedAt": iso(800) }),
        ),
    );
    let base: ScalingExperiment = serde_json::from_value(json!({
        "apiVersion": "tartinfra.dev/v1alpha1", "kind": "ScalingExperiment",
        "metadata": { "name": "base", "namespace": "team", "uid": "se-0" },
        "spec": { "cluster": "dev", "load": { "preset": "scale-light" } },
        "status": { "phase": "Completed", "finishedAt": iso(100), "kpis": { "scaleUpLatencySeconds": 20.0, "peakReplicas": 1 } },
    }))
    .expect("baseline");
    let child = |status: Value| child_lt("se-1", status);
    let real = json!({ "phase": "Succeeded", "startedAt": iso(700), "finishedAt": iso(800) });
    let simulated = json!({ "phase": "Completed", "reason": "RunnerSimulated", "startedAt": iso(700), "finishedAt": iso(800) });
    let regression = |d: &Decision| {
        d.status
            .conditions
            .iter()
            .find(|c| c.type_ == "RegressionDetected")
            .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
    };
    let finishing = |child_status: Value| {
        with(observed(cooling.clone()), |o| {
            o.child = Some(child(child_status));
            o.series = Some(series(&[(690, 1), (750, 1), (790, 1)]));
            o.baselines = vec![Arc::new(base.clone())];
        })
    };
    let d = decide(&finishing(real), &settings(), t(NOW));
    assert_eq!(d.status.phase, Some(P::Completed));
    let (status, reason, message) = regression(&d).expect("compared");
    assert_eq!(
        d.status
            .comparison
            .as_ref()
            .map(|c| c.baseline.name.as_str()),
        Some("base")
    );
    assert!(status != "Unknown", "{reason}: {message}");
    // Compared once: the finished experiment's next look changes nothing.
    let mut done = cooling.clone();
    done.status = Some(d.status.clone());
    let again = decide(
        &with(observed(done), |o| o.baselines = vec![]),
        &settings(),
        t(NOW + 60),
    );
    assert_eq!(again.status, d.status);
    // A load that ran on a simulated node measured nothing: Unknown, and no comparison.
    let d = decide(&finishing(simulated), &settings(), t(NOW));
    let (status, reason, message) = regression(&d).expect("condition");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("Unknown", "NotMeasured")
    );
    assert!(
        message.contains("its load, LoadTest scale-load, measured nothing: RunnerSimulated"),
        "{message}"
    );
    assert!(d.status.comparison.is_none());
}
