//! Shared set-up for the operator's tests against real control planes: a platform control
//! plane with the CRDs, target clusters registered as external ManagedClusters, the
//! operator running in-process (so a test can stop and restart it), and waits that watch
//! with a timeout instead of sleeping.

#![allow(dead_code)] // each test binary uses a different part

use std::fmt::Debug;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use crds::{LoadTest, ManagedCluster};
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::wait::await_condition;
use kube::{Client, Resource};
use local_control_plane::{ControlPlane, Options, PodLifecycle, SimNode, apply_yaml};
use operator::context::Settings;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(60);
/// Where kubeconfig Secrets live on the platform.
pub const SECRETS_NS: &str = "tart-system";

/// Settings that make the tests quick: fast rechecks and short grace periods.
pub fn fast_settings() -> Settings {
    Settings {
        cluster_recheck: Duration::from_secs(1),
        unschedulable_grace: Duration::from_secs(2),
        cleanup_timeout: Duration::from_secs(10),
        ..Settings::default()
    }
}

/// A platform control plane with the CRDs installed and the Secrets namespace created.
pub async fn platform() -> Result<ControlPlane> {
    let cp = ControlPlane::start(Options::apiserver("platform")).await?;
    let client = cp.client().await?;
    for (file, _) in crds::all() {
        let text = std::fs::read_to_string(format!(
            "{}/../manifests/crds/{file}",
            env!("CARGO_MANIFEST_DIR")
        ))?;
        apply_yaml(&client, &text, "default").await?;
    }
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": SECRETS_NS } }))?;
    Api::<Namespace>::all(client)
        .create(&PostParams::default(), &ns)
        .await?;
    Ok(cp)
}

/// A target cluster whose pods the test drives, as a kubelet would.
pub async fn target(name: &str) -> Result<ControlPlane> {
    Ok(ControlPlane::start(
        Options::cluster(name)
            .with_nodes(vec![
                SimNode::control_plane(&format!("{name}-master"), "2", "4Gi"),
                SimNode::worker(&format!("{name}-worker1"), "4", "8Gi"),
            ])
            .with_pods(PodLifecycle::Manual),
    )
    .await?)
}

/// Stores `kubeconfig` in a Secret and creates (or replaces) an external ManagedCluster.
pub async fn register_kubeconfig(platform: &Client, name: &str, kubeconfig: &str) -> Result<()> {
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": { "name": format!("{name}-kubeconfig"), "namespace": SECRETS_NS },
        "stringData": { "kubeconfig": kubeconfig },
    }))?;
    Api::<Secret>::namespaced(platform.clone(), SECRETS_NS)
        .patch(
            &format!("{name}-kubeconfig"),
            &PatchParams::apply("test").force(),
            &Patch::Apply(&secret),
        )
        .await?;
    let mc = format!(
        "apiVersion: tartinfra.dev/v1alpha1\nkind: ManagedCluster\nmetadata: {{name: {name}}}\nspec:\n  tier: dev\n  provider: external\n  \
         kubeconfigSecretRef: {{namespace: {SECRETS_NS}, name: {name}-kubeconfig}}\n"
    );
    apply_yaml(platform, &mc, "default").await?;
    Ok(())
}

/// Registers `target` as ManagedCluster `name` and waits until it is Ready.
pub async fn register(platform: &Client, name: &str, target: &ControlPlane) -> Result<()> {
    register_kubeconfig(platform, name, target.kubeconfig()).await?;
    wait_for(
        &Api::<ManagedCluster>::all(platform.clone()),
        name,
        "Ready",
        |mc: &ManagedCluster| {
            mc.status.as_ref().and_then(|s| s.phase)
                == Some(crds::managed_cluster::ClusterPhase::Ready)
        },
    )
    .await?;
    Ok(())
}

/// The operator running in this process.
pub struct Operator {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), operator::Error>>,
}

impl Operator {
    /// Starts the operator against `platform`.
    pub async fn start(platform: &ControlPlane, settings: Settings) -> Result<Self> {
        Self::start_on(platform, settings, 0).await
    }

    /// Starts the operator against `platform`, serving its API on `port` (0: any).
    pub async fn start_on(platform: &ControlPlane, settings: Settings, port: u16) -> Result<Self> {
        Self::start_with(platform, settings, port, Default::default()).await
    }

    /// As [`Operator::start_on`], reaching Hubble Relay at the given addresses by cluster.
    pub async fn start_with(
        platform: &ControlPlane,
        settings: Settings,
        port: u16,
        hubble: std::collections::HashMap<String, String>,
    ) -> Result<Self> {
        let client = platform.client().await?;
        let (stop, stopped) = oneshot::channel();
        let config = operator::Config {
            http_addr: format!("127.0.0.1:{port}").parse()?,
            secrets_namespace: SECRETS_NS.into(),
            settings,
            api: operator::api::ApiConfig {
                platform_name: "platform".into(),
                anonymous_read: false,
                platform_version: None,
                collectors: operator::collectors::CollectorSettings {
                    usage: Duration::from_secs(2),
                    scaling: Duration::from_secs(1),
                    hubble,
                },
            },
            dashboard_dir: None,
        };
        let task = tokio::spawn(operator::run_until(config, client, async {
            let _ = stopped.await;
        }));
        Ok(Self {
            stop: Some(stop),
            task,
        })
    }

    /// Stops it and waits until it has stopped.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .context("operator did not stop")???;
        Ok(())
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits until `cond` holds for the object (watching, with a timeout); on timeout the
/// error shows the object as last seen.
pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    cond: impl Fn(&K) -> bool,
) -> Result<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static + serde::Serialize,
{
    wait_within(api, name, what, WAIT, cond).await
}

