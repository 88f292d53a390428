//! The operator's HTTP API against real control planes: data from the watch caches (nodes,
//! pods with kubelet-style statuses, services with endpoints, HPA history), LoadTests
//! created and deleted through it, server-sent events, authentication with real
//! TokenReview and authorization with real SubjectAccessReview, malformed bodies, and
//! `/metrics` checked by promtool.
//!
//! The operator's HTTP API has no watch, so these tests poll it with a deadline.

mod support;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use crds::LoadTest;
use futures::StreamExt;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{Api, PostParams};
use local_control_plane::{ControlPlane, Options, SimNode, apply_yaml};
use serde_json::{Value, json};
use support::*;

/// A client of the operator's API.
struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    fn new(port: u16) -> Self {
        Self {
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> Result<(u16, Value)> {
        let mut req = self
            .client
            .request(method.parse()?, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some((content_type, bytes)) = body {
            req = req
                .header("content-type", content_type)
                .body(bytes.to_vec());
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let text = res.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Result<(u16, Value)> {
        self.call("GET", path, token, None).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Result<(u16, Value)> {
        self.call(
            "POST",
            path,
            token,
            Some(("application/json", body.to_string().as_bytes())),
        )
        .await
    }

    /// Polls `path` until `check` accepts the answer.
    async fn eventually(
        &self,
        path: &str,
        token: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, body) = self.get(path, Some(token)).await?;
            if status == 200 && check(&body) {
                return Ok(body);
            }
            if Instant::now() > deadline {
                bail!("timed out waiting for {what} at {path}; last answer {status}: {body:#}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A platform, a dev cluster whose pods kwok runs, and the operator serving its API.
struct Lab {
    platform: ControlPlane,
    dev: ControlPlane,
    http: Http,
    _operator: Operator,
}

async fn lab() -> Result<Lab> {
    let platform = support::platform().await?;
    let dev = ControlPlane::start(Options::cluster("dev").with_nodes(vec![
        SimNode::control_plane("dev-master", "2", "4Gi"),
        SimNode::worker("dev-worker1", "4", "8Gi"),
    ]))
    .await?;
    let port = free_port()?;
    let operator = Operator::start_on(&platform, fast_settings(), port).await?;
    register(&platform.client().await?, "dev", &dev).await?;
    Ok(Lab {
        platform,
        dev,
        http: Http::new(port),
        _operator: operator,
    })
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
    let token = lab.platform.admin_token().to_owned();
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
    Ok(())
}

async fn service_account_token(
    platform: &ControlPlane,
    namespace: &str,
    name: &str,
) -> Result<String> {
    let client = platform.client().await?;
    let sas: Api<ServiceAccount> = Api::namespaced(client, namespace);
    let sa: ServiceAccount = serde_json::from_value(json!({ "metadata": { "name": name } }))?;
    sas.create(&PostParams::default(), &sa).await?;
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![],
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    let answer = sas
        .create_token_request(name, &PostParams::default(), &request)
        .await?;
    answer.status.map(|s| s.token).context("no token")
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

    let nobody = service_account_token(&lab.platform, &ns, "nobody").await?;
    let (status, answer) = lab.http.post("/api/v1/tests", Some(&nobody), &body).await?;
    ensure!(status == 403, "{status} {answer}");
    ensure!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("may not create loadtests.tartinfra.dev")),
        "{answer}"
    );

    let tester = service_account_token(&lab.platform, &ns, "tester").await?;
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
    // The Role covers its namespace only; the snapshot needs managedclusters.
    let (status, _) = lab
        .http
        .get(&format!("/api/v1/tests?namespace={ns}"), Some(&tester))
        .await?;
    ensure!(status == 200);
    let (status, _) = lab.http.get("/api/v1/tests", Some(&tester)).await?;
    ensure!(status == 403, "listing every namespace needs a ClusterRole");
    let (status, _) = lab.http.get("/api/v1/snapshot", Some(&tester)).await?;
    ensure!(status == 403);
    Ok(())
}

#[tokio::test]
async fn tests_are_created_listed_streamed_deleted_and_exported() -> Result<()> {
    let lab = lab().await?;
    let token = lab.platform.admin_token().to_owned();
    let ns = lab.platform.namespace("flow").await?;

    // Listen to the event stream before creating.
    let events = reqwest::Client::new()
        .get(format!("{}/api/v1/events", lab.http.base))
        .bearer_auth(&token)
        .send()
        .await?;
    ensure!(events.status() == 200, "events: {}", events.status());
    let mut stream = events.bytes_stream();

    let body = json!({ "namespace": ns, "name": "api-made", "spec": { "cluster": "dev", "http": { "targetUrl": "http://web.demo.svc.cluster.local", "vus": 5, "duration": "10s" } } });
    let (status, created) = lab.http.post("/api/v1/tests", Some(&token), &body).await?;
    ensure!(
        status == 201 && created["name"] == "api-made",
        "{status} {created}"
    );
    let (status, conflict) = lab.http.post("/api/v1/tests", Some(&token), &body).await?;
    ensure!(
        status == 409 && conflict["error"]["code"] == "Conflict",
        "{status} {conflict}"
    );

    let seen = tokio::time::timeout(WAIT, async {
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk?));
            if text.contains("event: test") && text.contains("\"name\":\"api-made\"") {
                return anyhow::Ok(text);
            }
        }
        bail!("the event stream ended: {text}")
    })
    .await
    .context("no test event")??;
    ensure!(seen.contains(&format!("\"namespace\":\"{ns}\"")));

    let view = lab
        .http
        .eventually(
            &format!("/api/v1/tests/{ns}/api-made"),
            &token,
            "a runner",
            |t| !t["runner"].is_null(),
        )
        .await?;
    ensure!(
        view["cluster"] == "dev" && view["expectedDurationSeconds"] == 10,
        "{view:#}"
    );
    let (status, list) = lab
        .http
        .get(&format!("/api/v1/tests?namespace={ns}"), Some(&token))
        .await?;
    ensure!(status == 200 && list.as_array().map(Vec::len) == Some(1));

    let (status, deleting) = lab
        .http
        .call(
            "DELETE",
            &format!("/api/v1/tests/{ns}/api-made"),
            Some(&token),
            None,
        )
        .await?;
    ensure!(
        status == 202 && deleting["name"] == "api-made",
        "{status} {deleting}"
    );
    let lts: Api<LoadTest> = Api::namespaced(lab.platform.client().await?, &ns);
    wait_gone(&lts, "api-made").await?;
    // The operator's cache follows the API server's deletion shortly.
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = lab
            .http
            .get(&format!("/api/v1/tests/{ns}/api-made"), Some(&token))
            .await?;
        if status == 404 {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "still {status} after the deletion: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (status, csv) = lab
        .http
        .get("/api/v1/tests/export.csv", Some(&token))
        .await?;
    ensure!(
        status == 200
            && csv
                .as_str()
                .is_some_and(|c| c.starts_with("id,type,scenario,cluster,status,")),
        "{csv}"
    );
    let (status, presets) = lab.http.get("/api/v1/presets", None).await?;
    ensure!(status == 200 && presets.as_array().map(Vec::len) == Some(16));
    let (status, doc) = lab.http.get("/api/v1/openapi.json", None).await?;
    ensure!(status == 200 && doc["openapi"] == "3.1.0");

    // Experiments are real objects too.
    let exp = json!({ "namespace": ns, "spec": { "cluster": "dev", "load": { "preset": "scale-light" } } });
    let (status, created) = lab
        .http
        .post("/api/v1/experiments", Some(&token), &exp)
        .await?;
    ensure!(
        status == 201
            && created["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("scale-light-")),
        "{status} {created}"
    );
    Ok(())
}

/// Bodies that must be refused with a 4xx naming the field (or, for syntax, saying what
/// is wrong), sent to a live operator and API server.
fn malformed() -> Vec<(
    &'static str,
    &'static str,
    String,
    u16,
    Option<&'static str>,
)> {
    let spec = |s: &str| format!(r#"{{"namespace":"default","spec":{s}}}"#);
    vec![
        ("not JSON", "application/json", "{nope".into(), 400, None),
        ("an array", "application/json", "[1,2]".into(), 400, None),
        (
            "wrong media type",
            "text/plain",
            spec(r#"{"cluster":"dev","preset":"light-load"}"#),
            415,
            None,
        ),
        (
            "unknown top-level field",
            "application/json",
            r#"{"spec":{"cluster":"dev","preset":"light-load"},"priority":1}"#.into(),
            400,
            None,
        ),
        (
            "missing spec",
            "application/json",
            r#"{"namespace":"default"}"#.into(),
            400,
            None,
        ),
        (
            "missing cluster",
            "application/json",
            spec(r#"{"preset":"light-load"}"#),
            400,
            Some("spec"),
        ),
        (
            "unknown preset",
            "application/json",
            spec(r#"{"cluster":"dev","preset":"mega-load"}"#),
            400,
            Some("spec.preset"),
        ),
        (
            "VUs as text",
            "application/json",
            spec(r#"{"cluster":"dev","http":{"vus":"many"}}"#),
            400,
            Some("spec.http.vus"),
        ),
        (
            "negative VUs",
            "application/json",
            spec(r#"{"cluster":"dev","http":{"vus":-1}}"#),
            400,
            Some("spec.http.vus"),
        ),
        (
            "too many VUs",
            "application/json",
            spec(r#"{"cluster":"dev","http":{"vus":5000}}"#),
            422,
            Some("spec.http.vus"),
        ),
        (
            "bad duration",
            "application/json",
            spec(r#"{"cluster":"dev","http":{"duration":"10 minutes"}}"#),
            422,
            Some("spec.http.duration"),
        ),
        (
            "bad URL",
            "application/json",
            spec(r#"{"cluster":"dev","http":{"targetUrl":"gopher://x"}}"#),
            422,
            Some("spec.http.targetUrl"),
        ),
        (
            "misspelt http field",
            "application/json",
            spec(r#"{"cluster":"dev","http":{"vuz":5}}"#),
            400,
            Some("spec.http.vuz"),
        ),
        (
            "preset and http",
            "application/json",
            spec(r#"{"cluster":"dev","preset":"light-load","http":{"vus":5}}"#),
            422,
            Some("spec"),
        ),
        (
            "no load at all",
            "application/json",
            spec(r#"{"cluster":"dev"}"#),
            422,
            Some("spec"),
        ),
        (
            "bad cluster name",
            "application/json",
            spec(r#"{"cluster":"Dev Cluster","preset":"light-load"}"#),
            422,
            Some("spec.cluster"),
        ),
        (
            "error rate above 1",
            "application/json",
            spec(r#"{"cluster":"dev","http":{"thresholds":{"errorRate":2}}}"#),
            422,
            Some("spec.http.thresholds.errorRate"),
        ),
        (
            "stress kind",
            "application/json",
            spec(r#"{"cluster":"dev","stress":{"kind":"disk"}}"#),
            400,
            Some("spec.stress.kind"),
        ),
        (
            "vmBytes on CPU",
            "application/json",
            spec(r#"{"cluster":"dev","stress":{"kind":"cpu","vmBytes":"64M"}}"#),
            422,
            Some("spec.stress.vmBytes"),
        ),
        (
            "latest image",
            "application/json",
            spec(r#"{"cluster":"dev","preset":"light-load","image":"grafana/k6:latest"}"#),
            422,
            Some("spec.image"),
        ),
        (
            "header with newline",
            "application/json",
            spec(r#"{"cluster":"dev","http":{"headers":[{"name":"x","value":"a\r\nb: c"}]}}"#),
            422,
            Some("spec.http.headers[0].value"),
        ),
        (
            "bad name",
            "application/json",
            r#"{"name":"Not_OK","spec":{"cluster":"dev","preset":"light-load"}}"#.into(),
            400,
            Some("name"),
        ),
        (
            "empty namespace",
            "application/json",
            r#"{"namespace":"","spec":{"cluster":"dev","preset":"light-load"}}"#.into(),
            400,
            Some("namespace"),
        ),
        (
            "missing namespace",
            "application/json",
            r#"{"namespace":"no-such-ns","spec":{"cluster":"dev","preset":"light-load"}}"#.into(),
            404,
            Some("namespace"),
        ),
        (
            "timeout too small",
            "application/json",
            spec(r#"{"cluster":"dev","preset":"light-load","timeoutSeconds":1}"#),
            422,
            Some("spec.timeoutSeconds"),
        ),
    ]
}

#[tokio::test]
async fn malformed_bodies_get_4xx_naming_the_field() -> Result<()> {
    let lab = lab().await?;
    let token = lab.platform.admin_token().to_owned();
    let cases = malformed();
    ensure!(cases.len() >= 20);
    let mut failures = Vec::new();
    for (what, media, body, want_status, want_field) in &cases {
        let (status, answer) = lab
            .http
            .call(
                "POST",
                "/api/v1/tests",
                Some(&token),
                Some((media, body.as_bytes())),
            )
            .await?;
        let field = answer["error"]["field"].as_str();
        let ok = status == *want_status
            && answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
            && want_field.is_none_or(|f| {
                field.is_some_and(|got| got == f || got.starts_with(&format!("{f}.")))
            });
        if !ok {
            failures.push(format!("{what}: got {status} {answer}"));
        }
    }
    ensure!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    Ok(())
}

#[tokio::test]
async fn promtool_accepts_the_metrics() -> Result<()> {
    let lab = lab().await?;
    let token = lab.platform.admin_token().to_owned();
    let ns = lab.platform.namespace("metrics").await?;
    // Some series of every kind: a LoadTest, a cluster, HPA-less clusters, reconciles.
    let body = json!({ "namespace": ns, "spec": { "cluster": "dev", "preset": "light-load" } });
    let (status, _) = lab.http.post("/api/v1/tests", Some(&token), &body).await?;
    ensure!(status == 201);
    let text = lab
        .http
        .eventually("/metrics", &token, "LoadTest series", |m| {
            m.as_str()
                .is_some_and(|t| t.contains("tart_operator_loadtest_state{"))
        })
        .await?;
    let text = text.as_str().context("text")?.to_owned();
    ensure!(
        text.contains("tart_operator_cluster_ready{cluster=\"dev\"} 1"),
        "{text}"
    );
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
