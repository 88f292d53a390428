//! Parallel runners (`spec.http.parallelism` above 1), as pure functions: the runner Job
//! becomes one Indexed Job of N paused k6 runners spread across nodes; once all N are ready
//! (their REST API answers on :6565) a short starter Job resumes them together; what the N
//! runners say is combined into one observation, and their results are merged honestly.
//!
//! Why one Indexed Job: the Job controller creates the N pods, gives each its index
//! (`JOB_COMPLETION_INDEX`), fails them together (backoffLimit 0) and bounds them with one
//! deadline; one name keeps cleanup, watches and the queue's bookkeeping as they are. A k6
//! segment needs `i/N:(i+1)/N`, an addition that the kubelet's `$(VAR)` expansion of args
//! cannot do, and k6 reads no segment from its environment (the option is not an env
//! option), so the shipped script computes `executionSegment` and
//! `executionSegmentSequence` from `JOB_COMPLETION_INDEX` and `params.parallelism` (k6 applies
//! script options like the CLI flags, below them in precedence). No shell is assumed in the
//! runner image.
//!
//! The starter uses the runner's own image (k6), one container per runner running `k6 resume
//! --address <podIP>:6565`, so no shell is needed and the resumes go out together; the
//! operator never dials a pod IP itself.

use crds::LoadTest;
use crds::load_test::{
    LatencyMs, LoadTestPhase, LoadTestReason, LoadTestResults, Percentiles, RunnerResult,
    ThresholdResult,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::runner::{K6_UID, RunnerNames, UID_LABEL, annotations, labels, metadata};
use super::runner_state::{self, Inputs, Observation, job_condition};

/// The port of k6's REST API in a parallel runner.
pub const API_PORT: u16 = 6565;
/// The annotation the Job controller puts the pod's index in.
pub const INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
/// The component label of starter pods (not `loadtest-runner`, so the lab's simulator and
/// the runner listings never take one for a runner).
pub const STARTER_COMPONENT: &str = "loadtest-starter";
/// How long the starter may take before the test fails (its resumes take milliseconds; the
/// rest is scheduling and a retry or two).
pub const STARTER_DEADLINE_SECS: u64 = 60;
/// A paused runner's container that restarts after a failure would wait paused forever
/// (k6-operator#304), so runners never restart; the starter's `k6 resume` is idempotent and
/// may retry in place.
const STARTER_BACKOFF_LIMIT: u32 = 3;

/// Turns the runner Job (as JSON, before it is typed) into an Indexed Job of `n` paused
/// runners: k6 starts with `--paused` and its REST API on all interfaces, ready once the API
/// answers, and the pods spread over nodes. Spreading is `ScheduleAnyway` on
/// `kubernetes.io/hostname`: runners go to different nodes where there are some, and a
/// cluster with fewer nodes than runners still runs the test (a hard rule would leave runners
/// Pending and fail the test as Unschedulable).
pub fn spread_runners(job: &mut Value, uid: &str, n: u32) {
    let spec = &mut job["spec"];
    spec["completionMode"] = json!("Indexed");
    spec["completions"] = json!(n);
    spec["parallelism"] = json!(n);
    let pod = &mut spec["template"]["spec"];
    pod["topologySpreadConstraints"] = json!([{
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": { "matchLabels": { UID_LABEL: uid } },
    }]);
    let container = &mut pod["containers"][0];
    if let Some(args) = container["args"].as_array_mut() {
        let script = args.pop();
        args.extend([
            json!("--paused"),
            json!("--address"),
            json!(format!("0.0.0.0:{API_PORT}")),
        ]);
        args.extend(script);
    }
    container["ports"] = json!([{ "name": "k6-api", "containerPort": API_PORT }]);
    container["readinessProbe"] = json!({
        "httpGet": { "path": "/v1/status", "port": API_PORT },
        "periodSeconds": 2,
        "failureThreshold": 1,
    });
}

/// The label the Job controller puts on each pod of a Job, with the Job's name.
const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";

/// The NetworkPolicy that closes the runners' k6 REST API (it has no authentication and can
/// stop, pause or rescale a test) to everything but this test's starter pods. The runners
/// serve nothing else, so all other ingress to them is denied; the kubelet's readiness
/// probe comes from the node, which NetworkPolicy always lets through. It shares the runner
/// Job's name and goes with it.
pub fn api_policy(lt: &LoadTest, names: &RunnerNames) -> NetworkPolicy {
    serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(lt, names),
        "spec": {
            "podSelector": { "matchLabels": { JOB_NAME_LABEL: names.job } },
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{ "podSelector": { "matchLabels": { JOB_NAME_LABEL: starter_name(names) } } }],
                "ports": [{ "protocol": "TCP", "port": API_PORT }],
            }],
        },
    }))
    .unwrap_or_default()
}

