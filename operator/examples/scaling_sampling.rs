//! Benchmark: the cost of ScalingExperiment sampling. Three target clusters; for each HPA
//! count of `--hpas` (default 20,200; per cluster, in namespaces of 20, as an experiment
//! samples at most 20), experiments sample every HPA every second for N minutes (default 5),
//! after one idle minute; each count adds experiments to the ones already sampling, so the
//! counts are measured side by side in one run. The HPAs' replicas change every second, so
//! events and status writes happen too. Prints the operator's CPU time and memory over time
//! (the in-memory series are bounded, so memory must level off) and the sample lag: how far
//! apart consecutive samples of an experiment are past the 1 s interval, from the live
//! series the operator's API serves. Run `bench/scaling-sampling.sh [minutes] [--hpas 20,200]`.

#[path = "../../bench/measure.rs"]
mod measure;
#[path = "../tests/support/mod.rs"]
mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Result;
use crds::ScalingExperiment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{Api, Patch, PatchParams, PostParams};
use local_control_plane::{ControlPlane, apply_yaml};
use measure::{cpu_seconds, rss_mib};
use support::{
    Http, Running, api_admin_token, create_namespace, free_port, operator_bin_from_env,
    operator_command, platform_and_clusters, set_policy,
};

const CLUSTERS: [&str; 3] = ["dev", "staging", "prod"];
/// HPAs per namespace: one experiment samples at most 20.
const PER_EXPERIMENT: usize = 20;

fn hpa_status(replicas: i32) -> serde_json::Value {
    serde_json::json!({ "status": {
        "currentReplicas": replicas, "desiredReplicas": replicas,
        "currentMetrics": [{ "type": "Resource", "resource": { "name": "cpu", "current": { "averageUtilization": replicas * 10 } } }],
    }})
}

/// The namespace of experiment `k`'s HPAs.
fn namespace(k: usize) -> String {
    if k == 0 {
        "demo".to_owned()
    } else {
        format!("demo-{k}")
    }
}

/// `hpas` HPAs in namespaces of [`PER_EXPERIMENT`]; the API of each namespace.
async fn populate(cp: &ControlPlane, hpas: usize) -> Result<Vec<Api<HorizontalPodAutoscaler>>> {
    let client = cp.client().await?;
    let mut apis = Vec::new();
    for k in 0..hpas.div_ceil(PER_EXPERIMENT) {
        create_namespace(&client, &namespace(k)).await?;
        let api = Api::namespaced(client.clone(), &namespace(k));
        populate_namespace(&api, PER_EXPERIMENT.min(hpas - k * PER_EXPERIMENT)).await?;
        apis.push(api);
    }
    Ok(apis)
}

async fn populate_namespace(hpas: &Api<HorizontalPodAutoscaler>, count: usize) -> Result<()> {
    for i in 0..count {
        let hpa: HorizontalPodAutoscaler = serde_json::from_value(serde_json::json!({
            "metadata": { "name": format!("web-{i:02}") },
            "spec": { "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": format!("web-{i:02}") },
                      "minReplicas": 3, "maxReplicas": 10,
                      "metrics": [{ "type": "Resource", "resource": { "name": "cpu", "target": { "type": "Utilization", "averageUtilization": 50 } } }],
                      "behavior": { "scaleDown": { "stabilizationWindowSeconds": 30 } } },
        }))?;
        hpas.create(&PostParams::default(), &hpa).await?;
        hpas.patch_status(
            &format!("web-{i:02}"),
            &PatchParams::default(),
            &Patch::Merge(&hpa_status(3)),
        )
        .await?;
    }
    Ok(())
}

