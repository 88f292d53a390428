//! What a schedule does now (pure): from the schedule, its runs and the time, the next
//! status, the runs to delete and create, an event and when to look again. CronJob's
//! rules: the most recent due time since the last one is the only run created (never a
//! burst after downtime); one later than startingDeadlineSeconds is skipped and recorded;
//! Forbid skips a due run while one is active, Replace deletes the active ones first;
//! finished runs beyond the history limits are deleted, oldest first.

use std::sync::Arc;
use std::time::Duration;

use crds::TestSchedule;
use crds::common::Time;
use crds::conditions::{ScheduleCondition, ScheduleConditionReason};
use crds::test_schedule::{ConcurrencyPolicy, RunKind, TestScheduleStatus};
use jiff::Timestamp;
use kube::ResourceExt as _;

use super::cron::{self, Invalid};
use super::run::{self, NewRun};
use crate::conditions::Stamp;
use crate::controllers::Next;
use crate::controllers::error::Failure;
use crate::controllers::status::Note;

/// A run of the schedule as observed.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created: Timestamp,
    /// When and how it finished, once it did.
    pub finished: Option<Finished>,
    /// It is being deleted.
    pub deleting: bool,
}

/// How a run finished.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Finished {
    /// It succeeded (a LoadTest Succeeded or Completed, an experiment Completed).
    pub succeeded: bool,
    /// When.
    pub at: Timestamp,
}

/// Everything a decision is based on.
#[derive(Clone, Debug)]
pub struct Observed {
    /// The schedule.
    pub schedule: Arc<TestSchedule>,
    /// Its runs (owned by it), in any order.
    pub runs: Vec<Run>,
    /// The effect of this reconcile's first decision failed.
    pub failure: Option<Failure>,
}

/// The runs to delete, then the run to create.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Effect {
    /// The kind of both.
    pub kind: Option<RunKind>,
    /// Runs to delete: past the history limits, or active ones Replace replaces.
    pub delete: Vec<String>,
    /// The run to create.
    pub create: Option<NewRun>,
}

/// The outcome of a decision.
#[derive(Clone, Debug)]
pub struct Decision {
    /// The schedule's next status.
    pub status: TestScheduleStatus,
    /// What to do.
    pub effect: Effect,
    /// The event to publish.
    pub event: Option<Note>,
    /// When to look again.
    pub next: Next,
}

