//! Parallel runners: the Indexed Job and the starter (pure builders), the decision table of
//! what N runners say, and the merge of their results.

use std::time::Duration;

use crds::LoadTestSpec;
use crds::common::HttpLoad;
use crds::plan::{Plan, plan_load_test};
use serde_json::json;

use super::*;
use crate::context::Images;
use crate::controllers::load_test::runner;

const T0: i64 = 1_800_000_000;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(T0 + secs).expect("time")
}

fn iso(secs: i64) -> String {
    t(secs).to_string()
}

fn lt(parallelism: u32) -> LoadTest {
    let mut lt = LoadTest::new(
        "web",
        LoadTestSpec {
            http: Some(HttpLoad {
                vus: Some(30),
                duration: Some("100s".into()),
                parallelism: Some(parallelism),
                ..HttpLoad::default()
            }),
            ..LoadTestSpec::on("dev".into())
        },
    );
    lt.metadata.namespace = Some("team".into());
    lt.metadata.uid = Some("uid-1".into());
    lt
}

fn plan(parallelism: u32) -> Plan {
    plan_load_test(&lt(parallelism).spec).expect("plan")
}

fn images() -> Images {
    Images {
        k6: "grafana/k6:1.7.1".into(),
        stress_ng: "stress:1".into(),
    }
}

#[test]
fn a_parallel_runner_job_is_indexed_paused_and_spread() {
    let t = lt(3);
    let plan = plan(3);
    let names = runner::names(&t);
    let job = serde_json::to_value(runner::job(&t, &plan, &names, &images(), 400)).expect("json");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(
        (spec["completions"].clone(), spec["parallelism"].clone()),
        (json!(3), json!(3))
    );
    assert_eq!(spec["backoffLimit"], 0, "a paused runner never restarts");
    let pod = &spec["template"]["spec"];
    assert_eq!(
        pod["topologySpreadConstraints"],
        json!([{ "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
                 "labelSelector": { "matchLabels": { "tartinfra.dev/loadtest-uid": "uid-1" } } }])
    );
    let c = &pod["containers"][0];
    assert_eq!(
        c["args"],
        json!([
            "run",
            "--no-usage-report",
            "--paused",
            "--address",
            "0.0.0.0:6565",
            "/etc/tart-loadtest/loadtest.js"
        ])
    );
    assert_eq!(
        c["readinessProbe"]["httpGet"],
        json!({ "path": "/v1/status", "port": 6565 })
    );
    assert_eq!(c["image"], "grafana/k6:1.7.1", "the operator's k6 image");
    let Plan::Http(http) = &plan else {
        panic!("http")
    };
    assert_eq!(runner::k6_params(http)["parallelism"], 3);
    // One runner: the Job of before.
    let single = serde_json::to_value(runner::job(&lt(1), &self::plan(1), &names, &images(), 400))
        .expect("json");
    assert!(single["spec"]["completionMode"].is_null());
    assert_eq!(
        single["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["run", "--no-usage-report", "/etc/tart-loadtest/loadtest.js"])
    );
}

#[test]
fn only_the_starter_may_reach_the_runners_k6_api() {
    let t = lt(3);
    let names = runner::names(&t);
    assert!(names.parallel && !runner::names(&lt(1)).parallel);
    let objects = |t: &LoadTest, p: &Plan| {
        runner::objects(
            t,
            p,
            &names,
            &images(),
            400,
            false,
            &runner::HeaderValues::default(),
        )
    };
    let policy = objects(&t, &plan(3))
        .network_policy
        .expect("a parallel test has one");
    let policy = serde_json::to_value(policy).expect("json");
    assert_eq!(policy["metadata"]["name"], json!(names.job));
    assert_eq!(policy["metadata"]["namespace"], "tart-loadtest");
    assert_eq!(
        policy["spec"],
        json!({
            "podSelector": { "matchLabels": { "batch.kubernetes.io/job-name": names.job } },
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{ "podSelector": { "matchLabels": { "batch.kubernetes.io/job-name": starter_name(&names) } } }],
                "ports": [{ "protocol": "TCP", "port": 6565 }],
            }],
        })
    );
    // A single runner serves no API: no policy.
    assert!(objects(&lt(1), &plan(1)).network_policy.is_none());
}

