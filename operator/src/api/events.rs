//! `/api/v1/events`: server-sent events, so pages need not poll. A `test` or `experiment`
//! event names an object that changed (or went); a `snapshot` event says new cluster data is
//! ready; `resync` tells a slow client it missed events and should refetch.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures::{Stream, StreamExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::access::{Permission, Verb};
use super::auth::Resource;
use super::openapi::Operation;
use super::{ApiState, Route};

/// One event; the SSE event name is its `type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ApiEvent {
    /// A LoadTest changed or was deleted.
    Test {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Its phase now.
        phase: Option<String>,
        /// It is gone.
        deleted: bool,
    },
    /// A ScalingExperiment changed or was deleted.
    Experiment {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Its phase now.
        phase: Option<String>,
        /// It is gone.
        deleted: bool,
    },
    /// New cluster data: refetch the snapshot.
    Snapshot {
        /// When it was assembled.
        #[serde(rename = "collectedAt")]
        collected_at: String,
    },
    /// Events were missed: refetch everything.
    Resync,
}

impl ApiEvent {
    fn name(&self) -> &'static str {
        match self {
            Self::Test { .. } => "test",
            Self::Experiment { .. } => "experiment",
            Self::Snapshot { .. } => "snapshot",
            Self::Resync => "resync",
        }
    }
}

fn to_sse(item: Result<ApiEvent, BroadcastStreamRecvError>) -> Result<Event, Infallible> {
    let event = item.unwrap_or(ApiEvent::Resync);
    Ok(Event::default()
        .event(event.name())
        .json_data(&event)
        .unwrap_or_else(|_| Event::default().event("resync").data("{}")))
}

async fn events(
    State(state): State<Arc<ApiState>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = BroadcastStream::new(state.events.subscribe()).map(to_sse);
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The route.
pub fn routes() -> Vec<Route> {
    vec![Route {
        method: "GET",
        path: "/api/v1/events",
        summary: "Server-sent events: test, experiment and snapshot changes",
        permission: Permission::rbac(Verb::List, Resource::LoadTests),
        doc: Operation::new()
            .text(
                200,
                "An event stream; each event's data is an ApiEvent as JSON",
                "text/event-stream",
            )
            .errors(&[401, 403, 503]),
        handler: get(events),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_their_type() {
        let e = ApiEvent::Test {
            namespace: "a".into(),
            name: "b".into(),
            phase: Some("Running".into()),
            deleted: false,
        };
        assert_eq!(serde_json::to_value(&e).expect("json")["type"], "test");
        assert_eq!(e.name(), "test");
        assert_eq!(
            serde_json::to_value(ApiEvent::Resync).expect("json"),
            serde_json::json!({ "type": "resync" })
        );
    }
}
