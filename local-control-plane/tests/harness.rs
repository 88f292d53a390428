//! The harness itself, against the real binaries: versions, isolation between control
//! planes, a working cluster tier (scheduler, controller-manager, kwok), API server restarts,
//! and teardown on drop and when the owning process is killed.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams};
use kube::runtime::wait::{await_condition, conditions};
use local_control_plane::{ControlPlane, Options, SimNode, apply_yaml};

const WAIT: Duration = Duration::from_secs(90);

fn pid_alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; count it as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

async fn wait_until(what: &str, mut check: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    while !check() {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test]
async fn the_apiserver_reports_the_built_version() -> Result<()> {
    let cp = local_control_plane::shared_apiserver().await?;
    let client = cp.client().await?;
    let version = client.apiserver_version().await?;
    ensure!(
        version.git_version.starts_with("v1.3"),
        "unexpected version {}",
        version.git_version
    );
    ensure!(
        version.minor.parse::<u32>().unwrap_or(0) >= 34,
        "Kubernetes 1.34+ expected, got {}",
        version.git_version
    );
    ensure!(
        cp.url().starts_with("https://127.0.0.1:"),
        "not loopback: {}",
        cp.url()
    );
    let ns = cp.namespace("version").await?;
    Api::<Namespace>::all(client).get(&ns).await?;
    Ok(())
}

#[tokio::test]
async fn two_control_planes_run_side_by_side_independently() -> Result<()> {
    let (a, b) = tokio::join!(
        ControlPlane::start(Options::apiserver("side-a")),
        ControlPlane::start(Options::apiserver("side-b"))
    );
    let (a, b) = (a?, b?);
    ensure!(a.url() != b.url());
    let ns = a.namespace("only-in-a").await?;
    let in_b = Api::<Namespace>::all(b.client().await?)
        .get_opt(&ns)
        .await?;
    ensure!(
        in_b.is_none(),
        "namespace {ns} of cluster a appeared in cluster b"
    );
    // Each kubeconfig works on its own (what the operator gets in a Secret).
    let kubeconfig = kube::config::Kubeconfig::from_yaml(b.kubeconfig())?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    let client = kube::Client::try_from(config)?;
    ensure!(
        client
            .apiserver_version()
            .await?
            .git_version
            .starts_with('v')
    );
    Ok(())
}

fn all_pods_running(pods: &[Pod]) -> bool {
    !pods.is_empty()
        && pods
            .iter()
            .all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
}

#[tokio::test]
async fn the_cluster_tier_schedules_deployments_and_completes_jobs() -> Result<()> {
    let cp = ControlPlane::start(Options::cluster("tier").with_nodes(vec![
        SimNode::control_plane("tier-master", "2", "4Gi"),
        SimNode::worker("tier-worker1", "4", "8Gi"),
    ]))
    .await?;
    let client = cp.client().await?;
    let ns = cp.namespace("workloads").await?;
    apply_yaml(
        &client,
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:1.27-alpine", resources: {requests: {cpu: 50m, memory: 64Mi}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: once, image: "busybox:1.36"}
"#,
        &ns,
    )
    .await?;

    let available = |want: i32| {
        move |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref())
                .and_then(|s| s.available_replicas)
                == Some(want)
        }
    };
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    tokio::time::timeout(WAIT, await_condition(deployments, "web", available(3)))
        .await
        .context("deployment web never had 3 available replicas")??;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let web = pods
        .list(&ListParams::default().labels("app=web"))
        .await?
        .items;
    ensure!(all_pods_running(&web), "web pods not all Running");
    for pod in &web {
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
        ensure!(
            node == Some("tier-worker1"),
            "pod scheduled on {node:?}; the tainted control plane must stay empty"
        );
    }

    let jobs: Api<Job> = Api::namespaced(client, &ns);
    tokio::time::timeout(
        WAIT,
        await_condition(jobs, "once", conditions::is_job_completed()),
    )
    .await
    .context("job once never completed")??;
    Ok(())
}

