//! The simulator against a real cluster (kube-apiserver, controller-manager, scheduler and a
//! kwok worker that makes pods Running and Ready, and nothing more for pods without a Job).

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::runtime::wait::await_condition;

use super::*;

/// A parallel test's starter runs `k6 resume` against its runners and exits: in the lab,
/// where nothing runs in pods, the simulator ends it as soon as it runs, every container
/// exiting 0, so a lab test never waits for a starter.
#[tokio::test]
async fn a_starter_pod_exits_as_soon_as_it_runs() -> Result<()> {
    let cp = local_control_plane::shared_cluster().await?;
    let client = cp.client().await?;
    let ns = cp.namespace("starter").await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let starter: Pod = serde_json::from_value(json!({
        "metadata": { "name": "st-web", "labels": { "app.kubernetes.io/component": "loadtest-starter" } },
        "spec": { "restartPolicy": "OnFailure", "containers": [
            { "name": "resume-0", "image": "grafana/k6:1.7.1", "args": ["resume", "--address", "10.1.0.1:6565"] },
            { "name": "resume-1", "image": "grafana/k6:1.7.1", "args": ["resume", "--address", "10.1.0.2:6565"] },
        ] },
    }))?;
    pods.create(&PostParams::default(), &starter).await?;
    let running = await_condition(pods.clone(), "st-web", |p: Option<&Pod>| {
        p.is_some_and(|p| started_at(p).is_some())
    });
    tokio::time::timeout(Duration::from_secs(60), running)
        .await
        .context("the starter pod never ran")??;

    let mut sim = Simulator::default();
    sim.step(&client).await?;
    let pod = pods.get("st-web").await?;
    let status = pod.status.context("status")?;
    ensure!(status.phase.as_deref() == Some("Succeeded"), "{status:?}");
    let exits: Vec<(String, Option<i32>)> = status
        .container_statuses
        .iter()
        .flatten()
        .map(|c| {
            let code = c
                .state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .map(|t| t.exit_code);
            (c.name.clone(), code)
        })
        .collect();
    ensure!(
        exits
            == [
                ("resume-0".to_owned(), Some(0)),
                ("resume-1".to_owned(), Some(0))
            ],
        "{exits:?}"
    );
    ensure!(
        sim.subscribe().borrow().runners.is_empty(),
        "a starter is no runner: it puts no load on anything"
    );
    Ok(())
}
