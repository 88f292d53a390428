//! `/api/v1/events`: server-sent events, so pages need not poll. A `test`, `experiment` or
//! `cluster` event names an object that changed (or went); a `snapshot` event says new
//! cluster data is ready; `resync` tells a slow client it missed events and should refetch.
//! Each client gets only the events about objects its token may read (see [`Needs`]).

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures::{Stream, StreamExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::access::{Permission, Verb};
use super::auth::{Caller, Resource};
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
    /// A ManagedCluster changed or was deleted.
    Cluster {
        /// Its name.
        cluster: String,
        /// Its phase now.
        phase: Option<String>,
        /// It is gone.
        deleted: bool,
    },
    /// New cluster data: refetch the snapshot (of the clusters the caller may read; the
    /// event itself carries no cluster's data).
    Snapshot {
        /// When it was assembled.
        #[serde(rename = "collectedAt")]
        collected_at: String,
    },
    /// A new point of a running LoadTest's series (see
    /// `GET /api/v1/tests/{namespace}/{name}/series`).
    TestSeries {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The point.
        point: super::series::SeriesPoint,
    },
    /// Events were missed: refetch everything.
    Resync,
}

impl ApiEvent {
    fn name(&self) -> &'static str {
        match self {
            Self::Test { .. } => "test",
            Self::Experiment { .. } => "experiment",
            Self::Cluster { .. } => "cluster",
            Self::Snapshot { .. } => "snapshot",
            Self::TestSeries { .. } => "testSeries",
            Self::Resync => "resync",
        }
    }
}

/// One RBAC check: verb, resource, namespace ("" at cluster scope), object name.
pub type Check<'a> = (Verb, Resource, &'a str, Option<&'a str>);

/// What a client's token must allow for it to receive an event.
#[derive(Debug, PartialEq)]
pub enum Needs<'a> {
    /// Nothing: the event carries no object's data.
    Nothing,
    /// Any one of these checks.
    AnyOf(Vec<Check<'a>>),
}

/// What reading `event` needs: the object's `get` (by name) or its namespace's `list`, as
/// reading it through the API would; a cluster's `get` by name.
pub fn needs(event: &ApiEvent) -> Needs<'_> {
    fn object<'a>(resource: Resource, namespace: &'a str, name: &'a str) -> Needs<'a> {
        Needs::AnyOf(vec![
            (Verb::Get, resource, namespace, Some(name)),
            (Verb::List, resource, namespace, None),
        ])
    }
    match event {
        ApiEvent::Test {
            namespace, name, ..
        }
        | ApiEvent::TestSeries {
            namespace, name, ..
        } => object(Resource::LoadTests, namespace, name),
        ApiEvent::Experiment {
            namespace, name, ..
        } => object(Resource::ScalingExperiments, namespace, name),
        ApiEvent::Cluster { cluster, .. } => Needs::AnyOf(vec![(
            Verb::Get,
            Resource::ManagedClusters,
            "",
            Some(cluster),
        )]),
        ApiEvent::Snapshot { .. } | ApiEvent::Resync => Needs::Nothing,
    }
}

fn to_sse(event: ApiEvent) -> Result<Event, Infallible> {
    Ok(Event::default()
        .event(event.name())
        .json_data(&event)
        .unwrap_or_else(|_| Event::default().event("resync").data("{}")))
}

/// Whether `caller` may receive `event`; a check the API server cannot answer withholds it.
async fn visible(state: &ApiState, caller: &Caller, event: &ApiEvent) -> bool {
    match needs(event) {
        Needs::Nothing => true,
        Needs::AnyOf(checks) => {
            for (verb, resource, namespace, name) in checks {
                let may = state
                    .auth
                    .may(caller, verb, resource, namespace, name)
                    .await;
                if may.unwrap_or(false) {
                    return true;
                }
            }
            false
        }
    }
}

async fn events(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = BroadcastStream::new(state.events.subscribe())
        .filter_map(move |item: Result<ApiEvent, BroadcastStreamRecvError>| {
            let (state, caller) = (state.clone(), caller.clone());
            async move {
                match item {
                    Ok(event) => visible(&state, &caller, &event).await.then_some(event),
                    Err(_) => Some(ApiEvent::Resync),
                }
            }
        })
        .map(to_sse);
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The route.
pub fn routes() -> Vec<Route> {
    vec![Route {
        method: "GET",
        path: "/api/v1/events",
        summary: "Server-sent events: test, experiment, cluster and snapshot changes and running tests' new series points (testSeries), each only to tokens that may read its object",
        permission: Permission::Filtered,
        doc: Operation::new()
            .text(
                200,
                "An event stream; each event's data is an ApiEvent as JSON",
                "text/event-stream",
            )
            .errors(&[401, 503]),
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

    /// An object's event needs what reading the object needs; a cluster's needs its name.
    #[test]
    fn each_event_needs_what_reading_its_object_needs() {
        let test = ApiEvent::Test {
            namespace: "team".into(),
            name: "t".into(),
            phase: None,
            deleted: true,
        };
        assert_eq!(
            needs(&test),
            Needs::AnyOf(vec![
                (Verb::Get, Resource::LoadTests, "team", Some("t")),
                (Verb::List, Resource::LoadTests, "team", None),
            ])
        );
        let experiment = ApiEvent::Experiment {
            namespace: "team".into(),
            name: "e".into(),
            phase: None,
            deleted: false,
        };
        assert!(
            matches!(&needs(&experiment), Needs::AnyOf(c) if c.iter().all(|c| c.1 == Resource::ScalingExperiments && c.2 == "team"))
        );
        let cluster = ApiEvent::Cluster {
            cluster: "prod".into(),
            phase: None,
            deleted: false,
        };
        assert_eq!(
            needs(&cluster),
            Needs::AnyOf(vec![(
                Verb::Get,
                Resource::ManagedClusters,
                "",
                Some("prod")
            )])
        );
        let tick = ApiEvent::Snapshot {
            collected_at: "now".into(),
        };
        assert_eq!(needs(&tick), Needs::Nothing);
        assert_eq!(needs(&ApiEvent::Resync), Needs::Nothing);
    }
}