/// Decides what the schedule does at `now`.
pub fn decide(o: &Observed, now: Timestamp) -> Decision {
    let ts = o.schedule.as_ref();
    let spec = &ts.spec;
    let old = ts.status.clone().unwrap_or_default();
    let stamp = Stamp {
        generation: ts.metadata.generation,
        now,
    };
    let mut status = TestScheduleStatus {
        observed_generation: ts.metadata.generation,
        ..old.clone()
    };
    let mut active: Vec<&Run> = o
        .runs
        .iter()
        .filter(|r| r.finished.is_none() && !r.deleting)
        .collect();
    active.sort_by(|a, b| (a.created, &a.name).cmp(&(b.created, &b.name)));
    status.active = active.iter().map(|r| r.name.clone()).collect();
    let newest_success = o
        .runs
        .iter()
        .filter_map(|r| r.finished.filter(|f| f.succeeded).map(|f| f.at))
        .max();
    status.last_successful_time = newest_success
        .map(Time)
        .max(old.last_successful_time.clone());
    let mut effect = Effect {
        kind: run::kind(ts),
        delete: prune(
            &o.runs,
            spec.successful_runs_history_limit,
            spec.failed_runs_history_limit,
        ),
        create: None,
    };
    let mut event = None;

    // A schedule that never matches is refused here, once, rather than searched for on
    // every reconcile.
    let parsed = cron::parse(spec.schedule.as_str(), spec.time_zone.as_str()).and_then(|c| {
        let next = c.next_after(now);
        next.map(|n| (c, n))
            .ok_or_else(|| Invalid::Never(spec.schedule.to_string()))
    });
    let (cron, next_due) = match parsed {
        Ok(found) => found,
        Err(invalid) => {
            let reason = match invalid {
                Invalid::Schedule { .. } | Invalid::Never(_) => {
                    ScheduleConditionReason::ScheduleInvalid
                }
                Invalid::TimeZone(_) => ScheduleConditionReason::TimeZoneInvalid,
            };
            let message = invalid.to_string();
            if !is_ready_with(&old, reason) {
                event = Some(Note::warning(reason.as_str(), message.clone()));
            }
            stamp.set(
                &mut status.conditions,
                ScheduleCondition::Ready,
                false,
                reason,
                message,
            );
            status.next_schedule_time = None;
            return finish(o, status, effect, event, Next::AwaitChange);
        }
    };
    status.next_schedule_time = Some(Time(next_due));
    if spec.suspend {
        let reason = ScheduleConditionReason::Suspended;
        stamp.set(
            &mut status.conditions,
            ScheduleCondition::Ready,
            false,
            reason,
            "spec.suspend is true: no runs are created; set it to false to resume (the most recent missed run is then created if within startingDeadlineSeconds)",
        );
        status.next_schedule_time = None;
        return finish(o, status, effect, event, Next::AwaitChange);
    }

    // The newest due time that was acted on (a run created or skipped), else creation.
    let created = ts.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
    let handled = [&old.last_schedule_time, &old.last_skipped_time]
        .into_iter()
        .flatten()
        .map(|t| t.0)
        .chain([created])
        .max()
        .unwrap_or(created);
    if let Some(due) = cron.most_recent(handled, now) {
        let late = now.duration_since(due).as_secs();
        let name = run::run_name(&ts.name_any(), due);
        let exists = o.runs.iter().any(|r| r.name == name);
        let still_active = status.active.join(", ");
        let mut skip = |reason: ScheduleConditionReason, message: String| {
            status.last_skipped_time = Some(Time(due));
            stamp.set(
                &mut status.conditions,
                ScheduleCondition::RunSkipped,
                true,
                reason,
                message.clone(),
            );
            Some(Note::warning("RunSkipped", message))
        };
        if let Some(deadline) = spec
            .starting_deadline_seconds
            .filter(|d| !exists && late > i64::from(*d))
        {
            event = skip(
                ScheduleConditionReason::MissedStartingDeadline,
                format!(
                    "the run due at {due} was skipped: it is {late}s late, more than startingDeadlineSeconds ({deadline}s)"
                ),
            );
        } else if !exists
            && !active.is_empty()
            && spec.concurrency_policy == ConcurrencyPolicy::Forbid
        {
            event = skip(
                ScheduleConditionReason::ConcurrencyForbidden,
                format!(
                    "the run due at {due} was skipped: concurrencyPolicy is Forbid and {still_active} is still active"
                ),
            );
        } else {
            if !exists {
                effect.create = run::build(ts, due);
                let replaced: Vec<String> = match spec.concurrency_policy {
                    ConcurrencyPolicy::Replace => status.active.clone(),
                    _ => Vec::new(),
                };
                let message = if replaced.is_empty() {
                    format!("created run {name}, due at {due}")
                } else {
                    format!(
                        "created run {name}, due at {due}, replacing {}",
                        replaced.join(", ")
                    )
                };
                event = Some(Note::normal(
                    if replaced.is_empty() {
                        "RunCreated"
                    } else {
                        "RunReplaced"
                    },
                    message.clone(),
                ));
                status.active.retain(|a| !replaced.contains(a));
                effect.delete.extend(replaced);
                status.active.push(name.clone());
            }
            status.last_schedule_time = Some(Time(due));
            if crate::conditions::get(&old.conditions, ScheduleCondition::RunSkipped).is_some() {
                stamp.set(
                    &mut status.conditions,
                    ScheduleCondition::RunSkipped,
                    false,
                    ScheduleConditionReason::RunCreated,
                    format!("run {name} was created"),
                );
            }
        }
    }
    let ready = ScheduleConditionReason::Scheduled;
    let next_message = format!("the next run is due at {next_due}");
    stamp.set(
        &mut status.conditions,
        ScheduleCondition::Ready,
        true,
        ready,
        next_message,
    );
    if event.is_none() && !effect.delete.is_empty() {
        event = Some(Note::normal(
            "HistoryPruned",
            format!(
                "deleted finished runs beyond the history limits: {}",
                effect.delete.join(", ")
            ),
        ));
    }
    let wait = Duration::try_from(next_due.duration_since(now)).unwrap_or_default();
    finish(
        o,
        status,
        effect,
        event,
        Next::Requeue(wait.max(Duration::from_secs(1))),
    )
}

/// With the effect failed: the status as before the effect, no effect, and a retry.
fn finish(
    o: &Observed,
    mut status: TestScheduleStatus,
    effect: Effect,
    event: Option<Note>,
    next: Next,
) -> Decision {
    status.active_count = u32::try_from(status.active.len()).ok().filter(|n| *n > 0);
    match &o.failure {
        None => Decision {
            status,
            effect,
            event,
            next,
        },
        Some(failure) => {
            let old = o.schedule.status.clone().unwrap_or_default();
            Decision {
                status: TestScheduleStatus {
                    conditions: status.conditions,
                    observed_generation: status.observed_generation,
                    next_schedule_time: status.next_schedule_time,
                    last_successful_time: status.last_successful_time,
                    ..old
                },
                effect: Effect::default(),
                event: Some(Note::warning("RunNotCreated", failure.message.clone())),
                next: Next::Retry(failure.message.clone()),
            }
        }
    }
}

fn is_ready_with(status: &TestScheduleStatus, reason: ScheduleConditionReason) -> bool {
    crate::conditions::get(&status.conditions, ScheduleCondition::Ready)
        .is_some_and(|c| c.reason == reason.as_str())
}

/// The finished runs past the limits, oldest first: successful beyond `successes`, failed
/// beyond `failures` (runs being deleted already are not counted).
pub fn prune(runs: &[Run], successes: u32, failures: u32) -> Vec<String> {
    let mut out = Vec::new();
    for (succeeded, keep) in [(true, successes), (false, failures)] {
        let mut finished: Vec<(Timestamp, &str)> = runs
            .iter()
            .filter(|r| !r.deleting)
            .filter_map(|r| {
                r.finished
                    .filter(|f| f.succeeded == succeeded)
                    .map(|f| (f.at, r.name.as_str()))
            })
            .collect();
        finished.sort();
        let extra = finished.len().saturating_sub(keep as usize);
        out.extend(finished[..extra].iter().map(|(_, n)| (*n).to_owned()));
    }
    out
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
