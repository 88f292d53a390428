//! Benchmark: 200 LoadTests created at once; how long until all 200 runner Jobs exist in
//! the target cluster, and the operator's peak memory, next to a plain client creating the
//! same 200 Jobs directly. Run with `bench/loadtest-fanout.sh`, which builds the release
//! operator binary and passes its path in TART_OPERATOR_BIN.

#[path = "../../bench/measure.rs"]
mod measure;
#[path = "../tests/support/mod.rs"]
mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use crds::LoadTest;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use measure::status_kib;
use support::{Running, operator_bin_from_env, operator_command, platform_and_clusters, wait_for};

const TESTS: usize = 200;
const CONCURRENCY: usize = 20;

fn loadtest(i: usize) -> Result<LoadTest> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "tartinfra.dev/v1alpha1",
        "kind": "LoadTest",
        "metadata": { "name": format!("fanout-{i:03}") },
        "spec": { "cluster": "target", "preset": "light-load" },
    }))?)
}

/// A copy of the operator's runner Job `template`, as a plain client would create it.
fn direct_job(template: &Job, namespace: &str, i: usize) -> Job {
    let mut job = template.clone();
    job.metadata = kube::api::ObjectMeta {
        name: Some(format!("direct-{i:03}")),
        namespace: Some(namespace.to_owned()),
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
    job
}

/// Creates `make(i)` for every i below TESTS, CONCURRENCY requests in flight.
async fn create_all<K>(api: &Api<K>, make: impl Fn(usize) -> Result<K>) -> Result<()>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    futures::stream::iter(0..TESTS)
        .map(|i| {
            let api = api.clone();
            let object = make(i);
            async move {
                api.create(&PostParams::default(), &object?)
                    .await
                    .map_err(anyhow::Error::from)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
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

#[tokio::main]
async fn main() -> Result<()> {
    let bin = operator_bin_from_env()?;
    let (platform, targets) = platform_and_clusters(&["target"]).await?;
    let target = &targets[0];
    let p = platform.client().await?;
    let t = target.client().await?;
    let bench_ns = platform.namespace("bench").await?;

    let operator = Running::spawn(
        operator_command(&bin, &platform, 0, "warn", "json")
            .args(["--max-tests-per-cluster", "1000"])
            .stdout(Stdio::null()),
    )?;
    let pid = operator.pid();
    // Wait for the operator to connect to the target (it has no nodes, so it stays
    // Degraded, but Reachable).
    let mcs: Api<crds::ManagedCluster> = Api::all(p.clone());
    wait_for(&mcs, "target", "Reachable", |mc| {
        mc.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Reachable" && c.status == "True")
        })
    })
    .await
    .context("the operator never reached the target cluster")?;
    let idle_rss = status_kib(pid, "VmRSS:");

    let lts: Api<LoadTest> = Api::namespaced(p.clone(), &bench_ns);
    let runner_jobs: Api<Job> = Api::namespaced(t.clone(), "tart-loadtest");
    let began = Instant::now();
    let watch = tokio::spawn(jobs_exist(runner_jobs, TESTS, began));
    create_all(&lts, loadtest).await?;
    let created = began.elapsed();
    tokio::time::timeout(Duration::from_secs(600), watch)
        .await
        .context("not all Jobs appeared")???;
    let via_operator = began.elapsed();
    // Let the operator settle (status writes of 200 tests), then read its peak.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let peak_rss = status_kib(pid, "VmHWM:");
    drop(operator);

    // The same 200 Jobs straight from a client, in another namespace.
    let direct_ns = target.namespace("direct").await?;
    let template = Api::<Job>::namespaced(t.clone(), "tart-loadtest")
        .list(&ListParams::default().limit(1))
        .await?
        .items
        .pop()
        .context("no runner Job to copy")?;
    let direct: Api<Job> = Api::namespaced(t.clone(), &direct_ns);
    let began = Instant::now();
    create_all(&direct, |i| Ok(direct_job(&template, &direct_ns, i))).await?;
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
