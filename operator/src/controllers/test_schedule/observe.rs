//! What a schedule's reconcile reads: its runs, listed fresh by the schedule's label (not
//! from a cache, so a run just created is seen and never created twice) and kept when the
//! schedule owns them.

use std::sync::Arc;

use crds::load_test::LoadTestPhase;
use crds::scaling_experiment::ExperimentPhase;
use crds::test_schedule::{RunKind, SCHEDULE_LABEL};
use crds::{LoadTest, ScalingExperiment, TestSchedule};
use jiff::Timestamp;
use kube::api::{Api, ListParams};
use kube::{Resource, ResourceExt};

use super::decide::{Finished, Observed, Run};
use super::run;
use crate::context::Context;
use crate::controllers::error::Error;

/// Reads the schedule's runs.
pub async fn observe(ts: Arc<TestSchedule>, ctx: &Context) -> Result<Observed, Error> {
    let ns = ts.namespace().unwrap_or_default();
    let lp = ListParams::default().labels(&format!("{SCHEDULE_LABEL}={}", ts.name_any()));
    let runs = match run::kind(&ts) {
        Some(RunKind::LoadTest) => {
            let api: Api<LoadTest> = Api::namespaced(ctx.client.clone(), &ns);
            owned(&ts, api.list(&lp).await?.items, load_test)
        }
        Some(RunKind::ScalingExperiment) => {
            let api: Api<ScalingExperiment> = Api::namespaced(ctx.client.clone(), &ns);
            owned(&ts, api.list(&lp).await?.items, experiment)
        }
        None => Vec::new(),
    };
    Ok(Observed {
        schedule: ts,
        runs,
        failure: None,
    })
}

/// The runs among `items` that `ts` owns, as the decision sees them.
fn owned<K: Resource>(
    ts: &TestSchedule,
    items: Vec<K>,
    finished: impl Fn(&K) -> Option<Finished>,
) -> Vec<Run> {
    let uid = ts.uid();
    items
        .into_iter()
        .filter(|r| {
            r.owner_references()
                .iter()
                .any(|o| Some(&o.uid) == uid.as_ref())
        })
        .map(|r| Run {
            name: r.name_any(),
            created: r
                .meta()
                .creation_timestamp
                .as_ref()
                .map_or(Timestamp::UNIX_EPOCH, |t| t.0),
            finished: finished(&r),
            deleting: r.meta().deletion_timestamp.is_some(),
        })
        .collect()
}

/// How a LoadTest finished: Succeeded and Completed (ran, measured nothing) count as
/// success, as a Job that ran to its end does.
pub fn load_test(lt: &LoadTest) -> Option<Finished> {
    let s = lt.status.as_ref()?;
    let phase = s.phase.filter(|p| p.is_finished())?;
    Some(Finished {
        succeeded: phase != LoadTestPhase::Failed,
        at: finished_at(s.finished_at.as_ref(), lt),
    })
}

/// How a ScalingExperiment finished.
pub fn experiment(se: &ScalingExperiment) -> Option<Finished> {
    let s = se.status.as_ref()?;
    let phase = s.phase.filter(|p| p.is_finished())?;
    Some(Finished {
        succeeded: phase == ExperimentPhase::Completed,
        at: finished_at(s.finished_at.as_ref(), se),
    })
}

fn finished_at<K: Resource>(at: Option<&crds::common::Time>, run: &K) -> Timestamp {
    at.or(run.meta().creation_timestamp.as_ref())
        .map_or(Timestamp::UNIX_EPOCH, |t| t.0)
}
