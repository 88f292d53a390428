//! Benchmark: N LoadTests created at once across K target clusters. Prints, side by side in
//! the same run: how long until every runner Job exists next to a plain client creating the
//! same Jobs, the operator's own latency per test (LoadTest created -> its Job seen, p50/p99),
//! the API requests per test the operator made (from the API servers' own
//! `apiserver_request_total`, by verb and resource, the benchmark's own requests taken out),
//! and the operator's reconciles, CPU and memory. With `--complete` the targets run
//! kube-controller-manager, the scheduler and kwok, so runner pods run (simulated) and every
//! test ends `Completed`/`RunnerSimulated`; the benchmark then waits for all of them.
//! Run with `bench/loadtest-fanout.sh [--tests N] [--clusters K] [--limit L] [--complete]`,
//! which builds the release operator binary and passes its path in TART_OPERATOR_BIN.

#[path = "../../bench/measure.rs"]
mod measure;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use crds::LoadTest;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use local_control_plane::{ControlPlane, Options};
use measure::{cpu_seconds, status_kib};
use support::{
    Running, free_port, metric_lines, operator_bin_from_env, operator_command, platform,
    register_kubeconfig, wait_for,
};

/// Client requests in flight while creating.
const CONCURRENCY: usize = 20;
/// The runner Jobs' label carrying their LoadTest's uid.
const UID_LABEL: &str = "tartinfra.dev/loadtest-uid";

struct Args {
    tests: usize,
    clusters: usize,
    /// `--max-tests-per-cluster`.
    limit: usize,
    /// Targets with pods that run (kwok), and wait until every test has finished.
    complete: bool,
}

fn args() -> Result<Args> {
    let mut a = Args {
        tests: 200,
        clusters: 1,
        limit: 1000,
        complete: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut number = |name: &str| -> Result<usize> {
            let v = it
                .next()
                .with_context(|| format!("{name} needs a number"))?;
            v.parse()
                .ok()
                .filter(|n| *n > 0)
                .with_context(|| format!("{name} {v}: expected a positive whole number"))
        };
        match flag.as_str() {
            "--tests" => a.tests = number("--tests")?,
            "--clusters" => a.clusters = number("--clusters")?,
            "--limit" => a.limit = number("--limit")?.min(1000),
            "--complete" => a.complete = true,
            other => bail!(
                "unknown argument {other}; usage: [--tests N] [--clusters K] [--limit L] [--complete]"
            ),
        }
    }
    Ok(a)
}

fn loadtest(i: usize, clusters: usize) -> Result<LoadTest> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "tartinfra.dev/v1alpha1",
        "kind": "LoadTest",
        "metadata": { "name": format!("fanout-{i:04}") },
        // The shortest run the spec allows (a kwok runner ends at once anyway).
        "spec": { "cluster": format!("target-{}", i % clusters),
                  "http": { "targetUrl": "http://web.demo.svc.cluster.local/", "vus": 1, "duration": "1s" } },
    }))?)
}

