//! Measurement: the bytes a watch cache keeps per pod, as the API server sends the pod and
//! after the collectors trim it (`operator::collectors::slim::pod`), for a typical
//! Deployment pod (`operator/tests/fixtures/pod-nginx-web.json`) and for the pods of a real
//! API server when `KUBECONFIG` is set. Sizes are of the JSON encoding, a proxy for the
//! heap the cache holds (the in-memory structs are of the same order).
//! Run: `cargo run -p operator --example pod_cache_bytes`.

use anyhow::Result;
use k8s_openapi::api::core::v1::Pod;
use operator::collectors::slim;

fn sizes(pods: &[Pod]) -> Result<(usize, usize)> {
    let mut before = 0;
    let mut after = 0;
    for p in pods {
        before += serde_json::to_vec(p)?.len();
        let mut trimmed = p.clone();
        slim::pod(&mut trimmed);
        after += serde_json::to_vec(&trimmed)?.len();
    }
    Ok((before, after))
}

fn print(what: &str, pods: &[Pod]) -> Result<()> {
    let (before, after) = sizes(pods)?;
    let n = pods.len().max(1);
    println!(
        "{what}: {} pod(s), {} bytes/pod as sent, {} bytes/pod cached ({:.1}x smaller)",
        pods.len(),
        before / n,
        after / n,
        before as f64 / after.max(1) as f64
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let fixture: Pod = serde_json::from_str(include_str!("../tests/fixtures/pod-nginx-web.json"))?;
    print("fixture nginx-web", &[fixture])?;
    if std::env::var_os("KUBECONFIG").is_some() {
        let client = kube::Client::try_default().await?;
        let pods = kube::Api::<Pod>::all(client)
            .list(&Default::default())
            .await?
            .items;
        print("live cluster", &pods)?;
    }
    Ok(())
}
