//! ScalingExperiments against a real HPA: a target cluster with kube-controller-manager
//! (its HPA controller on test-speed periods), kube-scheduler, kwok nodes whose pods report
//! CPU usage through kwok's resource-usage simulation, and metrics-server serving it.
//!
//! kwok pods do no work, so the test plays the load's effect: while the experiment is
//! Loading it raises the simulated CPU usage of the target pods (the `kwok.x-k8s.io/usage-cpu`
//! annotation), and no kubelet runs the k6 runner, so the test ends the runner pod as a
//! kubelet would, with a k6 summary. Everything else is real: the HPA controller scales the
//! Deployment from metrics-server's numbers and the operator samples the HPA.

mod support;

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use crds::scaling_experiment::{
    ExperimentPhase, ExperimentReason, SamplePhase, ScalingExperimentStatus,
};
use crds::{LoadTest, ScalingExperiment};
use futures::TryStreamExt;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use local_control_plane::{Options, PodLifecycle, SimNode, apply_yaml};
use support::*;

/// The demo workload: 3 nginx-web replicas requesting 100m CPU each.
const NGINX_WEB: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: nginx-web, namespace: demo}
spec:
  replicas: 3
  selector: {matchLabels: {app: nginx-web}}
  template:
    metadata: {labels: {app: nginx-web}}
    spec:
      containers:
      - {name: nginx, image: "nginx:1.27-alpine", resources: {requests: {cpu: 100m}}}
"#;

/// Namespace demo with nginx-web and an HPA `hpa` keeping it between 3 and 10 replicas at
/// 50% CPU, with the HPA's `behavior` (YAML, may be empty).
async fn deploy_nginx_web(target: &Client, hpa: &str, behavior: &str) -> Result<()> {
    create_namespace(target, "demo").await?;
    let hpa = format!(
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {{name: {hpa}, namespace: demo}}\nspec:\n  \
         scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: nginx-web}}\n  minReplicas: 3\n  maxReplicas: 10\n  \
         metrics: [{{type: Resource, resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 50}}}}}}]\n{behavior}"
    );
    apply_yaml(target, &format!("{NGINX_WEB}---\n{hpa}"), "demo").await?;
    Ok(())
}

/// How long the HPA may take to react (metrics-server needs two 10 s scrapes for a rate).
const HPA_WAIT: Duration = Duration::from_secs(150);

/// Sets the simulated CPU usage of every nginx-web pod, and of every new one, until dropped.
struct Usage(tokio::task::JoinHandle<()>);

impl Usage {
    fn drive(target: Client, cpu: &'static str) -> Self {
        Self(tokio::spawn(async move {
            let pods: Api<Pod> = Api::namespaced(target, "demo");
            let config = watcher::Config::default().labels("app=nginx-web");
            let mut events = std::pin::pin!(watcher(pods.clone(), config).applied_objects());
            while let Ok(Some(pod)) = events.try_next().await {
                if pod
                    .annotations()
                    .get("kwok.x-k8s.io/usage-cpu")
                    .map(String::as_str)
                    != Some(cpu)
                {
                    let patch = serde_json::json!({ "metadata": { "annotations": { "kwok.x-k8s.io/usage-cpu": cpu } } });
                    let _ = pods
                        .patch(
                            &pod.name_any(),
                            &PatchParams::default(),
                            &Patch::Merge(&patch),
                        )
                        .await;
                }
            }
        }))
    }
}

