//! What the runner Job and its pod say about a test, as a pure function: the phase, the
//! failure reason, progress and parsed results.

use std::time::Duration;

use crds::load_test::{LoadTestPhase, LoadTestReason, LoadTestResults};
use crds::plan::Plan;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStateTerminated, Pod};
use k8s_openapi::jiff::Timestamp;

use super::runner::CONTAINER;
use crate::results::{self, ReportError};

/// k6's exit code when thresholds failed.
pub const K6_THRESHOLDS_FAILED: i32 = 99;
/// How long past its deadline a Job may stay unfinished before the operator calls it a
/// timeout itself (normally the Job controller does it first).
const DEADLINE_SLACK: i64 = 30;

/// What the observation is based on.
pub struct Inputs<'a> {
    /// The runner Job, if it exists.
    pub job: Option<&'a Job>,
    /// Its pods.
    pub pods: &'a [Pod],
    /// The test's plan.
    pub plan: &'a Plan,
    /// The timeout the Job was created with.
    pub timeout_secs: u64,
    /// How long a pod may stay unschedulable.
    pub unschedulable_grace: Duration,
    /// The test already saw its runner pod (it was Starting or Running).
    pub pod_seen: bool,
    /// The current time.
    pub now: Timestamp,
}

/// The state of a test according to its runner.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// The runner Job does not exist.
    Gone,
    /// Not running yet: Pending (no pod, or not scheduled) or Starting (scheduled, pulling,
    /// creating the container).
    Waiting {
        /// Pending or Starting.
        phase: LoadTestPhase,
        /// What the runner is waiting for.
        message: String,
    },
    /// The runner container runs.
    Running {
        /// When it started.
        started_at: Timestamp,
        /// Elapsed over expected duration, 0 to 99.
        progress: u32,
    },
    /// The test is over.
    Finished {
        /// Succeeded or Failed.
        phase: LoadTestPhase,
        /// Why it failed.
        reason: Option<LoadTestReason>,
        /// For humans.
        message: String,
        /// What the runner reported.
        results: Option<Box<LoadTestResults>>,
        /// When the runner started, if it did.
        started_at: Option<Timestamp>,
        /// When it ended.
        finished_at: Timestamp,
        /// The runner is still around (e.g. a pod stuck pending) and must be deleted.
        delete_runner: bool,
    },
}

fn failed(
    reason: LoadTestReason,
    message: String,
    now: Timestamp,
    delete_runner: bool,
) -> Observation {
    Observation::Finished {
        phase: LoadTestPhase::Failed,
        reason: Some(reason),
        message,
        results: None,
        started_at: None,
        finished_at: now,
        delete_runner,
    }
}

/// The Job's condition of `type_` when it is True.
pub(super) fn job_condition<'a>(
    job: &'a Job,
    type_: &str,
) -> Option<&'a k8s_openapi::api::batch::v1::JobCondition> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
}

fn secs_since(now: Timestamp, t: Timestamp) -> i64 {
    now.duration_since(t).as_secs()
}

/// Parses what the runner reported for its plan.
pub fn parse_report(plan: &Plan, text: &str) -> Result<LoadTestResults, ReportError> {
    match plan {
        Plan::Http(_) => results::k6::parse(text),
        Plan::Stress(_) => results::stress_ng::parse(text).map(|r| LoadTestResults {
            bogo_ops: Some(r.bogo_ops),
            bogo_ops_per_second: Some(r.bogo_ops_per_second),
            ..LoadTestResults::default()
        }),
    }
}

fn last_line(text: &str) -> &str {
    text.trim().lines().last().unwrap_or("").trim()
}

