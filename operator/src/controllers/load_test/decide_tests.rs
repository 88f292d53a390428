//! Table tests of the LoadTest decisions: each case is an observation (built from YAML-like
//! JSON of the test, its runner Job and pod) and what the decision must be. No cluster, no
//! clock: the time is a parameter.

use std::sync::Arc;
use std::time::Duration;

use crds::LoadTest;
use crds::load_test::{LoadTestPhase as P, LoadTestReason as Why};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::*;
use crate::controllers::error::Failure;

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

/// A finished test (at t=500) with its runner.
fn finished(extra: Value) -> Value {
    let mut s = json!({ "phase": "Succeeded", "finishedAt": iso(500), "runner": { "cluster": "dev", "namespace": "tart-loadtest", "job": "lt-web-x" } });
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
        admission: None,
        runner: Runner::NotRead,
        simulated_node: None,
        failure: None,
    }
}

fn running(lt: LoadTest, job: Option<Box<Job>>, pods: Vec<Pod>) -> Observed {
    Observed {
        runner: Runner::Found { job, pods },
        ..observed(lt)
    }
}

fn admitted(lt: LoadTest, existing: Option<Box<Job>>) -> Observed {
    Observed {
        admission: Some(Admission::Start),
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
            "{name}: condition {type_}"
        );
    }
}

fn poll() -> Option<Next> {
    Some(Next::Requeue(POLL))
}

#[test]
fn decisions() {
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
    let cases: Vec<(&str, Observed, Expect)> = vec![
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
            running(
                test(json!({}), with_runner(), json!({})),
                Some(job("uid-1", json!([]))),
                vec![],
            ),
            Expect {
                phase: Some(P::Pending),
                next: poll(),
                message: "waiting for the runner pod to be created",
                condition: Some(("ClusterReachable", "True", "Reachable")),
                ..Expect::default()
            },
        ),
        (
            "scheduled and pulling: starting",
            running(
                test(json!({}), with_runner(), json!({})),
                Some(job("uid-1", json!([]))),
                vec![pod(json!({ "phase": "Pending" }), Some("dev-worker1"))],
            ),
            Expect {
                phase: Some(P::Starting),
                next: poll(),
                message: "scheduled on dev-worker1",
                ..Expect::default()
            },
        ),
        (
            "running: progress from the container's start",
            running(
                test(json!({}), with_runner(), json!({})),
                Some(job("uid-1", json!([]))),
                vec![pod(
                    container(json!({ "running": { "startedAt": iso(950) } })),
                    Some("dev-worker1"),
                )],
            ),
            Expect {
                phase: Some(P::Running),
                next: poll(),
                message: "running on cluster dev",
                ..Expect::default()
            },
        ),
        (
            "a clean k6 exit succeeds with results",
            running(
                test(json!({}), with_runner(), json!({})),
                Some(job("uid-1", json!([]))),
                vec![pod(terminated(0, "Completed", K6_OK), Some("dev-worker1"))],
            ),
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
            running(
                test(json!({}), with_runner(), json!({})),
                Some(job("uid-1", json!([]))),
                vec![pod(
                    terminated(
                        99,
                        "Error",
                        &K6_OK.replace("\"passed\":true", "\"passed\":false"),
                    ),
                    Some("dev-worker1"),
                )],
            ),
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
            running(
                test(json!({}), with_runner(), json!({})),
                Some(job("uid-1", json!([]))),
                vec![pod(terminated(137, "OOMKilled", ""), Some("dev-worker1"))],
            ),
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
            running(
                test(json!({}), with_runner(), json!({})),
                Some(job("uid-1", json!([]))),
                vec![unschedulable(990)],
            ),
            Expect {
                phase: Some(P::Pending),
                next: poll(),
                message: "cannot be scheduled",
                ..Expect::default()
            },
        ),
        (
            "unschedulable past the grace period: failed, and the stuck runner goes",
            running(
                test(json!({}), with_runner(), json!({})),
                Some(job("uid-1", json!([]))),
                vec![unschedulable(900)],
            ),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::Unschedulable),
                effect: "DeleteRunner",
                release: true,
                message: "Insufficient cpu",
                ..Expect::default()
            },
        ),
        (
            "an image that cannot be pulled fails the test and removes the runner",
            running(
                test(json!({}), with_runner(), json!({})),
                Some(job("uid-1", json!([]))),
                vec![image_backoff.clone()],
            ),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::ImagePullFailed),
                effect: "DeleteRunner",
                release: true,
                message: "grafana/k6:9",
                ..Expect::default()
            },
        ),
        (
            "a failed removal of a stuck runner does not hold the result back",
            failing(
                running(
                    test(json!({}), with_runner(), json!({})),
                    Some(job("uid-1", json!([]))),
                    vec![image_backoff],
                ),
                Class::Transient,
                "timeout",
            ),
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::ImagePullFailed),
                effect: "None",
                release: true,
                message: "grafana/k6:9",
                ..Expect::default()
            },
        ),
        (
            "a crashing runner: PodFailed with its last words",
            running(
                test(json!({}), with_runner(), json!({})),
                Some(job("uid-1", json!([]))),
                vec![pod(
                    terminated(107, "Error", "level=error msg=\"GoError: bad params\""),
                    Some("dev-worker1"),
                )],
            ),
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
            running(
                test(json!({}), with_runner(), json!({})),
                Some(job("uid-1", json!([]))),
                vec![pod(terminated(0, "Completed", ""), Some("dev-worker1"))],
            ),
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
                ..running(
                    test(json!({}), with_runner(), json!({})),
                    Some(job("uid-1", json!([]))),
                    vec![pod(terminated(0, "Completed", ""), Some("dev-worker1"))],
                )
            },
            Expect {
                phase: Some(P::Failed),
                reason: Some(Why::NoResults),
                release: true,
                message: "simulated node dev-worker1",
                condition: Some(("RunnerSimulated", "True", "SimulatedNode")),
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
                    json!({ "conditions": [{ "type": "RunnerDeleted", "status": "True", "reason": "TTLExpired", "message": "", "lastTransitionTime": iso(600) }] }),
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
            "deleted: the runner is removed first",
            observed(deleted(with_runner(), 990)),
            Expect {
                effect: "DeleteRunner",
                next: Some(Next::AwaitChange),
                release: true,
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
    ];
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
}