impl Drop for Usage {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The CPU utilisation the HPA saw last (an HPA whose metrics failed lists an empty metric).
fn hpa_cpu(h: &HorizontalPodAutoscaler) -> Option<i32> {
    h.status
        .as_ref()?
        .current_metrics
        .as_ref()?
        .iter()
        .find_map(|m| m.resource.as_ref()?.current.average_utilization)
}

fn hpa_replicas(h: &HorizontalPodAutoscaler) -> i32 {
    h.status
        .as_ref()
        .and_then(|s| s.current_replicas)
        .unwrap_or(0)
}

fn phase(se: &ScalingExperiment) -> Option<ExperimentPhase> {
    se.status.as_ref().and_then(|s| s.phase)
}

#[tokio::test]
async fn an_experiment_measures_a_real_hpa_scaling_up_under_load_and_back_down() -> Result<()> {
    let env = Env::with_dev(
        Options::cluster("dev")
            .with_nodes(vec![
                SimNode::control_plane("dev-master", "2", "4Gi"),
                SimNode::worker("dev-worker1", "8", "16Gi"),
            ])
            .with_pods(PodLifecycle::Ready)
            .with_metrics_server(),
        fast_settings(),
    )
    .await?;
    let (pc, tc) = (&env.p, &env.d);
    deploy_nginx_web(
        tc,
        "nginx-web",
        "  behavior:\n    scaleDown: {stabilizationWindowSeconds: 5}\n",
    )
    .await?;
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(tc.clone(), "demo");
    // A real baseline: 3 replicas and a CPU figure from metrics-server.
    wait_within(
        &hpas,
        "nginx-web",
        "measuring CPU at 3 replicas",
        HPA_WAIT,
        |h| hpa_replicas(h) == 3 && hpa_cpu(h).is_some(),
    )
    .await?;

    let ns = env.platform.namespace("se").await?;
    apply_yaml(
        pc,
        r#"
apiVersion: tartinfra.dev/v1alpha1
kind: ScalingExperiment
metadata: {name: web}
spec:
  cluster: dev
  load: {http: {targetUrl: "http://nginx-web.demo.svc.cluster.local", vus: 20, duration: 60s}}
  targets: [{namespace: demo, deployment: nginx-web}]
  sampleIntervalSeconds: 1
  cooldownSeconds: 120
  endCooldownWhenBaselineRestored: true
"#,
        &ns,
    )
    .await?;
    let experiments: Api<ScalingExperiment> = Api::namespaced(pc.clone(), &ns);
    let loading = wait_for(&experiments, "web", "Loading", |se| {
        matches!(
            phase(se),
            Some(ExperimentPhase::Loading | ExperimentPhase::Failed)
        )
    })
    .await?;
    let status = loading.status.clone().unwrap_or_default();
    ensure!(
        phase(&loading) == Some(ExperimentPhase::Loading),
        "experiment failed: {:?}",
        status.message
    );
    let baseline = status
        .samples
        .iter()
        .filter(|s| s.phase == SamplePhase::Baseline)
        .count();
    ensure!(
        baseline >= 2,
        "at least two baseline samples before the load: {:?}",
        status.samples
    );
    ensure!(
        status
            .samples
            .iter()
            .all(|s| s.phase == SamplePhase::Baseline
                || s.time.0
                    >= status
                        .load_started_at
                        .as_ref()
                        .map(|t| t.0)
                        .unwrap_or_default()),
        "samples before the load start are Baseline"
    );
    for (type_, want) in [("TargetsResolved", "True"), ("CooldownSufficient", "True")] {
        let c = status
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .with_context(|| format!("no {type_} condition"))?;
        ensure!(c.status == want, "{type_} is {}: {}", c.status, c.message);
    }

    // The load's effect: 200m used of 100m requested is 200% against a 50% target.
    let usage = Usage::drive(tc.clone(), "200m");
    wait_within(&hpas, "nginx-web", "scaled up", HPA_WAIT, |h| {
        hpa_replicas(h) >= 6
    })
    .await?;

    // The API serves the live series while the experiment runs (the operator's HPA cache
    // and its 1 s sampler follow the cluster within a few seconds).
    let http = Http::new(env.port);
    let path = format!("/api/v1/experiments/{ns}/web");
    let scaled_up = |v: &serde_json::Value| {
        v["samples"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["replicas"][0].as_i64() > Some(3)))
    };
    let view = http
        .eventually(&path, env.token(), "a scaled-up sample", scaled_up)
        .await?;
    ensure!(
        view["live"] == true,
        "live while loading: {}",
        view["phase"]
    );
    let live = view["samples"].as_array().map_or(0, Vec::len);
    let stored = experiments
        .get("web")
        .await?
        .status
        .map_or(0, |s| s.samples.len());
    ensure!(
        live >= stored,
        "the live series ({live}) is at least the stored one ({stored})"
    );

    // The HPA keeps going to its maximum while the load lasts.
    wait_within(&hpas, "nginx-web", "at maxReplicas", HPA_WAIT, |h| {
        hpa_replicas(h) == 10
    })
    .await?;

    // The load ends: the runner exits with a k6 summary; usage drops back.
    let child: Api<LoadTest> = Api::namespaced(pc.clone(), &ns);
    let lt = child.get("web-load").await?;
    ensure!(
        lt.owner_references()
            .iter()
            .any(|o| o.kind == "ScalingExperiment" && o.name == "web"),
        "the child LoadTest is owned by the experiment"
    );
    let runner = lt
        .status
        .and_then(|s| s.runner)
        .context("the child LoadTest has a runner")?;
    let pod = scheduled_pod(tc, &runner.namespace, &runner.job).await?;
    let pod = Api::<Pod>::namespaced(tc.clone(), &runner.namespace)
        .get(&pod.name_any())
        .await?;
    kubelet_k6_passed(tc, &pod).await?;
    drop(usage);
    let _idle = Usage::drive(tc.clone(), "1m");

