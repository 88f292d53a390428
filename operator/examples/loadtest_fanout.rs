//! Benchmark: 200 LoadTests created at once; how long until all 200 runner Jobs exist in
//! the target cluster, and the operator's peak memory, next to a plain client creating the
//! same 200 Jobs directly. Run with `bench/loadtest-fanout.sh`, which builds the release
//! operator binary and passes its path in TART_OPERATOR_BIN.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use crds::LoadTest;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use local_control_plane::{ControlPlane, Options, apply_yaml};

const TESTS: usize = 200;
const CONCURRENCY: usize = 20;

fn kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

fn loadtest(i: usize) -> Result<LoadTest> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "tartinfra.dev/v1alpha1",
        "kind": "LoadTest",
        "metadata": { "name": format!("fanout-{i:03}") },
        "spec": { "cluster": "target", "preset": "light-load" },
    }))?)
}

/// Waits until `want` Jobs exist in `namespace`, watching, and reports progress.
async fn jobs_exist(api: Api<Job>, want: usize, began: Instant) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    let mut events = std::pin::pin!(watcher(api, watcher::Config::default()).applied_objects());
    while let Some(job) = events.try_next().await? {
        if seen.insert(job.metadata.name.unwrap_or_default()) && seen.len() % 50 == 0 {
            eprintln!(
                "  {} Jobs after {:.2} s",
                seen.len(),
                began.elapsed().as_secs_f64()
            );
        }
        if seen.len() >= want {
            return Ok(());
        }
    }
    bail!("the Job watch ended")
}

/// Kills the operator process however the benchmark ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let bin = std::env::var("TART_OPERATOR_BIN")
        .context("set TART_OPERATOR_BIN to the tart-operator binary")?;
    let (platform, target) = tokio::join!(
        ControlPlane::start(Options::apiserver("bench-platform")),
        ControlPlane::start(Options::apiserver("bench-target"))
    );
    let (platform, target) = (platform?, target?);
    let p = platform.client().await?;
    let t = target.client().await?;
    for (file, _) in crds::all() {
        let text = std::fs::read_to_string(format!(
            "{}/../manifests/crds/{file}",
            env!("CARGO_MANIFEST_DIR")
        ))?;
        apply_yaml(&p, &text, "default").await?;
    }
    for ns in ["tart-system", "bench"] {
        let obj: Namespace =
            serde_json::from_value(serde_json::json!({ "metadata": { "name": ns } }))?;
        Api::<Namespace>::all(p.clone())
            .create(&PostParams::default(), &obj)
            .await?;
    }
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "target-kubeconfig" }, "stringData": { "kubeconfig": target.kubeconfig() },
    }))?;
    Api::<Secret>::namespaced(p.clone(), "tart-system")
        .create(&PostParams::default(), &secret)
        .await?;
    apply_yaml(
        &p,
        "apiVersion: tartinfra.dev/v1alpha1\nkind: ManagedCluster\nmetadata: {name: target}\nspec:\n  tier: dev\n  provider: external\n  \
         kubeconfigSecretRef: {namespace: tart-system, name: target-kubeconfig}\n",
        "default",
    )
    .await?;

    let operator = Child(
        std::process::Command::new(&bin)
            .env("KUBECONFIG", platform.kubeconfig_path())
            .env("RUST_LOG", "warn")
            .args([
                "--http-addr",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--max-tests-per-cluster",
                "1000",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()?,
    );
    let pid = operator.0.id();
    // Wait for the operator to connect to the target (it has no nodes, so it stays
    // Degraded, but Reachable).
    let mcs: Api<crds::ManagedCluster> = Api::all(p.clone());
    tokio::time::timeout(
        Duration::from_secs(60),
        kube::runtime::wait::await_condition(mcs, "target", |mc: Option<&crds::ManagedCluster>| {
            mc.and_then(|m| m.status.as_ref()).is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Reachable" && c.status == "True")
            })
        }),
    )
    .await
    .context("the operator never reached the target cluster")??;
    let idle_rss = kib(pid, "VmRSS:");

    let lts: Api<LoadTest> = Api::namespaced(p.clone(), "bench");
    let runner_jobs: Api<Job> = Api::namespaced(t.clone(), "tart-loadtest");
    let began = Instant::now();
    let watch = tokio::spawn(jobs_exist(runner_jobs, TESTS, began));
    futures::stream::iter(0..TESTS)
        .map(|i| {
            let lts = lts.clone();
            async move {
                lts.create(&PostParams::default(), &loadtest(i)?)
                    .await
                    .map_err(anyhow::Error::from)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    let created = began.elapsed();
    tokio::time::timeout(Duration::from_secs(600), watch)
        .await
        .context("not all Jobs appeared")???;
    let via_operator = began.elapsed();
    // Let the operator settle (status writes of 200 tests), then read its peak.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let peak_rss = kib(pid, "VmHWM:");
    drop(operator);

    // The same 200 Jobs straight from a client, in another namespace.
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": "direct" } }))?;
    Api::<Namespace>::all(t.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    let template = Api::<Job>::namespaced(t.clone(), "tart-loadtest")
        .list(&ListParams::default().limit(1))
        .await?
        .items
        .pop()
        .context("no runner Job to copy")?;
    let direct: Api<Job> = Api::namespaced(t.clone(), "direct");
    let began = Instant::now();
    futures::stream::iter(0..TESTS)
        .map(|i| {
            let direct = direct.clone();
            let mut job = template.clone();
            job.metadata = kube::api::ObjectMeta {
                name: Some(format!("direct-{i:03}")),
                namespace: Some("direct".into()),
                labels: job.metadata.labels.clone(),
                ..Default::default()
            };
            if let Some(spec) = job.spec.as_mut() {
                spec.selector = None;
                if let Some(labels) = spec
                    .template
                    .metadata
                    .as_mut()
                    .and_then(|m| m.labels.as_mut())
                {
                    labels.retain(|k, _| !k.contains("controller-uid") && !k.contains("job-name"));
                }
            }
            job.status = None;
            async move {
                direct
                    .create(&PostParams::default(), &job)
                    .await
                    .map_err(anyhow::Error::from)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    let plain = began.elapsed();

    println!("{TESTS} LoadTests created at once ({CONCURRENCY} client requests in flight):");
    println!(
        "  LoadTests created in              {:>8.2} s",
        created.as_secs_f64()
    );
    println!(
        "  all {TESTS} runner Jobs exist after  {:>8.2} s",
        via_operator.as_secs_f64()
    );
    println!(
        "  plain client creating {TESTS} Jobs   {:>8.2} s",
        plain.as_secs_f64()
    );
    println!(
        "  ratio operator / plain            {:>8.1} x",
        via_operator.as_secs_f64() / plain.as_secs_f64()
    );
    println!(
        "  operator RSS idle / peak          {:>5} / {} MiB",
        idle_rss / 1024,
        peak_rss / 1024
    );
    Ok(())
}