#[test]
fn the_starter_resumes_each_runner_from_its_own_container_with_k6() {
    let t = lt(2);
    let names = runner::names(&t);
    let addresses = vec!["10.0.0.5:6565".to_owned(), "10.0.1.7:6565".to_owned()];
    let job =
        serde_json::to_value(starter(&t, &names, "grafana/k6:1.7.1", &addresses)).expect("json");
    let name = job["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        name.starts_with("st-web-") && name.len() == names.job.len(),
        "{name}"
    );
    assert_eq!(job["spec"]["activeDeadlineSeconds"], 60);
    let pod = &job["spec"]["template"];
    assert_eq!(
        pod["metadata"]["labels"]["app.kubernetes.io/component"],
        STARTER_COMPONENT
    );
    assert_eq!(
        pod["spec"]["restartPolicy"], "OnFailure",
        "k6 resume is idempotent"
    );
    let containers = pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(containers.len(), 2);
    for (i, c) in containers.iter().enumerate() {
        assert_eq!(c["image"], "grafana/k6:1.7.1");
        assert_eq!(c["args"], json!(["resume", "--address", addresses[i]]));
        assert!(
            c["command"].is_null(),
            "the image's k6 entrypoint, no shell"
        );
    }
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
}

fn runner_job(conditions: serde_json::Value) -> Job {
    serde_json::from_value(json!({
        "metadata": { "name": "lt-web-x", "creationTimestamp": iso(0) },
        "status": { "conditions": conditions },
    }))
    .expect("job")
}

fn starter_job(conditions: serde_json::Value) -> Job {
    serde_json::from_value(json!({
        "metadata": { "name": "st-web-x", "namespace": "tart-loadtest", "creationTimestamp": iso(30) },
        "status": { "conditions": conditions, "completionTime": iso(31) },
    }))
    .expect("job")
}

fn complete() -> serde_json::Value {
    json!([{ "type": "Complete", "status": "True" }])
}

/// Runner `i`'s pod: `state` of its container, ready or not, with an IP.
fn pod(i: u32, state: serde_json::Value, ready: bool) -> Pod {
    let phase = if state.get("terminated").is_some() {
        "Succeeded"
    } else {
        "Running"
    };
    serde_json::from_value(json!({
        "metadata": { "name": format!("lt-web-x-{i}-abc"), "creationTimestamp": iso(1),
                      "annotations": { INDEX_ANNOTATION: i.to_string() } },
        "spec": { "nodeName": format!("node-{i}"), "containers": [{ "name": "runner" }] },
        "status": { "phase": phase, "podIP": format!("10.0.0.{}", i + 10),
                    "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" } }],
                    "containerStatuses": [{ "name": "runner", "image": "i", "imageID": "", "ready": ready, "restartCount": 0, "state": state }] },
    }))
    .expect("pod")
}

fn running(i: u32) -> Pod {
    pod(
        i,
        json!({ "running": { "startedAt": iso(10 + i64::from(i)) } }),
        true,
    )
}

fn result(requests: u64, rps: f64, error_rate: f64, p95: f64, passed: bool) -> String {
    json!({ "version": 1, "requests": requests, "rps": rps,
            "latencyMs": { "avg": p95 / 2.0, "min": 1.0, "med": p95 / 3.0, "p90": p95 * 0.9, "p95": p95, "p99": p95 * 1.5, "max": p95 * 2.0 },
            "errorRate": error_rate, "checks": { "passed": requests, "failed": 0 },
            "thresholds": [{ "metric": "http_req_duration", "expression": "p(95)<500", "passed": passed }] })
    .to_string()
}

fn done(i: u32, code: i32, message: &str) -> Pod {
    pod(
        i,
        json!({ "terminated": { "exitCode": code, "reason": "Completed", "message": message, "startedAt": iso(20), "finishedAt": iso(130) } }),
        false,
    )
}

/// What three runners say at t=200 (`pod_seen`: the test was Starting or Running).
fn see(job: Option<Job>, pods: Vec<Pod>, starter: Option<Job>) -> Parallel {
    see_at(200, job, pods, starter)
}

