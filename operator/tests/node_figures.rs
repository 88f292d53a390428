//! Node disk and network against real parts: Debian's node-exporter reading this machine,
//! scraped by Debian's Prometheus with the labels kube-prometheus-stack's ServiceMonitor
//! gives a node's series (`instance` = the node's name, `cluster` for a cluster other than
//! the platform), and the operator's snapshot and cluster answers carrying that node's
//! figures, while a node and a cluster without series say why they have none.

mod support;

use std::collections::HashMap;

use anyhow::{Context, Result, ensure};
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_snapshot_carries_a_nodes_real_disk_and_network_from_node_exporter() -> Result<()> {
    let Some(exporter) = NodeExporter::start().await? else {
        return Ok(());
    };
    let scrape = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n{}",
        node_exporter_job(
            "node-exporter-dev",
            &exporter.address,
            "dev-worker1",
            Some("dev")
        )
    );
    let Some(prom) = PrometheusServer::start_with(&scrape).await? else {
        return Ok(());
    };
    let (platform, clusters) = platform_and_clusters(&["dev"]).await?;
    let p = platform.client().await?;
    let dev = clusters[0].client().await?;
    let node_yaml =
        |name: &str| format!("apiVersion: v1\nkind: Node\nmetadata: {{name: {name}}}\n");
    for name in ["dev-worker1", "dev-worker2"] {
        local_control_plane::apply_yaml(&dev, &node_yaml(name), "default").await?;
    }
    local_control_plane::apply_yaml(&p, &node_yaml("platform-master"), "default").await?;
    let token = api_admin_token(&p).await?;

    let port = free_port()?;
    let mut config = Operator::config(fast_settings(), port, HashMap::new())?;
    config.api.prometheus_url = Some(reqwest::Url::parse(&prom.url)?);
    let _operator = Operator::run(p.clone(), config).await?;
    let http = Http::new(port);

    let snapshot = http
        .eventually(
            "/api/v1/snapshot",
            &token,
            "dev-worker1's disk and network",
            |s| {
                cluster(s, "dev")
                    .and_then(|c| node(c, "dev-worker1"))
                    .is_some_and(|n| {
                        n["figures"]["disk"].is_object()
                            && n["figures"]["network"]["rxBytesPerSecond"].is_number()
                            && n["figures"]["network"]["txBytesPerSecond"].is_number()
                    })
            },
        )
        .await?;
    let dev_view = cluster(&snapshot, "dev").context("dev")?;
    let worker = node(dev_view, "dev-worker1").context("dev-worker1")?;
    let figures = &worker["figures"];
    ensure!(
        figures["source"] == format!("node-exporter via Prometheus at {}", prom.url)
            && figures["collectedAt"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
            && worker["figuresMissing"].is_null(),
        "{worker:#}"
    );
    // The disk is this machine's root file system, as df reads it.
    let (size, avail) = df_root()?;
    let disk = &figures["disk"];
    let total = disk["totalBytes"].as_u64().context("totalBytes")?;
    let used = disk["usedBytes"].as_u64().context("usedBytes")?;
    ensure!(
        disk["mount"] == "/" && total == size,
        "{disk:#} vs df size {size}"
    );
    let df_used = size - avail;
    ensure!(
        used.abs_diff(df_used) < 1 << 30,
        "used {used} vs df {df_used} (the disk moves, but not by a GiB)"
    );
    // Rates: real and not negative; the history holds what Prometheus computed.
    for key in ["rxBytesPerSecond", "txBytesPerSecond"] {
        let v = figures["network"][key].as_f64().context("a rate")?;
        ensure!(v.is_finite() && v >= 0.0, "{key} {v}");
    }
    // The snapshot is read often and shows no sparklines: no history there.
    ensure!(
        figures["networkHistory"] == serde_json::json!([]),
        "{figures:#}"
    );

    // A node of that cluster without series, and a cluster without any, say why.
    let other = node(dev_view, "dev-worker2").context("dev-worker2")?;
    ensure!(
        other["figures"].is_null()
            && other["figuresMissing"].as_str().is_some_and(|m| m.starts_with(&format!(
                "no node-exporter series for node dev-worker2 of cluster dev in Prometheus at {} (looked for instance=\"dev-worker2\"); kubelet Summary API: ",
                prom.url
            ))),
        "{other:#}"
    );
    let master = cluster(&snapshot, "platform")
        .and_then(|c| node(c, "platform-master"))
        .context("platform-master")?;
    ensure!(
        master["figuresMissing"].as_str().is_some_and(|m| m.starts_with(&format!(
            "no node-exporter series for cluster platform in Prometheus at {} (looked for cluster=\"platform\" or no cluster label); kubelet Summary API: ",
            prom.url
        ))),
        "{master:#}"
    );

    // The Cluster page's answer carries the same.
    let (status, one) = http.get("/api/v1/clusters/dev", Some(&token)).await?;
    ensure!(status == 200, "{one:#}");
    let again = node(&one, "dev-worker1").context("dev-worker1")?;
    ensure!(again["figures"]["disk"]["totalBytes"] == size, "{again:#}");
    // With the history for its sparklines, oldest first.
    let history = again["figures"]["networkHistory"]
        .as_array()
        .context("history")?;
    ensure!(
        !history.is_empty()
            && history
                .windows(2)
                .all(|w| w[0]["time"].as_i64() < w[1]["time"].as_i64())
            && history
                .iter()
                .all(|p| p["rxBytesPerSecond"].as_f64().is_none_or(|v| v >= 0.0)),
        "{history:#?}"
    );
    drop(exporter);
    Ok(())
}

