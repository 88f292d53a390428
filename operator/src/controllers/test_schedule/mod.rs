//! The TestSchedule controller: at each due time of a schedule, a run (LoadTest or
//! ScalingExperiment) from its template, as a CronJob creates Jobs.
//!
//! Each reconcile [`observe`]s the schedule's runs, [`decide`]s (pure, with the time
//! passed in: the due time from [`cron`], concurrency, missed runs, history pruning, the
//! run built by [`run`]) and [`act`]s, then requeues at the next due time (no polling).
//! A run's change (it finished) wakes its schedule through the owner reference.

pub mod act;
pub mod cron;
pub mod decide;
pub mod observe;
pub mod run;

use std::sync::Arc;

use crds::{LoadTest, ScalingExperiment, TestSchedule, TestScheduleStatus};
use futures::{FutureExt as _, StreamExt};
use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;

use crate::context::Context;
use crate::controllers::error::{Backoff, Error};
use crate::controllers::retry_after_error;
use crate::controllers::status::{Note, Reported, key};

/// The controller's name in metrics, events and logs.
pub const NAME: &str = "testschedule";

/// The controller's state.
pub struct State {
    ctx: Arc<Context>,
    backoff: Backoff,
}

impl Reported for TestSchedule {
    type Status = TestScheduleStatus;

    fn api(&self, client: kube::Client) -> Api<Self> {
        Api::namespaced(client, &self.namespace().unwrap_or_default())
    }

    fn current(&self) -> TestScheduleStatus {
        self.status.clone().unwrap_or_default()
    }

    /// A schedule has no phase: its decisions publish their own events.
    fn transition(_: &TestScheduleStatus, _: &TestScheduleStatus) -> Option<Note> {
        None
    }
}

/// Reconciles one TestSchedule: observe, decide, act; a failed effect is decided again
/// with the failure seen.
#[tracing::instrument(skip_all, fields(schedule = %key(ts.as_ref())))]
pub async fn reconcile(ts: Arc<TestSchedule>, state: Arc<State>) -> Result<Action, Error> {
    let ctx = state.ctx.as_ref();
    let _timer = ctx.metrics.reconcile_timer(NAME);
    let observed = observe::observe(ts.clone(), ctx).await?;
    let now = Timestamp::now();
    let mut decision = decide::decide(&observed, now);
    if let Err(failure) = act::effect(&decision.effect, &ts, ctx).await {
        tracing::warn!(error = %failure.message, "effect failed");
        let mut failed = observed;
        failed.failure = Some(failure);
        decision = decide::decide(&failed, now);
    }
    let result = act::conclude_decision(decision, &ts, ctx).await;
    if result.is_ok() {
        state.backoff.reset(&key(ts.as_ref()));
    }
    result
}

fn error_policy(ts: Arc<TestSchedule>, error: &Error, state: Arc<State>) -> Action {
    retry_after_error(NAME, ts.as_ref(), error, &state.ctx, &state.backoff)
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let client = ctx.client.clone();
    let controller = Controller::new(
        Api::<TestSchedule>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(
        Api::<LoadTest>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(
        Api::<ScalingExperiment>::all(client),
        watcher::Config::default(),
    );
    let store = controller.store();
    let state = Arc::new(State {
        ctx,
        backoff: Backoff::default(),
    });
    let shutdown = shutdown.shared();
    let run = controller
        .graceful_shutdown_on(shutdown.clone())
        .run(reconcile, error_policy, state)
        .for_each(|_| async {});
    super::run_to_end(run, store, shutdown).await;
}
