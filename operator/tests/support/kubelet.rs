//! No kubelet runs in the test clusters: these write a runner pod's status the way a
//! kubelet would, with the termination message the shipped k6 script writes.

use anyhow::{Context as _, Result, bail};
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};

use super::WAIT;

/// The runner pod of a Job once the scheduler has placed it (watching, with a timeout).
pub async fn scheduled_pod(target: &Client, namespace: &str, job: &str) -> Result<Pod> {
    let mut pods = scheduled_pods(target, namespace, job, 1).await?;
    pods.pop().context("no pod")
}

/// The `n` pods of Job `job` once the scheduler has placed them all (watching, with a
/// timeout), by name.
pub async fn scheduled_pods(
    target: &Client,
    namespace: &str,
    job: &str,
    n: usize,
) -> Result<Vec<Pod>> {
    use futures::TryStreamExt;
    use kube::runtime::{WatchStreamExt, watcher};
    let pods: Api<Pod> = Api::namespaced(target.clone(), namespace);
    let config = watcher::Config::default().labels(&format!("job-name={job}"));
    let mut events = std::pin::pin!(watcher(pods, config).applied_objects());
    let found = tokio::time::timeout(WAIT, async {
        let mut placed = std::collections::BTreeMap::new();
        while let Some(pod) = events.try_next().await? {
            if pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_ref())
                .is_some()
            {
                placed.insert(pod.metadata.name.clone().unwrap_or_default(), pod);
            }
            if placed.len() == n {
                return Ok(placed.into_values().collect());
            }
        }
        bail!("the pod watch ended")
    })
    .await;
    found.with_context(|| {
        format!(
            "{n} scheduled pod(s) of Job {namespace}/{job} not seen after {}s",
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

fn runner_image(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.containers.first()?.image.clone())
        .unwrap_or_default()
}

/// The runner container started.
pub async fn kubelet_running(target: &Client, pod: &Pod) -> Result<()> {
    kubelet_status(
        target,
        pod,
        serde_json::json!({
            "phase": "Running",
            "startTime": now(),
            "conditions": [{ "type": "Ready", "status": "True", "lastTransitionTime": now() }],
            "containerStatuses": [{ "name": "runner", "image": runner_image(pod), "imageID": "", "ready": true, "restartCount": 0, "started": true,
                                    "state": { "running": { "startedAt": now() } } }],
        }),
    )
    .await
}

/// The runner's image cannot be pulled: the container waits in ImagePullBackOff.
pub async fn kubelet_image_pull_backoff(target: &Client, pod: &Pod) -> Result<()> {
    let image = runner_image(pod);
    kubelet_status(
        target,
        pod,
        serde_json::json!({
            "phase": "Pending",
            "containerStatuses": [{ "name": "runner", "image": image, "imageID": "", "ready": false, "restartCount": 0,
                "state": { "waiting": { "reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{image}\"") } } }],
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
            "containerStatuses": [{ "name": "runner", "image": runner_image(pod), "imageID": "", "ready": false, "restartCount": 0, "started": false,
                                    "state": { "terminated": { "exitCode": exit_code, "reason": reason, "message": message,
                                                               "startedAt": started, "finishedAt": now() } } }],
        }),
    )
    .await
}

/// The k6 runner completed with the results of `fixtures/k6-summary-passed.json`.
pub async fn kubelet_k6_passed(target: &Client, pod: &Pod) -> Result<()> {
    let message = k6_result("k6-summary-passed.json")?;
    kubelet_terminated(target, pod, 0, "Completed", &message).await
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
