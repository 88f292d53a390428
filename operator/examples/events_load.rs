//! Benchmark: `/api/v1/events` with 100 SSE clients on loopback while pods churn at 50
//! changes a second (creates and deletes, alternating, spread over 2 clusters of 500 pods,
//! each a real kube-apiserver + etcd; the benchmark writes the pods, no kubelet runs them).
//! Prints the bytes each client received per minute against what re-fetching the snapshot
//! on every change would cost (the snapshot's size measured in the same run, times the
//! changes), their ratio, and the delivery latency (pod write issued -> the delta naming it
//! received) at p50 and p99, each next to the figure in bench/recorded.json. Run
//! `bench/events.sh`; `TART_BENCH_CLIENTS`, `TART_BENCH_RATE` and `TART_BENCH_SECONDS` change
//! the load.

#[path = "../../bench/measure.rs"]
mod measure;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use local_control_plane::ControlPlane;
use measure::{recorded, status_kib};
use support::{
    Running, api_admin_token, create_namespace, free_port, operator_bin_from_env, operator_command,
    platform_and_clusters, populate, web_pod,
};

const CLUSTERS: [&str; 2] = ["dev", "prod"];
const PODS: usize = 500;

/// A whole number from `var` within `range`, else `default`.
fn setting(var: &str, default: u64, range: std::ops::RangeInclusive<u64>) -> Result<u64> {
    match std::env::var(var) {
        Err(_) => Ok(default),
        Ok(v) => match v.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => bail!(
                "{var}={v:?}: give a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        },
    }
}

/// When each change was written: (cluster, pod, deleted) -> when the write was issued.
type Issued = Arc<Mutex<HashMap<(String, String, bool), Instant>>>;

/// What one client measured.
#[derive(Default)]
struct Received {
    bytes: u64,
    latencies_ms: Vec<f64>,
}

/// Reads the event stream until `until`, counting its bytes and timing each delta's pods
/// against when they were written.
async fn client(
    http: reqwest::Client,
    url: String,
    token: String,
    issued: Issued,
    until: Instant,
) -> Result<Received> {
    let res = http.get(&url).bearer_auth(&token).send().await?;
    if res.status() != 200 {
        bail!("events: {}", res.status());
    }
    let mut stream = res.bytes_stream();
    let mut got = Received::default();
    let mut buffer = String::new();
    // A change counts once: its first delta (a pod deleted with grace 0 is upserted as
    // Terminating just before it goes).
    let mut seen = std::collections::HashSet::new();
    while let Ok(Some(chunk)) = tokio::time::timeout_at(until.into(), stream.next()).await {
        let chunk = chunk?;
        let at = Instant::now();
        got.bytes += chunk.len() as u64;
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if !block.lines().any(|l| l == "event: delta") {
                continue;
            }
            let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) else {
                continue;
            };
            let delta: serde_json::Value = serde_json::from_str(data)?;
            let cluster = delta["cluster"].as_str().unwrap_or_default();
            let names = |field: &str| -> Vec<String> {
                delta[field]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["namespace"] == "churn")
                    .filter_map(|p| p["name"].as_str().map(str::to_owned))
                    .collect()
            };
            let Ok(written) = issued.lock() else {
                continue;
            };
            for (field, deleted) in [("pods", false), ("podsDeleted", true)] {
                for name in names(field) {
                    let key = (cluster.to_owned(), name, deleted);
                    if let Some(t) = written.get(&key)
                        && seen.insert(key)
                    {
                        got.latencies_ms
                            .push(at.saturating_duration_since(*t).as_secs_f64() * 1000.0);
                    }
                }
            }
        }
    }
    Ok(got)
}