/// Gaps between consecutive samples of every experiment named, in seconds, from the live
/// series of the operator's API, within the last `window` seconds.
async fn sample_gaps(api: &Http, token: &str, names: &[String], window: f64) -> Result<Vec<f64>> {
    let mut gaps = Vec::new();
    for name in names {
        let (status, body) = api
            .get(&format!("/api/v1/experiments/default/{name}"), Some(token))
            .await?;
        anyhow::ensure!(status == 200, "experiment {name}: {status} {body}");
        let times: Vec<f64> = body["samples"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                s["time"]
                    .as_str()?
                    .parse::<k8s_openapi::jiff::Timestamp>()
                    .ok()
            })
            .map(|t| t.as_millisecond() as f64 / 1000.0)
            .collect();
        let last = times.last().copied().unwrap_or_default();
        gaps.extend(
            times
                .windows(2)
                .filter(|w| last - w[1] <= window)
                .map(|w| w[1] - w[0]),
        );
    }
    gaps.sort_by(f64::total_cmp);
    Ok(gaps)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len().max(1) - 1) as f64 * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

/// `--hpas 20,200` (HPAs per cluster, measured one after the other) and the minutes each.
fn args() -> Result<(u64, Vec<usize>)> {
    let mut minutes = 5;
    let mut counts = vec![20, 200];
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "--hpas" {
            let list = it.next().unwrap_or_default();
            counts = list
                .split(',')
                .map(|n| n.trim().parse::<usize>().ok().filter(|n| *n > 0))
                .collect::<Option<Vec<_>>>()
                .filter(|c| !c.is_empty() && c.is_sorted())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--hpas {list}: expected increasing HPA counts per cluster, e.g. 20,200"
                    )
                })?;
        } else {
            minutes = arg.parse().map_err(|_| {
                anyhow::anyhow!("{arg}: expected the minutes per HPA count, or --hpas 20,200")
            })?;
        }
    }
    Ok((minutes, counts))
}