/// What three runners say at `now` seconds (the runner Job was created at 0).
fn see_at(now: i64, job: Option<Job>, pods: Vec<Pod>, starter: Option<Job>) -> Parallel {
    let plan = plan(3);
    let inputs = Inputs {
        job: job.as_ref(),
        pods: &pods,
        plan: &plan,
        timeout_secs: 400,
        unschedulable_grace: Duration::from_secs(60),
        pod_seen: true,
        now: t(now),
    };
    observe(&inputs, starter.as_ref(), 3)
}

fn waiting(p: &Parallel) -> Option<(LoadTestPhase, String)> {
    match p {
        Parallel::Observed(Observation::Waiting { phase, message }) => {
            Some((*phase, message.clone()))
        }
        _ => None,
    }
}

fn failed(p: &Parallel) -> Option<(Option<LoadTestReason>, String, bool)> {
    match p {
        Parallel::Observed(Observation::Finished {
            phase: LoadTestPhase::Failed,
            reason,
            message,
            delete_runner,
            ..
        }) => Some((*reason, message.clone(), *delete_runner)),
        _ => None,
    }
}

#[test]
fn the_runners_start_together_once_all_are_ready() {
    let job = || Some(runner_job(json!([])));
    // Two of three created: wait, and a missing pod is no loss before the start.
    let w = waiting(&see_at(30, job(), vec![running(0), running(1)], None)).expect("waits");
    assert_eq!(w.0, LoadTestPhase::Starting);
    assert!(
        w.1.starts_with("2 of 3 runners ready") && w.1.contains("runner 2"),
        "{}",
        w.1
    );
    // All running but one not ready (its k6 API does not answer yet): wait.
    let not_ready = vec![
        running(0),
        running(1),
        pod(2, json!({ "running": { "startedAt": iso(12) } }), false),
    ];
    let w = waiting(&see(job(), not_ready, None)).expect("waits");
    assert!(
        w.1.contains("runner 2: its k6 API is not ready yet"),
        "{}",
        w.1
    );
    // All ready: start them, by index.
    assert_eq!(
        see(job(), vec![running(2), running(0), running(1)], None),
        Parallel::Start(vec![
            "10.0.0.10:6565".into(),
            "10.0.0.11:6565".into(),
            "10.0.0.12:6565".into()
        ])
    );
    // The starter exists and has not finished: still Starting, never a second starter.
    let w = waiting(&see(
        job(),
        vec![running(0), running(1), running(2)],
        Some(starter_job(json!([]))),
    ))
    .expect("waits");
    assert_eq!(
        w,
        (
            LoadTestPhase::Starting,
            "the starter is resuming the 3 runners together".into()
        )
    );
    // The starter finished: running since it did.
    assert_eq!(
        see(
            job(),
            vec![running(0), running(1), running(2)],
            Some(starter_job(complete()))
        ),
        Parallel::Observed(Observation::Running {
            started_at: t(31),
            progress: 99
        })
    );
}

#[test]
fn runners_the_cluster_never_creates_fail_the_test_after_the_grace() {
    let job = || {
        let mut j = runner_job(json!([]));
        j.metadata.namespace = Some("tart-loadtest".into());
        Some(j)
    };
    // Within the grace (60 s after the Job), the Job controller may still be creating them.
    assert!(waiting(&see_at(59, job(), vec![running(0), running(1)], None)).is_some());
    // Past it: a quota (or another admission) refuses the third; the paused two must not wait
    // for the deadline, and the Job goes.
    let (reason, message, delete) =
        failed(&see_at(60, job(), vec![running(0), running(1)], None)).expect("fails");
    assert_eq!(reason, Some(LoadTestReason::RunnerRejected));
    assert!(delete);
    assert!(
        message.starts_with("only 2 of 3 runner pods exist 60s after the Job was created")
            && message.contains("ResourceQuota in tart-loadtest")
            && message.contains("kubectl -n tart-loadtest describe job lt-web-x")
            && message.contains("spec.http.parallelism"),
        "{message}"
    );
    // Every pod exists, even unscheduled or not ready: the usual waiting (and the
    // Unschedulable rule) applies, not this one.
    let not_ready = vec![
        running(0),
        running(1),
        pod(2, json!({ "running": { "startedAt": iso(12) } }), false),
    ];
    assert!(waiting(&see_at(120, job(), not_ready, None)).is_some());
    // Once resumed, a missing pod is a lost runner, decided elsewhere.
    assert!(
        failed(&see_at(
            200,
            job(),
            vec![running(0), running(1)],
            Some(starter_job(complete()))
        ))
        .is_some_and(|(reason, ..)| reason == Some(LoadTestReason::PodFailed))
    );
}