    let done = wait_within(&experiments, "web", "Completed", HPA_WAIT, |se| {
        matches!(
            phase(se),
            Some(ExperimentPhase::Completed | ExperimentPhase::Failed)
        )
    })
    .await?;
    let s = done.status.clone().unwrap_or_default();
    ensure!(
        phase(&done) == Some(ExperimentPhase::Completed),
        "{:?}: {:?}",
        s.reason,
        s.message
    );
    ensure!(s.reason.is_none(), "no failure reason: {:?}", s.reason);
    ensure!(
        s.message.as_deref().is_some_and(|m| m.contains("baseline")),
        "the cooldown ended early at baseline: {:?}",
        s.message
    );
    let k = s.kpis.clone().context("kpis")?;
    eprintln!("KPIs of a real HPA: {k:?}");
    let load_secs = s
        .load_ended_at
        .as_ref()
        .zip(s.load_started_at.as_ref())
        .map(|(e, b)| e.0.duration_since(b.0).as_secs_f64())
        .context("load window")?;
    ensure!(
        k.scale_up_latency_seconds
            .is_some_and(|l| l > 0.0 && l <= load_secs),
        "scale-up latency within the load: {k:?}, load {load_secs}s"
    );
    ensure!(
        k.peak_replicas == Some(10),
        "peak above the baseline of 3: {k:?}"
    );
    ensure!(
        k.scale_down_start_seconds.is_some(),
        "scale-down observed: {k:?}"
    );
    ensure!(
        k.time_to_baseline_seconds
            .is_some_and(|t| t >= k.scale_down_start_seconds.unwrap_or_default()),
        "back at baseline after the scale-down started: {k:?}"
    );
    ensure!(
        k.avg_rps_per_pod.is_some_and(|r| r > 0.0),
        "RPS per pod from the k6 summary: {k:?}"
    );
    let d = s.deployments.first().context("one deployment")?;
    ensure!(
        (
            d.name.as_str(),
            d.hpa.as_deref(),
            d.baseline_replicas,
            d.final_replicas
        ) == ("nginx-web", Some("nginx-web"), Some(3), Some(3)),
        "per-deployment results: {d:?}"
    );
    ensure!(
        d.scale_up_latency_seconds == k.scale_up_latency_seconds,
        "the only target's own scale-up latency is the experiment's: {d:?}, {k:?}"
    );
    ensure!(
        d.peak_cpu_percent.is_some_and(|c| c > 50)
            && d.baseline_cpu_percent.is_some_and(|c| c < 50),
        "CPU from the HPA: {d:?}; first samples {:?}",
        &s.samples[..s.samples.len().min(8)]
    );
    ensure!(
        s.events
            .iter()
            .any(|e| e.phase == SamplePhase::Load && e.to_replicas > e.from_replicas),
        "a scale-up event during the load: {:?}",
        s.events
    );
    ensure!(
        s.events
            .iter()
            .any(|e| e.phase == SamplePhase::Cooldown && e.to_replicas < e.from_replicas),
        "a scale-down event in the cooldown: {:?}",
        s.events
    );
    ensure!(
        !s.samples.is_empty() && s.samples.len() <= 240,
        "samples in status: {}",
        s.samples.len()
    );
    ensure!(
        s.samples.windows(2).all(|w| w[0].time.0 <= w[1].time.0),
        "samples in time order"
    );

    let view = http
        .eventually(&path, env.token(), "the stored series", |v| {
            v["live"] == false
        })
        .await?;
    ensure!(
        view["live"] == false && view["samples"].as_array().map(Vec::len) == Some(s.samples.len()),
        "the stored series after completion"
    );
    Ok(())
}

#[tokio::test]
async fn a_target_without_hpa_fails_with_a_clear_condition() -> Result<()> {
    let env = Env::start(fast_settings()).await?;
    let pc = &env.p;
    let ns = env.platform.namespace("se").await?;
    apply_yaml(
        pc,
        "apiVersion: tartinfra.dev/v1alpha1\nkind: ScalingExperiment\nmetadata: {name: nohpa}\nspec:\n  cluster: dev\n  load: {preset: scale-light}\n",
        &ns,
    )
    .await?;
    let experiments: Api<ScalingExperiment> = Api::namespaced(pc.clone(), &ns);
    let se = wait_for(&experiments, "nohpa", "Failed", |se| {
        phase(se) == Some(ExperimentPhase::Failed)
    })
    .await?;
    let s = se.status.unwrap_or_default();
    ensure!(s.reason == Some(ExperimentReason::NoHpa), "{:?}", s.reason);
    let c = s
        .conditions
        .iter()
        .find(|c| c.type_ == "TargetsResolved")
        .context("TargetsResolved")?;
    ensure!(
        c.status == "False"
            && c.message.contains("demo/nginx-web")
            && c.message.contains("scaleTargetRef"),
        "{c:?}"
    );
    ensure!(
        Api::<LoadTest>::namespaced(pc.clone(), &ns)
            .get_opt("nohpa-load")
            .await?
            .is_none(),
        "no load runs without targets"
    );
    Ok(())
}