/// The outcome of a terminated runner container.
pub fn terminated(plan: &Plan, t: &ContainerStateTerminated, now: Timestamp) -> Observation {
    let report = t.message.as_deref().unwrap_or("");
    let parsed = parse_report(plan, report);
    let results = parsed.as_ref().ok().cloned().map(Box::new);
    let started_at = t.started_at.as_ref().map(|s| s.0);
    let finished_at = t.finished_at.as_ref().map_or(now, |f| f.0);
    let finish = |phase, reason, message: String, results| Observation::Finished {
        phase,
        reason,
        message,
        results,
        started_at,
        finished_at,
        delete_runner: false,
    };
    if t.reason.as_deref() == Some("OOMKilled") {
        return finish(
            LoadTestPhase::Failed,
            Some(LoadTestReason::OomKilled),
            "the runner ran out of memory; raise spec.resources.limits.memory or lower the load"
                .into(),
            results,
        );
    }
    let is_http = matches!(plan, Plan::Http(_));
    match (t.exit_code, parsed) {
        (0, Ok(r)) => finish(
            LoadTestPhase::Succeeded,
            None,
            "the test finished and every threshold held".into(),
            Some(Box::new(r)),
        ),
        (K6_THRESHOLDS_FAILED, Ok(r)) if is_http => {
            let breached: Vec<String> = r
                .thresholds
                .iter()
                .filter(|t| !t.passed)
                .map(|t| format!("{} {}", t.metric, t.expression))
                .collect();
            finish(
                LoadTestPhase::Failed,
                Some(LoadTestReason::ThresholdsBreached),
                format!("thresholds breached: {}", breached.join(", ")),
                Some(Box::new(r)),
            )
        }
        (0, Err(e)) => finish(
            LoadTestPhase::Failed,
            Some(LoadTestReason::NoResults),
            format!("the runner exited 0 but left no readable result: {e}"),
            None,
        ),
        (code, Ok(r)) => finish(
            LoadTestPhase::Failed,
            Some(LoadTestReason::PodFailed),
            format!("the runner exited with code {code}"),
            Some(Box::new(r)),
        ),
        (code, Err(_)) => finish(
            LoadTestPhase::Failed,
            Some(LoadTestReason::PodFailed),
            format!("the runner exited with code {code}: {}", last_line(report)),
            None,
        ),
    }
}