/// A copy of the operator's runner Job `template`, as a plain client would create it.
fn direct_job(template: &Job, namespace: &str, i: usize) -> Job {
    let mut job = template.clone();
    job.metadata = kube::api::ObjectMeta {
        name: Some(format!("direct-{i:04}")),
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

/// Creates `make(i)` for every i below `count`, CONCURRENCY requests in flight; `created`
/// is told each object as its create returns.
async fn create_all<K>(
    api: &Api<K>,
    count: usize,
    make: impl Fn(usize) -> Result<K>,
    created: impl Fn(&K),
) -> Result<()>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut creates = futures::stream::iter(0..count)
        .map(|i| {
            let api = api.clone();
            let object = make(i);
            async move {
                api.create(&PostParams::default(), &object?)
                    .await
                    .map_err(anyhow::Error::from)
            }
        })
        .buffer_unordered(CONCURRENCY);
    while let Some(object) = creates.try_next().await? {
        created(&object);
    }
    Ok(())
}

/// When each LoadTest's create returned and when its Job was first seen, by LoadTest uid.
#[derive(Default)]
struct Seen {
    created: HashMap<String, Instant>,
    job: HashMap<String, Instant>,
}

/// Records when each runner Job in `api` is first seen until `want` have been (over all
/// targets), reporting progress.
async fn watch_jobs(
    api: Api<Job>,
    seen: Arc<Mutex<Seen>>,
    want: usize,
    began: Instant,
) -> Result<()> {
    let mut events = std::pin::pin!(watcher(api, watcher::Config::default()).applied_objects());
    while let Some(job) = events.try_next().await? {
        let Some(uid) = job.labels().get(UID_LABEL).cloned() else {
            continue;
        };
        let mut s = seen.lock().expect("not poisoned");
        if s.job.contains_key(&uid) {
            continue;
        }
        s.job.insert(uid, Instant::now());
        let n = s.job.len();
        if n.is_multiple_of(100) {
            eprintln!("  {n} Jobs after {:.2} s", began.elapsed().as_secs_f64());
        }
        if n >= want {
            return Ok(());
        }
    }
    bail!("the Job watch ended")
}

/// `apiserver_request_total` summed by (verb, resource[/subresource], dry run), without
/// non-resource requests (`/metrics`, `/healthz`) and watches (long-lived, not per test).
async fn request_counts(client: &Client) -> Result<BTreeMap<String, f64>> {
    let request = http::Request::get("/metrics").body(Vec::new())?;
    let text = client.request_text(request).await?;
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let label = |name: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=\"")))
                .map(|v| v.trim_end_matches('"').to_owned())
                .unwrap_or_default()
        };
        let (verb, resource) = (label("verb"), label("resource"));
        if resource.is_empty() || verb == "WATCH" {
            continue;
        }
        let mut key = format!("{verb} {resource}");
        if !label("subresource").is_empty() {
            key = format!("{key}/{}", label("subresource"));
        }
        if !label("dry_run").is_empty() {
            key.push_str(" (dry run)");
        }
        let code = label("code");
        if !code.starts_with('2') {
            key.push_str(&format!(" ({code})"));
        }
        *counts.entry(key).or_insert(0.0) += value.parse::<f64>().unwrap_or(0.0);
    }
    Ok(counts)
}

/// Request counts on the platform and every target.
async fn all_counts(clients: &[(String, Client)]) -> Result<Vec<BTreeMap<String, f64>>> {
    let mut all = Vec::new();
    for (_, c) in clients {
        all.push(request_counts(c).await?);
    }
    Ok(all)
}

/// The requests made between `before` and `after`, per server and kind, less `own` (the
/// benchmark's own, keyed "server kind"); rows with none left out.
fn requests_between(
    clients: &[(String, Client)],
    before: &[BTreeMap<String, f64>],
    after: &[BTreeMap<String, f64>],
    own: &HashMap<String, f64>,
) -> Vec<(String, f64)> {
    let mut rows = Vec::new();
    for (((server, _), b), a) in clients.iter().zip(before).zip(after) {
        let server = if server == "platform" {
            server.as_str()
        } else {
            "target"
        };
        for (key, value) in a {
            let row = format!("{server} {key}");
            let made = value - b.get(key).copied().unwrap_or(0.0) - own.get(&row).unwrap_or(&0.0);
            if made > 0.0 {
                match rows.iter_mut().find(|(r, _)| *r == row) {
                    Some((_, v)) => *v += made,
                    None => rows.push((row, made)),
                }
            }
        }
    }
    rows
}

