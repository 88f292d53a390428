//! What real Job and pod states read as.

use super::*;
use crds::plan::{HttpPlan, LoadShape, StressPlan};
use serde_json::json;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + secs).expect("time")
}

fn iso(secs: i64) -> String {
    t(secs).to_string()
}

fn http() -> Plan {
    Plan::Http(HttpPlan {
        urls: vec!["http://a".into()],
        method: crds::common::HttpMethod::Get,
        headers: Default::default(),
        secret_headers: Default::default(),
        shape: LoadShape::Constant {
            vus: 10,
            duration_secs: 100,
        },
        p95_ms: 500,
        error_rate: 0.01,
        parallelism: 1,
    })
}

fn stress() -> Plan {
    Plan::Stress(StressPlan {
        kind: crds::load_test::StressKind::Cpu,
        workers: 1,
        timeout_secs: 30,
        vm_bytes: None,
    })
}

fn job(conditions: serde_json::Value) -> Job {
    serde_json::from_value(json!({
        "metadata": { "name": "lt-x", "creationTimestamp": iso(0) },
        "status": { "conditions": conditions },
    }))
    .expect("job")
}

fn pod(status: serde_json::Value, node: Option<&str>) -> Pod {
    serde_json::from_value(json!({
        "metadata": { "name": "lt-x-abc", "creationTimestamp": iso(1) },
        "spec": { "nodeName": node, "containers": [{ "name": "runner" }] },
        "status": status,
    }))
    .expect("pod")
}

fn container(state: serde_json::Value) -> serde_json::Value {
    json!({ "phase": "Running", "containerStatuses": [{ "name": "runner", "image": "i", "imageID": "", "ready": true, "restartCount": 0, "state": state }] })
}

fn observe_at(plan: &Plan, job: Option<&Job>, pods: &[Pod], now: i64) -> Observation {
    observe(&Inputs {
        job,
        pods,
        plan,
        timeout_secs: 400,
        unschedulable_grace: Duration::from_secs(60),
        pod_seen: false,
        now: t(now),
    })
}

const K6_OK: &str = r#"{"version":1,"requests":100,"rps":10,"latencyMs":{"p95":120},"errorRate":0,"checks":{"passed":100,"failed":0},"thresholds":[{"metric":"http_req_duration","expression":"p(95)<500","passed":true}]}"#;

fn terminated_with(code: i32, message: &str, reason: &str) -> serde_json::Value {
    container(
        json!({ "terminated": { "exitCode": code, "reason": reason, "message": message, "startedAt": iso(10), "finishedAt": iso(110) } }),
    )
}

#[test]
fn no_job_and_no_pod() {
    assert_eq!(observe_at(&http(), None, &[], 5), Observation::Gone);
    let j = job(json!([]));
    assert!(matches!(
        observe_at(&http(), Some(&j), &[], 5),
        Observation::Waiting {
            phase: LoadTestPhase::Pending,
            ..
        }
    ));
    assert!(matches!(
        observe_at(&http(), Some(&j), &[], 1000),
        Observation::Finished {
            reason: Some(LoadTestReason::Timeout),
            delete_runner: true,
            ..
        }
    ));
}

#[test]
fn progress_runs_from_the_container_start() {
    let j = job(json!([]));
    let p = pod(
        container(json!({ "running": { "startedAt": iso(10) } })),
        Some("n1"),
    );
    assert_eq!(
        observe_at(&http(), Some(&j), std::slice::from_ref(&p), 60),
        Observation::Running {
            started_at: t(10),
            progress: 50
        }
    );
    assert_eq!(
        observe_at(&http(), Some(&j), &[p], 300),
        Observation::Running {
            started_at: t(10),
            progress: 99
        }
    );
}

