//! The operator's HTTP API against real control planes: data from the watch caches (nodes,
//! pods with kubelet-style statuses, services with endpoints, HPA history), LoadTests
//! created and deleted through it, server-sent events, authentication with real
//! TokenReview and authorization with real SubjectAccessReview, malformed bodies, and
//! `/metrics` checked by promtool.
//!
//! The operator's HTTP API has no watch, so these tests poll it with a deadline.

#[path = "api/auth.rs"]
mod auth;
mod support;
#[path = "api/writes.rs"]
mod writes;

use anyhow::{Context, Result, ensure};
use crds::LoadTest;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use local_control_plane::{PodLifecycle, apply_yaml};
use serde_json::{Value, json};
use support::*;

/// A platform, a dev cluster whose pods kwok runs, and the operator serving its API.
struct Lab {
    env: Env,
    http: Http,
}

impl std::ops::Deref for Lab {
    type Target = Env;

    fn deref(&self) -> &Env {
        &self.env
    }
}

async fn lab() -> Result<Lab> {
    let dev = target_options("dev").with_pods(PodLifecycle::Simulated);
    let env = Env::with_dev(dev, fast_settings()).await?;
    let http = Http::new(env.port);
    Ok(Lab { env, http })
}

const WORKLOAD: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:1.27-alpine", ports: [{containerPort: 80}], resources: {requests: {cpu: 50m, memory: 64Mi}}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: demo}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 4
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: crashy, namespace: demo}
spec:
  containers: [{name: app, image: "busybox:1.36"}]
"#;

fn find<'a>(list: &'a Value, key: &str, value: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|v| v[key] == value)
}

#[tokio::test]
async fn cluster_data_comes_from_the_caches() -> Result<()> {
    let lab = lab().await?;
    let token = lab.token().to_owned();
    let d = lab.dev.client().await?;
    apply_yaml(&d, WORKLOAD, "demo").await?;

    // Make `crashy` crash-loop, as its kubelet would report it.
    let pods: Api<Pod> = Api::namespaced(d.clone(), "demo");
    wait_for(&pods, "crashy", "Running", |p| {
        p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
    })
    .await?;
    let crashy = pods.get("crashy").await?;
    kubelet_status(
        &d,
        &crashy,
        json!({
            "phase": "Running",
            "conditions": [{ "type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": k8s_openapi::jiff::Timestamp::now().to_string() }],
            "containerStatuses": [{ "name": "app", "image": "busybox:1.36", "imageID": "", "ready": false, "restartCount": 5,
                "state": { "waiting": { "reason": "CrashLoopBackOff", "message": "back-off 2m40s restarting failed container" } },
                "lastState": { "terminated": { "exitCode": 1, "reason": "Error" } } }],
        }),
    )
    .await?;

    let snapshot = lab
        .http
        .eventually("/api/v1/snapshot", &token, "the crash-looping pod", |s| {
            find(&s["clusters"], "name", "dev").is_some_and(|dev| {
                find(&dev["pods"], "name", "crashy")
                    .is_some_and(|p| p["status"] == "CrashLoopBackOff")
                    && dev["pods"]
                        .as_array()
                        .is_some_and(|p| p.iter().filter(|p| p["status"] == "Running").count() >= 2)
            })
        })
        .await?;
    let names: Vec<&str> = snapshot["clusters"]
        .as_array()
        .context("clusters")?
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    ensure!(names == ["platform", "dev"], "{names:?}");
    let dev = find(&snapshot["clusters"], "name", "dev").context("dev")?;
    ensure!(
        dev["tier"] == "dev" && dev["reachable"] == true && dev["phase"] == "Ready",
        "{dev:#}"
    );
    let master = find(&dev["nodes"], "name", "dev-master").context("dev-master")?;
    ensure!(
        master["roles"] == json!(["control-plane"])
            && master["status"] == "Ready"
            && master["cpuCapacityMillis"] == 2000,
        "{master:#}"
    );
    ensure!(
        master["usage"].is_null() && dev["metricsAvailable"] == false,
        "no metrics-server here: usage is unknown, not zero"
    );
    let crashy = find(&dev["pods"], "name", "crashy").context("crashy")?;
    ensure!(
        crashy["restarts"] == 5 && crashy["ready"] == "0/1" && crashy["phase"] == "Running",
        "{crashy:#}"
    );
    let demo = find(&dev["namespaces"], "namespace", "demo").context("demo counts")?;
    ensure!(
        demo["failed"] == 1 && demo["running"].as_u64() >= Some(2),
        "{demo:#}"
    );

    // Services with their EndpointSlice endpoints.
    let services = lab
        .http
        .eventually(
            "/api/v1/clusters/dev/services",
            &token,
            "web's endpoints",
            |s| {
                find(s, "name", "web")
                    .is_some_and(|w| w["endpoints"].as_array().is_some_and(|e| e.len() == 2))
            },
        )
        .await?;
    let web = find(&services, "name", "web").context("web")?;
    ensure!(
        web["type"] == "ClusterIP" && web["ports"][0]["port"] == 80,
        "{web:#}"
    );
    ensure!(
        web["endpoints"].as_array().is_some_and(|e| e.iter().all(
            |e| e["ready"] == true && e["pod"].as_str().is_some_and(|p| p.starts_with("web-"))
        ))
    );

    // HPA points accumulate (one per second in the tests).
    let scaling = lab
        .http
        .eventually(
            "/api/v1/clusters/dev/scaling",
            &token,
            "three HPA points",
            |s| s["points"].as_array().is_some_and(|p| p.len() >= 3),
        )
        .await?;
    let last = scaling["points"]
        .as_array()
        .and_then(|p| p.last())
        .context("points")?;
    let hpa = find(&last["hpas"], "name", "web").context("web HPA")?;
    ensure!(
        hpa["deployment"] == "web"
            && hpa["minReplicas"] == 2
            && hpa["maxReplicas"] == 4
            && hpa["targetCpuPercent"] == 50,
        "{hpa:#}"
    );

    // Pods and single clusters; unknown clusters are 404 with a hint.
    let (status, pods) = lab
        .http
        .get("/api/v1/clusters/dev/pods", Some(&token))
        .await?;
    ensure!(status == 200 && find(&pods, "name", "crashy").is_some());
    let (status, body) = lab
        .http
        .get("/api/v1/clusters/nowhere", Some(&token))
        .await?;
    ensure!(
        status == 404 && body["error"]["code"] == "NotFound",
        "{status} {body}"
    );
    let (status, clusters) = lab.http.get("/api/v1/clusters", Some(&token)).await?;
    let summary = find(&clusters, "name", "dev").context("dev summary")?;
    ensure!(
        status == 200 && summary["nodesReady"] == 2 && summary["nodesTotal"] == 2,
        "{clusters:#}"
    );
    answers_are_built_once_per_change(&lab, &token, &d).await
}