fn print_requests(title: &str, rows: &[(String, f64)], tests: usize) -> f64 {
    println!("  {title}:");
    println!(
        "    {:<44} {:>8} {:>9}",
        "server, verb, resource", "count", "per test"
    );
    let mut total = 0.0;
    for (row, count) in rows {
        println!("    {row:<44} {count:>8.0} {:>9.2}", count / tests as f64);
        total += count;
    }
    println!(
        "    {:<44} {total:>8.0} {:>9.2}",
        "all",
        total / tests as f64
    );
    total / tests as f64
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn reconciles(metrics_port: u16) -> Result<f64> {
    let lines = metric_lines(
        metrics_port,
        "tart_operator_reconcile_duration_seconds_count",
        "controller=\"loadtest\"",
    )
    .await?;
    Ok(lines
        .iter()
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum())
}

/// Waits until every LoadTest in `api` has finished, reporting progress.
async fn all_finished(
    api: Api<LoadTest>,
    want: usize,
    began: Instant,
) -> Result<BTreeMap<String, usize>> {
    let mut phases: HashMap<String, String> = HashMap::new();
    let mut events = std::pin::pin!(watcher(api, watcher::Config::default()).applied_objects());
    let mut reported = 0;
    while let Some(lt) = events.try_next().await? {
        let phase = lt.status.as_ref().and_then(|s| s.phase);
        if let Some(p) = phase.filter(|p| p.is_finished()) {
            phases.insert(lt.name_any(), format!("{p:?}"));
        }
        if phases.len() >= reported + 100 {
            reported = phases.len();
            eprintln!(
                "  {reported} tests finished after {:.1} s",
                began.elapsed().as_secs_f64()
            );
        }
        if phases.len() >= want {
            let mut by_phase = BTreeMap::new();
            for p in phases.into_values() {
                *by_phase.entry(p).or_insert(0) += 1;
            }
            return Ok(by_phase);
        }
    }
    bail!("the LoadTest watch ended")
}

/// Figures for `bench/recorded.mjs`, written to TART_BENCH_FIGURES when set.
fn write_figures(figures: &[(String, f64)]) -> Result<()> {
    if let Ok(path) = std::env::var("TART_BENCH_FIGURES") {
        let map: serde_json::Map<String, serde_json::Value> = figures
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::json!((v * 100.0).round() / 100.0)))
            .collect();
        std::fs::write(path, serde_json::to_string(&map)?)?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let a = args()?;
    let bin = operator_bin_from_env()?;
    let platform = platform().await?;
    let p = platform.client().await?;
    let mut targets = Vec::new();
    for i in 0..a.clusters {
        let name = format!("target-{i}");
        let options = if a.complete {
            Options::cluster(&name)
        } else {
            Options::apiserver(&name)
        };
        let cp = ControlPlane::start(options).await?;
        register_kubeconfig(&p, &name, cp.kubeconfig()).await?;
        targets.push(cp);
    }
    let mut clients = vec![("platform".to_owned(), p.clone())];
    for (i, t) in targets.iter().enumerate() {
        clients.push((format!("target-{i}"), t.client().await?));
    }
    let bench_ns = platform.namespace("bench").await?;
    let metrics_port = free_port()?;
    let operator = Running::spawn(
        operator_command(&bin, &platform, 0, "warn", "json")
            .args(["--max-tests-per-cluster", &a.limit.to_string()])
            .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
            .stdout(Stdio::null()),
    )?;
    let pid = operator.pid();
    // Wait for the operator to connect to every target.
    let mcs: Api<crds::ManagedCluster> = Api::all(p.clone());
    for i in 0..a.clusters {
        wait_for(&mcs, &format!("target-{i}"), "Reachable", |mc| {
            mc.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Reachable" && c.status == "True")
            })
        })
        .await
        .context("the operator never reached a target cluster")?;
    }
    let idle_rss = status_kib(pid, "VmRSS:");

    let lts: Api<LoadTest> = Api::namespaced(p.clone(), &bench_ns);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let reconciles_before = reconciles(metrics_port).await?;
    let cpu_before = cpu_seconds(pid);
    let before = all_counts(&clients).await?;
    let began = Instant::now();
    let watches: Vec<_> = clients[1..]
        .iter()
        .map(|(_, c)| {
            tokio::spawn(watch_jobs(
                Api::namespaced(c.clone(), "tart-loadtest"),
                seen.clone(),
                a.tests,
                began,
            ))
        })
        .collect();
    let finished = a
        .complete
        .then(|| tokio::spawn(all_finished(lts.clone(), a.tests, began)));
    create_all(
        &lts,
        a.tests,
        |i| loadtest(i, a.clusters),
        |lt| {
            let uid = lt.uid().unwrap_or_default();
            seen.lock()
                .expect("not poisoned")
                .created
                .insert(uid, Instant::now());
        },
    )
    .await?;
    let created = began.elapsed();
    // Any one watch returns once all Jobs have been seen.
    tokio::time::timeout(
        Duration::from_secs(3600),
        futures::future::select_all(watches),
    )
    .await
    .context("not all Jobs appeared")?
    .0??;
    let via_operator = began.elapsed();
    let at_jobs = all_counts(&clients).await?;
    // The benchmark's own requests: its creates, and each watch's first LIST.
    let mut own = HashMap::from([("platform POST loadtests".to_owned(), a.tests as f64)]);
    own.insert("target LIST jobs".to_owned(), a.clusters as f64);
    if a.complete {
        own.insert("platform LIST loadtests".to_owned(), 1.0);
    }
    let by_phase = match finished {
        Some(f) => Some(
            tokio::time::timeout(Duration::from_secs(3600), f)
                .await
                .context("not all tests finished")???,
        ),
        None => {
            // Let the operator settle (status writes of every test).
            tokio::time::sleep(Duration::from_secs(5)).await;
            None
        }
    };
    let done = began.elapsed();
    let after = all_counts(&clients).await?;
    let reconciled = reconciles(metrics_port).await? - reconciles_before;
    let cpu = cpu_seconds(pid) - cpu_before;
    let peak_rss = status_kib(pid, "VmHWM:");
    drop(operator);

    let mut latencies: Vec<f64> = {
        let s = seen.lock().expect("not poisoned");
        s.job
            .iter()
            .filter_map(|(uid, at)| {
                Some(at.duration_since(*s.created.get(uid)?).as_secs_f64() * 1000.0)
            })
            .collect()
    };
    latencies.sort_by(f64::total_cmp);

    // The same Jobs straight from a client, in another namespace of the first target.
    let t = &clients[1].1;
    let direct_ns = targets[0].namespace("direct").await?;
    let template = Api::<Job>::namespaced(t.clone(), "tart-loadtest")
        .list(&ListParams::default().limit(1))
        .await?
        .items
        .pop()
        .context("no runner Job to copy")?;
    let direct: Api<Job> = Api::namespaced(t.clone(), &direct_ns);
    let began = Instant::now();
    create_all(
        &direct,
        a.tests,
        |i| Ok(direct_job(&template, &direct_ns, i)),
        |_| {},
    )
    .await?;
    let plain = began.elapsed();

    let n = a.tests;
    println!(
        "{n} LoadTests created at once ({CONCURRENCY} client requests in flight) across {} target cluster(s), at most {} running per cluster{}:",
        a.clusters,
        a.limit,
        if a.complete {
            ", runners simulated by kwok"
        } else {
            ", API servers only (runners never run)"
        }
    );
    println!(
        "  LoadTests created in               {:>8.2} s",
        created.as_secs_f64()
    );
    println!(
        "  all {n} runner Jobs exist after    {:>8.2} s",
        via_operator.as_secs_f64()
    );
    println!(
        "  plain client creating {n} Jobs     {:>8.2} s",
        plain.as_secs_f64()
    );
    let ratio = via_operator.as_secs_f64() / plain.as_secs_f64();
    println!("  ratio operator / plain             {ratio:>8.1} x");
    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    println!(
        "  per test, LoadTest created -> Job seen: p50 {p50:.0} ms, p99 {p99:.0} ms, max {:.0} ms ({} tests)",
        latencies.last().copied().unwrap_or(f64::NAN),
        latencies.len()
    );
    let hot = requests_between(&clients, &before, &at_jobs, &own);
    let hot_per_test = print_requests(
        "API requests the operator made until every Job existed (apiserver_request_total, the benchmark's own taken out)",
        &hot,
        n,
    );
    println!("    a plain client makes 1.00 per test (POST jobs)");
    let whole = requests_between(&clients, &before, &after, &own);
    let until = if a.complete {
        "every test finished"
    } else {
        "5 s after (follow-up looks)"
    };
    let whole_per_test = print_requests(&format!("API requests until {until}"), &whole, n);
    if let Some(by_phase) = &by_phase {
        println!(
            "  all {n} tests finished after        {:>8.1} s: {by_phase:?}",
            done.as_secs_f64()
        );
    }
    println!(
        "  reconciles of LoadTests            {reconciled:>8.0} ({:.2} per test)",
        reconciled / n as f64
    );
    println!(
        "  operator CPU                       {cpu:>8.2} s ({:.0}% of one core over {:.1} s)",
        cpu / done.as_secs_f64() * 100.0,
        done.as_secs_f64()
    );
    println!(
        "  operator RSS idle / peak           {:>5} / {} MiB",
        idle_rss / 1024,
        peak_rss / 1024
    );
    let key = |what: &str| format!("fanout_{n}x{}_{what}", a.clusters);
    write_figures(&[
        (key("ratio_to_plain"), ratio),
        (key("latency_p50_ms"), p50),
        (key("latency_p99_ms"), p99),
        (key("requests_per_test_until_jobs"), hot_per_test),
        (key("requests_per_test_total"), whole_per_test),
        (key("reconciles_per_test"), reconciled / n as f64),
        (key("peak_rss_mib"), (peak_rss / 1024) as f64),
    ])?;
    Ok(())
}
