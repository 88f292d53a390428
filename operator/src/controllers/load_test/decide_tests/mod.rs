//! Table tests of the LoadTest decisions: each case is an observation (built from YAML-like
//! JSON of the test, its runner Job and pod) and what the decision must be. No cluster, no
//! clock: the time is a parameter.

use std::sync::Arc;
use std::time::Duration;

use crds::LoadTest;
use crds::load_test::{LoadTestPhase as P, LoadTestReason as Why};
use crds::managed_cluster::LoadTestPolicy;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::*;
use crate::controllers::error::Failure;

mod after;
mod before;
mod node_usage;
mod parallel;

/// One row: a name, what was observed, what the decision must be.
type Case = (&'static str, Observed, Expect);

const T0: i64 = 1_800_000_000;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(T0 + secs).expect("time")
}

fn iso(secs: i64) -> String {
    t(secs).to_string()
}

/// The decision time of every case.
const NOW: i64 = 1_000;

fn settings() -> Settings {
    Settings {
        max_tests_per_cluster: 2,
        cluster_unavailable_timeout: Duration::from_secs(300),
        unschedulable_grace: Duration::from_secs(60),
        cleanup_timeout: Duration::from_secs(120),
        ..Settings::default()
    }
}

/// A LoadTest `team/web` on cluster dev: 10 VUs for 100 s unless `spec` says otherwise.
fn test(spec: Value, status: Value, meta: Value) -> LoadTest {
    let mut spec_all = json!({ "cluster": "dev", "http": { "targetUrl": "http://web", "vus": 10, "duration": "100s" } });
    merge(&mut spec_all, spec);
    let mut metadata = json!({ "name": "web", "namespace": "team", "uid": "uid-1", "generation": 1, "creationTimestamp": iso(0) });
    merge(&mut metadata, meta);
    serde_json::from_value(json!({
        "apiVersion": "tartinfra.dev/v1alpha1", "kind": "LoadTest",
        "metadata": metadata, "spec": spec_all, "status": status,
    }))
    .expect("loadtest")
}

fn merge(base: &mut Value, over: Value) {
    if let (Value::Object(b), Value::Object(o)) = (base, over) {
        for (k, v) in o {
            if v.is_null() {
                b.remove(&k);
            } else {
                b.insert(k, v);
            }
        }
    }
}

/// The status of a test whose runner was created at t=10.
fn with_runner() -> Value {
    json!({ "phase": "Pending", "runner": { "cluster": "dev", "namespace": "tart-loadtest", "job": "lt-web-x" } })
}

/// RunnerStopped True (at t=501).
fn stopped() -> Value {
    json!({ "type": "RunnerStopped", "status": "True", "reason": "PodsStopped", "message": "", "lastTransitionTime": iso(501) })
}

/// A finished test (at t=500) with its runner, which has stopped.
fn finished(extra: Value) -> Value {
    let mut s = json!({ "phase": "Succeeded", "finishedAt": iso(500), "runner": { "cluster": "dev", "namespace": "tart-loadtest", "job": "lt-web-x" }, "conditions": [stopped()] });
    merge(&mut s, extra);
    s
}

fn job(uid: &str, conditions: Value) -> Box<Job> {
    Box::new(
        serde_json::from_value(json!({
            "metadata": { "name": "lt-web-x", "creationTimestamp": iso(900), "labels": { "tartinfra.dev/loadtest-uid": uid } },
            "status": { "conditions": conditions },
        }))
        .expect("job"),
    )
}

fn pod(status: Value, node: Option<&str>) -> Pod {
    serde_json::from_value(json!({
        "metadata": { "name": "lt-web-x-abc", "creationTimestamp": iso(11) },
        "spec": { "nodeName": node, "containers": [{ "name": "runner" }] },
        "status": status,
    }))
    .expect("pod")
}

fn container(state: Value) -> Value {
    json!({ "phase": "Running", "containerStatuses": [{ "name": "runner", "image": "i", "imageID": "", "ready": true, "restartCount": 0, "state": state }] })
}

fn terminated(code: i32, reason: &str, message: &str) -> Value {
    container(
        json!({ "terminated": { "exitCode": code, "reason": reason, "message": message, "startedAt": iso(20), "finishedAt": iso(120) } }),
    )
}

