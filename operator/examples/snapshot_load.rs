//! Benchmark: `/api/v1/snapshot` with 4 simulated clusters of 500 pods each (another count
//! with `TART_BENCH_PODS`), under wrk on
//! loopback; the operator's memory; and, in the same run, one LIST of all those pods from
//! the API servers (what the watch caches save per request). Run `bench/snapshot-load.sh`.
//!
//! With `TART_BENCH_DASHBOARD=<dashboard dir>` it measures the dashboard instead: the operator
//! serves `<dir>/dist` and `<dir>/bench/first-render.mjs` loads the Overview and a Cluster
//! page in headless Chromium (run `bench/dashboard.sh`).

#[path = "../../bench/measure.rs"]
mod measure;
#[path = "../tests/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use local_control_plane::ControlPlane;
use measure::status_kib;
use support::{
    Running, api_admin_token, create_namespace, free_port, operator_bin_from_env, operator_command,
    platform_and_clusters,
};

const CLUSTERS: [&str; 4] = ["dev", "staging", "prod", "qa"];

/// Pods per cluster: `TART_BENCH_PODS`, else 500.
fn pods_per_cluster() -> Result<usize> {
    match std::env::var("TART_BENCH_PODS") {
        Err(_) => Ok(500),
        Ok(v) => match v.parse::<usize>() {
            Ok(n) if (1..=20_000).contains(&n) => Ok(n),
            _ => bail!(
                "TART_BENCH_PODS={v:?}: give a whole number of pods per cluster from 1 to 20000"
            ),
        },
    }
}

async fn populate(cp: &ControlPlane, cluster: &str, count: usize) -> Result<()> {
    let client = cp.client().await?;
    for i in 0..2 {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": { "name": format!("{cluster}-node{i}"), "labels": { "node-role.kubernetes.io/worker": "" } },
            "status": { "capacity": { "cpu": "8", "memory": "16Gi", "pods": "300" }, "allocatable": { "cpu": "8", "memory": "16Gi", "pods": "300" },
                        "conditions": [{ "type": "Ready", "status": "True" }] },
        }))?;
        Api::<Node>::all(client.clone())
            .create(&PostParams::default(), &node)
            .await?;
    }
    create_namespace(&client, "demo").await?;
    let pods: Api<Pod> = Api::namespaced(client, "demo");
    futures::stream::iter(0..count)
        .map(|i| {
            let pods = pods.clone();
            let pod: Pod = serde_json::from_value(serde_json::json!({
                "metadata": { "name": format!("web-{i:04}"), "labels": { "app": "web", "tier": "frontend" } },
                "spec": { "nodeName": format!("{cluster}-node{}", i % 2),
                          "containers": [{ "name": "web", "image": "nginx:1.27-alpine",
                                           "resources": { "requests": { "cpu": "50m", "memory": "64Mi" } } }] },
            }))
            .unwrap_or_default();
            async move { pods.create(&PostParams::default(), &pod).await.map_err(anyhow::Error::from) }
        })
        .buffer_unordered(20)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

fn wrk_number(output: &str, prefix: &str) -> Option<String> {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix(prefix))
        .map(|v| v.trim().to_owned())
}

#[tokio::main]
async fn main() -> Result<()> {
    let bin = operator_bin_from_env()?;
    let per_cluster = pods_per_cluster()?;
    eprintln!(
        "starting 1 platform and {} target control planes...",
        CLUSTERS.len()
    );
    let (platform, targets) = platform_and_clusters(&CLUSTERS).await?;
    eprintln!("creating {per_cluster} pods in each cluster...");
    for (c, cp) in CLUSTERS.iter().zip(&targets) {
        populate(cp, c, per_cluster).await?;
    }

    let port = free_port()?;
    let dashboard = std::env::var_os("TART_BENCH_DASHBOARD").map(std::path::PathBuf::from);
    let mut command = operator_command(&bin, &platform, port, "warn", "json");
    command.stdout(Stdio::null());
    if let Some(dir) = &dashboard {
        command.arg("--dashboard-dir").arg(dir.join("dist"));
    }
    let operator = Running::spawn(&mut command)?;
    let pid = operator.pid();
    let token = api_admin_token(&platform.client().await?).await?;
    let url = format!("http://127.0.0.1:{port}/api/v1/snapshot");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let want = per_cluster * CLUSTERS.len();
    let size = loop {
        if let Ok(res) = http.get(&url).bearer_auth(&token).send().await
            && let Ok(body) = res.text().await
            && let Ok(s) = serde_json::from_str::<serde_json::Value>(&body)
        {
            let pods: usize = s["clusters"].as_array().map_or(0, |c| {
                c.iter()
                    .map(|c| c["pods"].as_array().map_or(0, Vec::len))
                    .sum()
            });
            if pods >= want {
                break body.len();
            }
        }
        if Instant::now() > deadline {
            bail!("the snapshot never showed {want} pods");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let idle_rss = status_kib(pid, "VmRSS:");
    if let Some(dir) = &dashboard {
        let status = Command::new("node")
            .current_dir(dir)
            .args([
                "bench/first-render.mjs",
                &format!("http://127.0.0.1:{port}/"),
                &token,
                &CLUSTERS.len().to_string(),
                &per_cluster.to_string(),
            ])
            .status()
            .context("running node bench/first-render.mjs")?;
        anyhow::ensure!(status.success(), "the dashboard benchmark failed");
        return Ok(());
    }

    eprintln!("running wrk for 20 s...");
    let out = Command::new("wrk")
        .args([
            "-t2",
            "-c8",
            "-d20s",
            "--latency",
            "-H",
            &format!("Authorization: Bearer {token}"),
            &url,
        ])
        .output()
        .context("wrk is not installed (apt-get install wrk)")?;
    let wrk = String::from_utf8_lossy(&out.stdout).into_owned();
    let peak_rss = status_kib(pid, "VmHWM:");

    // One LIST of every pod from the API servers, for comparison.
    let mut list_total = Duration::ZERO;
    for cp in &targets {
        let client = cp.client().await?;
        let began = Instant::now();
        let n = Api::<Pod>::all(client)
            .list(&ListParams::default())
            .await?
            .items
            .len();
        list_total += began.elapsed();
        anyhow::ensure!(n >= per_cluster, "listed {n} pods");
    }
    drop(operator);

    println!(
        "/api/v1/snapshot, {} clusters x {per_cluster} pods + platform ({} KiB per answer), wrk -t2 -c8 -d20s:",
        CLUSTERS.len(),
        size / 1024
    );
    println!(
        "  requests/s          {}",
        wrk_number(&wrk, "Requests/sec:").unwrap_or_else(|| "?".into())
    );
    println!(
        "  latency p50         {}",
        wrk_number(&wrk, "50%").unwrap_or_else(|| "?".into())
    );
    println!(
        "  latency p99         {}",
        wrk_number(&wrk, "99%").unwrap_or_else(|| "?".into())
    );
    println!(
        "  operator RSS idle / peak   {} / {} MiB",
        idle_rss / 1024,
        peak_rss / 1024
    );
    println!(
        "  one LIST of all {} pods from the 4 API servers: {:.0} ms",
        want,
        list_total.as_secs_f64() * 1000.0
    );
    Ok(())
}
