//! `/api/v1/events`: server-sent events, so pages need not poll. A `test`, `experiment` or
//! `cluster` event names an object that changed (or went); a `delta` event carries what
//! changed in a cluster's pods, nodes and usage (see [`crate::collectors::changes`]); a
//! `snapshot` event says metrics-only data (VMs, node disk and network) may have changed;
//! `resync` tells a client it missed events and should refetch. Each client gets only the
//! events about objects its token may read (see [`Needs`]).
//!
//! Every `delta` (and the `revisions` event that starts each stream) has an SSE `id` listing
//! the revision the client has reached in each cluster it sees, e.g.
//! `dev=1733441234000123,prod=1733441234000456`: one `Last-Event-ID` must resume every
//! cluster, and each cluster keeps its own log (it comes and goes with the cluster's
//! connection), so the id is the vector of their revisions rather than one global sequence.
//! A client reconnecting with it gets the deltas it missed, or `resync` when a cluster's log
//! no longer reaches back that far (or the id cannot be read).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::HeaderMap;
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
use crate::collectors::changes::Resume;
use crate::model::ClusterDelta;

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
    /// What changed in one cluster's pods, nodes and usage since its previous delta.
    Delta(SharedDelta),
    /// The first event of every stream: the revision of each cluster the caller sees, where
    /// the stream starts (its `id` is what to send as `Last-Event-ID`).
    Revisions {
        /// Revision by cluster.
        revisions: BTreeMap<String, u64>,
    },
    /// Events were missed: refetch everything.
    Resync,
}

/// A delta shared by every client's stream (not copied per client).
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[schemars(transparent)]
pub struct SharedDelta(pub Arc<ClusterDelta>);

impl Serialize for SharedDelta {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedDelta {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ClusterDelta::deserialize(d).map(|d| Self(Arc::new(d)))
    }
}

impl ApiEvent {
    fn name(&self) -> &'static str {
        match self {
            Self::Test { .. } => "test",
            Self::Experiment { .. } => "experiment",
            Self::Cluster { .. } => "cluster",
            Self::Snapshot { .. } => "snapshot",
            Self::TestSeries { .. } => "testSeries",
            Self::Delta(_) => "delta",
            Self::Revisions { .. } => "revisions",
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
        ApiEvent::Delta(SharedDelta(d)) => Needs::AnyOf(vec![(
            Verb::Get,
            Resource::ManagedClusters,
            "",
            Some(&d.cluster),
        )]),
        ApiEvent::Cluster { cluster, .. } => Needs::AnyOf(vec![(
            Verb::Get,
            Resource::ManagedClusters,
            "",
            Some(cluster),
        )]),
        // Built per stream from the clusters the caller may read.
        ApiEvent::Snapshot { .. } | ApiEvent::Revisions { .. } | ApiEvent::Resync => Needs::Nothing,
    }
}

