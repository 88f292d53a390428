//! The ScalingExperiment controller: samples the target HPAs for a baseline, runs the load
//! as a child LoadTest, keeps sampling through the cooldown and writes the KPIs.
//!
//! Each reconcile [`observe`]s (the cluster's HPA cache, the sampler's series, the child
//! LoadTest), [`decide`]s (pure: resolve the targets to their HPAs ([`targets`]), start
//! the sampler ([`live`]), create the child once the baseline has enough samples, start the
//! load clock when the child's runner runs ([`phase`]), stop it when the child finishes,
//! complete after the cooldown) and [`act`]s. Status (KPIs from [`kpis`], downsampled
//! samples, [`series`]) is written on every phase change and at most every 10 s between.

pub mod act;
pub mod child;
pub mod decide;
pub mod kpis;
pub mod live;
pub mod observe;
pub mod phase;
pub mod series;
pub mod targets;

use std::collections::HashSet;
use std::sync::Arc;

use crds::scaling_experiment::{ExperimentPhase, ScalingExperimentStatus};
use crds::{LoadTest, ScalingExperiment};
use futures::{FutureExt as _, StreamExt};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;

pub use self::child::{EXPERIMENT_LABEL, child_name};
pub use self::decide::STATUS_EVERY;
use self::observe::Written;
pub use self::series::with_series;
use crate::context::Context;
use crate::controllers::error::{Backoff, Error};
use crate::controllers::retry_after_error;
use crate::controllers::status::{Note, Reported, key, phase_change};

/// The controller's name in metrics, events and logs.
pub const NAME: &str = "scalingexperiment";

/// The controller's state.
pub struct State {
    ctx: Arc<Context>,
    written: Written,
    experiments: Store<ScalingExperiment>,
    backoff: Backoff,
}

impl Reported for ScalingExperiment {
    type Status = ScalingExperimentStatus;

    fn api(&self, client: kube::Client) -> Api<Self> {
        Api::namespaced(client, &self.namespace().unwrap_or_default())
    }

    fn current(&self) -> ScalingExperimentStatus {
        self.status.clone().unwrap_or_default()
    }

    fn transition(old: &ScalingExperimentStatus, new: &ScalingExperimentStatus) -> Option<Note> {
        let failed = new.phase == Some(ExperimentPhase::Failed);
        let failure = new.reason.filter(|_| failed).map(|r| r.name());
        phase_change(old.phase, new.phase, failure, new.message.as_deref())
    }
}

/// Reconciles one ScalingExperiment: observe, decide, act; a failed effect is decided
/// again with the failure seen.
#[tracing::instrument(skip_all, fields(experiment = %key(se.as_ref())))]
pub async fn reconcile(se: Arc<ScalingExperiment>, state: Arc<State>) -> Result<Action, Error> {
    let ctx = state.ctx.as_ref();
    let _timer = ctx.metrics.reconcile_timer(NAME);
    let observed = observe::observe(se.clone(), ctx, &state.written, &state.experiments).await?;
    let now = Timestamp::now();
    let mut decision = decide::decide(&observed, &ctx.settings, now);
    if let Err(failure) = act::effect(&decision.effect, ctx).await {
        tracing::warn!(effect = decision.effect.name(), error = %failure.message, "effect failed");
        decision = decide::decide(&observed.failed(failure), &ctx.settings, now);
    }
    let result = act::conclude_decision(decision, &se, ctx, &state.written).await;
    if result.is_ok() {
        state.backoff.reset(&key(se.as_ref()));
    }
    result
}

fn error_policy(se: Arc<ScalingExperiment>, error: &Error, state: Arc<State>) -> Action {
    retry_after_error(NAME, se.as_ref(), error, &state.ctx, &state.backoff)
}

/// Stops the samplers (and forgets the status writes) of experiments that are gone or
/// over: deleted experiments get no reconcile, so this sweeps.
fn sweep(store: &Store<ScalingExperiment>, state: &State) {
    let running: HashSet<String> = store
        .state()
        .iter()
        .filter(|se| {
            !se.status
                .as_ref()
                .and_then(|s| s.phase)
                .is_some_and(ExperimentPhase::is_finished)
        })
        .filter_map(|se| se.uid())
        .collect();
    state.ctx.samplers.retain(|uid| running.contains(uid));
    state.written.retain(|uid| running.contains(uid));
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<ScalingExperiment> = Api::all(ctx.client.clone());
    let controller = Controller::new(api, watcher::Config::default()).owns(
        Api::<LoadTest>::all(ctx.client.clone()),
        watcher::Config::default(),
    );
    let store = controller.store();
    let ready = store.clone();
    let state = Arc::new(State {
        ctx,
        written: Written::default(),
        experiments: store.clone(),
        backoff: Backoff::default(),
    });
    let sweeper = tokio::spawn({
        let state = state.clone();
        async move {
            let mut tick = tokio::time::interval(STATUS_EVERY);
            loop {
                tick.tick().await;
                sweep(&store, &state);
            }
        }
    });
    let shutdown = shutdown.shared();
    let run = controller
        .graceful_shutdown_on(shutdown.clone())
        .run(reconcile, error_policy, state)
        .for_each(|_| async {});
    super::run_to_end(run, ready, shutdown).await;
    sweeper.abort();
}
