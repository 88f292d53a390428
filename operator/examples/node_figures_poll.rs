//! Benchmark: one poll of the node figures (operator/src/collectors/node_figures.rs), the
//! four batched queries for every cluster's nodes at once, against Debian's real Prometheus
//! scraping Debian's real node-exporter as 20 nodes of 4 clusters (one exporter, relabelled
//! per job, as kube-prometheus-stack labels a node's series). Prints the series each query
//! returns, the time per poll (p50 and max of 20, after 45 s of scrapes every second) and
//! the bytes one node's figures add to the cluster's answer (the snapshot carries them
//! without the history). Run `bench/node-figures.sh`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use operator::collectors::node_figures::{
    HISTORY_SECS, Query, STEP_SECS, SeriesLabels, assemble, promql, source_name,
};
use operator::prometheus::{Prometheus, base_url};
use support::{NodeExporter, PrometheusServer, node_exporter_job};

const CLUSTERS: [&str; 4] = ["platform", "dev", "staging", "prod"];
const NODES_PER_CLUSTER: usize = 5;
const POLLS: usize = 20;

#[tokio::main]
async fn main() -> Result<()> {
    let exporter = NodeExporter::start()
        .await?
        .context("node-exporter is not installed")?;
    let mut jobs = String::new();
    for cluster in CLUSTERS {
        for i in 1..=NODES_PER_CLUSTER {
            let node = format!("{cluster}-node{i}");
            // The platform's own series carry no cluster label.
            let label = (cluster != "platform").then_some(cluster);
            jobs.push_str(&node_exporter_job(&node, &exporter.address, &node, label));
        }
    }
    let prom = PrometheusServer::start_with(&format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n{jobs}"
    ))
    .await?
    .context("Prometheus is not installed")?;
    println!(
        "{} nodes of {} clusters scraped every second; waiting 45 s for two rates 30 s apart",
        CLUSTERS.len() * NODES_PER_CLUSTER,
        CLUSTERS.len()
    );
    tokio::time::sleep(Duration::from_secs(45)).await;

    let client = Prometheus::new(base_url(&prom.url).map_err(anyhow::Error::msg)?);
    let labels = SeriesLabels::default();
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..POLLS {
        let start = Instant::now();
        let end = k8s_openapi::jiff::Timestamp::now().as_second();
        let mut answers = Vec::new();
        for (q, answer) in futures::future::join_all(Query::ALL.map(|q| {
            let (client, labels) = (&client, &labels);
            async move {
                let from = if matches!(q, Query::Receive | Query::Transmit) {
                    end - HISTORY_SECS
                } else {
                    end
                };
                (
                    q,
                    client
                        .query_range_series(&promql(q, labels), from, end, STEP_SECS)
                        .await,
                )
            }
        }))
        .await
        {
            answers.push((q, answer?));
        }
        let figures = assemble(
            &answers,
            &labels,
            "platform",
            &source_name(&prom.url),
            "2026-12-05T20:00:00Z",
            end,
        );
        times.push(start.elapsed());
        last = Some((answers, figures));
    }
    let (answers, figures) = last.context("no poll")?;
    for (q, series) in &answers {
        println!("{q:?}: {} series", series.len());
    }
    times.sort();
    println!(
        "poll (4 queries, all clusters): p50 {:.1} ms, max {:.1} ms over {POLLS} polls",
        times[POLLS / 2].as_secs_f64() * 1000.0,
        times[POLLS - 1].as_secs_f64() * 1000.0
    );
    let node = &figures["dev"]["dev-node1"];
    let now = serde_json::to_vec(node)?.len();
    let bare = serde_json::to_vec(&operator::model::NodeFigures {
        network_history: Vec::new(),
        ..node.clone()
    })?
    .len();
    println!(
        "one node's figures: {bare} bytes in the snapshot; {now} bytes with {} history points in the cluster's answer, about {} bytes with a full 30 min history of {} points",
        node.network_history.len(),
        estimate_full(node)?,
        HISTORY_SECS as u64 / STEP_SECS + 1,
    );
    drop(exporter);
    Ok(())
}

/// The JSON size of `node`'s figures with every history point of 30 minutes filled.
fn estimate_full(node: &operator::model::NodeFigures) -> Result<usize> {
    let mut full = node.clone();
    let point = *node.network_history.last().context("no history")?;
    full.network_history = (0..=HISTORY_SECS as u64 / STEP_SECS)
        .map(|i| operator::model::NetworkPoint {
            time: point.time - (i * STEP_SECS) as i64,
            ..point
        })
        .collect();
    Ok(serde_json::to_vec(&full)?.len())
}