/// The SSE `id` of a stream that has reached `cursor`: `cluster=revision`, comma-separated.
pub fn event_id(cursor: &BTreeMap<String, u64>) -> String {
    cursor
        .iter()
        .map(|(c, r)| format!("{c}={r}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads a `Last-Event-ID` written by [`event_id`]; `None` when it is not one (the client
/// then resyncs).
pub fn parse_event_id(id: &str) -> Option<BTreeMap<String, u64>> {
    if id.trim().is_empty() {
        return Some(BTreeMap::new());
    }
    id.split(',')
        .map(|part| {
            let (cluster, revision) = part.trim().split_once('=')?;
            Some((cluster.to_owned(), revision.parse().ok()?))
        })
        .collect()
}

/// Where a stream starts: the events to send first and the revision the client has per
/// cluster before them.
#[derive(Debug, Default, PartialEq)]
pub struct Start {
    /// A resync (when some cluster cannot be resumed), then the missed deltas.
    pub backlog: Vec<ApiEvent>,
    /// Revision by cluster before the backlog.
    pub cursor: BTreeMap<String, u64>,
}

/// Where the stream of a client starts (pure): `clusters` are the connected clusters it
/// sees, each with its published revision and its answer to a resume point (`resume` is
/// the parsed `Last-Event-ID`: `None` for a fresh stream, `Some(None)` for an id that cannot
/// be read). A fresh stream starts at the published revisions; a resumed one gets the deltas
/// after its revision in each cluster, or one resync when any cluster cannot be resumed
/// (its log does not reach back, or the id did not name it).
pub fn start<F: FnOnce(u64) -> Resume>(
    resume: Option<Option<&BTreeMap<String, u64>>>,
    clusters: Vec<(String, u64, F)>,
) -> Start {
    let mut start = Start::default();
    let mut resync = matches!(resume, Some(None));
    for (cluster, published, since) in clusters {
        let from = match resume {
            None => published,
            Some(ids) => match ids
                .and_then(|ids| ids.get(&cluster))
                .map(|r| (*r, since(*r)))
            {
                Some((from, Resume::Deltas(deltas))) => {
                    start
                        .backlog
                        .extend(deltas.into_iter().map(|d| ApiEvent::Delta(SharedDelta(d))));
                    from
                }
                Some((_, Resume::Resync)) | None => {
                    resync = true;
                    published
                }
            },
        };
        start.cursor.insert(cluster, from);
    }
    if resync {
        start.backlog.insert(0, ApiEvent::Resync);
    }
    start
}

/// The SSE form of an event on a stream that has reached `cursor`: a delta the stream has
/// already sent (in its backlog) is dropped; a delta or the `revisions` event (which states
/// the cursor) carries the stream's id.
pub fn to_sse(cursor: &mut BTreeMap<String, u64>, event: ApiEvent) -> Option<Event> {
    let event = match event {
        ApiEvent::Revisions { .. } => ApiEvent::Revisions {
            revisions: cursor.clone(),
        },
        other => other,
    };
    let with_id = match &event {
        ApiEvent::Delta(SharedDelta(d)) => {
            if cursor.get(&d.cluster).is_some_and(|r| *r >= d.revision) {
                return None;
            }
            cursor.insert(d.cluster.clone(), d.revision);
            true
        }
        ApiEvent::Revisions { .. } => true,
        _ => false,
    };
    let sse = Event::default()
        .event(event.name())
        .json_data(&event)
        .unwrap_or_else(|_| Event::default().event("resync").data("{}"));
    Some(if with_id {
        sse.id(event_id(cursor))
    } else {
        sse
    })
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
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribe first: a delta published while the stream starts is then either in the
    // backlog or received (and dropped by the cursor when it was both).
    let live = BroadcastStream::new(state.events.subscribe());
    let resume = headers
        .get("last-event-id")
        .map(|v| v.to_str().ok().and_then(parse_event_id));
    let clusters: Vec<_> = super::read::visible_clusters(&state, &caller)
        .await
        .into_iter()
        .filter_map(|(meta, collector)| {
            let c = collector?;
            Some((meta.name, c.published_revision(), move |r| {
                c.changes_since(r)
            }))
        })
        .collect();
    let Start {
        backlog: mut first,
        mut cursor,
    } = start(resume.as_ref().map(Option::as_ref), clusters);
    first.push(ApiEvent::Revisions {
        revisions: BTreeMap::new(),
    });
    let live = live.filter_map(move |item: Result<ApiEvent, BroadcastStreamRecvError>| {
        let (state, caller) = (state.clone(), caller.clone());
        async move {
            match item {
                Ok(event) => visible(&state, &caller, &event).await.then_some(event),
                Err(_) => Some(ApiEvent::Resync),
            }
        }
    });
    let stream = futures::stream::iter(first)
        .chain(live)
        .filter_map(move |event| std::future::ready(to_sse(&mut cursor, event).map(Ok)));
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The route.
pub fn routes() -> Vec<Route> {
    vec![Route {
        method: "GET",
        path: "/api/v1/events",
        summary: "Server-sent events: test, experiment and cluster changes, per-cluster deltas of pods, nodes and usage (delta, with an SSE id to resume from with Last-Event-ID; revisions starts each stream; resync when a resume reaches back too far), snapshot when metrics-only data may have changed, and running tests' new series points (testSeries), each only to tokens that may read its object",
        permission: Permission::Filtered,
        doc: Operation::new()
            .stream::<ApiEvent>(
                200,
                "An event stream; each event's data is an ApiEvent as JSON, its SSE event name the ApiEvent's type",
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

    fn delta(cluster: &str, since: u64, revision: u64) -> Arc<ClusterDelta> {
        Arc::new(ClusterDelta {
            cluster: cluster.into(),
            since,
            revision,
            ..ClusterDelta::default()
        })
    }

    /// The id lists each cluster's revision and reads back; anything else is no id.
    #[test]
    fn event_ids_round_trip_and_bad_ones_are_refused() {
        let cursor = BTreeMap::from([("dev".to_owned(), 12), ("prod".to_owned(), 7)]);
        assert_eq!(event_id(&cursor), "dev=12,prod=7");
        assert_eq!(parse_event_id("dev=12,prod=7"), Some(cursor));
        assert_eq!(parse_event_id(""), Some(BTreeMap::new()));
        for bad in ["dev", "dev=x", "dev=-1", "dev=1,,", "=1=2"] {
            assert_eq!(parse_event_id(bad), None, "{bad}");
        }
    }

    /// A fresh stream starts at the published revisions; a resumed one gets the deltas it
    /// missed; one resync when any cluster cannot be resumed (older than its log, not named
    /// by the id, or an id that cannot be read).
    #[test]
    fn a_stream_starts_where_the_client_left_off() {
        let missed = delta("dev", 10, 12);
        let clusters = || {
            let missed = missed.clone();
            vec![
                (
                    "dev".to_owned(),
                    12,
                    Box::new(move |r: u64| {
                        if r >= 10 {
                            Resume::Deltas(if r < 12 { vec![missed] } else { vec![] })
                        } else {
                            Resume::Resync
                        }
                    }) as Box<dyn FnOnce(u64) -> Resume>,
                ),
                ("prod".to_owned(), 5, Box::new(|_| Resume::Deltas(vec![]))),
            ]
        };
        let ids = |dev: u64| BTreeMap::from([("dev".to_owned(), dev), ("prod".to_owned(), 5)]);
        let fresh = start(None, clusters());
        assert_eq!(fresh.backlog, []);
        assert_eq!(fresh.cursor, ids(12));
        let resumed = start(Some(Some(&ids(10))), clusters());
        assert_eq!(
            resumed.backlog,
            [ApiEvent::Delta(SharedDelta(missed.clone()))]
        );
        assert_eq!(resumed.cursor, ids(10));
        let too_old = start(Some(Some(&ids(3))), clusters());
        assert_eq!(too_old.backlog, [ApiEvent::Resync]);
        assert_eq!(too_old.cursor, ids(12));
        let only_prod = BTreeMap::from([("prod".to_owned(), 5)]);
        assert_eq!(
            start(Some(Some(&only_prod)), clusters()).backlog,
            [ApiEvent::Resync]
        );
        assert_eq!(start(Some(None), clusters()).backlog, [ApiEvent::Resync]);
    }

    /// Deltas advance the stream's cursor and carry it as their id; one the stream has
    /// already sent is dropped; `revisions` states the cursor.
    #[test]
    fn deltas_advance_the_cursor_and_repeats_are_dropped() {
        let mut cursor = BTreeMap::from([("dev".to_owned(), 10)]);
        assert!(
            to_sse(
                &mut cursor,
                ApiEvent::Delta(SharedDelta(delta("dev", 8, 10)))
            )
            .is_none()
        );
        assert!(
            to_sse(
                &mut cursor,
                ApiEvent::Delta(SharedDelta(delta("dev", 10, 12)))
            )
            .is_some()
        );
        assert!(to_sse(&mut cursor, ApiEvent::Delta(SharedDelta(delta("qa", 0, 3)))).is_some());
        assert_eq!(event_id(&cursor), "dev=12,qa=3");
        assert!(to_sse(&mut cursor, ApiEvent::Resync).is_some());
        let delta_event = ApiEvent::Delta(SharedDelta(delta("dev", 12, 14)));
        let json = serde_json::to_value(&delta_event).expect("json");
        assert_eq!(json["type"], "delta");
        assert_eq!(json["revision"], 14);
        assert_eq!(
            serde_json::from_value::<ApiEvent>(json).expect("reads back"),
            delta_event
        );
        assert_eq!(
            needs(&delta_event),
            Needs::AnyOf(vec![(
                Verb::Get,
                Resource::ManagedClusters,
                "",
                Some("dev")
            )])
        );
    }
}
