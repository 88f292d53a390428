//! Deltas on the event stream against real control planes: a pod created in a cluster whose
//! pods kwok runs arrives as an upsert, its deletion as a delete; a client that reconnects
//! with `Last-Event-ID` gets what it missed, and one whose id is older than the log (or not
//! an id) gets `resync`.

mod support;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use local_control_plane::{PodLifecycle, apply_yaml};
use serde_json::Value;
use support::*;

const POD: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: churn}
---
apiVersion: v1
kind: Pod
metadata: {name: one, namespace: churn}
spec:
  containers: [{name: app, image: "busybox:1.36", resources: {requests: {cpu: 10m}}}]
"#;

fn is_dev_delta(e: &SseEvent) -> bool {
    e.event == "delta" && e.data["cluster"] == "dev"
}

fn upserts(delta: &Value, name: &str) -> bool {
    delta["pods"].as_array().is_some_and(|p| {
        p.iter()
            .any(|p| p["namespace"] == "churn" && p["name"] == name)
    })
}

fn pod_status<'a>(delta: &'a Value, name: &str) -> Option<&'a str> {
    delta["pods"]
        .as_array()?
        .iter()
        .find(|p| p["namespace"] == "churn" && p["name"] == name)?["status"]
        .as_str()
}

fn deletes(delta: &Value, name: &str) -> bool {
    delta["podsDeleted"].as_array().is_some_and(|p| {
        p.iter()
            .any(|p| p["namespace"] == "churn" && p["name"] == name)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn pod_changes_arrive_as_deltas_and_resume_after_a_disconnect() -> Result<()> {
    let dev = target_options("dev").with_pods(PodLifecycle::Simulated);
    let env = Env::with_dev(dev, fast_settings()).await?;
    let http = Http::new(env.port);
    let token = env.token().to_owned();

    // A stream starts with the revision of each cluster it sees, as its id (dev's once its
    // collectors run, which may follow its Ready phase by a moment).
    let deadline = tokio::time::Instant::now() + WAIT;
    let (mut first, start) = loop {
        let mut stream = SseReader::new(http.events(&token).await?);
        let (start, _) = stream
            .until("revisions", |e| e.event == "revisions")
            .await?;
        if start.data["revisions"]["dev"].is_u64() {
            break (stream, start);
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "dev never joined the stream: {start:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    ensure!(start.data["revisions"]["platform"].is_u64(), "{start:?}");
    ensure!(
        start.id.as_deref().is_some_and(|id| id.contains("dev=")),
        "{start:?}"
    );

    // A new pod arrives as an upsert, with its namespace's count; kwok runs it (in the same
    // delta when that is quick).
    apply_yaml(&env.d, POD, "churn").await?;
    let (created, _) = first
        .until("the new pod's upsert", |e| {
            is_dev_delta(e) && upserts(&e.data, "one")
        })
        .await?;
    let counts = created.data["namespaces"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["namespace"] == "churn"))
        .context("the churn namespace's count")?;
    ensure!(counts["total"] == 1, "{created:?}");
    let running = if pod_status(&created.data, "one") == Some("Running") {
        created
    } else {
        first
            .until("the pod running", |e| {
                is_dev_delta(e) && pod_status(&e.data, "one") == Some("Running")
            })
            .await?
            .0
    };
    let resume_at = running.id.clone().context("a delta without an id")?;
    ensure!(running.data["since"].as_u64() < running.data["revision"].as_u64());
    drop(first);

    // While the first client is away, a second sees the pod go.
    let mut second = SseReader::new(http.events(&token).await?);
    second
        .until("revisions", |e| e.event == "revisions")
        .await?;
    Api::<Pod>::namespaced(env.d.clone(), "churn")
        .delete("one", &DeleteParams::default().grace_period(0))
        .await?;
    let (gone, _) = second
        .until("the pod's delete", |e| {
            is_dev_delta(e) && deletes(&e.data, "one")
        })
        .await?;
    ensure!(
        gone.data["namespaces"].as_array().is_some_and(|n| n
            .iter()
            .any(|n| n["namespace"] == "churn" && n["total"] == 0)),
        "{gone:?}"
    );

    // The first client comes back with its last id: it gets the delete it missed, then the
    // revisions event, whose id has reached at least the delete's.
    let mut back = SseReader::new(http.events_from(&token, Some(&resume_at)).await?);
    let (revisions, missed) = back.until("revisions", |e| e.event == "revisions").await?;
    ensure!(
        missed.iter().all(|e| e.event == "delta"),
        "a resume that reaches back replays deltas only: {missed:?}"
    );
    ensure!(
        missed
            .iter()
            .any(|e| is_dev_delta(e) && deletes(&e.data, "one")),
        "the missed delete: {missed:?}"
    );
    ensure!(
        revisions.data["revisions"]["dev"].as_u64() >= gone.data["revision"].as_u64(),
        "{revisions:?} {gone:?}"
    );

    // An id older than every cluster's log, or not an id at all: resync first.
    for stale in ["dev=1,platform=1", "not an id"] {
        let mut old = SseReader::new(http.events_from(&token, Some(stale)).await?);
        let e = old.next().await?;
        ensure!(e.event == "resync", "{stale}: {e:?}");
        let (r, _) = old.until("revisions", |e| e.event == "revisions").await?;
        ensure!(r.id.is_some(), "{stale}: {r:?}");
    }
    Ok(())
}
