//! Benchmark: the cost of ScalingExperiment sampling. Three target clusters with 20 HPAs
//! each, one experiment per cluster sampling all 20 every second, for N minutes (default 5)
//! after one idle minute; the HPAs' replicas change every second, so events and status
//! writes happen too. Prints the operator's CPU time and memory over time: the in-memory
//! series are bounded, so memory must level off. Run `bench/scaling-sampling.sh [minutes]`.

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
    Running, create_namespace, operator_bin_from_env, operator_command, platform_and_clusters,
};

const CLUSTERS: [&str; 3] = ["dev", "staging", "prod"];
const HPAS: usize = 20;

fn hpa_status(replicas: i32) -> serde_json::Value {
    serde_json::json!({ "status": {
        "currentReplicas": replicas, "desiredReplicas": replicas,
        "currentMetrics": [{ "type": "Resource", "resource": { "name": "cpu", "current": { "averageUtilization": replicas * 10 } } }],
    }})
}

async fn populate(cp: &ControlPlane) -> Result<Api<HorizontalPodAutoscaler>> {
    let client = cp.client().await?;
    create_namespace(&client, "demo").await?;
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client, "demo");
    for i in 0..HPAS {
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
    Ok(hpas)
}

#[tokio::main]
async fn main() -> Result<()> {
    let bin = operator_bin_from_env()?;
    let minutes: u64 = std::env::args()
        .nth(1)
        .map(|m| m.parse())
        .transpose()?
        .unwrap_or(5);
    eprintln!(
        "starting 1 platform and {} target control planes...",
        CLUSTERS.len()
    );
    let (platform, targets) = platform_and_clusters(&CLUSTERS).await?;
    let p = platform.client().await?;
    let mut hpa_apis = Vec::new();
    for cp in &targets {
        hpa_apis.push(populate(cp).await?);
    }

    let operator =
        Running::spawn(operator_command(&bin, &platform, 0, "warn", "json").stdout(Stdio::null()))?;
    let pid = operator.pid();

    // Replica churn: every second one HPA per cluster changes between 3 and 10 replicas.
    let churn = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        for n in 0usize.. {
            tick.tick().await;
            for hpas in &hpa_apis {
                let replicas = 3 + (n / HPAS % 8) as i32;
                let _ = hpas
                    .patch_status(
                        &format!("web-{:02}", n % HPAS),
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
        "{} clusters x {HPAS} HPAs, replicas changing every second:",
        CLUSTERS.len()
    );
    report("idle, 60 s", idle_began, idle_cpu);
    let idle_rate = (cpu_seconds(pid) - idle_cpu) / idle_began.elapsed().as_secs_f64();

    let experiments: Api<ScalingExperiment> = Api::namespaced(p.clone(), "default");
    for c in CLUSTERS {
        apply_yaml(
            &p,
            &format!(
                "apiVersion: tartinfra.dev/v1alpha1\nkind: ScalingExperiment\nmetadata: {{name: sample-{c}}}\nspec:\n  cluster: {c}\n  \
                 load: {{http: {{vus: 10, duration: 60m}}}}\n  sampleIntervalSeconds: 1\n  cooldownSeconds: 60\n"
            ),
            "default",
        )
        .await?;
    }
    let began = Instant::now();
    let cpu0 = cpu_seconds(pid);
    let mut rss = Vec::new();
    for minute in 1..=minutes {
        tokio::time::sleep(Duration::from_secs(60)).await;
        report(&format!("sampling, minute {minute}"), began, cpu0);
        rss.push(rss_mib(pid));
    }
    churn.abort();
    let cpu = cpu_seconds(pid) - cpu0;
    let secs = began.elapsed().as_secs_f64();
    let readings = (CLUSTERS.len() * HPAS) as f64 * secs;
    let extra = (cpu - idle_rate * secs).max(0.0);
    let mut samples = Vec::new();
    for c in CLUSTERS {
        let se = experiments.get(&format!("sample-{c}")).await?;
        let s = se.status.unwrap_or_default();
        samples.push(format!(
            "{c} {:?} {} samples/{} events in status",
            s.phase,
            s.samples.len(),
            s.events.len()
        ));
    }
    println!(
        "  sampling cost above idle   {extra:.2} s CPU over {secs:.0} s = {:.1} µs per HPA reading",
        extra / readings * 1e6
    );
    println!(
        "  RSS after minute 1 / last  {:.1} / {:.1} MiB",
        rss.first().copied().unwrap_or_default(),
        rss.last().copied().unwrap_or_default()
    );
    println!("  experiments: {}", samples.join("; "));
    drop(operator);
    Ok(())
}