/// The starter Job's name: the runner Job's with `st-` for `lt-`, as short and as unique.
pub fn starter_name(names: &RunnerNames) -> String {
    let rest = names.job.strip_prefix("lt-").unwrap_or(&names.job);
    format!("st-{rest}")
}

/// The starter Job: one container per runner resuming it through its REST API at
/// `addresses[i]` (`podIP:6565`), with the runner's image, restricted like the runners, and
/// small enough for the lab's runner LimitRanges.
pub fn starter(lt: &LoadTest, names: &RunnerNames, image: &str, addresses: &[String]) -> Job {
    let mut pod_labels = labels(lt);
    pod_labels.insert(
        "app.kubernetes.io/component".to_owned(),
        STARTER_COMPONENT.to_owned(),
    );
    let mut pod_annotations = annotations(lt);
    pod_annotations.insert("sidecar.istio.io/inject".to_owned(), "false".to_owned());
    let containers: Vec<Value> = addresses
        .iter()
        .enumerate()
        .map(|(i, address)| {
            json!({
                "name": format!("resume-{i}"),
                "image": image,
                "args": ["resume", "--address", address],
                "resources": {
                    "requests": { "cpu": "100m", "memory": "128Mi" },
                    "limits": { "cpu": "100m", "memory": "128Mi" },
                },
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "readOnlyRootFilesystem": true,
                    "capabilities": { "drop": ["ALL"] },
                },
            })
        })
        .collect();
    serde_json::from_value(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": starter_name(names),
            "namespace": names.namespace,
            "labels": labels(lt),
            "annotations": annotations(lt),
        },
        "spec": {
            "backoffLimit": STARTER_BACKOFF_LIMIT,
            "activeDeadlineSeconds": STARTER_DEADLINE_SECS,
            "template": {
                "metadata": { "labels": pod_labels, "annotations": pod_annotations },
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": false,
                    "enableServiceLinks": false,
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": K6_UID,
                        "runAsGroup": K6_UID,
                        "seccompProfile": { "type": "RuntimeDefault" },
                    },
                    "containers": containers,
                },
            },
        },
    }))
    .unwrap_or_default()
}

/// What N runners say, for the decision.
#[derive(Clone, Debug, PartialEq)]
pub enum Parallel {
    /// The test's state, as for one runner.
    Observed(Observation),
    /// Every runner is ready and paused and no starter exists: create it, resuming the
    /// runners at these addresses (by index).
    Start(Vec<String>),
}

/// The runner pod's index, from the Job controller's annotation.
pub fn index(pod: &Pod) -> Option<u32> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(INDEX_ANNOTATION)?
        .parse()
        .ok()
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn pod_ip(pod: &Pod) -> Option<&str> {
    pod.status
        .as_ref()?
        .pod_ip
        .as_deref()
        .filter(|ip| !ip.is_empty())
}

/// When the starter finished resuming every runner: its completion time (its creation when
/// the Job controller did not record one).
fn resumed_at(starter: &Job) -> Option<Timestamp> {
    job_condition(starter, "Complete")?;
    starter
        .status
        .as_ref()
        .and_then(|s| s.completion_time.as_ref())
        .or(starter.metadata.creation_timestamp.as_ref())
        .map(|t| t.0)
}