#[test]
fn a_failing_runner_or_starter_fails_the_test_and_stops_the_others() {
    let job = || Some(runner_job(json!([])));
    let oom = pod(
        1,
        json!({ "terminated": { "exitCode": 137, "reason": "OOMKilled", "startedAt": iso(20), "finishedAt": iso(40) } }),
        false,
    );
    let (reason, message, delete) = failed(&see(
        job(),
        vec![running(0), oom, running(2)],
        Some(starter_job(complete())),
    ))
    .expect("fails");
    assert_eq!(reason, Some(LoadTestReason::OomKilled));
    assert!(
        message.starts_with("runner 1 of 3: the runner ran out of memory"),
        "{message}"
    );
    assert!(delete, "the other runners must stop");
    let starter_failed = starter_job(
        json!([{ "type": "Failed", "status": "True", "reason": "DeadlineExceeded", "message": "Job was active longer than specified deadline" }]),
    );
    let (reason, message, delete) = failed(&see(
        job(),
        vec![running(0), running(1), running(2)],
        Some(starter_failed),
    ))
    .expect("fails");
    assert_eq!(reason, Some(LoadTestReason::PodFailed));
    assert!(
        message.contains("could not resume the 3 runners (DeadlineExceeded"),
        "{message}"
    );
    assert!(
        message.contains("kubectl -n tart-loadtest describe job st-web-x"),
        "{message}"
    );
    assert!(delete);
    // A runner pod lost after the start fails the test; before the start it may still come.
    let lost = failed(&see(
        job(),
        vec![running(0), running(1)],
        Some(starter_job(complete())),
    ));
    assert!(
        lost.is_some_and(
            |(r, m, _)| r == Some(LoadTestReason::PodFailed) && m.contains("disappeared")
        )
    );
    // One pod failed and the Job controller removed the others: the failed pod says why.
    let backoff = runner_job(
        json!([{ "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit" }]),
    );
    let crashed = pod(
        2,
        json!({ "terminated": { "exitCode": 107, "reason": "Error", "message": "script error", "startedAt": iso(20), "finishedAt": iso(40) } }),
        false,
    );
    let (reason, message, _) = failed(&see(
        Some(backoff),
        vec![crashed],
        Some(starter_job(complete())),
    ))
    .expect("fails");
    assert_eq!(reason, Some(LoadTestReason::PodFailed));
    assert!(
        message.starts_with("runner 2 of 3: the runner exited with code 107"),
        "{message}"
    );
    // The Job's deadline: Timeout.
    let deadline =
        runner_job(json!([{ "type": "Failed", "status": "True", "reason": "DeadlineExceeded" }]));
    let timed_out = failed(&see(
        Some(deadline),
        vec![running(0), running(1), running(2)],
        None,
    ));
    assert_eq!(timed_out.map(|f| f.0), Some(Some(LoadTestReason::Timeout)));
    // The Job is gone.
    assert_eq!(
        see(None, vec![], None),
        Parallel::Observed(Observation::Gone)
    );
    // Simulated runners exit 0 without a result: NoResults (the decision says it was simulated).
    let simulated = failed(&see(
        job(),
        vec![done(0, 0, ""), running(1), running(2)],
        None,
    ));
    assert_eq!(
        simulated.map(|f| f.0),
        Some(Some(LoadTestReason::NoResults))
    );
}

