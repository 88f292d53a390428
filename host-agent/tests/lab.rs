//! The local lab end to end: `tart-infra lab up --clusters platform,dev` with the real
//! binaries (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok,
//! metrics-server, tart-operator), checked only through the operator's API (including dev's
//! traffic from its simulated Hubble Relay), then `lab status`, `lab down`, and a second
//! `lab up` on the same state directory. What `lab up` refuses before it starts anything is
//! in `lab_preflight.rs`.
//!
//! Needs `tart-operator` next to `tart-infra` (`cargo test --workspace` and `scripts/test`
//! build it) and the Kubernetes binaries (`scripts/build-kube-bins.sh`); fails without them.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use host_agent::lab::https::Client;
use http::Method;
use serde_json::{Value, json};
use support::{cli, repo_file, tart_infra};

mod support;

fn operator_bin() -> PathBuf {
    let bin = Path::new(tart_infra()).with_file_name("tart-operator");
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build -p operator` (cargo test --workspace does)",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running `lab up`; stopped with SIGTERM (as `lab down` would) when dropped.
struct LabUp {
    child: Child,
    stderr: PathBuf,
    ready: Value,
}

impl LabUp {
    fn start(state: &Path, port: u16) -> Self {
        let stderr = state.with_extension("stderr.log");
        let mut child = Command::new(tart_infra())
            .args(["lab", "up", "--clusters", "platform,dev", "--json"])
            .arg("--config")
            .arg(repo_file("config/clusters.yaml"))
            .arg("--state-dir")
            .arg(state)
            .arg(format!("--http-addr=127.0.0.1:{port}"))
            .arg("--operator-bin")
            .arg(operator_bin())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start tart-infra lab up");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(300))
            .unwrap_or_default();
        let ready: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                let _ = child.kill();
                panic!(
                    "lab up printed no JSON ({e}: {line:?}); its stderr:\n{}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                );
            }
        };
        Self {
            child,
            stderr,
            ready,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits for `lab up` to exit by itself (after `lab down`).
    fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "lab up still runs {within:?} after lab down; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `lab up` exits cleanly after `how` (lab down, Ctrl-C) and none of `pids` runs.
    fn assert_stopped(&mut self, how: &str, pids: &[u64]) {
        let exit = self.wait_exit(Duration::from_secs(60));
        assert!(
            exit.success(),
            "lab up after {how}: {exit}; log:\n{}",
            self.log()
        );
        let left: Vec<u64> = pids.iter().copied().filter(|p| pid_alive(*p)).collect();
        assert!(left.is_empty(), "still running after {how}: {left:?}");
    }
}

impl Drop for LabUp {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(60);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

struct Api {
    base: String,
    token: String,
    http: Client,
}

impl Api {
    fn of(ready: &Value) -> Self {
        Self {
            base: ready["url"].as_str().expect("url").to_owned(),
            token: ready["token"].as_str().expect("token").to_owned(),
            // Trusting the lab's own CA, as `curl --cacert` would.
            http: Client::trusting(Path::new(ready["caFile"].as_str().expect("caFile")))
                .expect("a client trusting the lab's CA"),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let (status, answer) = self
            .http
            .send(
                method.clone(),
                &format!("{}{path}", self.base),
                Some(&self.token),
                body,
                Duration::from_secs(30),
            )
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let answer: Value = serde_json::from_slice(&answer).expect("JSON body");
        (status, answer)
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert!((200..300).contains(&status), "GET {path}: {status} {body}");
        body
    }

    async fn post(&self, path: &str, body: &Value) -> Value {
        let (status, body) = self.call(Method::POST, path, Some(body)).await;
        assert_eq!(status, 201, "POST {path}: {body}");
        body
    }

    /// Polls `path` until `done` holds, failing with the last answer after `within`.
    async fn until(&self, path: &str, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let body = self.get(path).await;
            if done(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{path} did not reach the expected state within {within:?}; last answer: {body}"
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

/// The pids `lab status --json` lists.
fn component_pids(status: &Value) -> Vec<u64> {
    status["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|c| c["pid"].as_u64())
        .collect()
}

fn pid_alive(pid: u64) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn running_demo_pods(pods: &Value) -> Vec<String> {
    pods.as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["namespace"] == "demo" && p["phase"] == "Running")
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

fn edges(traffic: &Value) -> Vec<Value> {
    traffic["edges"].as_array().cloned().unwrap_or_default()
}

/// Flows from the kubelet (Cilium's reserved host identity) to demo pods.
fn probes_of_demo_pods(traffic: &Value) -> Vec<Value> {
    traffic["flows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| {
            f["source"]["namespace"] == "cluster"
                && f["source"]["service"] == "host"
                && f["destination"]["namespace"] == "demo"
                && f["destination"]["pod"].is_string()
        })
        .cloned()
        .collect()
}

fn count_prefix(names: &[String], deployment: &str) -> usize {
    // Pod names are <deployment>-<replicaset hash>-<suffix>.
    names
        .iter()
        .filter(|n| {
            n.strip_prefix(deployment)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|rest| rest.matches('-').count() == 1)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_cluster_lab_runs_a_scaling_experiment_through_the_real_hpa() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("lab");
    let port = free_port();
    let mut lab = LabUp::start(&state, port);
    let api = Api::of(&lab.ready);
    assert_eq!(lab.ready["url"], format!("https://127.0.0.1:{port}"));
    // Served over HTTPS only to clients that trust the lab's CA.
    let other_ca = local_control_plane::write_serving(&dir.path().join("other"), "other", "x", &[])
        .expect("another CA");
    let refused = Client::trusting(&other_ca.ca_cert)
        .expect("client")
        .send(
            Method::GET,
            &format!("https://127.0.0.1:{port}/healthz"),
            None,
            None,
            Duration::from_secs(10),
        )
        .await;
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("UnknownIssuer")),
        "a client trusting another CA: {refused:?}"
    );
    let log = lab.log();
    assert!(
        log.contains("cluster dev: demo workloads applied"),
        "progress lines on stderr:\n{log}"
    );

    // Both clusters Ready, with the configured nodes.
    let clusters = api.get("/api/v1/clusters").await;
    let phases: Vec<(String, String)> = clusters
        .as_array()
        .expect("list")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("").to_owned(),
                c["phase"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        phases.contains(&("platform".into(), "Ready".into())),
        "{phases:?}"
    );
    assert!(
        phases.contains(&("dev".into(), "Ready".into())),
        "{phases:?}"
    );
    let dev = api.get("/api/v1/clusters/dev").await;
    // (name, roles, CPU millicores, memory bytes)
    type NodeFacts = (String, Vec<Value>, Option<u64>, Option<u64>);
    let mut nodes: Vec<NodeFacts> = dev["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap_or("").to_owned(),
                n["roles"].as_array().cloned().unwrap_or_default(),
                n["cpuCapacityMillis"].as_u64(),
                n["memoryCapacityBytes"].as_u64(),
            )
        })
        .collect();
    nodes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        nodes,
        vec![
            (
                "dev-master".into(),
                vec![json!("control-plane")],
                Some(2000),
                Some(4096 << 20)
            ),
            (
                "dev-worker1".into(),
                vec![json!("worker")],
                Some(2000),
                Some(8192 << 20)
            ),
        ],
        "{dev}"
    );
    let platform = api.get("/api/v1/clusters/platform").await;
    assert_eq!(
        platform["nodes"].as_array().map(Vec::len),
        Some(3),
        "{platform}"
    );

    // The demo workloads run (gitops/addons/demo-apps): the HPAs bring nginx-web to 3 and
    // httpbin to 2 (the Deployments leave the count to them); the rest run one each.
    let wanted = [
        ("nginx-web", 3),
        ("httpbin", 2),
        ("httpbin-v2", 1),
        ("redis", 1),
        ("postgres", 1),
        ("rabbitmq", 1),
        ("keycloak", 1),
    ];
    let all_up = |pods: &Value| {
        let running = running_demo_pods(pods);
        wanted.iter().all(|(d, n)| count_prefix(&running, d) == *n)
    };
    let pods = api
        .until("/api/v1/clusters/dev/pods", Duration::from_secs(90), all_up)
        .await;
    let running = running_demo_pods(&pods);
    for (deployment, n) in wanted {
        assert_eq!(
            count_prefix(&running, deployment),
            n,
            "{deployment}: {running:?}"
        );
    }

    // dev's simulated Hubble Relay: the operator streams its flows, starting with the
    // kubelet's probes of the demo pods (from Cilium's reserved host identity).
    let relay = lab.ready["simulatedHubbleRelays"]["dev"]
        .as_str()
        .unwrap_or_else(|| panic!("no simulated relay for dev: {}", lab.ready))
        .to_owned();
    assert!(relay.starts_with("127.0.0.1:"), "{relay}");
    assert!(
        lab.ready["simulatedHubbleRelays"]["platform"].is_string(),
        "{}",
        lab.ready
    );
    let traffic = api
        .until(
            "/api/v1/clusters/dev/traffic",
            Duration::from_secs(60),
            |t| t["available"] == true && !probes_of_demo_pods(t).is_empty(),
        )
        .await;
    assert_eq!(traffic["source"], format!("address {relay}"), "{traffic}");
    // Each probe comes from the kubelet of the node its pod runs on (mostly dev-worker1; the
    // demo pods may fall back to dev-master, which they tolerate).
    let node_of: std::collections::BTreeMap<&str, &str> = pods
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["name"].as_str()?, p["node"].as_str()?)))
        .collect();
    let probed = probes_of_demo_pods(&traffic);
    assert!(
        probed.iter().all(|f| f["verdict"] == "FORWARDED"
            && f["protocol"] == "TCP"
            && f["destination"]["pod"]
                .as_str()
                .and_then(|p| node_of.get(p))
                .copied()
                == f["node"].as_str()),
        "{probed:?} {node_of:?}"
    );
    assert!(
        edges(&traffic)
            .iter()
            .any(|e| e["source"] == "cluster/host" && e["destinationNamespace"] == "demo"),
        "{traffic}"
    );

    // scale-light: the simulated load makes the real HPA controller scale nginx-web.
    let created = api
        .post(
            "/api/v1/experiments",
            &json!({
                "namespace": "default",
                "spec": { "cluster": "dev", "load": { "preset": "scale-light" },
                          "endCooldownWhenBaselineRestored": true },
            }),
        )
        .await;
    let name = created["name"].as_str().expect("name").to_owned();
    let path = format!("/api/v1/experiments/default/{name}");
    // While it runs, the runner's simulated requests show as an edge from the runner to
    // nginx-web (the operator keeps the last 200 flows, so the edge is looked for during the
    // run, not only at its end).
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut load_edge = None;
    let done = loop {
        let se = api.get(&path).await;
        if load_edge.is_none() {
            let traffic = api.get("/api/v1/clusters/dev/traffic").await;
            load_edge = edges(&traffic).into_iter().find(|e| {
                e["source"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("tart-loadtest/lt-"))
                    && e["destination"] == "demo/nginx-web"
            });
        }
        if matches!(se["phase"].as_str(), Some("Completed" | "Failed")) {
            break se;
        }
        assert!(
            Instant::now() < deadline,
            "the experiment did not end within 600 s: {se}"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    assert_eq!(done["phase"], "Completed", "{done}");
    let load_edge = load_edge.expect("an edge from the runner to demo/nginx-web during the load");
    assert!(
        load_edge["forwardedCount"].as_u64().is_some_and(|n| n > 0)
            && load_edge["protocols"] == json!(["TCP/HTTP"]),
        "{load_edge}"
    );
    let kpis = &done["kpis"];
    assert!(
        kpis["scaleUpLatencySeconds"]
            .as_f64()
            .is_some_and(|s| s > 0.0),
        "{kpis}"
    );
    assert!(
        kpis["peakReplicas"].as_i64().is_some_and(|p| p > 3),
        "nginx-web scaled above its 3 baseline replicas: {kpis}"
    );
    assert!(kpis["scaleDownStartSeconds"].as_f64().is_some(), "{kpis}");
    assert_eq!(
        done["deployments"][0]["scaleUpLatencySeconds"], kpis["scaleUpLatencySeconds"],
        "nginx-web, the only target, has the experiment's scale-up latency: {done}"
    );
    assert!(kpis["avgRpsPerPod"].is_null(), "no invented RPS: {kpis}");
    let events = done["events"].as_array().expect("events");
    assert!(
        events.iter().any(|e| e["phase"] == "Load"),
        "replica changes during the load: {events:?}"
    );

    // The child LoadTest ends Completed, not Failed: nothing failed, nothing was measured,
    // and it says why (no invented numbers).
    let child = done["loadTest"].as_str().expect("child LoadTest");
    let test = api.get(&format!("/api/v1/tests/default/{child}")).await;
    assert_eq!(test["phase"], "Completed", "{test}");
    assert_eq!(test["reason"], "RunnerSimulated", "{test}");
    assert!(
        test["message"]
            .as_str()
            .is_some_and(|m| m.contains("simulated node")),
        "{test}"
    );
    assert!(test["results"].is_null(), "{test}");

    // lab status sees every process; lab down stops them all and lab up exits cleanly.
    let status = cli(&["status", "--json"], &state);
    assert!(status.status.success(), "{status:?}");
    let status: Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    assert_eq!(status["running"], true, "{status}");
    let pids = component_pids(&status);
    // lab, 2 x (etcd, apiserver, controller-manager, scheduler, kwok), dev's metrics-server
    // (platform's addons do not ask for one), operator. The simulated Hubble Relays run
    // inside lab up and are listed apart, without a pid.
    assert_eq!(pids.len(), 13, "{status}");
    let mut simulated: Vec<(String, bool)> = status["simulated"]
        .as_array()
        .expect("simulated")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or("").to_owned(),
                s["running"] == true && s["simulated"] == true,
            )
        })
        .collect();
    simulated.sort();
    assert_eq!(
        simulated,
        [
            ("dev/hubble-sim".into(), true),
            ("platform/hubble-sim".into(), true)
        ],
        "{status}"
    );
    let down = cli(&["down"], &state);
    assert!(down.status.success(), "{down:?}");
    lab.assert_stopped("lab down", &pids);
    let status = cli(&["status"], &state);
    assert!(!status.status.success(), "status of a stopped lab exits 1");

    // A second lab up reuses the state: same kubeconfig, the finished experiment is still there.
    let kubeconfig = lab.ready["kubeconfigs"]["dev"].clone();
    drop(lab);
    let lab = LabUp::start(&state, port);
    assert_eq!(lab.ready["kubeconfigs"]["dev"], kubeconfig);
    let api = Api::of(&lab.ready);
    let again = api.get(&path).await;
    assert_eq!(again["phase"], "Completed", "{again}");

    // Ctrl-C (SIGINT to lab up alone, as a terminal sends it) stops everything too.
    let mut lab = lab;
    let status = cli(&["status", "--json"], &state);
    let status: Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    let pids = component_pids(&status);
    assert_eq!(pids.len(), 13, "{status}");
    let interrupted = Command::new("kill")
        .args(["-INT", &lab.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(interrupted.success());
    lab.assert_stopped("Ctrl-C", &pids);
    drop(lab);
    assert!(
        !state.join("lab.json").exists(),
        "the record goes with the lab"
    );
}
