//! The one status writer every controller uses: a merge patch of what changed (fields that
//! went away become nulls), and the events of a reconcile (its phase change's and its own).

use std::fmt::Debug;

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::Error;
use crate::conditions;
use crate::context::Context;

/// An event to publish about an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// Normal or Warning.
    pub type_: EventType,
    /// PascalCase, e.g. `RunnerCreated`.
    pub reason: String,
    /// For humans.
    pub message: String,
}

impl Note {
    /// A Normal event.
    pub fn normal(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            type_: EventType::Normal,
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// A Warning event.
    pub fn warning(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            type_: EventType::Warning,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// A kind whose status a controller writes.
pub trait Reported:
    Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Serialize + Send + Sync + 'static
{
    /// Its status type.
    type Status: Serialize + PartialEq + Clone + Debug + Default + Send + Sync;

    /// Its status, or the default when it has none yet.
    fn current(&self) -> Self::Status;

    /// The API its status is written through (namespaced or cluster-wide).
    fn api(&self, client: kube::Client) -> Api<Self>;

    /// The event a change from `old` to `new` publishes: one per phase change, none
    /// otherwise (pure).
    fn transition(old: &Self::Status, new: &Self::Status) -> Option<Note>;
}

/// The event of a phase change from `old` to `new` (none when the phase stays): a Warning
/// named for the failure reason when the new phase carries one, else a Normal event named
/// for the phase (pure).
pub fn phase_change<P: PartialEq + Debug>(
    old: Option<P>,
    new: Option<P>,
    failure: Option<&str>,
    message: Option<&str>,
) -> Option<Note> {
    if old == new {
        return None;
    }
    let message = message.unwrap_or_default();
    Some(match (new, failure) {
        (_, Some(reason)) => Note::warning(reason, message),
        (Some(p), None) => Note::normal(format!("{p:?}"), message),
        (None, None) => Note::normal("Updated", message),
    })
}

/// `namespace/name`, or `name` for cluster-scoped objects: the key in logs and backoff.
pub fn key<K: Resource>(obj: &K) -> String {
    match obj.meta().namespace.as_deref() {
        Some(ns) => format!("{ns}/{}", obj.name_any()),
        None => obj.name_any(),
    }
}

/// Writes `new` when it differs from `old`; returns the phase change's event, if any.
pub async fn write<K: Reported>(
    ctx: &Context,
    obj: &K,
    old: &K::Status,
    new: &K::Status,
) -> Result<Option<Note>, Error> {
    if old == new {
        return Ok(None);
    }
    let patch = crate::status_patch::merge_patch(old, new).map_err(kube::Error::SerdeError)?;
    obj.api(ctx.client.clone())
        .patch_status(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    let transition = K::transition(old, new);
    if let Some(note) = &transition {
        tracing::info!(reason = %note.reason, "{}", note.message);
    }
    Ok(transition)
}

/// The events one reconcile publishes, each a request to the API server (pure): the phase
/// change's and the decision's own, except a Normal phase change when the decision's event
/// is Normal too and tells what happened more precisely (a test that becomes Pending
/// because its runner was created publishes RunnerCreated alone). Warnings always go out.
pub fn events(transition: Option<Note>, decided: Option<&Note>) -> Vec<Note> {
    let normal = |n: &Note| n.type_ == EventType::Normal;
    let transition = transition.filter(|t| !(normal(t) && decided.is_some_and(normal)));
    transition.into_iter().chain(decided.cloned()).collect()
}

/// Publishes `note` about `obj`; a failure is logged, never fatal (events are best effort).
pub async fn publish<K: Resource<DynamicType = ()>>(ctx: &Context, obj: &K, note: &Note) {
    let event = Event {
        type_: note.type_,
        reason: note.reason.clone(),
        note: Some(conditions::truncate(note.message.clone(), 1000)),
        action: "Reconcile".to_owned(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &obj.object_ref(&())).await {
        tracing::warn!(error = %e, reason = %note.reason, "cannot publish event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decided_normal_event_stands_for_a_normal_phase_change() {
        let pending = Note::normal("Pending", "Job x created");
        let created = Note::normal("RunnerCreated", "Job x created");
        let unavailable = Note::warning("ClusterUnavailable", "dev is down");
        let failed = Note::warning("OOMKilled", "");
        let cases = [
            ("decided only", None, Some(&created), vec![created.clone()]),
            (
                "phase change only",
                Some(pending.clone()),
                None,
                vec![pending.clone()],
            ),
            (
                "both normal",
                Some(pending.clone()),
                Some(&created),
                vec![created.clone()],
            ),
            (
                "a decided warning keeps the phase change",
                Some(pending.clone()),
                Some(&unavailable),
                vec![pending.clone(), unavailable.clone()],
            ),
            (
                "a warning phase change stays",
                Some(failed.clone()),
                Some(&created),
                vec![failed.clone(), created.clone()],
            ),
            ("none", None, None, vec![]),
        ];
        for (case, transition, decided, want) in cases {
            assert_eq!(events(transition, decided), want, "{case}");
        }
    }

    #[test]
    fn a_phase_change_is_one_event_and_a_failure_a_warning() {
        assert_eq!(phase_change(Some(1), Some(1), None, Some("same")), None);
        assert_eq!(
            phase_change(None, Some("Running"), None, Some("running on dev")),
            Some(Note::normal("\"Running\"", "running on dev"))
        );
        assert_eq!(
            phase_change(Some("Running"), Some("Failed"), Some("OOMKilled"), None),
            Some(Note::warning("OOMKilled", ""))
        );
        assert_eq!(
            phase_change::<u8>(Some(1), None, None, None),
            Some(Note::normal("Updated", ""))
        );
    }
}