/// A GET of `path` as `token` with `headers`: status, headers and the body, decoded from
/// gzip when it says so.
async fn raw_get(
    lab: &Lab,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>)> {
    use std::io::Read;
    let mut req = reqwest::Client::new()
        .get(format!("{}{path}", lab.http.base))
        .bearer_auth(token);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await?;
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    let bytes = res.bytes().await?.to_vec();
    let body = if headers.get("content-encoding").is_some_and(|e| e == "gzip") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut out)?;
        out
    } else {
        bytes
    };
    Ok((status, headers, body))
}

/// The snapshot and a cluster's answer carry strong ETags: the same answer revalidates to a
/// 304 with no body, a change to the cluster's pods gives a new one; gzip is served to
/// whoever accepts it; `?pods=false` leaves pods out but keeps their counts.
async fn answers_are_built_once_per_change(
    lab: &Lab,
    token: &str,
    dev: &kube::Client,
) -> Result<()> {
    let etag = |h: &reqwest::header::HeaderMap| -> Result<String> {
        Ok(h.get("etag").context("an ETag")?.to_str()?.to_owned())
    };
    for path in ["/api/v1/snapshot", "/api/v1/clusters/dev"] {
        let (status, headers, body) =
            raw_get(lab, path, token, &[("accept-encoding", "gzip")]).await?;
        ensure!(status == 200, "{path}: {status}");
        ensure!(
            headers["content-encoding"] == "gzip"
                && headers["cache-control"] == "private, no-cache",
            "{path}: {headers:?}"
        );
        let tag = etag(&headers)?;
        ensure!(
            tag.ends_with("-gzip\""),
            "{path}: the gzip representation's tag: {tag}"
        );
        let answer: Value = serde_json::from_slice(&body)?;
        ensure!(answer.is_object(), "{path}: {answer}");
        let (status, headers, body) = raw_get(lab, path, token, &[("if-none-match", &tag)]).await?;
        ensure!(
            status == 304 && body.is_empty() && etag(&headers)? == tag.replace("-gzip", ""),
            "{path}: unchanged data revalidates: {status} {headers:?}"
        );
    }

    let (_, headers, _) = raw_get(lab, "/api/v1/snapshot", token, &[]).await?;
    let before = etag(&headers)?;
    apply_yaml(
        dev,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: newcomer, namespace: demo}\nspec:\n  containers: [{name: app, image: \"busybox:1.36\"}]\n",
        "demo",
    )
    .await?;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (status, headers, body) = raw_get(
            lab,
            "/api/v1/snapshot",
            token,
            &[("if-none-match", &before)],
        )
        .await?;
        if status == 200 {
            let answer: Value = serde_json::from_slice(&body)?;
            let dev = find(&answer["clusters"], "name", "dev").context("dev")?;
            ensure!(etag(&headers)? != before, "a new answer has a new tag");
            if find(&dev["pods"], "name", "newcomer").is_some() {
                break;
            }
        } else {
            ensure!(status == 304, "{status}");
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "the new pod never changed the snapshot's ETag"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    let (status, _, body) = raw_get(lab, "/api/v1/snapshot?pods=false", token, &[]).await?;
    let answer: Value = serde_json::from_slice(&body)?;
    let dev = find(&answer["clusters"], "name", "dev").context("dev")?;
    let demo = find(&dev["namespaces"], "namespace", "demo").context("demo counts")?;
    ensure!(
        status == 200
            && answer["podsOmitted"] == true
            && dev["pods"] == json!([])
            && demo["total"].as_u64() >= Some(4)
            && demo["crashLooping"] == 1,
        "without pods, with their counts: {answer:#}"
    );
    let (status, body) = lab
        .http
        .get("/api/v1/snapshot?pods=maybe", Some(token))
        .await?;
    ensure!(
        status == 400 && body["error"]["field"] == "pods",
        "{status} {body}"
    );
    Ok(())
}

#[tokio::test]
async fn tokens_and_rbac_decide_access() -> Result<()> {
    let lab = lab().await?;
    let ns = lab.platform.namespace("team").await?;
    let body = json!({ "namespace": ns, "spec": { "cluster": "dev", "preset": "light-load" } });

    let (status, answer) = lab.http.post("/api/v1/tests", None, &body).await?;
    ensure!(
        status == 401 && answer["error"]["code"] == "Unauthorized",
        "{status} {answer}"
    );
    let (status, _) = lab.http.get("/api/v1/snapshot", None).await?;
    ensure!(status == 401);
    let (status, answer) = lab
        .http
        .get("/api/v1/snapshot", Some("not-a-token"))
        .await?;
    ensure!(
        status == 401
            && answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("not valid")),
        "{answer}"
    );

    let nobody = sa_token(&lab.p, &ns, "nobody", Some(API_AUDIENCE)).await?;
    let (status, answer) = lab.http.post("/api/v1/tests", Some(&nobody), &body).await?;
    ensure!(status == 403, "{status} {answer}");
    ensure!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("may not create loadtests.tartinfra.dev")),
        "{answer}"
    );

    let tester = sa_token(&lab.p, &ns, "tester", Some(API_AUDIENCE)).await?;
    apply_yaml(
        &lab.platform.client().await?,
        &format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: tester, namespace: {ns}}}\nrules:\n\
             - {{apiGroups: [tartinfra.dev], resources: [loadtests], verbs: [get, list, create, delete]}}\n---\n\
             apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: tester, namespace: {ns}}}\n\
             roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: tester}}\n\
             subjects: [{{kind: ServiceAccount, name: tester, namespace: {ns}}}]\n"
        ),
        &ns,
    )
    .await?;
    let (status, created) = lab.http.post("/api/v1/tests", Some(&tester), &body).await?;
    ensure!(status == 201, "{status} {created}");
    let name = created["name"].as_str().context("name")?.to_owned();
    ensure!(
        name.starts_with("light-load-") && created["testType"] == "http",
        "{created}"
    );
    let lts: Api<LoadTest> = Api::namespaced(lab.platform.client().await?, &ns);
    ensure!(
        lts.get_opt(&name).await?.is_some(),
        "the API must create a real LoadTest"
    );
    // The Role covers its namespace only; cluster data needs managedclusters.
    let (status, _) = lab
        .http
        .get(&format!("/api/v1/tests?namespace={ns}"), Some(&tester))
        .await?;
    ensure!(status == 200);
    let (status, _) = lab.http.get("/api/v1/tests", Some(&tester)).await?;
    ensure!(status == 403, "listing every namespace needs a ClusterRole");
    // Without `get managedclusters`, the snapshot holds no cluster at all.
    let (status, snapshot) = lab.http.get("/api/v1/snapshot", Some(&tester)).await?;
    ensure!(
        status == 200 && snapshot["clusters"] == json!([]),
        "{status} {snapshot}"
    );
    Ok(())
}

