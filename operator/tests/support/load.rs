//! Pods for the benchmarks' clusters: two Ready nodes per cluster and web pods bound to them
//! (no scheduler or kubelet runs; the snapshot and event benchmarks only read them).

use anyhow::Result;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, PostParams};

use super::create_namespace;

/// Web pod `name`, the `i`th, on node `i % 2` of `cluster`.
pub fn web_pod(cluster: &str, name: &str, i: usize) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": { "name": name, "labels": { "app": "web", "tier": "frontend" } },
        "spec": { "nodeName": format!("{cluster}-node{}", i % 2),
                  "containers": [{ "name": "web", "image": "nginx:1.27-alpine",
                                   "resources": { "requests": { "cpu": "50m", "memory": "64Mi" } } }] },
    }))
    .unwrap_or_default()
}

/// Creates `cluster`'s two Ready worker nodes, namespace `demo` and `count` web pods
/// (`web-0000`, ...) in it, 20 at a time.
pub async fn populate(client: &Client, cluster: &str, count: usize) -> Result<()> {
    for i in 0..2 {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": { "name": format!("{cluster}-node{i}"), "labels": { "node-role.kubernetes.io/worker": "" } },
            "status": { "capacity": { "cpu": "8", "memory": "16Gi", "pods": "1000" }, "allocatable": { "cpu": "8", "memory": "16Gi", "pods": "1000" },
                        "conditions": [{ "type": "Ready", "status": "True" }] },
        }))?;
        Api::<Node>::all(client.clone())
            .create(&PostParams::default(), &node)
            .await?;
    }
    create_namespace(client, "demo").await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "demo");
    futures::stream::iter(0..count)
        .map(|i| {
            let (pods, pod) = (pods.clone(), web_pod(cluster, &format!("web-{i:04}"), i));
            async move {
                pods.create(&PostParams::default(), &pod)
                    .await
                    .map_err(anyhow::Error::from)
            }
        })
        .buffer_unordered(20)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}
