//! One module per controller, each in three parts: `observe` (every read: the object, its
//! cluster, its children), a pure `decide` (what was observed, the settings and the time →
//! the next status, one effect, an event and when to look again) and `act` (carry out the
//! effect, write the status, publish the event). When the effect fails, the controller
//! decides again with the failure observed, so what a failure means is a decision too.
//!
//! What they share: [`error`] (classified errors and backoff), [`status`] (the status
//! writer and events) and [`Next`].

pub mod comparison;
pub mod error;
pub mod load_test;
pub mod managed_cluster;
pub mod node_usage;
pub mod scaling_experiment;
pub mod status;
pub mod test_schedule;

use std::future::Future;
use std::time::Duration;

use futures::FutureExt as _;
use kube::Resource;
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;

use self::error::Error;
use self::status::{Note, Reported};
use crate::context::Context;

/// Runs a controller (`run`, built with `graceful_shutdown_on(shutdown)`) to its end.
/// kube-runtime holds a controller's reconciles until its `store` has listed once, and a
/// graceful shutdown requested before then waits for that list forever (the watches that
/// feed the store are no longer polled), so SIGTERM in the operator's first moments would
/// hang it. A controller stopped before its first list has reconciled nothing and is
/// dropped instead.
pub async fn run_to_end<K>(
    run: impl Future<Output = ()>,
    store: Store<K>,
    shutdown: impl Future<Output = ()>,
) where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Default,
{
    let stopped_before_listing = async {
        shutdown.await;
        if store.wait_until_ready().now_or_never().is_some() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = run => {}
        () = stopped_before_listing => {
            tracing::debug!(kind = %K::kind(&Default::default()), "stopped before the first list");
        }
    }
}

/// Adds `finalizer` to `obj` unless it carries it or is being deleted, and returns the
/// object as the API server wrote it, so the reconcile goes on with it at once instead of
/// waiting for the patch's watch event (kube-runtime's `finalizer` helper adds it and ends
/// the reconcile; a LoadTest then reached its runner a round trip later). The merge patch
/// carries the resourceVersion: a change meanwhile is a conflict (retried), never another
/// writer's finalizer lost.
pub async fn with_finalizer<K>(
    api: &kube::Api<K>,
    finalizer: &str,
    obj: std::sync::Arc<K>,
) -> Result<std::sync::Arc<K>, kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    use kube::ResourceExt as _;
    if obj.meta().deletion_timestamp.is_some() || obj.finalizers().iter().any(|f| f == finalizer) {
        return Ok(obj);
    }
    let mut finalizers = obj.finalizers().to_vec();
    finalizers.push(finalizer.to_owned());
    let patch = serde_json::json!({ "metadata": {
        "finalizers": finalizers,
        "resourceVersion": obj.resource_version(),
    }});
    let written = api
        .patch(
            &obj.name_any(),
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await?;
    Ok(std::sync::Arc::new(written))
}

/// When a controller looks at an object again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// After this long (or sooner, on a change).
    Requeue(Duration),
    /// On the next change of the object or what it watches.
    AwaitChange,
    /// The step did not succeed yet and will be retried with backoff; why.
    Retry(String),
}

impl Next {
    /// The controller runtime's action; a retry is an error, so the error policy backs off.
    pub fn into_action(self) -> Result<Action, Error> {
        match self {
            Self::Requeue(after) => Ok(Action::requeue(after)),
            Self::AwaitChange => Ok(Action::await_change()),
            Self::Retry(why) => Err(Error::Retry(why)),
        }
    }
}

/// The end of every reconcile: writes the decided status (when it changed), publishes the
/// decided event and the phase change's ([`status::events`]), and says when to look again.
/// Returns whether status was written.
pub async fn conclude<K: Reported>(
    ctx: &Context,
    obj: &K,
    status: &K::Status,
    event: Option<&Note>,
) -> Result<bool, Error> {
    let old = obj.current();
    let written = old != *status;
    let transition = status::write(ctx, obj, &old, status).await?;
    for note in status::events(transition, event) {
        status::publish(ctx, obj, &note).await;
    }
    Ok(written)
}

/// The error policy of every controller: logs, counts the error by kind and class, and
/// retries with backoff (transient) or at the slowest pace (permanent).
pub fn retry_after_error<K: kube::Resource>(
    controller: &'static str,
    obj: &K,
    error: &Error,
    ctx: &Context,
    backoff: &error::Backoff,
) -> Action {
    let class = error.class();
    let key = status::key(obj);
    match class {
        error::Class::Transient => {
            tracing::warn!(object = %key, %error, "reconcile failed; retrying with backoff")
        }
        error::Class::Permanent => {
            tracing::error!(object = %key, %error, "reconcile failed and will fail again until something changes (RBAC, the object, a quota)")
        }
    }
    ctx.metrics
        .reconcile_failed(controller, error.label(), class.label());
    backoff.retry(&key, class)
}

/// What the decide tables of every controller check alike.
#[cfg(test)]
pub(crate) mod expect {
    use crds::common::Condition;

    use super::status::Note;

    /// The decision's event reason, that its message holds `message`, and one condition's
    /// status and reason (`type`, `status`, `reason`).
    pub fn common(
        name: &str,
        event: Option<&Note>,
        want_event: Option<&str>,
        message: Option<&str>,
        want_message: &str,
        conditions: &[Condition],
        want_condition: Option<(&str, &str, &str)>,
    ) {
        assert_eq!(
            event.map(|e| e.reason.as_str()),
            want_event,
            "{name}: event"
        );
        let message = message.unwrap_or_default();
        assert!(
            message.contains(want_message),
            "{name}: message {message:?} lacks {want_message:?}"
        );
        if let Some((type_, status, reason)) = want_condition {
            let c = conditions
                .iter()
                .find(|c| c.type_ == type_)
                .unwrap_or_else(|| panic!("{name}: no condition {type_}"));
            assert_eq!(
                (c.status.as_str(), c.reason.as_str()),
                (status, reason),
                "{name}: condition {type_}"
            );
        }
    }
}