/// Observes a test from its runner (pure).
pub fn observe(i: &Inputs<'_>) -> Observation {
    let Some(job) = i.job else {
        return Observation::Gone;
    };
    if let Some(c) = job_condition(job, "Failed")
        && c.reason.as_deref() == Some("DeadlineExceeded")
    {
        return failed(
            LoadTestReason::Timeout,
            format!(
                "the runner did not finish within {}s (spec.timeoutSeconds)",
                i.timeout_secs
            ),
            i.now,
            false,
        );
    }
    let created = job.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let overdue =
        created.is_some_and(|c| secs_since(i.now, c) > i.timeout_secs as i64 + DEADLINE_SLACK);
    let pod = i
        .pods
        .iter()
        .filter(|p| {
            p.metadata.deletion_timestamp.is_none() || p.status.as_ref().is_some_and(has_terminated)
        })
        .max_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let Some(pod) = pod else {
        if let Some(c) = job_condition(job, "Failed") {
            return failed(
                LoadTestReason::PodFailed,
                format!(
                    "the runner Job failed: {}",
                    c.message.clone().unwrap_or_default()
                ),
                i.now,
                false,
            );
        }
        if i.pod_seen {
            // Deleted, evicted, or gone with its node: a replacement would run the load
            // again from the start, so the Job goes too.
            return failed(
                LoadTestReason::PodFailed,
                "the runner pod disappeared before the test finished (deleted, evicted or lost with its node); its results are lost".into(),
                i.now,
                true,
            );
        }
        if overdue {
            return failed(
                LoadTestReason::Timeout,
                "the runner pod was never created".into(),
                i.now,
                true,
            );
        }
        return Observation::Waiting {
            phase: LoadTestPhase::Pending,
            message: "waiting for the runner pod to be created".into(),
        };
    };
    let status = pod.status.clone().unwrap_or_default();
    let container = status
        .container_statuses
        .as_ref()
        .and_then(|cs| cs.iter().find(|c| c.name == CONTAINER));
    let state = container.and_then(|c| c.state.clone()).unwrap_or_default();
    if let Some(t) = &state.terminated {
        return terminated(i.plan, t, i.now);
    }
    if matches!(status.phase.as_deref(), Some("Failed" | "Succeeded")) {
        return failed(
            LoadTestReason::PodFailed,
            format!(
                "the runner pod ended {} without a container result: {}",
                status.reason.unwrap_or_default(),
                status.message.unwrap_or_default()
            ),
            i.now,
            false,
        );
    }
    if overdue {
        return failed(
            LoadTestReason::Timeout,
            format!(
                "the runner did not finish within {}s (spec.timeoutSeconds)",
                i.timeout_secs
            ),
            i.now,
            true,
        );
    }
    if let Some(w) = &state.waiting {
        let reason = w.reason.clone().unwrap_or_default();
        let message = w.message.clone().unwrap_or_default();
        match reason.as_str() {
            "ImagePullBackOff" | "InvalidImageName" | "ErrImageNeverPull" => {
                return failed(
                    LoadTestReason::ImagePullFailed,
                    format!("{reason}: {message}"),
                    i.now,
                    true,
                );
            }
            "CreateContainerConfigError" | "CreateContainerError" | "RunContainerError" => {
                return failed(
                    LoadTestReason::PodFailed,
                    format!("{reason}: {message}"),
                    i.now,
                    true,
                );
            }
            _ => {
                return Observation::Waiting {
                    phase: LoadTestPhase::Starting,
                    message: if message.is_empty() {
                        reason
                    } else {
                        format!("{reason}: {message}")
                    },
                };
            }
        }
    }
    if let Some(r) = &state.running {
        let started_at = r.started_at.as_ref().map_or(i.now, |t| t.0);
        let expected = i.plan.expected_duration_secs().max(1) as i64;
        let elapsed = secs_since(i.now, started_at).max(0);
        return Observation::Running {
            started_at,
            progress: (elapsed * 100 / expected).clamp(0, 99) as u32,
        };
    }
    let scheduled = status
        .conditions
        .as_ref()
        .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"));
    if let Some(c) = scheduled
        && c.status == "False"
        && c.reason.as_deref() == Some("Unschedulable")
    {
        let since = c.last_transition_time.as_ref().map_or(i.now, |t| t.0);
        let message = format!(
            "the runner pod cannot be scheduled: {}",
            c.message.clone().unwrap_or_default()
        );
        return if secs_since(i.now, since) >= i.unschedulable_grace.as_secs() as i64 {
            failed(LoadTestReason::Unschedulable, message, i.now, true)
        } else {
            Observation::Waiting {
                phase: LoadTestPhase::Pending,
                message,
            }
        };
    }
    match pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
        Some(node) => Observation::Waiting {
            phase: LoadTestPhase::Starting,
            message: format!("scheduled on {node}; starting the runner"),
        },
        None => Observation::Waiting {
            phase: LoadTestPhase::Pending,
            message: "waiting for the runner pod to be scheduled".into(),
        },
    }
}

/// Whether the runner still takes resources in its cluster: a pod that may still run (not
/// Succeeded or Failed, its container not terminated, and not on its way out without a
/// running container), or an unfinished Job without a pod yet, which may still create one
/// (the Job runs one pod, never retried) (pure).
pub fn alive(job: Option<&Job>, pods: &[Pod]) -> bool {
    let job_may_create = job.is_some_and(|j| {
        pods.is_empty()
            && j.metadata.deletion_timestamp.is_none()
            && job_condition(j, "Complete").is_none()
            && job_condition(j, "Failed").is_none()
    });
    job_may_create || pods.iter().any(pod_alive)
}

fn pod_alive(pod: &Pod) -> bool {
    let status = pod.status.clone().unwrap_or_default();
    if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return false;
    }
    let running = status
        .container_statuses
        .iter()
        .flatten()
        .any(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()));
    running || (pod.metadata.deletion_timestamp.is_none() && !has_terminated(&status))
}

fn has_terminated(s: &k8s_openapi::api::core::v1::PodStatus) -> bool {
    s.container_statuses.as_ref().is_some_and(|cs| {
        cs.iter()
            .any(|c| c.state.as_ref().is_some_and(|st| st.terminated.is_some()))
    })
}

#[cfg(test)]
#[path = "runner_state_tests.rs"]
mod tests;
