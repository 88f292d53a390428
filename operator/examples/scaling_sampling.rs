//! Benchmark: the cost of ScalingExperiment sampling. Three target clusters with 20 HPAs
//! each, one experiment per cluster sampling all 20 every second, for N minutes (default 5)
//! after one idle minute; the HPAs' replicas change every second, so events and status
//! writes happen too. Prints the operator's CPU time and memory over time: the in-memory
//! series are bounded, so memory must level off. Run `bench/scaling-sampling.sh [minutes]`.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crds::ScalingExperiment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use local_control_plane::{ControlPlane, Options, apply_yaml};

const CLUSTERS: [&str; 3] = ["dev", "staging", "prod"];
const HPAS: usize = 20;

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// CPU seconds (user + system) the process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after ") ".
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name and state.
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn hpa_status(replicas: i32) -> serde_json::Value {
    serde_json::json!({ "status": {
        "currentReplicas": replicas, "desiredReplicas": replicas,
        "currentMetrics": [{ "type": "Resource", "resource": { "name": "cpu", "current": { "averageUtilization": replicas * 10 } } }],
    }})
}

async fn populate(cp: &ControlPlane) -> Result<Api<HorizontalPodAutoscaler>> {
    let client = cp.client().await?;
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": "demo" } }))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
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
    let bin = std::env::var("TART_OPERATOR_BIN")
        .context("set TART_OPERATOR_BIN to the tart-operator binary")?;
    let minutes: u64 = std::env::args()
        .nth(1)
        .map(|m| m.parse())
        .transpose()?
        .unwrap_or(5);
    eprintln!(
        "starting 1 platform and {} target control planes...",
        CLUSTERS.len()
    );
    let platform = ControlPlane::start(Options::apiserver("bench-platform")).await?;
    let mut targets = Vec::new();
    for c in CLUSTERS {
        targets.push(ControlPlane::start(Options::apiserver(c)).await?);
    }
    let p = platform.client().await?;
    for (file, _) in crds::all() {
        let text = std::fs::read_to_string(format!(
            "{}/../manifests/crds/{file}",
            env!("CARGO_MANIFEST_DIR")
        ))?;
        apply_yaml(&p, &text, "default").await?;
    }
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": "tart-system" } }))?;
    Api::<Namespace>::all(p.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    let mut hpa_apis = Vec::new();
    for (c, cp) in CLUSTERS.iter().zip(&targets) {
        hpa_apis.push(populate(cp).await?);
        let secret: Secret = serde_json::from_value(serde_json::json!({
            "metadata": { "name": format!("{c}-kubeconfig") }, "stringData": { "kubeconfig": cp.kubeconfig() },
        }))?;
        Api::<Secret>::namespaced(p.clone(), "tart-system")
            .create(&PostParams::default(), &secret)
            .await?;
        apply_yaml(
            &p,
            &format!(
                "apiVersion: tartinfra.dev/v1alpha1\nkind: ManagedCluster\nmetadata: {{name: {c}}}\nspec:\n  tier: dev\n  provider: external\n  \
                 kubeconfigSecretRef: {{namespace: tart-system, name: {c}-kubeconfig}}\n"
            ),
            "default",
        )
        .await?;
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let operator = Child(
        Command::new(&bin)
            .env("KUBECONFIG", platform.kubeconfig_path())
            .env("RUST_LOG", "warn")
            .args([
                "--http-addr",
                &format!("127.0.0.1:{port}"),
                "--log-format",
                "json",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()?,
    );
    let pid = operator.0.id();

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
