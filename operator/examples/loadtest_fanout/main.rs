//! Benchmark: N LoadTests created at once across K target clusters. Prints, side by side in
//! the same run: how long until every runner Job exists next to a plain client creating the
//! same Jobs, the operator's own latency per test (LoadTest created -> its Job seen, p50/p99),
//! the API requests per test the operator made (from the API servers' own
//! `apiserver_request_total`, by verb and resource, the benchmark's own requests taken out),
//! and the operator's reconciles, CPU and memory. With `--complete` the targets run
//! kube-controller-manager, the scheduler and kwok, so runner pods run (simulated) and every
//! test ends `Completed`/`RunnerSimulated`; the benchmark then waits for all of them.
//! Then each kind of request on a test's way to its Job is measured alone ([`costs`]).
//! Run with `bench/loadtest-fanout.sh [--tests N] [--clusters K] [--limit L] [--complete]`,
//! which builds the release operator binary and passes its path in TART_OPERATOR_BIN.

mod costs;
#[path = "../../../bench/measure.rs"]
mod measure;
#[path = "../../tests/support/mod.rs"]
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
/// Tests created one at a time after the burst.
const SINGLES: usize = 20;
/// Requests of each kind in the cost table (/proc's CPU clock ticks every 10 ms).
const COST_REQUESTS: usize = 300;
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
    named_loadtest(
        &format!("fanout-{i:04}"),
        &format!("target-{}", i % clusters),
    )
}

fn named_loadtest(name: &str, cluster: &str) -> Result<LoadTest> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "tartinfra.dev/v1alpha1",
        "kind": "LoadTest",
        "metadata": { "name": name },
        // The shortest run the spec allows (a kwok runner ends at once anyway).
        "spec": { "cluster": cluster,
                  "http": { "targetUrl": "http://web.demo.svc.cluster.local/", "vus": 1, "duration": "1s" } },
    }))?)
}

/// Tests created one at a time on the first target, each once the one before has its Job:
/// the operator's latency per test with nothing queued (milliseconds, sorted).
async fn one_at_a_time(lts: &Api<LoadTest>, jobs: Api<Job>, count: usize) -> Result<Vec<f64>> {
    let (seen, mut jobs_seen) = futures::channel::mpsc::unbounded();
    let watch = tokio::spawn(async move {
        let mut events =
            std::pin::pin!(watcher(jobs, watcher::Config::default()).applied_objects());
        while let Some(Ok(job)) = events.next().await {
            if let Some(uid) = job.labels().get(UID_LABEL) {
                let _ = seen.unbounded_send((uid.clone(), Instant::now()));
            }
        }
    });
    let mut ms = Vec::new();
    for i in 0..count {
        let lt = lts
            .create(
                &PostParams::default(),
                &named_loadtest(&format!("single-{i:02}"), "target-0")?,
            )
            .await?;
        let created = Instant::now();
        let uid = lt.uid().unwrap_or_default();
        let at = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some((job_uid, at)) = jobs_seen.next().await {
                if job_uid == uid {
                    return Some(at);
                }
            }
            None
        })
        .await
        .context("a single test's Job never appeared")?
        .context("the Job watch ended")?;
        ms.push(at.duration_since(created).as_secs_f64() * 1000.0);
    }
    watch.abort();
    ms.sort_by(f64::total_cmp);
    Ok(ms)
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

/// When each LoadTest's create returned, when the operator's finalizer was first seen on
/// it (its first reconcile) and when its Job was first seen, by LoadTest uid.
#[derive(Default)]
struct Seen {
    created: HashMap<String, Instant>,
    finalizer: HashMap<String, Instant>,
    job: HashMap<String, Instant>,
}

/// Records when the operator's finalizer first appears on each LoadTest in `api`, until
/// `want` carry it.
async fn watch_finalizers(api: Api<LoadTest>, seen: Arc<Mutex<Seen>>, want: usize) -> Result<()> {
    let mut events = std::pin::pin!(watcher(api, watcher::Config::default()).applied_objects());
    while let Some(lt) = events.try_next().await? {
        if lt.finalizers().is_empty() {
            continue;
        }
        let mut s = seen.lock().expect("not poisoned");
        let uid = lt.uid().unwrap_or_default();
        s.finalizer.entry(uid).or_insert_with(Instant::now);
        if s.finalizer.len() >= want {
            return Ok(());
        }
    }
    bail!("the LoadTest watch ended")
}