/// Waits until the experiment has Failed, and checks that it failed for `reason` with a
/// message containing every one of `words`.
async fn experiment_failed(
    experiments: &Api<ScalingExperiment>,
    name: &str,
    reason: ExperimentReason,
    words: &[&str],
) -> Result<ScalingExperimentStatus> {
    let failed = wait_for(experiments, name, "Failed", |se| {
        phase(se) == Some(ExperimentPhase::Failed)
    })
    .await?;
    let s = failed.status.unwrap_or_default();
    ensure!(s.reason == Some(reason), "{:?}: {:?}", s.reason, s.message);
    ensure!(
        s.message
            .as_deref()
            .is_some_and(|m| words.iter().all(|w| m.contains(w))),
        "{:?}",
        s.message
    );
    Ok(s)
}

fn experiment(name: &str) -> String {
    format!(
        "apiVersion: tartinfra.dev/v1alpha1\nkind: ScalingExperiment\nmetadata: {{name: {name}}}\nspec:\n  cluster: dev\n  \
         load: {{preset: scale-light}}\n  sampleIntervalSeconds: 1\n"
    )
}

#[tokio::test]
async fn a_load_that_never_runs_and_a_vanished_cluster_fail_the_experiment_with_their_reason()
-> Result<()> {
    let settings = operator::context::Settings {
        cluster_unavailable_timeout: Duration::from_secs(3),
        ..fast_settings()
    };
    let env = Env::start(settings).await?;
    let (pc, tc) = (&env.p, &env.d);
    deploy_nginx_web(tc, "web-hpa", "").await?;
    let ns = env.platform.namespace("se").await?;
    let experiments: Api<ScalingExperiment> = Api::namespaced(pc.clone(), &ns);
    let tests: Api<LoadTest> = Api::namespaced(pc.clone(), &ns);

    // The runner's image cannot be pulled: the load never starts.
    apply_yaml(pc, &experiment("pull"), &ns).await?;
    let lt = wait_for(&tests, "pull-load", "given a runner", |lt| {
        lt.status.as_ref().is_some_and(|s| s.runner.is_some())
    })
    .await?;
    let baseline = experiments.get("pull").await?;
    ensure!(
        phase(&baseline) == Some(ExperimentPhase::Baseline),
        "still Baseline while the runner waits: {:?}",
        phase(&baseline)
    );
    let ready = baseline.status.clone().unwrap_or_default();
    ensure!(
        ready.deployments.first().and_then(|d| d.hpa.as_deref()) == Some("web-hpa"),
        "nginx-web resolved through its HPA web-hpa: {:?}",
        ready.deployments
    );
    let cooldown = ready
        .conditions
        .iter()
        .find(|c| c.type_ == "CooldownSufficient")
        .context("CooldownSufficient")?;
    ensure!(
        cooldown.status == "False"
            && cooldown.message.contains("300s")
            && cooldown.message.contains("spec.cooldownSeconds"),
        "scale-light's 180 s cooldown is shorter than the default 300 s window: {cooldown:?}"
    );
    let runner = lt.status.and_then(|s| s.runner).context("runner")?;
    let pod = scheduled_pod(tc, &runner.namespace, &runner.job).await?;
    kubelet_image_pull_backoff(tc, &pod).await?;
    let s = experiment_failed(
        &experiments,
        "pull",
        ExperimentReason::LoadTestFailed,
        &["never ran", "grafana/k6:1.7.1"],
    )
    .await?;
    ensure!(
        s.load_started_at.is_none() && s.finished_at.is_some(),
        "no load clock: {s:?}"
    );

    // The cluster goes away while the experiment samples its baseline.
    apply_yaml(pc, &experiment("gone"), &ns).await?;
    wait_for(&tests, "gone-load", "created", |_| true).await?;
    Api::<crds::ManagedCluster>::all(pc.clone())
        .delete("dev", &Default::default())
        .await?;
    let s = experiment_failed(
        &experiments,
        "gone",
        ExperimentReason::ClusterUnavailable,
        &["dev", "not connected"],
    )
    .await?;
    ensure!(!s.samples.is_empty(), "the baseline samples are kept");
    Ok(())
}
