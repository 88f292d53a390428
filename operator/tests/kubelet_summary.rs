//! Node disk and network from the kubelet Summary API, through the real API server's node
//! proxy, for nodes node-exporter gives nothing for.
//!
//! The target cluster's API server is real; its node proxy refuses node addresses that are
//! not global unicast, so the node's address is a documentation address (192.0.2.10) that
//! the control plane's egress proxy sends to 127.0.0.1 (`local_control_plane::egress`;
//! nothing dials 192.0.2.10). The kubelet is a stand-in serving this machine's real figures
//! ([`SummaryStandIn`]): no kubelet can run here without a container runtime. The operator's
//! credentials on the target are the restricted `tart-operator` user with the chart's
//! `target` rules, and `nodes/proxy` only once the test binds the `kubeletSummary` rules.

mod support;

use std::collections::HashMap;
use std::net::Ipv4Addr;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use local_control_plane::{ControlPlane, OPERATOR_USER, Options, apply_yaml};
use serde_json::{Value, json};
use support::*;

/// A documentation address (TEST-NET-1): global unicast to the API server, never routed.
const NODE_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

/// A ClusterRole `name` with the rules under `key` of the chart's files/rbac.yaml, bound
/// to the operator's user.
fn role_from_rules_file(key: &str, name: &str) -> Result<String> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../charts/tart-operator/files/rbac.yaml"
    ))?;
    let rules: Value = serde_yaml::from_str(&text)?;
    let rules = rules.get(key).context(key.to_owned())?;
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": name}, "rules": rules,
    });
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": OPERATOR_USER}],
    });
    Ok(format!(
        "{}---\n{}",
        serde_yaml::to_string(&role)?,
        serde_yaml::to_string(&binding)?
    ))
}

/// Creates node `name`, Ready, with `address` as its InternalIP and `port` as its kubelet's.
async fn node_at(client: &kube::Client, name: &str, address: &str, port: u16) -> Result<()> {
    apply_yaml(
        client,
        &format!("apiVersion: v1\nkind: Node\nmetadata: {{name: {name}}}\n"),
        "default",
    )
    .await?;
    let status = json!({"status": {
        "addresses": [{"type": "InternalIP", "address": address}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
    }});
    Api::<Node>::all(client.clone())
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

fn missing(cluster: &Value, name: &str) -> String {
    node(cluster, name)
        .and_then(|n| n["figuresMissing"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_without_node_exporter_get_the_kubelets_figures_through_the_node_proxy() -> Result<()>
{
    let kubelet = SummaryStandIn::start("dev-worker1").await?;
    let dev = ControlPlane::start(
        Options::apiserver("dev").with_node_address(NODE_ADDRESS, Ipv4Addr::LOCALHOST),
    )
    .await?;
    let d = dev.client().await?;
    node_at(&d, "dev-worker1", &NODE_ADDRESS.to_string(), kubelet.port).await?;
    // A loopback address the egress proxy does not stand in for: the API server itself
    // refuses to proxy there.
    node_at(&d, "dev-worker2", "127.0.0.1", kubelet.port).await?;
    apply_yaml(
        &d,
        &role_from_rules_file("target", "tart-operator-target")?,
        "default",
    )
    .await?;

    let platform = platform().await?;
    let p = platform.client().await?;
    register_kubeconfig(&p, "dev", dev.operator_kubeconfig()).await?;
    let token = api_admin_token(&p).await?;
    let port = free_port()?;
    let _operator = Operator::run(
        p.clone(),
        Operator::config(fast_settings(), port, HashMap::new())?,
    )
    .await?;
    wait_ready(&p, "dev").await?;
    let http = Http::new(port);

    // Without nodes/proxy: the first node is refused, the others are not asked.
    let refused = http
        .eventually(
            "/api/v1/clusters/dev",
            &token,
            "dev-worker1 refused nodes/proxy",
            |c| missing(c, "dev-worker1").contains("kubelet Summary API: forbidden"),
        )
        .await?;
    let forbidden = missing(&refused, "dev-worker1");
    ensure!(
        forbidden.starts_with("not collected: no Prometheus configured (--prometheus-url)")
            && forbidden.contains(
                "forbidden: the operator's credentials for cluster dev may not get nodes/proxy"
            )
            && missing(&refused, "dev-worker2") == forbidden,
        "{refused:#}"
    );
    ensure!(kubelet.paths().is_empty(), "{:?}", kubelet.paths());

    apply_yaml(
        &d,
        &role_from_rules_file("kubeletSummary", "tart-operator-kubelet-summary")?,
        "default",
    )
    .await?;
    let read = http
        .eventually(
            "/api/v1/clusters/dev",
            &token,
            "dev-worker1's disk and network rates from its kubelet",
            |c| {
                node(c, "dev-worker1").is_some_and(|n| {
                    n["figures"]["network"]["rxBytesPerSecond"].is_number()
                        && n["figures"]["network"]["txBytesPerSecond"].is_number()
                })
            },
        )
        .await?;
    let worker = node(&read, "dev-worker1").context("dev-worker1")?;
    let figures = &worker["figures"];
    ensure!(
        figures["source"] == "kubelet Summary API through the API server's node proxy"
            && worker["figuresMissing"].is_null(),
        "{worker:#}"
    );
    // The disk is this machine's root file system, as the stand-in read it with df.
    let (size, avail) = df_root()?;
    let disk = &figures["disk"];
    let used = disk["usedBytes"].as_u64().context("usedBytes")?;
    ensure!(
        disk["mount"] == "nodefs"
            && disk["totalBytes"] == size
            && used.abs_diff(size - avail) < 1 << 30,
        "{disk:#} vs df {size} {avail}"
    );
    for key in ["rxBytesPerSecond", "txBytesPerSecond"] {
        let v = figures["network"][key].as_f64().context(key)?;
        ensure!(v.is_finite() && v >= 0.0, "{key} {v}");
    }
    let history = figures["networkHistory"].as_array().context("history")?;
    ensure!(!history.is_empty(), "{figures:#}");
    // Every request reached the stand-in through the node proxy, at the Summary's path.
    let paths = kubelet.paths();
    ensure!(
        paths.len() >= 2 && paths.iter().all(|p| p == "/stats/summary"),
        "{paths:?}"
    );
    // The real API server refuses a node on an address that is not global unicast.
    let refused_address = missing(&read, "dev-worker2");
    ensure!(
        refused_address.contains(
            "kubelet Summary API: the API server's node proxy answered 400: address not allowed"
        ),
        "{refused_address}"
    );

    // The snapshot has the figures without the history.
    let (status, snapshot) = http.get("/api/v1/snapshot", Some(&token)).await?;
    ensure!(status == 200, "{status} {snapshot}");
    let in_snapshot = cluster(&snapshot, "dev")
        .and_then(|c| node(c, "dev-worker1"))
        .context("dev-worker1 in the snapshot")?;
    ensure!(
        in_snapshot["figures"]["source"] == figures["source"]
            && in_snapshot["figures"]["networkHistory"] == json!([]),
        "{in_snapshot:#}"
    );
    Ok(())
}