#[tokio::test]
async fn metrics_server_serves_simulated_usage_and_a_real_hpa_scales_on_it() -> Result<()> {
    let cp = ControlPlane::start(Options::cluster("hpa").with_metrics_server()).await?;
    let client = cp.client().await?;
    let ns = cp.namespace("hpa").await?;
    // 250m used of 100m requested: 250% against a 50% target, so the HPA wants the maximum.
    apply_yaml(
        &client,
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: busy}
spec:
  replicas: 1
  selector: {matchLabels: {app: busy}}
  template:
    metadata:
      labels: {app: busy}
      annotations: {kwok.x-k8s.io/usage-cpu: 250m}
    spec:
      containers:
      - {name: busy, image: "nginx:1.27-alpine", resources: {requests: {cpu: 100m}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: busy}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: busy}
  minReplicas: 1
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
"#,
        &ns,
    )
    .await?;
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), &ns);
    let scaled = |h: Option<&HorizontalPodAutoscaler>| {
        h.and_then(|h| h.status.as_ref())
            .is_some_and(|s| s.current_replicas == Some(4) && s.current_metrics.is_some())
    };
    tokio::time::timeout(
        Duration::from_secs(180),
        await_condition(hpas.clone(), "busy", scaled),
    )
    .await
    .with_context(|| {
        format!(
            "the HPA never scaled busy to 4 replicas; see {}/metrics-server.log",
            cp.dir().display()
        )
    })??;
    let hpa = hpas.get("busy").await?;
    let cpu = hpa
        .status
        .and_then(|s| s.current_metrics)
        .and_then(|m| m.into_iter().find_map(|m| m.resource))
        .and_then(|r| r.current.average_utilization);
    ensure!(
        cpu.is_some_and(|c| (200..=300).contains(&c)),
        "the HPA should see about 250% CPU, saw {cpu:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_restarted_apiserver_keeps_its_data() -> Result<()> {
    let cp = ControlPlane::start(Options::apiserver("restart")).await?;
    let ns = cp.namespace("kept").await?;
    cp.stop_apiserver()?;
    let client = cp.client().await?;
    ensure!(
        client.apiserver_version().await.is_err(),
        "the API server still answers after stop"
    );
    cp.start_apiserver().await?;
    let client = cp.client().await?;
    Api::<Namespace>::all(client).get(&ns).await?;
    Ok(())
}

#[tokio::test]
async fn dropping_a_control_plane_stops_its_processes_and_removes_its_files() -> Result<()> {
    let cp = ControlPlane::start(Options::apiserver("drop")).await?;
    let pids: Vec<u32> = cp.pids().into_iter().map(|(_, pid)| pid).collect();
    let dir = cp.dir().to_path_buf();
    ensure!(
        pids.len() == 2 && pids.iter().all(|p| pid_alive(*p)),
        "expected etcd and kube-apiserver running: {pids:?}"
    );
    drop(cp);
    ensure!(
        pids.iter().all(|p| !pid_alive(*p)),
        "processes survived drop: {pids:?}"
    );
    ensure!(!dir.exists(), "{} survived drop", dir.display());
    Ok(())
}

const CHILD_ENV: &str = "CONTROLPLANE_TEST_CHILD";

/// Runs in two roles. As the parent it re-runs this test binary as a child, which starts a
/// control plane, prints its pids and directory, and waits; the parent SIGKILLs the child
/// (no destructors run) and checks that the watchdog removed every process and file.
#[tokio::test]
async fn killing_the_owning_process_leaves_nothing_behind() -> Result<()> {
    if std::env::var_os(CHILD_ENV).is_some() {
        let cp = ControlPlane::start(Options::apiserver("orphan")).await?;
        let pids: Vec<String> = cp.pids().iter().map(|(_, p)| p.to_string()).collect();
        println!("PIDS {} DIR {}", pids.join(","), cp.dir().display());
        tokio::time::sleep(Duration::from_secs(600)).await;
        bail!("the parent should have killed this child");
    }
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args([
            "--exact",
            "killing_the_owning_process_leaves_nothing_behind",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("child stdout")?;
    let line = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.starts_with("PIDS "))
    })
    .await?
    .context("child exited without starting a control plane")?;
    let (pids, dir) = line
        .strip_prefix("PIDS ")
        .and_then(|l| l.split_once(" DIR "))
        .context("malformed child output")?;
    let pids: Vec<u32> = pids.split(',').map(str::parse).collect::<Result<_, _>>()?;
    ensure!(pids.iter().all(|p| pid_alive(*p)));
    child.kill()?;
    child.wait()?;
    wait_until("the watchdog to kill the orphaned control plane", || {
        pids.iter().all(|p| !pid_alive(*p))
    })
    .await?;
    let dir = std::path::PathBuf::from(dir);
    wait_until("the watchdog to remove the work directory", || {
        !dir.exists()
    })
    .await?;
    Ok(())
}
