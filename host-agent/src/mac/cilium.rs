//! Cilium on the platform cluster: the CNI that makes its nodes Ready, installed by `up` with
//! helm before anything else runs there (ArgoCD included: it needs a pod network). The
//! other clusters get the same values from the Cilium ApplicationSet under `gitops/`.
//!
//! kube-proxy is replaced (kubeadm skipped its addon), so Cilium must reach the API server
//! without a Service: `k8sServiceHost` is the stable name `api.<cluster>.tart-infra.internal`
//! that every node's /etc/hosts keeps pointing at the control plane, so an address change
//! after a reboot never leaves Cilium talking to the old one (the original pinned an IP).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Node;
use kube::api::Api;
use kube::{Client, ResourceExt as _};
use serde_json::{Value, json};

use super::MacError;
use super::helm::Chart;
use crate::config::ClusterConfig;
use crate::image::plan::CILIUM_VERSION;

/// Cilium's chart repository.
pub const REPO: &str = "https://helm.cilium.io";

/// Where the chart comes from: the pinned release of Cilium's repository, or
/// `<upstream>/cilium/chart` when an upstream directory is given (its Chart.yaml must be
/// the pinned version).
pub fn chart(upstream: Option<&Path>) -> Result<Chart, MacError> {
    let Some(dir) = upstream else {
        return Ok(Chart::Repo {
            repo: REPO.to_owned(),
            name: "cilium".to_owned(),
            version: CILIUM_VERSION.to_owned(),
        });
    };
    let chart_dir: PathBuf = dir.join("cilium/chart");
    let file = chart_dir.join("Chart.yaml");
    let text = std::fs::read_to_string(&file).map_err(|source| MacError::Io {
        path: file.clone(),
        source,
    })?;
    match chart_version(&text) {
        Some(v) if v == CILIUM_VERSION => Ok(Chart::Dir(chart_dir)),
        found => Err(MacError::step(
            "cilium",
            "chart",
            format!(
                "{} is Cilium {}, and this build installs {CILIUM_VERSION} (the version its golden image pre-pulls); put the {CILIUM_VERSION} chart there or drop --upstream-dir",
                file.display(),
                found.unwrap_or("of no version")
            ),
        )),
    }
}

/// The top-level `version:` of a Chart.yaml (pure).
pub fn chart_version(chart_yaml: &str) -> Option<&str> {
    chart_yaml.lines().find_map(|l| {
        l.strip_prefix("version:")
            .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\''))
    })
}

/// The chart values for `cluster` (pure). With Istio on the cluster, Cilium is chained with
/// Istio's CNI plugin: it leaves the plugin's configuration in place (`cni.exclusive`) and
/// load-balances Services only in the host's namespace (`socketLB.hostNamespaceOnly`), so a
/// pod's connection keeps the Service address and its sidecar applies Istio's routing.
pub fn values(cluster: &ClusterConfig) -> Value {
    let hubble = cluster.addons.cilium.hubble;
    let mut values = json!({
        "cluster": {"name": cluster.name},
        "kubeProxyReplacement": true,
        "k8sServiceHost": node_bootstrap::kubeadm::stable_name(&cluster.name),
        "k8sServicePort": 6443,
        // kubeadm gives each node a slice of podCidr; Cilium uses those slices.
        "ipam": {"mode": "kubernetes"},
        "operator": {"replicas": 1},
        "hubble": {
            "enabled": hubble,
            "relay": {"enabled": hubble},
            // On every node at the original's port 31235; `tart-infra status` links it.
            "ui": {"enabled": hubble, "service": {"type": "NodePort"}},
        },
    });
    if cluster.addons.istio {
        values["cni"] = json!({"exclusive": false});
        values["socketLB"] = json!({"hostNamespaceOnly": true});
    }
    values
}