#[test]
fn the_test_finishes_when_every_runner_has_with_merged_results() {
    let job = || {
        Some(runner_job(
            json!([{ "type": "Complete", "status": "True" }]),
        ))
    };
    let ok = |i, requests, rps, p95| done(i, 0, &result(requests, rps, 0.0, p95, true));
    // Two finished, one still running: Running.
    assert!(matches!(
        see(
            job(),
            vec![ok(0, 100, 1.0, 10.0), ok(1, 100, 1.0, 10.0), running(2)],
            Some(starter_job(complete()))
        ),
        Parallel::Observed(Observation::Running { .. })
    ));
    let all = see(
        job(),
        vec![
            ok(0, 1000, 10.0, 100.0),
            ok(1, 2000, 20.0, 200.0),
            ok(2, 1000, 10.0, 300.0),
        ],
        Some(starter_job(complete())),
    );
    let Parallel::Observed(Observation::Finished {
        phase,
        reason,
        results,
        started_at,
        finished_at,
        ..
    }) = all
    else {
        panic!("finished: {all:?}")
    };
    assert_eq!((phase, reason), (LoadTestPhase::Succeeded, None));
    assert_eq!((started_at, finished_at), (Some(t(20)), t(130)));
    let r = results.expect("results");
    assert_eq!((r.requests, r.rps), (Some(4000), Some(40.0)));
    assert_eq!(r.percentiles, Some(Percentiles::PerRunner));
    assert_eq!(
        r.runners.iter().map(|x| x.index).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(
        r.runners[1].latency_ms.as_ref().and_then(|l| l.p95),
        Some(200.0)
    );
    // One runner breached a threshold: the test did, with everyone's results.
    let breached = see(
        job(),
        vec![
            ok(0, 1000, 10.0, 100.0),
            done(1, 99, &result(1000, 10.0, 0.0, 900.0, false)),
            ok(2, 1000, 10.0, 100.0),
        ],
        Some(starter_job(complete())),
    );
    let (reason, message, delete) = failed(&breached).expect("fails");
    assert_eq!(reason, Some(LoadTestReason::ThresholdsBreached));
    assert_eq!(
        message,
        "thresholds breached: http_req_duration p(95)<500 (on runner 1 of 3)"
    );
    assert!(!delete);
}

#[test]
fn results_merge_counts_and_rates_and_never_average_percentiles() {
    let parse = |s: &str| crate::results::k6::parse(s).expect("parses");
    let merged = merge(&[
        (0, parse(&result(1000, 100.0, 0.01, 100.0, true))),
        (1, parse(&result(3000, 300.0, 0.05, 300.0, false))),
    ]);
    assert_eq!(merged.requests, Some(4000));
    assert_eq!(merged.rps, Some(400.0));
    // Failed over total: (10 + 150) / 4000, not the mean of the rates (0.03).
    assert_eq!(merged.error_rate, Some(0.04));
    let l = merged.latency_ms.clone().expect("latency");
    assert_eq!((l.min, l.max), (Some(1.0), Some(600.0)));
    // The mean weighted by requests: (1000 * 50 + 3000 * 150) / 4000.
    assert_eq!(l.avg, Some(125.0));
    assert_eq!(
        (l.med, l.p90, l.p95, l.p99),
        (None, None, None, None),
        "percentiles are not merged"
    );
    assert_eq!(merged.percentiles, Some(Percentiles::PerRunner));
    assert_eq!(merged.checks.map(|c| c.passed), Some(4000));
    assert_eq!(merged.thresholds.len(), 1);
    assert!(
        !merged.thresholds[0].passed,
        "a threshold fails when any runner's does"
    );
    assert_eq!(
        merged
            .runners
            .iter()
            .map(|r| (r.index, r.thresholds_passed))
            .collect::<Vec<_>>(),
        [(0, Some(true)), (1, Some(false))]
    );
    assert_eq!(
        merged.runners[1].latency_ms.as_ref().and_then(|l| l.p99),
        Some(450.0)
    );
    // No requests at all: no error rate and no mean.
    let empty = merge(&[(
        0,
        parse(
            r#"{"version":1,"requests":0,"rps":0,"latencyMs":{},"errorRate":null,"checks":{"passed":0,"failed":0},"thresholds":[]}"#,
        ),
    )]);
    assert_eq!((empty.requests, empty.error_rate), (Some(0), None));
    assert_eq!(empty.latency_ms.and_then(|l| l.avg), None);
}