/// Writes `rate` pod changes a second until `until`, over the clusters in turn: creates, and
/// once each cluster has 40 churned pods, creates and deletes of the oldest alternating.
/// Returns how many were written.
async fn churn(targets: &[ControlPlane], rate: u64, issued: Issued, until: Instant) -> Result<u64> {
    let mut apis = Vec::new();
    for cp in targets {
        apis.push(Api::<Pod>::namespaced(cp.client().await?, "churn"));
    }
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let mut live: Vec<std::collections::VecDeque<String>> = vec![Default::default(); apis.len()];
    let mut writes = futures::stream::FuturesUnordered::new();
    let mut n = 0u64;
    while Instant::now() < until {
        tick.tick().await;
        let c = (n as usize) % apis.len();
        let cluster = CLUSTERS[c].to_owned();
        let api = apis[c].clone();
        // Pods live a few seconds (a create and a delete within one coalescing period would
        // go out as the delete alone); only pods whose create was answered are deleted.
        let delete = n % 4 >= 2 && live[c].len() > 40;
        let name = if delete {
            live[c].pop_front().unwrap_or_default()
        } else {
            format!("churn-{n:06}")
        };
        if let Ok(mut m) = issued.lock() {
            m.insert((cluster.clone(), name.clone(), delete), Instant::now());
        }
        let p = web_pod(&cluster, &name, n as usize);
        writes.push(async move {
            if delete {
                api.delete(&name, &DeleteParams::default().grace_period(0))
                    .await
                    .map(|_| None)
            } else {
                api.create(&PostParams::default(), &p)
                    .await
                    .map(|_| Some((c, name)))
            }
        });
        // Keep the writes flowing without waiting for each.
        while let Some(Some(r)) = futures::FutureExt::now_or_never(writes.next()) {
            if let Some((c, name)) = r? {
                live[c].push_back(name);
            }
        }
        n += 1;
    }
    while let Some(r) = writes.next().await {
        r?;
    }
    Ok(n)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<()> {
    let bin = operator_bin_from_env()?;
    let clients = setting("TART_BENCH_CLIENTS", 100, 1..=1000)? as usize;
    let rate = setting("TART_BENCH_RATE", 50, 1..=500)?;
    let seconds = setting("TART_BENCH_SECONDS", 60, 5..=3600)?;
    eprintln!(
        "starting 1 platform and {} target control planes...",
        CLUSTERS.len()
    );
    let (platform, targets) = platform_and_clusters(&CLUSTERS).await?;
    eprintln!("creating {PODS} pods in each cluster...");
    for (c, cp) in CLUSTERS.iter().zip(&targets) {
        let client = cp.client().await?;
        populate(&client, c, PODS).await?;
        create_namespace(&client, "churn").await?;
    }
    let port = free_port()?;
    let mut command = operator_command(&bin, &platform, port, "warn", "json");
    // One token for every client: allow them all (the default cap is 8 streams a token).
    command.stdout(Stdio::null()).env(
        "TART_OPERATOR_MAX_EVENT_STREAMS_PER_CLIENT",
        clients.to_string(),
    );
    let operator = Running::spawn(&mut command)?;
    let token = api_admin_token(&platform.client().await?).await?;
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let http = reqwest::Client::new();

    // The snapshot, once every pod is in it: what one re-fetch per change would cost.
    let deadline = Instant::now() + Duration::from_secs(180);
    let snapshot_bytes = loop {
        if let Ok(res) = http
            .get(format!("{base}/snapshot"))
            .bearer_auth(&token)
            .send()
            .await
            && let Ok(body) = res.text().await
            && let Ok(s) = serde_json::from_str::<serde_json::Value>(&body)
        {
            let pods: usize = s["clusters"].as_array().map_or(0, |c| {
                c.iter()
                    .map(|c| c["pods"].as_array().map_or(0, Vec::len))
                    .sum()
            });
            if pods >= PODS * CLUSTERS.len() {
                break body.len() as u64;
            }
        }
        if Instant::now() > deadline {
            bail!("the snapshot never showed {} pods", PODS * CLUSTERS.len());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    let issued: Issued = Arc::default();
    let start = Instant::now() + Duration::from_secs(2);
    let until = start + Duration::from_secs(seconds);
    // Deltas of the last writes arrive within a coalescing period or two.
    let drain = until + Duration::from_secs(3);
    let readers: Vec<_> = (0..clients)
        .map(|_| {
            tokio::spawn(client(
                http.clone(),
                format!("{base}/events"),
                token.clone(),
                issued.clone(),
                drain,
            ))
        })
        .collect();
    tokio::time::sleep_until(start.into()).await;
    let changes = churn(&targets, rate, issued, until).await?;
    let mut bytes = 0u64;
    let mut latencies = Vec::new();
    for r in readers {
        let got = r.await??;
        bytes += got.bytes;
        latencies.extend(got.latencies_ms);
    }
    let rss = status_kib(operator.pid(), "VmHWM:") / 1024;
    drop(operator);
    latencies.sort_by(f64::total_cmp);

    let minutes = (drain - start).as_secs_f64() / 60.0;
    let per_client_min = bytes as f64 / clients as f64 / minutes;
    let changes_per_min = changes as f64 / (seconds as f64 / 60.0);
    let refetch_min = snapshot_bytes as f64 * changes_per_min;
    let expected = changes as usize * clients;
    println!(
        "/api/v1/events, {clients} clients, {changes} pod changes in {seconds} s ({rate}/s) over {} clusters x {PODS} pods, on the same 2 cores:",
        CLUSTERS.len()
    );
    println!(
        "  deltas: KiB per client per minute   {:>10.1} {}",
        per_client_min / 1024.0,
        recorded(
            "events.kib_per_client_min",
            (per_client_min / 1024.0).round()
        )
    );
    println!(
        "  a snapshot re-fetch per change     {:>10.1} (the snapshot is {} KiB, x {:.0} changes a minute)",
        refetch_min / 1024.0,
        snapshot_bytes / 1024,
        changes_per_min
    );
    println!(
        "  ratio (re-fetch / deltas)           {:>10.1}x",
        refetch_min / per_client_min
    );
    println!(
        "  delivery latency p50 / p99 (ms)     {:>6.0} / {:.0} {} {}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        recorded("events.latency_p50_ms", percentile(&latencies, 0.5).round()),
        recorded(
            "events.latency_p99_ms",
            percentile(&latencies, 0.99).round()
        )
    );
    println!(
        "  changes delivered                   {} of {expected} (client x change); operator peak RSS {rss} MiB",
        latencies.len()
    );
    Ok(())
}