const K6_OK: &str = r#"{"version":1,"requests":100,"rps":10,"latencyMs":{"p95":120},"errorRate":0,"checks":{"passed":100,"failed":0},"thresholds":[{"metric":"http_req_duration","expression":"p(95)<500","passed":true}]}"#;

fn observed(lt: LoadTest) -> Observed {
    Observed {
        test: Arc::new(lt),
        cluster: Some("dev".into()),
        policy: None,
        admission: None,
        runner_namespace: None,
        runner: Runner::NotRead,
        simulated_node: None,
        merged_percentiles: None,
        starter: None,
        headers: Ok(Default::default()),
        baselines: vec![],
        node_usage: None,
        failure: None,
    }
}

fn running(lt: LoadTest, job: Option<Box<Job>>, pods: Vec<Pod>) -> Observed {
    Observed {
        runner: Runner::Found { job, pods },
        ..observed(lt)
    }
}

/// A test whose runner Job (created at t=900, ours) has these pods.
fn with_pods(pods: Vec<Pod>) -> Observed {
    running(
        test(json!({}), with_runner(), json!({})),
        Some(job("uid-1", json!([]))),
        pods,
    )
}

fn admitted(lt: LoadTest, existing: Option<Box<Job>>) -> Observed {
    Observed {
        policy: Some(Ok(LoadTestPolicy::default())),
        admission: Some(Admission::Start),
        runner_namespace: Some(RunnerNamespace::Owned),
        runner: Runner::Found {
            job: existing,
            pods: vec![],
        },
        ..observed(lt)
    }
}

fn failing(o: Observed, class: Class, message: &str) -> Observed {
    o.failed(Failure {
        class,
        message: message.into(),
    })
}

fn no_cluster(o: Observed) -> Observed {
    Observed { cluster: None, ..o }
}

fn new_test() -> LoadTest {
    test(json!({}), json!(null), json!({}))
}

fn deleted(status: Value, since: i64) -> LoadTest {
    test(
        json!({}),
        status,
        json!({ "deletionTimestamp": iso(since), "finalizers": ["tartinfra.dev/loadtest-runner"] }),
    )
}