/// Waits until every node of the cluster is Ready (Cilium running on it), listing the
/// ones that are not when `timeout` passes.
pub async fn wait_nodes_ready(
    client: &Client,
    cluster: &str,
    timeout: Duration,
) -> Result<usize, MacError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = Instant::now() + timeout;
    loop {
        let list = nodes
            .list(&Default::default())
            .await
            .map_err(|e| MacError::step(cluster, "nodes-ready", e))?;
        let not_ready: Vec<String> = list
            .items
            .iter()
            .filter(|n| !node_ready(n))
            .map(|n| n.name_any())
            .collect();
        if not_ready.is_empty() && !list.items.is_empty() {
            return Ok(list.items.len());
        }
        if Instant::now() >= deadline {
            return Err(MacError::step(
                cluster,
                "nodes-ready",
                format!(
                    "{} not Ready {}s after Cilium was installed; see `kubectl -n kube-system get pods -l k8s-app=cilium -o wide` and `kubectl describe node`",
                    if not_ready.is_empty() {
                        "no node registered".to_owned()
                    } else {
                        not_ready.join(", ")
                    },
                    timeout.as_secs()
                ),
            ));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Whether a node's Ready condition is True.
pub fn node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixtures::shipped;

    #[test]
    fn the_values_replace_kube_proxy_and_use_the_stable_name() {
        let config = shipped();
        let platform = config.cluster("platform").expect("platform");
        let v = values(platform);
        assert_eq!(v["kubeProxyReplacement"], true);
        assert_eq!(v["k8sServiceHost"], "api.platform.tart-infra.internal");
        assert_eq!(v["k8sServicePort"], 6443);
        assert_eq!(v["ipam"]["mode"], "kubernetes");
        assert_eq!(v["hubble"]["relay"]["enabled"], true);
    }

    #[test]
    fn only_clusters_with_istio_chain_cilium_with_its_cni() {
        let config = shipped();
        let dev = values(config.cluster("dev").expect("dev"));
        assert_eq!(dev["cni"]["exclusive"], false);
        assert_eq!(dev["socketLB"]["hostNamespaceOnly"], true);
        let platform = values(config.cluster("platform").expect("platform"));
        assert!(platform.get("cni").is_none() && platform.get("socketLB").is_none());
    }

    #[test]
    fn hubble_follows_the_cluster_file() {
        let mut cluster = shipped().cluster("dev").expect("dev").clone();
        cluster.addons.cilium.hubble = false;
        let v = values(&cluster);
        assert_eq!(v["hubble"]["enabled"], false);
        assert_eq!(v["hubble"]["relay"]["enabled"], false);
    }

    #[test]
    fn the_tests_fetch_the_pinned_cilium() {
        let versions = include_str!("../../../tools/upstream/versions");
        let line = versions
            .lines()
            .find(|l| l.starts_with("cilium "))
            .expect("a cilium line in tools/upstream/versions");
        let pinned = format!("v{CILIUM_VERSION}");
        assert_eq!(line.split_whitespace().nth(2), Some(pinned.as_str()));
    }

    #[test]
    fn a_chart_directory_must_be_the_pinned_version() {
        assert_eq!(
            chart_version("apiVersion: v2\nname: cilium\nversion: 1.18.1\n"),
            Some("1.18.1")
        );
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(dir.path().join("cilium/chart")).expect("mkdir");
        std::fs::write(
            dir.path().join("cilium/chart/Chart.yaml"),
            "name: cilium\nversion: 1.17.0\n",
        )
        .expect("write");
        let err = chart(Some(dir.path()))
            .expect_err("wrong version")
            .to_string();
        assert!(
            err.contains("1.17.0") && err.contains(CILIUM_VERSION),
            "{err}"
        );
        std::fs::write(
            dir.path().join("cilium/chart/Chart.yaml"),
            format!("name: cilium\nversion: {CILIUM_VERSION}\n"),
        )
        .expect("write");
        assert_eq!(
            chart(Some(dir.path())).expect("pinned"),
            Chart::Dir(dir.path().join("cilium/chart"))
        );
        assert!(matches!(chart(None).expect("repo"), Chart::Repo { .. }));
    }
}