/// Without --prometheus-url the nodes say where their figures would come from; with a
/// Prometheus that does not answer they say so, and the snapshot lists the failing source.
#[tokio::test(flavor = "multi_thread")]
async fn without_prometheus_nodes_say_so() -> Result<()> {
    let platform = platform().await?;
    let p = platform.client().await?;
    local_control_plane::apply_yaml(
        &p,
        "apiVersion: v1\nkind: Node\nmetadata: {name: platform-master}\n",
        "default",
    )
    .await?;
    let token = api_admin_token(&p).await?;
    let port = free_port()?;
    let _operator = Operator::run(
        p.clone(),
        Operator::config(fast_settings(), port, HashMap::new())?,
    )
    .await?;
    let http = Http::new(port);
    let one = http
        .eventually(
            "/api/v1/clusters/platform",
            &token,
            "platform-master",
            |c| node(c, "platform-master").is_some(),
        )
        .await?;
    let master = node(&one, "platform-master").context("platform-master")?;
    ensure!(
        master["figures"].is_null()
            && master["figuresMissing"].as_str().is_some_and(
                |m| m.starts_with("not collected: no Prometheus configured (--prometheus-url)")
            ),
        "{master:#}"
    );

    // Nothing listens on a free loopback port.
    let closed = format!("http://127.0.0.1:{}", free_port()?);
    let port = free_port()?;
    let mut config = Operator::config(fast_settings(), port, HashMap::new())?;
    config.api.prometheus_url = Some(reqwest::Url::parse(&closed)?);
    let _unreachable = Operator::run(p.clone(), config).await?;
    let snapshot = Http::new(port)
        .eventually(
            "/api/v1/snapshot",
            &token,
            "the failing source, and platform-master listed",
            |s| {
                s["errors"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|e| e["source"] == "node-exporter"))
                    && cluster(s, "platform")
                        .and_then(|c| node(c, "platform-master"))
                        .is_some()
            },
        )
        .await?;
    let error = snapshot["errors"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["source"] == "node-exporter"))
        .context("the error")?;
    let master = cluster(&snapshot, "platform")
        .and_then(|c| node(c, "platform-master"))
        .context("platform-master")?;
    let unreachable = format!("Prometheus at {closed} is unreachable");
    ensure!(
        snapshot["stale"] == true
            && error["cluster"] == "platform"
            && error["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(&unreachable))
            && master["figuresMissing"]
                .as_str()
                .is_some_and(|m| m.starts_with(&format!("not collected: {unreachable}"))),
        "{error:#} {master:#}"
    );
    Ok(())
}
