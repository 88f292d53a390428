//! The experiment's next step, as a pure function of its phase, its child LoadTest and the
//! samples so far.

use std::time::Duration;

use crds::LoadTest;
use crds::load_test::LoadTestPhase;
use crds::scaling_experiment::{ExperimentPhase, ExperimentReason};
use k8s_openapi::jiff::Timestamp;

/// Samples needed before the load starts.
pub const BASELINE_SAMPLES: usize = 2;

/// What the child LoadTest is doing.
#[derive(Clone, Debug, PartialEq)]
pub enum Child {
    /// Not created yet.
    Missing,
    /// Created earlier, gone now.
    Deleted,
    /// Exists, runner not running yet.
    Waiting,
    /// The runner runs since `started`.
    Running {
        /// When the runner started.
        started: Timestamp,
    },
    /// Over.
    Finished {
        /// When the runner started (None: it never ran).
        started: Option<Timestamp>,
        /// When the test ended.
        finished: Timestamp,
        /// The LoadTest failed: its message.
        failure: Option<String>,
    },
}

impl Child {
    /// The child's state from the LoadTest (None: not found); `created` says whether the
    /// experiment created it before. A finished child without a finish time ended `now`.
    pub fn of(lt: Option<&LoadTest>, created: bool, now: Timestamp) -> Self {
        let Some(lt) = lt else {
            return if created {
                Self::Deleted
            } else {
                Self::Missing
            };
        };
        let s = lt.status.clone().unwrap_or_default();
        let started = s.started_at.map(|t| t.0);
        match (s.phase, started) {
            (Some(p), _) if p.is_finished() => Self::Finished {
                started,
                finished: s.finished_at.map_or(now, |t| t.0),
                failure: (p == LoadTestPhase::Failed).then(|| {
                    s.message
                        .unwrap_or_else(|| "the LoadTest failed".to_owned())
                }),
            },
            (_, Some(started)) => Self::Running { started },
            _ => Self::Waiting,
        }
    }
}

/// What the experiment knows when it decides.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// Its phase now (None: new).
    pub phase: Option<ExperimentPhase>,
    /// The child LoadTest.
    pub child: Child,
    /// Samples taken before the current second.
    pub samples: usize,
    /// When the load ended, if it did.
    pub load_ended: Option<Timestamp>,
    /// The planned cooldown.
    pub cooldown: Duration,
    /// `endCooldownWhenBaselineRestored` is set.
    pub ends_at_baseline: bool,
    /// ... and every target is back at its baseline.
    pub restored: bool,
    /// Now.
    pub now: Timestamp,
}

/// The next step.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Start sampling the baseline.
    Baseline,
    /// Keep going; look again after this long at the latest.
    Stay(Duration),
    /// The baseline has enough samples: create the child LoadTest.
    CreateLoad,
    /// The runner runs: the load started at this time.
    Loading(Timestamp),
    /// The load ended at this time (with the child's failure, if it failed after starting).
    CoolingDown(Timestamp, Option<String>),
    /// Done.
    Completed(String),
    /// Failed.
    Failed(ExperimentReason, String),
}

fn remaining(ended: Timestamp, cooldown: Duration, now: Timestamp) -> Duration {
    let elapsed = Duration::try_from(now.duration_since(ended)).unwrap_or_default();
    cooldown.saturating_sub(elapsed)
}