/// Combines what `n` runners say (pure). Each runner is observed as a single runner would
/// be ([`runner_state::observe`] on its own pods). A runner that fails (other than by
/// breaching a threshold) fails the test at once and the runner Job goes, so the others stop
/// loading; when all have finished their results are merged ([`merge`]). Before the load
/// starts: all ready means start, and a starter that failed fails the test. Runners on
/// simulated nodes are started the same way (the lab's simulator ends starter pods as it
/// ends runners), so a lab run never waits for a starter that cannot run.
pub fn observe(i: &Inputs<'_>, starter: Option<&Job>, n: u32) -> Parallel {
    let Some(job) = i.job else {
        return Parallel::Observed(Observation::Gone);
    };
    let resumed = starter.and_then(resumed_at);
    let runners: Vec<(u32, Vec<Pod>, Observation)> = (0..n)
        .map(|k| {
            let pods: Vec<Pod> = i
                .pods
                .iter()
                .filter(|p| index(p) == Some(k))
                .cloned()
                .collect();
            let observation = runner_state::observe(&Inputs {
                job: Some(job),
                pods: &pods,
                // A missing pod is lost only once the load has started: before, its Job may
                // still be creating it.
                pod_seen: i.pod_seen && resumed.is_some(),
                ..*i
            });
            (k, pods, observation)
        })
        .collect();
    // A runner that failed for another reason than a threshold ends the test now. A runner
    // whose pod says why goes first: when one pod fails, the Job controller removes the
    // others, which then only tell that the Job failed.
    let mut by_cause: Vec<&(u32, Vec<Pod>, Observation)> = runners.iter().collect();
    by_cause.sort_by_key(|(k, pods, _)| (pods.is_empty(), *k));
    for (k, _, o) in by_cause {
        if let Observation::Finished {
            phase: LoadTestPhase::Failed,
            reason,
            message,
            started_at,
            finished_at,
            ..
        } = o
            && *reason != Some(LoadTestReason::ThresholdsBreached)
        {
            return Parallel::Observed(Observation::Finished {
                phase: LoadTestPhase::Failed,
                reason: *reason,
                message: format!("runner {k} of {n}: {message}"),
                results: None,
                started_at: *started_at,
                finished_at: *finished_at,
                delete_runner: true,
            });
        }
    }
    let finished: Vec<(u32, &Observation)> = runners
        .iter()
        .filter(|(_, _, o)| matches!(o, Observation::Finished { .. }))
        .map(|(k, _, o)| (*k, o))
        .collect();
    if finished.len() == n as usize {
        return Parallel::Observed(all_finished(&finished, i.now));
    }
    if let Some(started_at) = resumed {
        let expected = i.plan.expected_duration_secs().max(1) as i64;
        let elapsed = i.now.duration_since(started_at).as_secs().max(0);
        return Parallel::Observed(Observation::Running {
            started_at,
            progress: (elapsed * 100 / expected).clamp(0, 99) as u32,
        });
    }
    if let Some(s) = starter
        && let Some(c) = job_condition(s, "Failed")
    {
        let name = s.metadata.name.clone().unwrap_or_default();
        let ns = s.metadata.namespace.clone().unwrap_or_default();
        return Parallel::Observed(Observation::Finished {
            phase: LoadTestPhase::Failed,
            reason: Some(LoadTestReason::PodFailed),
            message: format!(
                "the starter Job {name} could not resume the {n} runners ({}: {}); see `kubectl -n {ns} describe job {name}` and its pods' logs",
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default()
            ),
            results: None,
            started_at: None,
            finished_at: i.now,
            delete_runner: true,
        });
    }
    if let Some(refused) = runners_not_created(i, job, &runners, n) {
        return Parallel::Observed(refused);
    }
    let ready_runners: Vec<(u32, &Pod)> = runners
        .iter()
        .filter_map(|(k, pods, o)| {
            let pod = pods
                .iter()
                .find(|p| p.metadata.deletion_timestamp.is_none())?;
            (matches!(o, Observation::Running { .. }) && ready(pod) && pod_ip(pod).is_some())
                .then_some((*k, pod))
        })
        .collect();
    if ready_runners.len() == n as usize {
        if starter.is_none() {
            return Parallel::Start(
                ready_runners
                    .iter()
                    .map(|(_, pod)| format!("{}:{API_PORT}", pod_ip(pod).unwrap_or_default()))
                    .collect(),
            );
        }
        return Parallel::Observed(Observation::Waiting {
            phase: LoadTestPhase::Starting,
            message: format!("the starter is resuming the {n} runners together"),
        });
    }
    // Not all ready: the first runner that is not says what it waits for.
    let (k, waiting) = runners
        .iter()
        .find(|(k, _, _)| !ready_runners.iter().any(|(r, _)| r == k))
        .map(|(k, _, o)| {
            let what = match o {
                Observation::Waiting { message, .. } => message.clone(),
                Observation::Running { .. } => "its k6 API is not ready yet".to_owned(),
                _ => "it finished before the start".to_owned(),
            };
            (*k, what)
        })
        .unwrap_or((0, String::new()));
    let started = runners.iter().any(|(_, _, o)| {
        matches!(
            o,
            Observation::Running { .. }
                | Observation::Waiting {
                    phase: LoadTestPhase::Starting,
                    ..
                }
        )
    });
    Parallel::Observed(Observation::Waiting {
        phase: if started {
            LoadTestPhase::Starting
        } else {
            LoadTestPhase::Pending
        },
        message: format!(
            "{} of {n} runners ready, paused until all are; runner {k}: {waiting}",
            ready_runners.len()
        ),
    })
}