#[tokio::main]
async fn main() -> Result<()> {
    let bin = operator_bin_from_env()?;
    let (minutes, counts) = args()?;
    let most = counts.last().copied().unwrap_or(PER_EXPERIMENT);
    let experiments_most = most.div_ceil(PER_EXPERIMENT);
    eprintln!(
        "starting 1 platform and {} target control planes...",
        CLUSTERS.len()
    );
    let (platform, targets) = platform_and_clusters(&CLUSTERS).await?;
    let p = platform.client().await?;
    // The experiments' load runs as long as the benchmark (the default policy allows 10m).
    for c in CLUSTERS {
        set_policy(&p, c, "{maxDuration: 2h}").await?;
    }
    let mut hpa_apis = Vec::new();
    for cp in &targets {
        hpa_apis.push(populate(cp, most).await?);
    }

    let port = free_port()?;
    let operator = Running::spawn(
        operator_command(&bin, &platform, port, "warn", "json")
            .arg("--anonymous-read")
            .args([
                "--max-live-experiments",
                &(experiments_most * CLUSTERS.len()).to_string(),
            ])
            .args(["--max-tests-per-cluster", &experiments_most.to_string()])
            .stdout(Stdio::null()),
    )?;
    let pid = operator.pid();
    let api = Http::new(port);
    // The API's answers need a bearer token (without one the sample lag was never read).
    let token = api_admin_token(&p).await?;

    // Replica churn: every second one HPA per cluster changes between 3 and 10 replicas.
    let churn = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        for n in 0usize.. {
            tick.tick().await;
            for apis in &hpa_apis {
                let i = n % most;
                let replicas = 3 + (n / most % 8) as i32;
                let _ = apis[i / PER_EXPERIMENT]
                    .patch_status(
                        &format!("web-{:02}", i % PER_EXPERIMENT),
                        &PatchParams::default(),
                        &Patch::Merge(&hpa_status(replicas)),
                    )
                    .await;
            }
        }
    });

    let report = |label: &str, began: Instant, cpu0: f64| {
        let cpu = cpu_seconds(pid) - cpu0;
        let secs = began.elapsed().as_secs_f64();
        println!(
            "  {label:<22} CPU {cpu:7.2} s ({:5.1}% of one core)   RSS {:6.1} MiB",
            cpu / secs * 100.0,
            rss_mib(pid)
        );
    };
    eprintln!("operator idle (collectors only) for 60 s...");
    tokio::time::sleep(Duration::from_secs(10)).await;
    let idle_began = Instant::now();
    let idle_cpu = cpu_seconds(pid);
    tokio::time::sleep(Duration::from_secs(60)).await;
    println!(
        "{} clusters, HPA replicas changing every second (one per cluster):",
        CLUSTERS.len()
    );
    report("idle, 60 s", idle_began, idle_cpu);
    let idle_rate = (cpu_seconds(pid) - idle_cpu) / idle_began.elapsed().as_secs_f64();

    let experiments: Api<ScalingExperiment> = Api::namespaced(p.clone(), "default");
    let mut names = Vec::new();
    let mut summary = Vec::new();
    for hpas in counts {
        // Start the experiments this count adds (one per 20 HPAs per cluster).
        for k in names.len() / CLUSTERS.len()..hpas.div_ceil(PER_EXPERIMENT) {
            for c in CLUSTERS {
                let name = format!("sample-{c}-{k}");
                apply_yaml(
                    &p,
                    &format!(
                        "apiVersion: tartinfra.dev/v1alpha1\nkind: ScalingExperiment\nmetadata: {{name: {name}}}\nspec:\n  cluster: {c}\n  \
                         targetNamespace: {}\n  load: {{http: {{vus: 10, duration: 60m}}}}\n  sampleIntervalSeconds: 1\n  cooldownSeconds: 60\n",
                        namespace(k)
                    ),
                    "default",
                )
                .await?;
                names.push(name);
            }
        }
        println!(
            "{} clusters x {hpas} HPAs sampled every second ({} experiments):",
            CLUSTERS.len(),
            names.len()
        );
        let began = Instant::now();
        let cpu0 = cpu_seconds(pid);
        let mut rss = Vec::new();
        for minute in 1..=minutes {
            tokio::time::sleep(Duration::from_secs(60)).await;
            report(&format!("sampling, minute {minute}"), began, cpu0);
            rss.push(rss_mib(pid));
        }
        let cpu = cpu_seconds(pid) - cpu0;
        let secs = began.elapsed().as_secs_f64();
        let readings = (CLUSTERS.len() * hpas) as f64 * secs;
        let extra = (cpu - idle_rate * secs).max(0.0);
        let gaps = sample_gaps(&api, &token, &names, secs).await?;
        let lag = |p: f64| (percentile(&gaps, p) - 1.0) * 1000.0;
        println!(
            "  sampling cost above idle   {extra:.2} s CPU over {secs:.0} s = {:.1} µs per HPA reading",
            extra / readings * 1e6
        );
        println!(
            "  RSS after minute 1 / last  {:.1} / {:.1} MiB",
            rss.first().copied().unwrap_or_default(),
            rss.last().copied().unwrap_or_default()
        );
        println!(
            "  sample lag past the 1 s interval  p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} gaps; sample times are whole seconds, so a missed second shows as 1000 ms)",
            lag(0.5),
            lag(0.99),
            (gaps.last().copied().unwrap_or(f64::NAN) - 1.0) * 1000.0,
            gaps.len()
        );
        summary.push(format!(
            "  {:>4} HPAs x 3: CPU {:5.1}% of one core, RSS {:6.1} MiB, sample lag p99 {:5.0} ms",
            hpas,
            cpu / secs * 100.0,
            rss.last().copied().unwrap_or_default(),
            lag(0.99)
        ));
    }
    churn.abort();
    let mut samples = Vec::new();
    for name in &names {
        let se = experiments.get(name).await?;
        let s = se.status.unwrap_or_default();
        samples.push(format!(
            "{name} {:?} {} samples{}",
            s.phase,
            s.samples.len(),
            s.message.map(|m| format!(" ({m})")).unwrap_or_default()
        ));
    }
    println!("side by side (same run, same operator):");
    for line in summary {
        println!("{line}");
    }
    println!("  experiments: {}", samples.join("; "));
    drop(operator);
    Ok(())
}
