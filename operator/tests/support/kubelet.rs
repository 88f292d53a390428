//! No kubelet runs in the test clusters: these write a runner pod's status the way a
//! kubelet would, with the termination message the shipped k6 script writes, and
//! [`SummaryStandIn`] serves a kubelet's Summary API with this machine's figures.

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

/// A kubelet's Summary API (`GET /stats/summary`) over HTTPS on 127.0.0.1, answering with
/// this machine's real figures: every interface's byte counters from `/proc/net/dev` and
/// the root file system's size and available bytes (`df`), in the JSON of `k8s.io/kubelet`'s
/// `stats/v1alpha1` types. No real kubelet runs here (it needs a container runtime), so this
/// stands in for one; the API server reaches it through its node proxy.
pub struct SummaryStandIn {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The paths asked for, in order.
    pub paths: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SummaryStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `df`'s size and available bytes of the root file system.
pub fn df_root() -> Result<(u64, u64)> {
    let out = std::process::Command::new("df")
        .args(["-B1", "--output=size,avail", "/"])
        .output()?;
    let text = String::from_utf8(out.stdout)?;
    let line = text.lines().nth(1).context("df printed no figures")?;
    let mut fields = line.split_whitespace().map(str::parse::<u64>);
    Ok((
        fields.next().context("no size")??,
        fields.next().context("no avail")??,
    ))
}

/// This machine's Summary, now.
fn summary(node: &str) -> Result<serde_json::Value> {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let dev = std::fs::read_to_string("/proc/net/dev")?;
    let interfaces: Vec<serde_json::Value> = dev
        .lines()
        .skip(2)
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let f: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            Some(serde_json::json!({
                "name": name.trim(), "rxBytes": f.first()?, "rxErrors": f.get(2)?,
                "txBytes": f.get(8)?, "txErrors": f.get(10)?,
            }))
        })
        .collect();
    let (size, avail) = df_root()?;
    Ok(serde_json::json!({
        "node": {
            "nodeName": node,
            "startTime": now,
            "network": { "time": now, "interfaces": interfaces },
            "fs": { "time": now, "capacityBytes": size, "availableBytes": avail, "usedBytes": size - avail },
        },
        "pods": [],
    }))
}

impl SummaryStandIn {
    /// Serves `node`'s Summary with a self-signed certificate (the API server does not check
    /// kubelets' certificates without `--kubelet-certificate-authority`).
    pub async fn start(node: &str) -> Result<Self> {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let cert = rcgen::generate_simple_self_signed(vec![node.to_owned()])?;
        let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der())
            .map_err(anyhow::Error::msg)?;
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let paths = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (seen, node) = (paths.clone(), node.to_owned());
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, seen, node) = (acceptor.clone(), seen.clone(), node.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut conn = BufReader::new(tls);
                    let mut line = String::new();
                    while conn.read_line(&mut line).await.is_ok_and(|n| n > 0) {
                        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                        loop {
                            let mut header = String::new();
                            if conn.read_line(&mut header).await.map_or(true, |n| n == 0)
                                || header.trim().is_empty()
                            {
                                break;
                            }
                        }
                        seen.lock().expect("paths").push(path.clone());
                        let (status, body) = match (path.as_str(), summary(&node)) {
                            ("/stats/summary", Ok(s)) => ("200 OK", s.to_string()),
                            ("/stats/summary", Err(e)) => {
                                ("500 Internal Server Error", e.to_string())
                            }
                            _ => ("404 Not Found", "404 page not found".to_owned()),
                        };
                        let head = format!(
                            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        );
                        let out = conn.get_mut();
                        if out.write_all(head.as_bytes()).await.is_err()
                            || out.write_all(body.as_bytes()).await.is_err()
                            || out.flush().await.is_err()
                        {
                            return;
                        }
                        line.clear();
                    }
                });
            }
        });
        Ok(Self { port, paths, task })
    }

    /// The paths asked for so far.
    pub fn paths(&self) -> Vec<String> {
        self.paths.lock().map(|p| p.clone()).unwrap_or_default()
    }
}
