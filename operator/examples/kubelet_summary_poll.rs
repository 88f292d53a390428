//! Benchmark: one poll of the kubelet Summary API fallback
//! (operator/src/collectors/kubelet_summary.rs) for 20 nodes of 4 clusters, each read
//! through its real API server's node proxy (behind the control plane's egress proxy, see
//! `local-control-plane/src/egress.rs`) from a stand-in kubelet serving this machine's
//! figures. Prints the time per poll (p50 and max of 20), the API servers' CPU per read, the
//! size of one Summary answer and the bytes one node's figures add to the cluster's answer
//! with a full 30-minute history. Run `bench/kubelet-summary.sh`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::Ipv4Addr;
use std::time::Instant;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use local_control_plane::{ControlPlane, Options, apply_yaml};
use operator::collectors::kubelet_summary::{
    ByCluster, Kept, Sample, Target, next, parse, poll_once,
};
use support::SummaryStandIn;

const CLUSTERS: [&str; 4] = ["platform", "dev", "staging", "prod"];
const NODES_PER_CLUSTER: u8 = 5;
const POLLS: usize = 20;

/// CPU seconds (user + system) of `pid` so far.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').context("stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / 100.0)
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut planes = Vec::new();
    let mut targets = Vec::new();
    let mut kubelets = Vec::new();
    for cluster in CLUSTERS {
        let mut opts = Options::apiserver(cluster);
        for i in 1..=NODES_PER_CLUSTER {
            opts = opts.with_node_address(Ipv4Addr::new(192, 0, 2, i), Ipv4Addr::LOCALHOST);
        }
        let cp = ControlPlane::start(opts).await?;
        let client = cp.client().await?;
        let mut nodes = Vec::new();
        for i in 1..=NODES_PER_CLUSTER {
            let name = format!("{cluster}-node{i}");
            let kubelet = SummaryStandIn::start(&name).await?;
            apply_yaml(
                &client,
                &format!("apiVersion: v1\nkind: Node\nmetadata: {{name: {name}}}\n"),
                "default",
            )
            .await?;
            let status = serde_json::json!({"status": {
                "addresses": [{"type": "InternalIP", "address": format!("192.0.2.{i}")}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet.port}},
            }});
            Api::<Node>::all(client.clone())
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                .await?;
            kubelets.push(kubelet);
            nodes.push(name);
        }
        targets.push((cluster.to_owned(), client, nodes));
        planes.push(cp);
    }
    let apiservers: Vec<u32> = planes
        .iter()
        .flat_map(|cp| cp.pids())
        .filter(|(name, _)| *name == "kube-apiserver")
        .map(|(_, pid)| pid)
        .collect();
    let reads = (CLUSTERS.len() * NODES_PER_CLUSTER as usize * POLLS) as f64;
    println!(
        "{} nodes of {} clusters, each read through its API server's node proxy; {POLLS} polls",
        CLUSTERS.len() * NODES_PER_CLUSTER as usize,
        CLUSTERS.len()
    );

    let make = || {
        targets
            .iter()
            .map(|(cluster, client, nodes)| Target {
                cluster: cluster.clone(),
                client: client.clone(),
                nodes: nodes.iter().map(|n| (n.clone(), Ok(()))).collect(),
            })
            .collect::<Vec<_>>()
    };
    let cpu_before: f64 = apiservers
        .iter()
        .map(|p| cpu_seconds(*p))
        .sum::<Result<f64>>()?;
    let mut before = ByCluster::new();
    let mut times = Vec::new();
    for _ in 0..POLLS {
        let start = Instant::now();
        before = poll_once(make(), &before).await;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let cpu_after: f64 = apiservers
        .iter()
        .map(|p| cpu_seconds(*p))
        .sum::<Result<f64>>()?;
    let failed: Vec<String> = before
        .values()
        .flat_map(|nodes| nodes.iter())
        .filter_map(|(node, kept)| kept.error.as_ref().map(|e| format!("{node}: {e}")))
        .collect();
    anyhow::ensure!(failed.is_empty(), "reads failed: {failed:?}");
    times.sort_by(f64::total_cmp);
    println!(
        "one poll of all nodes: p50 {:.1} ms, max {:.1} ms",
        times[times.len() / 2],
        times[times.len() - 1]
    );
    println!(
        "API servers' CPU per read: {:.2} ms (all {} API servers, {reads} reads)",
        (cpu_after - cpu_before) * 1000.0 / reads,
        apiservers.len()
    );

    let (_, client, nodes) = &targets[1];
    let request = http::Request::get(format!("/api/v1/nodes/{}/proxy/stats/summary", nodes[0]))
        .body(Vec::new())?;
    let body = client.request_text(request).await?;
    println!(
        "one Summary answer: {} B (the stand-in's node section only; a real kubelet adds each pod's stats)",
        body.len()
    );

    // A node's figures with a full history: one read every 15 s for 30 minutes.
    let mut kept = Kept::default();
    let sample = parse(body.as_bytes()).map_err(anyhow::Error::msg)?;
    let (rx, tx) = sample.bytes.context("no interface counted")?;
    let start = sample.time.context("no time")?;
    for i in 0..=120u64 {
        let read = Sample {
            time: Some(start + 15.0 * i as f64),
            bytes: Some((rx + i * 1_000_000, tx + i * 500_000)),
            ..sample.clone()
        };
        kept = next(&kept, Ok(read), "2026-12-06T06:00:00Z");
    }
    let figures = kept.figures.context("figures")?;
    let with_history = serde_json::to_vec(&figures)?.len();
    let without = serde_json::to_vec(&operator::model::NodeFigures {
        network_history: Vec::new(),
        ..figures.clone()
    })?
    .len();
    println!(
        "one node's figures: {without} B in the snapshot, {with_history} B in the cluster answer ({} history points)",
        figures.network_history.len()
    );
    drop(kubelets);
    Ok(())
}