/// Before the start, runners the Job controller still has not created a grace period after
/// the Job: the target cluster refuses their pods (a ResourceQuota with room for fewer than
/// N, most often; the dry run before the Job checks one pod against today's usage, not N).
/// The others would wait paused until the deadline, so the test fails now and says where the
/// Job controller's reasons are.
fn runners_not_created(
    i: &Inputs<'_>,
    job: &Job,
    runners: &[(u32, Vec<Pod>, Observation)],
    n: u32,
) -> Option<Observation> {
    let created = job.metadata.creation_timestamp.as_ref()?.0;
    let waited = i.now.duration_since(created).as_secs();
    let missing = runners
        .iter()
        .filter(|(_, pods, _)| pods.is_empty())
        .count();
    if missing == 0 || waited < i.unschedulable_grace.as_secs() as i64 {
        return None;
    }
    let name = job.metadata.name.clone().unwrap_or_default();
    let ns = job.metadata.namespace.clone().unwrap_or_default();
    Some(Observation::Finished {
        phase: LoadTestPhase::Failed,
        reason: Some(LoadTestReason::RunnerRejected),
        message: format!(
            "only {} of {n} runner pods exist {waited}s after the Job was created: the target cluster refuses the others, most often over a ResourceQuota in {ns} with room for fewer runners; `kubectl -n {ns} describe job {name}` shows the Job controller's FailedCreate events. Lower spec.http.parallelism or spec.resources, or raise the quota",
            n as usize - missing
        ),
        results: None,
        started_at: None,
        finished_at: i.now,
        delete_runner: true,
    })
}