/// Decides the next step. Waits are `sample` while the next step depends on the samples
/// (the baseline filling, a return to baseline being watched for) and `refresh` otherwise
/// (changes of the child LoadTest wake the experiment anyway).
pub fn step(i: &Inputs, sample: Duration, refresh: Duration) -> Step {
    use ExperimentPhase as P;
    match i.phase {
        None | Some(P::Pending) => Step::Baseline,
        Some(P::Completed | P::Failed) => Step::Stay(Duration::MAX),
        Some(P::Baseline | P::Loading) => match &i.child {
            Child::Missing if i.samples >= BASELINE_SAMPLES => Step::CreateLoad,
            Child::Missing => Step::Stay(sample),
            Child::Waiting => Step::Stay(refresh),
            Child::Deleted => Step::Failed(
                ExperimentReason::Cancelled,
                "the child LoadTest was deleted before the load finished".to_owned(),
            ),
            Child::Running { started } if i.phase == Some(P::Baseline) => Step::Loading(*started),
            Child::Running { .. } => Step::Stay(refresh),
            Child::Finished {
                started: None,
                failure,
                ..
            } => Step::Failed(
                ExperimentReason::LoadTestFailed,
                format!(
                    "the load never ran: {}",
                    failure
                        .as_deref()
                        .unwrap_or("the LoadTest finished without starting")
                ),
            ),
            Child::Finished {
                started: Some(started),
                ..
            } if i.phase == Some(P::Baseline) => Step::Loading(*started),
            Child::Finished {
                finished, failure, ..
            } => Step::CoolingDown(*finished, failure.clone()),
        },
        Some(P::CoolingDown) => {
            let Some(ended) = i.load_ended else {
                return Step::Completed("the load's end time is unknown".to_owned());
            };
            let left = remaining(ended, i.cooldown, i.now);
            if i.restored {
                Step::Completed(
                    "every target is back at its baseline (endCooldownWhenBaselineRestored)"
                        .to_owned(),
                )
            } else if left.is_zero() {
                Step::Completed(format!("cooldown of {}s over", i.cooldown.as_secs()))
            } else {
                Step::Stay(left.min(if i.ends_at_baseline { sample } else { refresh }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: Duration = Duration::from_secs(1);
    const REFRESH: Duration = Duration::from_secs(10);

    fn step(i: &Inputs) -> Step {
        super::step(i, SAMPLE, REFRESH)
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).expect("time")
    }

    fn inputs(phase: ExperimentPhase, child: Child) -> Inputs {
        Inputs {
            phase: Some(phase),
            child,
            samples: 0,
            load_ended: None,
            cooldown: Duration::from_secs(180),
            ends_at_baseline: false,
            restored: false,
            now: t(100),
        }
    }

    #[test]
    fn the_load_waits_for_two_baseline_samples() {
        let mut i = inputs(ExperimentPhase::Baseline, Child::Missing);
        i.samples = 1;
        assert_eq!(
            step(&i),
            Step::Stay(SAMPLE),
            "look again at the next sample"
        );
        i.samples = 2;
        assert_eq!(step(&i), Step::CreateLoad);
    }

    #[test]
    fn loading_starts_when_the_runner_runs_not_when_the_child_exists() {
        let i = inputs(ExperimentPhase::Baseline, Child::Waiting);
        assert_eq!(step(&i), Step::Stay(REFRESH), "the child's changes wake it");
        let i = inputs(ExperimentPhase::Baseline, Child::Running { started: t(42) });
        assert_eq!(step(&i), Step::Loading(t(42)));
    }

    #[test]
    fn a_load_that_ran_and_ended_between_two_looks_still_starts_loading_first() {
        let child = Child::Finished {
            started: Some(t(40)),
            finished: t(70),
            failure: None,
        };
        let i = inputs(ExperimentPhase::Baseline, child.clone());
        assert_eq!(step(&i), Step::Loading(t(40)));
        let i = inputs(ExperimentPhase::Loading, child);
        assert_eq!(step(&i), Step::CoolingDown(t(70), None));
    }

    #[test]
    fn a_child_that_never_ran_fails_the_experiment() {
        let i = inputs(
            ExperimentPhase::Baseline,
            Child::Finished {
                started: None,
                finished: t(50),
                failure: Some("runner pod unschedulable".into()),
            },
        );
        match step(&i) {
            Step::Failed(ExperimentReason::LoadTestFailed, m) => {
                assert!(m.contains("unschedulable"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_child_that_failed_after_starting_still_cools_down() {
        let i = inputs(
            ExperimentPhase::Loading,
            Child::Finished {
                started: Some(t(10)),
                finished: t(50),
                failure: Some("thresholds failed".into()),
            },
        );
        assert_eq!(
            step(&i),
            Step::CoolingDown(t(50), Some("thresholds failed".into()))
        );
    }

    #[test]
    fn a_deleted_child_cancels() {
        let i = inputs(ExperimentPhase::Loading, Child::Deleted);
        assert!(matches!(
            step(&i),
            Step::Failed(ExperimentReason::Cancelled, _)
        ));
    }

    #[test]
    fn the_cooldown_runs_its_length_or_ends_at_baseline() {
        let mut i = inputs(ExperimentPhase::CoolingDown, Child::Missing);
        i.load_ended = Some(t(0));
        i.now = t(178);
        assert_eq!(step(&i), Step::Stay(Duration::from_secs(2)));
        i.now = t(180);
        assert!(matches!(step(&i), Step::Completed(_)));
        i.now = t(20);
        assert_eq!(step(&i), Step::Stay(REFRESH));
        i.ends_at_baseline = true;
        assert_eq!(step(&i), Step::Stay(SAMPLE), "watching for the baseline");
        i.restored = true;
        match step(&i) {
            Step::Completed(m) => assert!(m.contains("baseline"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn child_state_comes_from_its_status() {
        use crds::common::Time;
        use crds::load_test::LoadTestStatus;
        let mut lt: LoadTest = serde_json::from_value(serde_json::json!({
            "apiVersion": "tartinfra.dev/v1alpha1", "kind": "LoadTest",
            "metadata": { "name": "x-load", "namespace": "default" },
            "spec": { "cluster": "dev", "preset": "light-load" }
        }))
        .expect("loadtest");
        assert_eq!(Child::of(None, false, t(0)), Child::Missing);
        assert_eq!(Child::of(None, true, t(0)), Child::Deleted);
        assert_eq!(Child::of(Some(&lt), true, t(0)), Child::Waiting);
        lt.status = Some(LoadTestStatus {
            phase: Some(LoadTestPhase::Running),
            started_at: Some(Time(t(5))),
            ..LoadTestStatus::default()
        });
        assert_eq!(
            Child::of(Some(&lt), true, t(0)),
            Child::Running { started: t(5) }
        );
        lt.status = Some(LoadTestStatus {
            phase: Some(LoadTestPhase::Failed),
            message: Some("boom".into()),
            started_at: Some(Time(t(5))),
            finished_at: Some(Time(t(9))),
            ..LoadTestStatus::default()
        });
        assert_eq!(
            Child::of(Some(&lt), true, t(0)),
            Child::Finished {
                started: Some(t(5)),
                finished: t(9),
                failure: Some("boom".into())
            }
        );
        // A simulated runner measured nothing but did not fail: the experiment's scaling
        // KPIs, which are real, are still taken through the cooldown.
        lt.status = Some(LoadTestStatus {
            phase: Some(LoadTestPhase::Completed),
            reason: Some(crds::load_test::LoadTestReason::RunnerSimulated),
            message: Some("the runner ran on simulated node dev-worker1".into()),
            started_at: Some(Time(t(5))),
            finished_at: Some(Time(t(9))),
            ..LoadTestStatus::default()
        });
        let child = Child::of(Some(&lt), true, t(0));
        assert_eq!(
            child,
            Child::Finished {
                started: Some(t(5)),
                finished: t(9),
                failure: None
            }
        );
        let i = inputs(ExperimentPhase::Loading, child);
        assert_eq!(step(&i), Step::CoolingDown(t(9), None));
    }
}
