//! A run's node CPU and memory before, during and after it (status.nodeUsage), against real
//! control planes: dev runs metrics-server, which scrapes the usage kwok simulates for its
//! nodes (the sum of their pods' `kwok.x-k8s.io/usage-*` annotations); the test plays the
//! runner's kubelet. Without metrics-server the run says why nothing was measured.

mod support;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use crds::LoadTest;
use crds::load_test::LoadTestPhase;
use crds::node_usage::{NodeUsageRecord, NodeUsageSummary};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use support::*;

fn record(lt: &LoadTest) -> Option<&NodeUsageRecord> {
    lt.status.as_ref()?.node_usage.as_ref()
}

fn worker(lt: &LoadTest) -> Option<&NodeUsageSummary> {
    record(lt)?.nodes.iter().find(|n| n.node == "dev-worker1")
}

/// A pod bound to dev-worker1 that kwok says uses `cpu`.
fn busy(name: &str, cpu: &str) -> Result<Pod> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "annotations": { "kwok.x-k8s.io/usage-cpu": cpu } },
        "spec": { "nodeName": "dev-worker1", "containers": [{ "name": "c", "image": "busybox:1.36" }] },
    }))?)
}

const K6_REPORT: &str = r#"{"version":1,"requests":1000,"rps":50,"latencyMs":{"avg":50,"p95":80,"p99":90},"errorRate":0,"checks":{"passed":1000,"failed":0},"thresholds":[]}"#;

#[tokio::test]
async fn a_finished_run_carries_its_nodes_before_peak_and_after() -> Result<()> {
    let settings = operator::context::Settings {
        node_usage_settle: Duration::from_secs(3),
        ..fast_settings()
    };
    let env = Env::with_dev(target_options("dev").with_metrics_server(), settings).await?;
    let (p, d) = (&env.p, &env.d);
    // kwok's node figures are the sum of its pods': an idle pod of 100m on the worker, and
    // the operator reads dev-worker1's figures (metrics-server needs two scrapes first).
    let pods: Api<Pod> = Api::namespaced(d.clone(), "default");
    kubelet_running(
        d,
        &pods
            .create(&PostParams::default(), &busy("idle", "100m")?)
            .await?,
    )
    .await?;
    let http = Http::new(env.port);
    http.eventually(
        "/api/v1/snapshot",
        env.token(),
        "dev-worker1's usage from metrics-server",
        |s| {
            s["clusters"].as_array().into_iter().flatten().any(|c| {
                c["name"] == "dev"
                    && c["nodes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|n| n["name"] == "dev-worker1" && n["usage"]["cpuMillis"].is_u64())
            })
        },
    )
    .await?;

    let (ns, lts) = env.loadtests("usage").await?;
    let name = create_loadtest(p, &ns, &preset_loadtest("busy", "dev", "light-load")).await?;
    let job = runner_job(&lts, &name, d).await?;
    let runner = scheduled_pod(d, RUNNERS_NS, &kube::ResourceExt::name_any(&job)).await?;
    kubelet_running(d, &runner).await?;
    wait_for(&lts, &name, "Running with a before reading", |lt| {
        phase(lt) == Some(LoadTestPhase::Running) && worker(lt).is_some_and(|w| w.before.is_some())
    })
    .await?;

    // The load: a pod on the worker that kwok says uses 1500m.
    let load = pods
        .create(&PostParams::default(), &busy("load", "1500m")?)
        .await?;
    kubelet_running(d, &load).await?;
    let during = wait_within(
        &lts,
        &name,
        "a peak with the load",
        Duration::from_secs(90),
        |lt| {
            worker(lt)
                .and_then(|w| w.peak)
                .is_some_and(|p| p.cpu_millis >= 1000)
        },
    )
    .await?;
    let peak = worker(&during).and_then(|w| w.peak).context("peak")?;
    ensure!(
        peak.cpu_percent.is_some_and(|p| p >= 25.0),
        "1500m of 4 allocatable CPUs: {peak:?}"
    );
    pods.delete("load", &DeleteParams::default()).await?;

    kubelet_terminated(d, &runner, 0, "Completed", K6_REPORT).await?;
    let done = wait_for(&lts, &name, "its after reading", |lt| {
        record(lt).is_some_and(NodeUsageRecord::settled)
    })
    .await?;
    let rec = record(&done).context("record")?;
    let s = done.status.as_ref().context("status")?;
    let (started, finished) = (
        s.started_at.clone().context("started")?.0,
        s.finished_at.clone().context("finished")?.0,
    );
    let settled = finished.checked_add(Duration::from_secs(3))?;
    ensure!(
        rec.before_at.as_ref().is_some_and(|t| t.0 <= started),
        "before is read before the start: {rec:?}"
    );
    ensure!(
        rec.after_at.as_ref().is_some_and(|t| t.0 >= settled),
        "after is read the settle time after the end: {rec:?}"
    );
    ensure!(
        rec.samples_during >= 1 && rec.not_measured.is_none(),
        "{rec:?}"
    );
    let w = worker(&done).context("dev-worker1")?;
    let (before, peak, after) = (
        w.before.context("before")?,
        w.peak.context("peak")?,
        w.after.context("after")?,
    );
    ensure!(
        before.cpu_millis > 0 && before.cpu_millis < 1000 && peak.cpu_millis >= 1000,
        "the load shows at the peak only: {w:?}"
    );
    ensure!(w.simulated, "kwok's node is marked simulated: {w:?}");
    ensure!(after.cpu_percent.is_some(), "{after:?}");
    env.operator.stop().await
}

#[tokio::test]
async fn without_metrics_server_a_run_says_its_nodes_were_not_measured() -> Result<()> {
    let env = Env::start(fast_settings()).await?;
    let (p, d) = (&env.p, &env.d);
    let (ns, lts) = env.loadtests("no-usage").await?;
    let name = create_loadtest(p, &ns, &preset_loadtest("blind", "dev", "light-load")).await?;
    let job = runner_job(&lts, &name, d).await?;
    let runner = scheduled_pod(d, RUNNERS_NS, &kube::ResourceExt::name_any(&job)).await?;
    kubelet_running(d, &runner).await?;
    let lt = wait_for(&lts, &name, "why its nodes are not measured", |lt| {
        record(lt).is_some_and(|r| r.not_measured.is_some())
    })
    .await?;
    let rec = record(&lt).context("record")?;
    ensure!(
        rec.not_measured
            .as_deref()
            .is_some_and(|m| m.contains("metrics API (metrics.k8s.io) is not served")),
        "{rec:?}"
    );
    ensure!(
        rec.nodes.is_empty(),
        "never a zero it did not read: {rec:?}"
    );
    env.operator.stop().await
}