/// Every runner finished: Succeeded when all did, else ThresholdsBreached (a threshold fails
/// when any runner's fails), with the merged results.
fn all_finished(finished: &[(u32, &Observation)], now: Timestamp) -> Observation {
    let mut results = Vec::new();
    let mut breached = Vec::new();
    let (mut first, mut last) = (None::<Timestamp>, None::<Timestamp>);
    for (k, o) in finished {
        if let Observation::Finished {
            phase,
            results: r,
            started_at,
            finished_at,
            ..
        } = o
        {
            if let Some(r) = r {
                results.push((*k, r.as_ref().clone()));
            }
            if *phase == LoadTestPhase::Failed {
                breached.push(*k);
            }
            first = match (first, *started_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            last = Some(last.map_or(*finished_at, |l: Timestamp| l.max(*finished_at)));
        }
    }
    let merged = merge(&results);
    let n = finished.len();
    let (phase, reason, message) = if breached.is_empty() {
        (
            LoadTestPhase::Succeeded,
            None,
            format!("all {n} runners finished and every threshold held"),
        )
    } else {
        let failed: Vec<String> = merged
            .thresholds
            .iter()
            .filter(|t| !t.passed)
            .map(|t| format!("{} {}", t.metric, t.expression))
            .collect();
        let runners: Vec<String> = breached.iter().map(ToString::to_string).collect();
        (
            LoadTestPhase::Failed,
            Some(LoadTestReason::ThresholdsBreached),
            format!(
                "thresholds breached: {} (on runner {} of {n})",
                failed.join(", "),
                runners.join(", ")
            ),
        )
    };
    Observation::Finished {
        phase,
        reason,
        message,
        results: Some(Box::new(merged)),
        started_at: first,
        finished_at: last.unwrap_or(now),
        delete_runner: false,
    }
}

/// Merges the runners' results (by index), honestly: request and check counts and request
/// rates are summed (the runners ran over the same window), the error rate is failed over
/// total requests, a threshold holds only when it held on every runner, and of the latency
/// only what merges exactly is kept (avg weighted by requests, min, max); the median and
/// percentiles stay per runner, flagged `PerRunner` (pure).
pub fn merge(runners: &[(u32, LoadTestResults)]) -> LoadTestResults {
    let sum_u64 = |f: &dyn Fn(&LoadTestResults) -> Option<u64>| {
        runners
            .iter()
            .filter_map(|(_, r)| f(r))
            .reduce(|a, b| a + b)
    };
    let requests = sum_u64(&|r| r.requests);
    let rps = runners
        .iter()
        .filter_map(|(_, r)| r.rps)
        .reduce(|a, b| a + b);
    let total = requests.unwrap_or(0) as f64;
    let weighted = |f: &dyn Fn(&LoadTestResults) -> Option<f64>| -> Option<f64> {
        let mut sum = 0.0;
        for (_, r) in runners {
            let count = r.requests.unwrap_or(0);
            if count > 0 {
                sum += f(r)? * count as f64;
            }
        }
        (total > 0.0).then(|| sum / total)
    };
    let error_rate = weighted(&|r| r.error_rate);
    let latency = |f: &dyn Fn(&LatencyMs) -> Option<f64>| {
        runners
            .iter()
            .filter_map(|(_, r)| r.latency_ms.as_ref().and_then(f))
            .collect::<Vec<f64>>()
    };
    let min = latency(&|l| l.min).into_iter().reduce(f64::min);
    let max = latency(&|l| l.max).into_iter().reduce(f64::max);
    let avg = weighted(&|r| r.latency_ms.as_ref().and_then(|l| l.avg));
    let checks = runners
        .iter()
        .filter_map(|(_, r)| r.checks.clone())
        .reduce(|a, b| crds::load_test::Checks {
            passed: a.passed + b.passed,
            failed: a.failed + b.failed,
        });
    let mut thresholds: Vec<ThresholdResult> = Vec::new();
    for (_, r) in runners {
        for t in &r.thresholds {
            match thresholds
                .iter_mut()
                .find(|m| m.metric == t.metric && m.expression == t.expression)
            {
                Some(m) => m.passed &= t.passed,
                None => thresholds.push(t.clone()),
            }
        }
    }
    LoadTestResults {
        requests,
        rps: rps.map(|x| (x * 1000.0).round() / 1000.0),
        latency_ms: Some(LatencyMs {
            avg: avg.map(|x| (x * 1000.0).round() / 1000.0),
            min,
            max,
            ..LatencyMs::default()
        }),
        error_rate: error_rate.map(|x| (x * 1e6).round() / 1e6),
        checks,
        thresholds,
        percentiles: Some(Percentiles::PerRunner),
        runners: runners
            .iter()
            .map(|(index, r)| RunnerResult {
                index: *index,
                requests: r.requests,
                rps: r.rps,
                error_rate: r.error_rate,
                latency_ms: r.latency_ms.clone(),
                thresholds_passed: Some(r.thresholds.iter().all(|t| t.passed)),
            })
            .collect(),
        ..LoadTestResults::default()
    }
}

#[cfg(test)]
#[path = "parallel_tests.rs"]
mod tests;
