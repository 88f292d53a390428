//! The LoadTest controller: runs each test once as a Job in its target cluster and follows
//! the runner pod into status.
//!
//! Each reconcile [`observe`]s (the test, its cluster, its slot in the cluster's queue, the
//! runner Job and pods), [`decide`]s (pure: wait in the queue, create the runner, follow it,
//! finish, remove it after the TTL or on deletion) and [`act`]s (the effect in the target
//! cluster, then status, event and slot). Runner objects have deterministic names, so a
//! restarted operator adopts what it created. Runner changes in the target cluster wake the
//! test through the registry's watchers; a timed requeue refreshes progress.

pub mod act;
pub mod decide;
pub mod observe;
pub mod parallel;
pub mod policy;
pub mod queue;
pub mod runner;
pub mod runner_state;
pub mod written;

use std::sync::Arc;

use crds::LoadTest;
use crds::load_test::{LoadTestPhase, LoadTestStatus};
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender};
use futures::{FutureExt as _, StreamExt};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

use self::queue::Slots;
use self::written::Written;
use crate::context::Context;
use crate::controllers::error::{Backoff, Error};
use crate::controllers::status::{Note, Reported, key, phase_change};
use crate::controllers::{retry_after_error, with_finalizer};

/// The controller's name in metrics, events and logs.
pub const NAME: &str = "loadtest";
/// Removes the runner from the target cluster before the LoadTest goes.
pub const FINALIZER: &str = "tartinfra.dev/loadtest-runner";

/// The controller's state.
pub struct State {
    ctx: Arc<Context>,
    slots: Slots,
    tests: Store<LoadTest>,
    backoff: Backoff,
    written: Written,
}

impl Reported for LoadTest {
    type Status = LoadTestStatus;

    fn api(&self, client: kube::Client) -> Api<Self> {
        Api::namespaced(client, &self.namespace().unwrap_or_default())
    }

    fn current(&self) -> LoadTestStatus {
        self.status.clone().unwrap_or_default()
    }

    fn transition(old: &LoadTestStatus, new: &LoadTestStatus) -> Option<Note> {
        let failed = new.phase == Some(LoadTestPhase::Failed);
        let failure = new.reason.filter(|_| failed).map(|r| r.name());
        phase_change(old.phase, new.phase, failure, new.message.as_deref())
    }
}

/// One pass: observe, decide, act; a failed effect is decided again with the failure seen.
async fn step(lt: Arc<LoadTest>, state: &State) -> Result<Action, Error> {
    let ctx = state.ctx.as_ref();
    let observed = observe::observe(lt.clone(), ctx, &state.slots, &state.tests).await;
    let now = Timestamp::now();
    let mut decision = decide::decide(&observed, &ctx.settings, now);
    if decision.status != lt.current() {
        // Recorded before the write: a reconcile of the old copy meanwhile waits for it.
        let version = lt.metadata.resource_version.clone().unwrap_or_default();
        state
            .written
            .record(&key(lt.as_ref()), &version, std::time::Instant::now());
    }
    // A decision that ends the test writes its verdict before it removes the runner: a
    // crash between the two then leaves a finished test whose runner the next look removes
    // (`decide::expire`), never a runner gone before its verdict, read as a cancelled test.
    // (A test being deleted keeps effect-first: its finalizer must not go before its runner.)
    if decision.ends(&lt)
        && lt.metadata.deletion_timestamp.is_none()
        && matches!(decision.effect, decide::Effect::DeleteRunner(_))
    {
        let effect = std::mem::replace(&mut decision.effect, decide::Effect::None);
        let action = act::conclude_decision(decision, &lt, ctx, &state.slots).await?;
        if let Err(failure) = act::effect(&effect, &lt, ctx).await {
            tracing::warn!(effect = effect.name(), error = %failure.message, "effect failed; the next look retries it");
        }
        return Ok(action);
    }
    if let Err(failure) = act::effect(&decision.effect, &lt, ctx).await {
        tracing::warn!(effect = decision.effect.name(), error = %failure.message, "effect failed");
        decision = decide::decide(&observed.failed(failure), &ctx.settings, now);
    }
    act::conclude_decision(decision, &lt, ctx, &state.slots).await
}

/// Reconciles one LoadTest.
#[tracing::instrument(skip_all, fields(loadtest = %key(lt.as_ref())))]
pub async fn reconcile(lt: Arc<LoadTest>, state: Arc<State>) -> Result<Action, Error> {
    let _timer = state.ctx.metrics.reconcile_timer(NAME);
    let api: Api<LoadTest> = Api::namespaced(
        state.ctx.client.clone(),
        &lt.namespace().unwrap_or_default(),
    );
    let object = key(lt.as_ref());
    let version = lt.metadata.resource_version.clone().unwrap_or_default();
    let now = std::time::Instant::now();
    if state.written.stale(&object, &version, now) {
        // This copy predates the controller's own last write; its event reconciles again.
        return Ok(Action::requeue(written::AT_MOST));
    }
    if !lt.finalizers().iter().any(|f| f == FINALIZER) && lt.metadata.deletion_timestamp.is_none() {
        // Added now; this copy is then older than the write.
        state.written.record(&object, &version, now);
    }
    let lt = with_finalizer(&api, FINALIZER, lt).await?;
    let result = finalizer(&api, FINALIZER, lt, |event| async {
        match event {
            Finalizer::Apply(lt) | Finalizer::Cleanup(lt) => step(lt, &state).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    if result.is_ok() {
        state.backoff.reset(&object);
    }
    result
}

fn error_policy(lt: Arc<LoadTest>, error: &Error, state: Arc<State>) -> Action {
    retry_after_error(NAME, lt.as_ref(), error, &state.ctx, &state.backoff)
}

/// Runs the controller until `shutdown` resolves. `triggers` carries LoadTests whose runner
/// changed in a target cluster (and queued tests to wake); `wake` sends into it.
pub async fn run(
    ctx: Arc<Context>,
    triggers: UnboundedReceiver<ObjectRef<LoadTest>>,
    wake: UnboundedSender<ObjectRef<LoadTest>>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<LoadTest> = Api::all(ctx.client.clone());
    let controller = Controller::new(api, watcher::Config::default());
    let store = controller.store();
    let state = Arc::new(State {
        slots: Slots::new(store.clone(), wake),
        tests: store.clone(),
        ctx,
        backoff: Backoff::default(),
        written: Written::default(),
    });
    let shutdown = shutdown.shared();
    let run = controller
        .reconcile_on(triggers)
        .graceful_shutdown_on(shutdown.clone())
        .run(reconcile, error_policy, state)
        .for_each(|_| async {});
    super::run_to_end(run, store, shutdown).await;
}