#[test]
fn a_clean_k6_exit_succeeds_with_results() {
    let j = job(json!([]));
    let p = pod(terminated_with(0, K6_OK, "Completed"), Some("n1"));
    match observe_at(&http(), Some(&j), &[p], 120) {
        Observation::Finished {
            phase,
            reason,
            results,
            started_at,
            finished_at,
            ..
        } => {
            assert_eq!((phase, reason), (LoadTestPhase::Succeeded, None));
            assert_eq!(results.and_then(|r| r.requests), Some(100));
            assert_eq!((started_at, finished_at), (Some(t(10)), t(110)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn exit_99_is_a_threshold_breach_that_keeps_the_results() {
    let breached = K6_OK.replace("\"passed\":true", "\"passed\":false");
    let p = pod(terminated_with(99, &breached, "Error"), Some("n1"));
    match observe_at(&http(), Some(&job(json!([]))), &[p], 120) {
        Observation::Finished {
            phase,
            reason,
            results,
            message,
            ..
        } => {
            assert_eq!(
                (phase, reason),
                (
                    LoadTestPhase::Failed,
                    Some(LoadTestReason::ThresholdsBreached)
                )
            );
            assert!(results.is_some());
            assert_eq!(message, "thresholds breached: http_req_duration p(95)<500");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn exits_without_a_result_and_other_failures() {
    let j = job(json!([]));
    let no_result = pod(terminated_with(0, "", "Completed"), Some("n1"));
    assert!(matches!(
        observe_at(&http(), Some(&j), &[no_result], 120),
        Observation::Finished {
            reason: Some(LoadTestReason::NoResults),
            ..
        }
    ));
    let crashed = pod(
        terminated_with(
            107,
            "level=error msg=\"GoError: invalid params.json\"",
            "Error",
        ),
        Some("n1"),
    );
    match observe_at(&http(), Some(&j), &[crashed], 120) {
        Observation::Finished {
            reason: Some(LoadTestReason::PodFailed),
            message,
            ..
        } => {
            assert!(
                message.contains("code 107") && message.contains("invalid params.json"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let oom = pod(terminated_with(137, "", "OOMKilled"), Some("n1"));
    assert!(matches!(
        observe_at(&stress(), Some(&j), &[oom], 120),
        Observation::Finished {
            reason: Some(LoadTestReason::OomKilled),
            ..
        }
    ));
    let yaml = "metrics:\n  - stressor: cpu\n    bogo-ops: 10\n    bogo-ops-per-second-real-time: 1\n...\n";
    match observe_at(
        &stress(),
        Some(&j),
        &[pod(terminated_with(0, yaml, "Completed"), Some("n1"))],
        120,
    ) {
        Observation::Finished {
            phase: LoadTestPhase::Succeeded,
            results,
            ..
        } => {
            assert_eq!(results.and_then(|r| r.bogo_ops), Some(10));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn image_pull_failures_and_pending_pods() {
    let j = job(json!([]));
    let pulling = pod(
        container(json!({ "waiting": { "reason": "ErrImagePull", "message": "rpc error" } })),
        Some("n1"),
    );
    assert!(matches!(
        observe_at(&http(), Some(&j), &[pulling], 20),
        Observation::Waiting {
            phase: LoadTestPhase::Starting,
            ..
        }
    ));
    let backoff = pod(
        container(
            json!({ "waiting": { "reason": "ImagePullBackOff", "message": "Back-off pulling image \"grafana/k6:9\"" } }),
        ),
        Some("n1"),
    );
    match observe_at(&http(), Some(&j), &[backoff], 20) {
        Observation::Finished {
            reason: Some(LoadTestReason::ImagePullFailed),
            message,
            delete_runner,
            ..
        } => {
            assert!(
                message.contains("grafana/k6:9") && delete_runner,
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let scheduled = pod(json!({ "phase": "Pending" }), Some("n1"));
    assert!(matches!(
        observe_at(&http(), Some(&j), &[scheduled], 20),
        Observation::Waiting {
            phase: LoadTestPhase::Starting,
            ..
        }
    ));
}

#[test]
fn an_unschedulable_pod_fails_after_the_grace_period() {
    let j = job(json!([]));
    let p = pod(
        json!({ "phase": "Pending", "conditions": [{ "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/1 nodes are available: 1 Insufficient cpu.", "lastTransitionTime": iso(2) }] }),
        None,
    );
    assert!(matches!(
        observe_at(&http(), Some(&j), std::slice::from_ref(&p), 30),
        Observation::Waiting {
            phase: LoadTestPhase::Pending,
            ..
        }
    ));
    match observe_at(&http(), Some(&j), &[p], 62) {
        Observation::Finished {
            reason: Some(LoadTestReason::Unschedulable),
            message,
            delete_runner: true,
            ..
        } => {
            assert!(message.contains("Insufficient cpu"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_job_deadline_is_a_timeout() {
    let j = job(
        json!([{ "type": "Failed", "status": "True", "reason": "DeadlineExceeded", "message": "Job was active longer than specified deadline" }]),
    );
    assert!(matches!(
        observe_at(&http(), Some(&j), &[], 500),
        Observation::Finished {
            reason: Some(LoadTestReason::Timeout),
            ..
        }
    ));
}

#[test]
fn a_pod_that_disappears_after_it_was_seen_fails_the_test_at_once() {
    let job = job(json!([]));
    let seen = observe(&Inputs {
        job: Some(&job),
        pods: &[],
        plan: &http(),
        timeout_secs: 400,
        unschedulable_grace: Duration::from_secs(60),
        pod_seen: true,
        now: t(20),
    });
    match seen {
        Observation::Finished {
            phase,
            reason,
            message,
            delete_runner,
            ..
        } => {
            assert_eq!(phase, LoadTestPhase::Failed);
            assert_eq!(reason, Some(LoadTestReason::PodFailed));
            assert!(message.contains("disappeared"), "{message}");
            assert!(delete_runner, "no replacement pod may run the load again");
        }
        other => panic!("{other:?}"),
    }
    // Before the pod was ever seen, the same state is a Job whose pod is not created yet.
    assert!(matches!(
        observe_at(&http(), Some(&job), &[], 20),
        Observation::Waiting { .. }
    ));
}

#[test]
fn a_runner_is_alive_until_its_job_is_done_and_no_pod_runs() {
    let pod = |phase: &str, running: bool, deleting: bool| -> Pod {
        let state = if running {
            json!({ "running": { "startedAt": iso(1) } })
        } else {
            json!({ "waiting": { "reason": "ContainerCreating" } })
        };
        serde_json::from_value(json!({
            "metadata": { "name": "p", "deletionTimestamp": deleting.then(|| iso(5)) },
            "status": { "phase": phase, "containerStatuses": [{ "name": "runner", "image": "i", "imageID": "", "ready": running, "restartCount": 0, "state": state }] },
        }))
        .expect("pod")
    };
    let open = job(json!([]));
    let failed = job(json!([{ "type": "Failed", "status": "True", "reason": "DeadlineExceeded" }]));
    assert!(
        alive(Some(&open), &[]),
        "an unfinished Job may still create its pod"
    );
    assert!(
        !alive(Some(&open), &[pod("Succeeded", false, false)]),
        "its one pod is done"
    );
    assert!(!alive(Some(&failed), &[]));
    assert!(!alive(None, &[]));
    assert!(
        alive(Some(&failed), &[pod("Running", true, true)]),
        "a pod being deleted still runs until its container stops"
    );
    assert!(alive(None, &[pod("Pending", false, false)]));
    assert!(!alive(None, &[pod("Pending", false, true)]));
    assert!(!alive(None, &[pod("Succeeded", false, false)]));
    assert!(!alive(None, &[pod("Failed", false, false)]));
}