#[tokio::test]
async fn promtool_accepts_the_metrics() -> Result<()> {
    let lab = lab().await?;
    let token = lab.token().to_owned();
    let ns = lab.platform.namespace("metrics").await?;
    // Some series of every kind: a LoadTest, a cluster, HPA-less clusters, reconciles.
    let body = json!({ "namespace": ns, "spec": { "cluster": "dev", "preset": "light-load" } });
    let (status, _) = lab.http.post("/api/v1/tests", Some(&token), &body).await?;
    ensure!(status == 201);
    // /metrics has its own listener; the API's port does not serve it.
    let (status, _) = lab.http.get("/metrics", None).await?;
    ensure!(status == 404, "/metrics on the API port answered {status}");
    let text = Http::new(lab.operator.metrics_port)
        // The cluster's series follow its ManagedCluster's status, which the controller may
        // write after the LoadTest's: wait for both.
        .eventually(
            "/metrics",
            &token,
            "LoadTest and Ready cluster series",
            |m| {
                m.as_str().is_some_and(|t| {
                    t.contains("tart_operator_loadtest_state{")
                        && t.contains("tart_operator_cluster_ready{cluster=\"dev\"} 1")
                })
            },
        )
        .await?;
    let text = text.as_str().context("text")?.to_owned();
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("promtool is not installed; install Debian's prometheus package (.ci/run does)")?;
    use std::io::Write;
    promtool
        .stdin
        .take()
        .context("stdin")?
        .write_all(text.as_bytes())?;
    let out = promtool.wait_with_output()?;
    ensure!(
        out.status.success(),
        "promtool: {}{}\non:\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