/// How many sockets `pid` has open (its connections to the API servers, the watches
/// included, and its listeners).
fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |fds| {
        fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
            .filter(|target| target.to_string_lossy().starts_with("socket:"))
            .count()
    })
}

/// The p50 and p99 of the milliseconds from `from` to `to` over the tests in both.
fn stage(from: &HashMap<String, Instant>, to: &HashMap<String, Instant>) -> (f64, f64, usize) {
    let mut ms: Vec<f64> = to
        .iter()
        .filter_map(|(uid, at)| {
            Some(at.checked_duration_since(*from.get(uid)?)?.as_secs_f64() * 1000.0)
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    (percentile(&ms, 0.5), percentile(&ms, 0.99), ms.len())
}

/// CPU seconds used so far by each server process ("platform kube-apiserver", "target
/// etcd", ...; targets summed) and by the operator.
fn cpu_by_process(
    platform: &ControlPlane,
    targets: &[ControlPlane],
    operator: u32,
) -> BTreeMap<String, f64> {
    let mut cpu = BTreeMap::from([("operator".to_owned(), cpu_seconds(operator))]);
    let planes =
        std::iter::once(("platform", platform)).chain(targets.iter().map(|t| ("target", t)));
    for (server, plane) in planes {
        for (name, pid) in plane.pids() {
            *cpu.entry(format!("{server} {name}")).or_insert(0.0) += cpu_seconds(pid);
        }
    }
    cpu
}

/// The CPU seconds each process used between `before` and `after`.
fn cpu_between(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .collect()
}

/// Prints the CPU milliseconds per test of each process on the operator's path and on the
/// plain client's, side by side.
fn print_cpu(operator_path: &BTreeMap<String, f64>, plain: &BTreeMap<String, f64>, tests: usize) {
    println!("  CPU per test until every Job existed (ms of user + system time from /proc; the");
    println!(
        "  operator's path includes the LoadTest creates, the plain path is the Job creates):"
    );
    println!("    {:<44} {:>9} {:>9}", "process", "operator", "plain");
    let per_test = |v: f64| v * 1000.0 / tests as f64;
    let (mut a, mut b) = (0.0, 0.0);
    for (k, v) in operator_path {
        let p = plain.get(k).copied().unwrap_or(0.0);
        if *v < 0.005 && p < 0.005 {
            continue;
        }
        println!("    {k:<44} {:>9.2} {:>9.2}", per_test(*v), per_test(p));
        a += v;
        b += p;
    }
    println!(
        "    {:<44} {:>9.2} {:>9.2}",
        "all",
        per_test(a),
        per_test(b)
    );
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

/// Requests a target's own components make with `--complete` (the job controller's pods and
/// Job status, the scheduler's bindings, kwok's pod status, their events and leases), never
/// the operator (which sends events to the platform only, and dry-runs its pods).
const CLUSTER_OWN: [&str; 8] = [
    "target POST pods",
    "target POST pods/binding",
    "target PATCH pods",
    "target PATCH pods/status",
    "target PUT jobs/status",
    "target POST events",
    "target PUT leases",
    "target POST serviceaccounts",
];

/// Prints the operator's requests and, apart, the target clusters' own ([`CLUSTER_OWN`]);
/// returns the operator's per test.
fn print_requests(title: &str, rows: &[(String, f64)], tests: usize) -> f64 {
    let (own, operator): (Vec<_>, Vec<_>) = rows
        .iter()
        .partition(|(row, _)| CLUSTER_OWN.contains(&row.as_str()));
    println!("  {title}:");
    println!(
        "    {:<44} {:>8} {:>9}",
        "server, verb, resource", "count", "per test"
    );
    let per_test = |rows: &[&(String, f64)]| {
        let mut total = 0.0;
        for (row, count) in rows {
            println!("    {row:<44} {count:>8.0} {:>9.2}", count / tests as f64);
            total += count;
        }
        total
    };
    let total = per_test(&operator);
    println!(
        "    {:<44} {total:>8.0} {:>9.2}",
        "all",
        total / tests as f64
    );
    if !own.is_empty() {
        println!(
            "    and the target clusters' own components (controller-manager, scheduler, kwok):"
        );
        let theirs = per_test(&own);
        println!(
            "    {:<44} {theirs:>8.0} {:>9.2}",
            "all of theirs",
            theirs / tests as f64
        );
    }
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
    let idle_sockets = sockets(pid);
    let peak_sockets = Arc::new(std::sync::atomic::AtomicUsize::new(idle_sockets));
    let sampler = {
        let peak = peak_sockets.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(sockets(pid), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    let lts: Api<LoadTest> = Api::namespaced(p.clone(), &bench_ns);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let reconciles_before = reconciles(metrics_port).await?;
    let cpu_before = cpu_seconds(pid);
    let before = all_counts(&clients).await?;
    let processes_before = cpu_by_process(&platform, &targets, pid);
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
    let finalizers = tokio::spawn(watch_finalizers(lts.clone(), seen.clone(), a.tests));
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
    let operator_path = cpu_between(&processes_before, &cpu_by_process(&platform, &targets, pid));
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
    sampler.abort();
    let single = one_at_a_time(
        &lts,
        Api::namespaced(clients[1].1.clone(), "tart-loadtest"),
        SINGLES,
    )
    .await?;
    drop(operator);

    finalizers.abort();
    let (latency, to_finalizer, finalizer_to_job) = {
        let s = seen.lock().expect("not poisoned");
        (
            stage(&s.created, &s.job),
            stage(&s.created, &s.finalizer),
            stage(&s.finalizer, &s.job),
        )
    };

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
    let processes_before = cpu_by_process(&platform, &targets, pid);
    let began = Instant::now();
    create_all(
        &direct,
        a.tests,
        |i| Ok(direct_job(&template, &direct_ns, i)),
        |_| {},
    )
    .await?;
    let plain = began.elapsed();
    let plain_path = cpu_between(&processes_before, &cpu_by_process(&platform, &targets, pid));
    let templates = {
        let config_map =
            Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(t.clone(), "tart-loadtest")
                .list(&ListParams::default().labels(UID_LABEL).limit(1))
                .await?
                .items
                .pop()
                .context("no runner ConfigMap to copy")?;
        let lt = lts
            .list(&ListParams::default().limit(1))
            .await?
            .items
            .pop()
            .context("no LoadTest to copy")?;
        costs::Templates {
            job: template.clone(),
            config_map,
            spec: serde_json::to_value(&lt.spec)?,
            status: serde_json::to_value(&lt.status)?,
        }
    };
    let costs = costs::measure_all(
        (&platform, &p, &platform.namespace("costs").await?),
        (&targets[0], t, &targets[0].namespace("costs").await?),
        &templates,
        COST_REQUESTS,
    )
    .await?;

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
    let (p50, p99, measured) = latency;
    println!(
        "  per test, LoadTest created -> Job seen: p50 {p50:.0} ms, p99 {p99:.0} ms ({measured} tests)"
    );
    for (what, (p50, p99, n)) in [
        ("created -> finalizer seen (1st reconcile)", to_finalizer),
        ("finalizer seen -> Job seen (when later)", finalizer_to_job),
    ] {
        println!("    {what:<42} p50 {p50:>6.0} ms, p99 {p99:>6.0} ms ({n} tests)");
    }
    println!(
        "  one test at a time ({SINGLES}, nothing queued), created -> Job seen: p50 {:.0} ms, p99 {:.0} ms",
        percentile(&single, 0.5),
        percentile(&single, 0.99)
    );
    print_cpu(&operator_path, &plain_path, n);
    costs::print(&costs);
    let hot = requests_between(&clients, &before, &at_jobs, &own);
    let hot_per_test = print_requests(
        "API requests the operator made until every Job existed (apiserver_request_total, the benchmark's own and the clusters' components' taken out)",
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
    let whole_per_test = print_requests(
        &format!("API requests the operator made until {until}"),
        &whole,
        n,
    );
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
    println!(
        "  operator sockets idle / peak        {:>5} / {}",
        idle_sockets,
        peak_sockets.load(std::sync::atomic::Ordering::Relaxed)
    );
    let key = |what: &str| format!("fanout_{n}x{}_{what}", a.clusters);
    write_figures(&[
        (key("ratio_to_plain"), ratio),
        (key("latency_p50_ms"), p50),
        (key("latency_p99_ms"), p99),
        (key("single_latency_p50_ms"), percentile(&single, 0.5)),
        (key("requests_per_test_until_jobs"), hot_per_test),
        (key("requests_per_test_total"), whole_per_test),
        (key("reconciles_per_test"), reconciled / n as f64),
        (key("peak_rss_mib"), (peak_rss / 1024) as f64),
    ])?;
    Ok(())
}