/// [`wait_for`] with another timeout.
pub async fn wait_within<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    timeout: Duration,
    cond: impl Fn(&K) -> bool,
) -> Result<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static + serde::Serialize,
{
    let waited = tokio::time::timeout(
        timeout,
        await_condition(api.clone(), name, |obj: Option<&K>| obj.is_some_and(&cond)),
    )
    .await;
    match waited {
        Ok(Ok(Some(obj))) => Ok(obj),
        Ok(Ok(None)) => bail!("{name} disappeared while waiting for {what}"),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => {
            let last = api.get_opt(name).await?;
            let status = last
                .as_ref()
                .map(serde_json::to_value)
                .transpose()?
                .map(|v| v["status"].clone());
            bail!(
                "timed out after {}s waiting for {name} to be {what}; last status: {status:#?}",
                timeout.as_secs()
            )
        }
    }
}

/// Waits until `name` no longer exists.
pub async fn wait_gone<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    tokio::time::timeout(
        WAIT,
        await_condition(api.clone(), name, |obj: Option<&K>| obj.is_none()),
    )
    .await
    .with_context(|| format!("{name} still exists after {}s", WAIT.as_secs()))??;
    Ok(())
}

/// The LoadTest's phase, reason and message in one line, for assertions.
pub fn describe(lt: &LoadTest) -> String {
    let s = lt.status.clone().unwrap_or_default();
    format!(
        "{:?}/{:?}: {}",
        s.phase,
        s.reason,
        s.message.unwrap_or_default()
    )
}

/// Creates a LoadTest from YAML in `namespace` and returns its name.
pub async fn create_loadtest(platform: &Client, namespace: &str, yaml: &str) -> Result<String> {
    let objects = apply_yaml(platform, yaml, namespace).await?;
    objects
        .first()
        .and_then(|o| o.metadata.name.clone())
        .context("no LoadTest created")
}

/// The runner pod of a Job once the scheduler has placed it (watching, with a timeout).
pub async fn scheduled_pod(target: &Client, namespace: &str, job: &str) -> Result<Pod> {
    use futures::TryStreamExt;
    use kube::runtime::{WatchStreamExt, watcher};
    let pods: Api<Pod> = Api::namespaced(target.clone(), namespace);
    let config = watcher::Config::default().labels(&format!("job-name={job}"));
    let mut events = std::pin::pin!(watcher(pods, config).applied_objects());
    let found = tokio::time::timeout(WAIT, async {
        while let Some(pod) = events.try_next().await? {
            if pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_ref())
                .is_some()
            {
                return Ok(pod);
            }
        }
        bail!("the pod watch ended")
    })
    .await;
    found.with_context(|| {
        format!(
            "no scheduled pod for Job {namespace}/{job} after {}s",
            WAIT.as_secs()
        )
    })?
}

/// Writes a pod's status as a kubelet would.
pub async fn kubelet_status(target: &Client, pod: &Pod, status: serde_json::Value) -> Result<()> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    Api::<Pod>::namespaced(target.clone(), &ns)
        .patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({ "status": status })),
        )
        .await?;
    Ok(())
}

fn now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

/// The runner container started.
pub async fn kubelet_running(target: &Client, pod: &Pod) -> Result<()> {
    let image = pod
        .spec
        .as_ref()
        .map(|s| s.containers[0].image.clone())
        .unwrap_or_default();
    kubelet_status(
        target,
        pod,
        serde_json::json!({
            "phase": "Running",
            "startTime": now(),
            "conditions": [{ "type": "Ready", "status": "True", "lastTransitionTime": now() }],
            "containerStatuses": [{ "name": "runner", "image": image, "imageID": "", "ready": true, "restartCount": 0, "started": true,
                                    "state": { "running": { "startedAt": now() } } }],
        }),
    )
    .await
}

/// The runner container ended with `exit_code`, reporting `message`.
pub async fn kubelet_terminated(
    target: &Client,
    pod: &Pod,
    exit_code: i32,
    reason: &str,
    message: &str,
) -> Result<()> {
    let image = pod
        .spec
        .as_ref()
        .map(|s| s.containers[0].image.clone())
        .unwrap_or_default();
    // A container that ran keeps its start time.
    let started = pod
        .status
        .as_ref()
        .and_then(|s| {
            s.container_statuses
                .as_ref()?
                .first()?
                .state
                .as_ref()?
                .running
                .as_ref()?
                .started_at
                .clone()
        })
        .map_or_else(now, |t| t.0.to_string());
    let phase = if exit_code == 0 {
        "Succeeded"
    } else {
        "Failed"
    };
    kubelet_status(
        target,
        pod,
        serde_json::json!({
            "phase": phase,
            "conditions": [{ "type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": now() }],
            "containerStatuses": [{ "name": "runner", "image": image, "imageID": "", "ready": false, "restartCount": 0, "started": false,
                                    "state": { "terminated": { "exitCode": exit_code, "reason": reason, "message": message,
                                                               "startedAt": started, "finishedAt": now() } } }],
        }),
    )
    .await
}

/// The compact k6 result the shipped script writes for a k6 summary data fixture (run in
/// Node, as in the runner-output tests).
pub fn k6_result(fixture: &str) -> Result<String> {
    let dir = env!("CARGO_MANIFEST_DIR");
    let program = format!(
        "import {{ readFileSync }} from 'node:fs';\nimport {{ compactSummary }} from 'file://{dir}/assets/k6/summary.js';\n\
         process.stdout.write(JSON.stringify(compactSummary(JSON.parse(readFileSync('{dir}/tests/fixtures/{fixture}', 'utf8')))));"
    );
    let out = std::process::Command::new("node")
        .args(["--input-type=module", "-e", &program])
        .output()?;
    if !out.status.success() {
        bail!("node: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?)
}