/// What a decision must be; `None` fields are not checked.
#[derive(Default)]
struct Expect {
    phase: Option<P>,
    reason: Option<Why>,
    effect: &'static str,
    next: Option<Next>,
    release: bool,
    event: Option<&'static str>,
    message: &'static str,
    condition: Option<(&'static str, &'static str, &'static str)>,
    unchanged: bool,
}

fn check(name: &str, o: &Observed, want: &Expect) {
    let d = decide(o, &settings(), t(NOW));
    let again = decide(o, &settings(), t(NOW));
    assert_eq!(d, again, "{name}: a decision depends only on its inputs");
    let s = &d.status;
    if want.unchanged {
        assert_eq!(
            Some(s),
            o.test.status.as_ref(),
            "{name}: status must not change"
        );
    }
    if let Some(phase) = want.phase {
        assert_eq!(s.phase, Some(phase), "{name}: phase ({:?})", s.message);
        assert_eq!(s.reason, want.reason, "{name}: reason ({:?})", s.message);
    }
    let effect = if want.effect.is_empty() {
        "None"
    } else {
        want.effect
    };
    assert_eq!(d.effect.name(), effect, "{name}: effect");
    if let Some(next) = &want.next {
        assert_eq!(&d.next, next, "{name}: next");
    }
    assert_eq!(d.release_slot, want.release, "{name}: release_slot");
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

fn poll() -> Option<Next> {
    Some(Next::Requeue(POLL))
}

#[test]
fn decisions() {
    let cases: Vec<Case> = before::cases()
        .into_iter()
        .chain(after::cases())
        .chain(parallel::cases())
        .collect();
    assert!(cases.len() >= 25, "{} cases", cases.len());
    for (name, o, want) in &cases {
        check(name, o, want);
    }
}

#[test]
fn running_progress_and_times_come_from_the_runner() {
    let o = running(
        test(json!({}), with_runner(), json!({})),
        Some(job("uid-1", json!([]))),
        vec![pod(
            container(json!({ "running": { "startedAt": iso(950) } })),
            Some("w"),
        )],
    );
    let d = decide(&o, &settings(), t(NOW));
    assert_eq!(d.status.progress_percent, Some(50));
    assert_eq!(d.status.started_at.map(|t| t.0), Some(t(950)));
    let done = running(
        test(json!({}), with_runner(), json!({})),
        Some(job("uid-1", json!([]))),
        vec![pod(terminated(0, "Completed", K6_OK), Some("w"))],
    );
    let d = decide(&done, &settings(), t(NOW));
    assert_eq!(d.status.progress_percent, Some(100));
    assert_eq!(
        (
            d.status.started_at.map(|t| t.0),
            d.status.finished_at.map(|t| t.0)
        ),
        (Some(t(20)), Some(t(120)))
    );
    assert_eq!(d.status.results.and_then(|r| r.requests), Some(100));
}

#[test]
fn the_created_runner_is_the_one_the_builders_make() {
    let lt = new_test();
    let d = decide(&admitted(lt.clone(), None), &settings(), t(NOW));
    let Effect::CreateRunner(objects) = &d.effect else {
        panic!("{:?}", d.effect)
    };
    let names = runner::names(&lt);
    assert_eq!(
        objects.job.metadata.name.as_deref(),
        Some(names.job.as_str())
    );
    assert!(
        objects.config_map.is_some(),
        "HTTP tests ship the k6 script"
    );
    assert!(runner::belongs_to(&objects.job, &lt));
    let runner = d.status.runner.expect("runner ref");
    assert_eq!(
        (
            runner.cluster.as_str(),
            runner.namespace.as_str(),
            runner.job
        ),
        ("dev", "tart-loadtest", names.job)
    );
    assert_eq!(d.status.observed_generation, Some(1));
    assert_eq!(
        objects.namespace, None,
        "an existing namespace is not touched"
    );
    let missing = Observed {
        runner_namespace: Some(RunnerNamespace::Missing),
        ..admitted(lt, None)
    };
    let Effect::CreateRunner(objects) = decide(&missing, &settings(), t(NOW)).effect else {
        panic!("no runner")
    };
    let ns = objects.namespace.expect("a missing namespace is created");
    assert!(runner::owns_namespace(&ns), "{ns:?}");
}

#[test]
fn the_look_after_the_creation_writes_nothing_until_the_pod_appears() {
    // The status written with the runner is what the next look decides while the Job has
    // no pod yet: no second write per test.
    let lt = new_test();
    let created = decide(&admitted(lt.clone(), None), &settings(), t(NOW));
    let Effect::CreateRunner(objects) = &created.effect else {
        panic!("{:?}", created.effect)
    };
    let mut after = lt.clone();
    after.status = Some(created.status.clone());
    let job = objects.job.clone();
    let look = decide(
        &running(after.clone(), Some(Box::new(job.clone())), vec![]),
        &settings(),
        t(NOW + 1),
    );
    assert_eq!(look.status, created.status, "nothing to write");
    assert!(
        look.status
            .message
            .as_deref()
            .is_some_and(|m| m.contains("waiting for its pod")),
        "{:?}",
        look.status.message
    );
    // Its pod changes what it says.
    let scheduled = decide(
        &running(
            after,
            Some(Box::new(job)),
            vec![pod(json!({ "phase": "Pending" }), Some("dev-worker1"))],
        ),
        &settings(),
        t(NOW + 2),
    );
    assert_ne!(scheduled.status, created.status);
}

#[test]
fn a_refused_status_becomes_a_minimal_failure_that_keeps_the_runner() {
    let lt = test(json!({}), with_runner(), json!({}));
    let mut wanted = lt.status.clone().expect("status");
    wanted.phase = Some(P::Succeeded);
    wanted.results = Some(Default::default());
    let d = status_rejected(
        &lt,
        &wanted,
        "status.results.requests: Invalid value (HTTP 422)",
        t(NOW),
    );
    assert_eq!(d.status.phase, Some(P::Failed));
    assert_eq!(d.status.reason, Some(Why::StatusRejected));
    assert_eq!(d.status.results, None, "the refused part is left out");
    assert_eq!(
        d.status.runner, wanted.runner,
        "the runner can still be found and removed"
    );
    assert!(
        d.status
            .message
            .as_deref()
            .is_some_and(|m| m.contains("HTTP 422")),
        "{:?}",
        d.status.message
    );
    assert!(crate::conditions::is_true(
        &d.status.conditions,
        C::Complete
    ));
    assert_eq!(d.effect, Effect::None);
    assert_eq!(d.next, Next::Requeue(AFTER_FINISH));
}

#[test]
fn a_simulated_runner_completes_without_a_verdict() {
    let o = Observed {
        simulated_node: Some("dev-worker1".into()),
        ..with_pods(vec![pod(
            terminated(0, "Completed", ""),
            Some("dev-worker1"),
        )])
    };
    let d = decide(&o, &settings(), t(NOW));
    let s = &d.status;
    assert_eq!(s.phase, Some(P::Completed));
    assert!(s.phase.is_some_and(P::is_finished));
    assert_eq!(s.results, None, "nothing is invented");
    let complete = crate::conditions::get(&s.conditions, C::Complete).expect("Complete");
    assert_eq!(
        (complete.status.as_str(), complete.reason.as_str()),
        ("True", "NotMeasured")
    );
    let measured = crate::conditions::get(&s.conditions, C::Measured).expect("Measured");
    assert_eq!(
        (measured.status.as_str(), measured.reason.as_str()),
        ("False", "RunnerSimulated")
    );
    assert_eq!(Some(&measured.message), s.message.as_ref());
    // The phase change is a Normal event, not a failure's Warning.
    let note = <LoadTest as crate::controllers::status::Reported>::transition(
        o.test.status.as_ref().expect("status"),
        s,
    )
    .expect("an event");
    assert_eq!(
        note,
        Note::normal("Completed", s.message.clone().unwrap_or_default())
    );
}

#[test]
fn a_finishing_test_with_a_baseline_is_compared_in_the_decision_that_ends_it() {
    let baseline = test(
        json!({}),
        json!({ "phase": "Succeeded", "finishedAt": iso(50), "results": { "rps": 10.0, "errorRate": 0.0, "latencyMs": { "p95": 100.0 } } }),
        json!({ "name": "base", "uid": "uid-0" }),
    );
    let finishing = |spec: Value, meta: Value| {
        let o = running(
            test(spec, with_runner(), meta),
            Some(job("uid-1", json!([]))),
            vec![pod(terminated(0, "Completed", K6_OK), Some("w"))],
        );
        Observed {
            baselines: vec![Arc::new(baseline.clone())],
            ..o
        }
    };
    let regression = |d: &Decision| {
        d.status
            .conditions
            .iter()
            .find(|c| c.type_ == "RegressionDetected")
            .map(|c| (c.status.clone(), c.reason.clone()))
    };
    // p95 120 against 100: +20 %, past the default 10 %.
    let d = decide(
        &finishing(json!({ "baseline": { "name": "base" } }), json!({})),
        &settings(),
        t(NOW),
    );
    assert_eq!(d.status.phase, Some(P::Succeeded));
    assert_eq!(regression(&d), Some(("True".into(), "Regressed".into())));
    let p95 = &d.status.comparison.as_ref().expect("comparison").metrics[0];
    assert_eq!((p95.delta, p95.delta_percent), (Some(20.0), Some(20.0)));
    // Within a tolerance of 25 %.
    let loose = json!({ "baseline": { "name": "base", "tolerance": { "p95Percent": 25 } } });
    let d = decide(&finishing(loose, json!({})), &settings(), t(NOW));
    assert_eq!(
        regression(&d),
        Some(("False".into(), "WithinTolerance".into()))
    );
    // Without a baseline, or while running, no condition.
    let d = decide(&finishing(json!({}), json!({})), &settings(), t(NOW));
    assert_eq!(regression(&d), None);
    let still = running(
        test(
            json!({ "baseline": { "name": "base" } }),
            with_runner(),
            json!({}),
        ),
        Some(job("uid-1", json!([]))),
        vec![pod(
            container(json!({ "running": { "startedAt": iso(950) } })),
            Some("w"),
        )],
    );
    assert_eq!(regression(&decide(&still, &settings(), t(NOW))), None);
}
