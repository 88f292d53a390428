//! The demo addons (`gitops/addons/demo-apps`, `network-policies`, `istio`, `jenkins`) hold
//! what the original intended and not its bugs. Pure checks on the files as committed (the
//! server-side dry run in `dry_run.rs` checks that the API server accepts them):
//! - every PDB lets a drain evict a pod at the app's minimum replicas, and the pod has a node
//!   to go to while dev's one worker drains;
//! - the network policies and the mesh let exactly the intended flows through, with the mesh
//!   off, on, and half way, including the operator's real runner pods (built by the
//!   operator's own code) by namespace labels and pod labels;
//! - the Istio gateway splits httpbin like the mesh route;
//! - every credential the apps read is generated, and the generator's script does what it
//!   says (run under a POSIX shell with a fake kubectl);
//! - every image is pinned; the Jenkinsfile matches the repository.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use conformance::disruption::disruptions_allowed;
use conformance::documents::{self, Document};
use conformance::policy::{Peer, Pod, Policies, Request, Verdict};
use conformance::repo;
use crds::LoadTestSpec;
use crds::load_test::LoadTestPreset;
use host_agent::lab::demo_credentials;
use serde_json::{Value, json};

fn value(doc: &Document) -> Result<Value> {
    Ok(serde_json::to_value(&doc.object)?)
}

fn of_kind<'a>(docs: &'a [Document], kind: &str) -> Vec<&'a Document> {
    docs.iter().filter(|d| d.kind() == kind).collect()
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect()
}

/// Whether `selector` (matchLabels only, as our PDBs use) selects `pod_labels`.
fn match_labels(selector: &Value, pod_labels: &BTreeMap<String, String>) -> Result<bool> {
    ensure!(
        selector.get("matchExpressions").is_none(),
        "PDB selectors use matchLabels only"
    );
    Ok(labels(&selector["matchLabels"])
        .iter()
        .all(|(k, v)| pod_labels.get(k) == Some(v)))
}

/// A Deployment of demo-apps: name, pod template, and the replicas it runs at least.
struct Workload {
    name: String,
    template: Value,
    min_replicas: i32,
}

fn workloads(docs: &[Document]) -> Result<Vec<Workload>> {
    let hpas: Vec<Value> = of_kind(docs, "HorizontalPodAutoscaler")
        .into_iter()
        .map(value)
        .collect::<Result<_>>()?;
    let mut out = Vec::new();
    for d in of_kind(docs, "Deployment") {
        let v = value(d)?;
        let name = d.name().to_owned();
        let hpa = hpas.iter().find(|h| {
            h["spec"]["scaleTargetRef"]["kind"] == "Deployment"
                && h["spec"]["scaleTargetRef"]["name"] == name.as_str()
        });
        let min_replicas = match hpa {
            Some(h) => {
                // ArgoCD and the HPA would fight over a replica count in Git.
                ensure!(
                    v["spec"].get("replicas").is_none(),
                    "{d}: the HPA owns the replica count; remove spec.replicas"
                );
                h["spec"]["minReplicas"].as_i64().unwrap_or(1)
            }
            None => v["spec"]["replicas"].as_i64().unwrap_or(1),
        };
        out.push(Workload {
            name,
            template: v["spec"]["template"].clone(),
            min_replicas: i32::try_from(min_replicas)?,
        });
    }
    Ok(out)
}

#[test]
fn every_pdb_leaves_an_eviction_at_the_apps_minimum_replicas_and_a_node_to_go_to() -> Result<()> {
    let docs = documents::addon("demo-apps")?;
    let pdbs: Vec<(String, Value)> = of_kind(&docs, "PodDisruptionBudget")
        .into_iter()
        .map(|d| Ok((d.to_string(), value(d)?)))
        .collect::<Result<_>>()?;
    let apps = workloads(&docs)?;
    ensure!(
        apps.len() == 7,
        "7 Deployments (httpbin v1 and v2), found {}",
        apps.len()
    );
    let mut used = BTreeSet::new();
    for w in &apps {
        let pod_labels = labels(&w.template["metadata"]["labels"]);
        let mut covering = Vec::new();
        for (name, pdb) in &pdbs {
            if match_labels(&pdb["spec"]["selector"], &pod_labels)? {
                covering.push((name, pdb));
            }
        }
        ensure!(
            covering.len() == 1,
            "Deployment {}: {} PodDisruptionBudgets select its pods, expected 1",
            w.name,
            covering.len()
        );
        let (name, pdb) = covering[0];
        used.insert(name.clone());
        let allowed =
            disruptions_allowed(&pdb["spec"], w.min_replicas).map_err(anyhow::Error::msg)?;
        ensure!(
            allowed >= 1,
            "{name}: at {} replica(s) of {} it allows {allowed} evictions, so a drain blocks",
            w.min_replicas,
            w.name
        );
        ensure!(
            pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow",
            "{name}: a pod that is not Ready must never hold a drain up"
        );
        // dev has one worker: an evicted pod needs another node, the control plane, until the
        // worker is back; it prefers workers otherwise.
        let spec = &w.template["spec"];
        let tolerates = spec["tolerations"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| {
                t["key"] == "node-role.kubernetes.io/control-plane"
                    && t["operator"] == "Exists"
                    && t["effect"] == "NoSchedule"
            });
        ensure!(
            tolerates,
            "Deployment {}: must tolerate the control-plane taint",
            w.name
        );
        let prefers_workers =
            spec["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| {
                    p["preference"]["matchExpressions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|e| {
                            e["key"] == "node-role.kubernetes.io/control-plane"
                                && e["operator"] == "DoesNotExist"
                        })
                });
        ensure!(
            prefers_workers,
            "Deployment {}: must prefer workers",
            w.name
        );
    }
    let unused: Vec<&String> = pdbs
        .iter()
        .map(|(n, _)| n)
        .filter(|n| !used.contains(*n))
        .collect();
    ensure!(
        unused.is_empty(),
        "PDBs that select no Deployment: {unused:?}"
    );
    Ok(())
}

/// The cluster the flows are checked in.
struct Cluster {
    policies: Policies,
    apps: BTreeMap<String, Pod>,
    job: Pod,
    runner: Pod,
}

impl Cluster {
    fn app(&self, name: &str) -> Peer {
        Peer::Pod(self.apps[name].clone())
    }
}

/// How far the mesh is rolled out.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mesh {
    Off,
    On,
    /// nginx-web has its sidecar, httpbin not yet.
    Partial,
}

/// The operator's runner pod for a LoadTest, as its own code builds it: the Job's pod
/// labels, in the runner namespace with the labels the operator applies.
fn runner_pod(runner_namespace: Option<&str>) -> Result<Pod> {
    let (names, objects) = support::runner_objects(
        "policy-check",
        LoadTestSpec {
            preset: Some(LoadTestPreset::LightLoad),
            runner_namespace: runner_namespace.map(Into::into),
            ..LoadTestSpec::on("dev".into())
        },
        1,
    )?;
    let job = serde_json::to_value(&objects.job)?;
    let namespace = serde_json::to_value(objects.namespace.context("the runner namespace")?)?;
    let pod_labels = labels(&job["spec"]["template"]["metadata"]["labels"]);
    ensure!(
        job["spec"]["template"]["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false",
        "the README says runners have no sidecar; the operator changed that"
    );
    Ok(Pod {
        namespace: names.namespace.clone(),
        labels: pod_labels,
        namespace_labels: labels(&namespace["metadata"]["labels"]),
        service_account: "default".into(),
        meshed: false,
    })
}

fn cluster(mesh: Mesh) -> Result<Cluster> {
    let mut docs = documents::addon("network-policies")?;
    docs.extend(documents::addon("istio")?);
    let values: Vec<(String, Value)> = docs
        .iter()
        .map(|d| Ok((d.kind().to_owned(), value(d)?)))
        .collect::<Result<_>>()?;
    let policies = Policies::from_objects(values.iter().map(|(k, v)| (k.as_str(), v)))?;
    let demo = documents::addon("demo-apps")?;
    let mut apps = BTreeMap::new();
    for w in workloads(&demo)? {
        let spec = &w.template["spec"];
        let mut pod = Pod {
            namespace: "demo".into(),
            labels: labels(&w.template["metadata"]["labels"]),
            namespace_labels: BTreeMap::new(),
            service_account: spec["serviceAccountName"]
                .as_str()
                .unwrap_or("default")
                .to_owned(),
            meshed: false,
        };
        let sidecar = match mesh {
            Mesh::Off => false,
            Mesh::On => true,
            Mesh::Partial => w.name != "httpbin" && w.name != "httpbin-v2",
        };
        if sidecar {
            pod = pod.with_sidecar();
        }
        apps.insert(w.name, pod);
    }
    let job = of_kind(&demo, "Job")
        .first()
        .map(|d| value(d))
        .transpose()?
        .context("the credentials Job")?;
    let job = Pod {
        namespace: "demo".into(),
        labels: labels(&job["spec"]["template"]["metadata"]["labels"]),
        namespace_labels: BTreeMap::new(),
        service_account: "demo-credentials".into(),
        meshed: false,
    };
    Ok(Cluster {
        policies,
        apps,
        job,
        runner: runner_pod(None)?,
    })
}

/// The ingress gateway's pod (the gateway chart's labels; it speaks mTLS to the apps).
fn gateway() -> Peer {
    Peer::Pod(
        Pod::new(
            "istio-ingress",
            &[("app", "istio-ingressgateway"), ("istio", "ingressgateway")],
            "istio-ingressgateway",
        )
        .as_gateway(),
    )
}

fn dns() -> Peer {
    Peer::Pod(Pod::new(
        "kube-system",
        &[("k8s-app", "kube-dns")],
        "coredns",
    ))
}

fn istiod() -> Peer {
    Peer::Pod(Pod::new(
        "istio-system",
        &[("app", "istiod"), ("istio", "pilot")],
        "istiod",
    ))
}

/// Whether a pod with a sidecar receives (STRICT mTLS refuses senders without one).
fn has_sidecar(peer: &Peer) -> bool {
    matches!(peer, Peer::Pod(p) if p.labels.contains_key(conformance::policy::TLS_MODE_LABEL))
}

fn sends_mtls(peer: &Peer) -> bool {
    matches!(peer, Peer::Pod(p) if p.meshed)
}

/// Checks each flow: `intended` is what the policies mean to allow; a receiver with a sidecar
/// also refuses a sender without one (STRICT mTLS). Collects every mismatch.
fn expect(c: &Cluster, mesh: Mesh, flows: &[(&str, Peer, Peer, Request, bool)]) -> Vec<String> {
    let mut wrong = Vec::new();
    for (what, src, dst, req, intended) in flows {
        let mtls_ok = sends_mtls(src) || !has_sidecar(dst);
        let allowed = *intended && mtls_ok;
        let verdict = c.policies.check(src, dst, req);
        if (verdict == Verdict::Allowed) != allowed {
            wrong.push(format!(
                "mesh {mesh:?}: {what}: expected {}, got {verdict:?}",
                if allowed { "allowed" } else { "denied" }
            ));
        }
    }
    wrong
}

#[test]
fn the_policies_let_the_intended_flows_through_and_nothing_else() -> Result<()> {
    let (get, post) = (|p| Request::http(p, "GET"), |p| Request::http(p, "POST"));
    let tcp = Request::tcp;
    let mut wrong = Vec::new();
    for mesh in [Mesh::Off, Mesh::On, Mesh::Partial] {
        let c = cluster(mesh)?;
        let a = |n: &str| c.app(n);
        let runner = Peer::Pod(c.runner.clone());
        let job = Peer::Pod(c.job.clone());
        let mut flows = vec![
            // The original's graph, both halves of each edge.
            (
                "world -> nginx-web",
                Peer::World,
                a("nginx-web"),
                get(8080),
                true,
            ),
            (
                "nginx-web GET httpbin",
                a("nginx-web"),
                a("httpbin"),
                get(8080),
                true,
            ),
            (
                "nginx-web GET httpbin-v2",
                a("nginx-web"),
                a("httpbin-v2"),
                get(8080),
                true,
            ),
            (
                "nginx-web POST httpbin (GET-only)",
                a("nginx-web"),
                a("httpbin"),
                post(8080),
                false,
            ),
            (
                "nginx-web POST httpbin-v2 (GET-only)",
                a("nginx-web"),
                a("httpbin-v2"),
                post(8080),
                false,
            ),
            (
                "nginx-web -> redis",
                a("nginx-web"),
                a("redis"),
                tcp(6379),
                true,
            ),
            (
                "httpbin -> postgres",
                a("httpbin"),
                a("postgres"),
                tcp(5432),
                true,
            ),
            (
                "httpbin -> rabbitmq",
                a("httpbin"),
                a("rabbitmq"),
                tcp(5672),
                true,
            ),
            (
                "httpbin -> keycloak",
                a("httpbin"),
                a("keycloak"),
                get(8080),
                true,
            ),
            (
                "keycloak -> postgres",
                a("keycloak"),
                a("postgres"),
                tcp(5432),
                true,
            ),
            (
                "world -> keycloak",
                Peer::World,
                a("keycloak"),
                get(8080),
                true,
            ),
            // Nothing else.
            (
                "world -> httpbin",
                Peer::World,
                a("httpbin"),
                get(8080),
                false,
            ),
            ("world -> redis", Peer::World, a("redis"), tcp(6379), false),
            (
                "world -> postgres",
                Peer::World,
                a("postgres"),
                tcp(5432),
                false,
            ),
            (
                "nginx-web -> postgres",
                a("nginx-web"),
                a("postgres"),
                tcp(5432),
                false,
            ),
            (
                "nginx-web -> keycloak management",
                a("nginx-web"),
                a("keycloak"),
                get(9000),
                false,
            ),
            (
                "httpbin -> redis",
                a("httpbin"),
                a("redis"),
                tcp(6379),
                false,
            ),
            (
                "redis -> httpbin",
                a("redis"),
                a("httpbin"),
                get(8080),
                false,
            ),
            (
                "postgres -> world",
                a("postgres"),
                Peer::World,
                tcp(443),
                false,
            ),
            (
                "nginx-web -> rabbitmq management",
                a("nginx-web"),
                a("rabbitmq"),
                get(15672),
                false,
            ),
            (
                "keycloak -> world",
                a("keycloak"),
                Peer::World,
                tcp(443),
                false,
            ),
            // DNS for everyone, kube-dns only.
            (
                "postgres -> kube-dns",
                a("postgres"),
                dns(),
                Request::udp(53),
                true,
            ),
            (
                "keycloak -> kube-dns over TCP",
                a("keycloak"),
                dns(),
                tcp(53),
                true,
            ),
            (
                "httpbin -> kube-dns 5353",
                a("httpbin"),
                dns(),
                Request::udp(5353),
                false,
            ),
            // The credentials Job reaches the API server and nothing else.
            (
                "credentials Job -> API server",
                job.clone(),
                Peer::ApiServer,
                tcp(6443),
                true,
            ),
            (
                "credentials Job -> world",
                job.clone(),
                Peer::World,
                tcp(443),
                false,
            ),
            (
                "credentials Job -> postgres",
                job.clone(),
                a("postgres"),
                tcp(5432),
                false,
            ),
            // Default deny covers every pod in demo, also those no other policy names.
            (
                "world -> the credentials Job",
                Peer::World,
                job.clone(),
                tcp(8080),
                false,
            ),
            (
                "world -> a pod no policy names",
                Peer::World,
                Peer::Pod(Pod::new("demo", &[("app", "debug")], "default")),
                tcp(8080),
                false,
            ),
            // The original's allow-sre-tests: a label on a demo pod opens nothing.
            (
                "a demo pod labelled sre-test -> httpbin",
                Peer::Pod(Pod::new(
                    "demo",
                    &[("sre-test", "true"), ("app", "k6")],
                    "default",
                )),
                a("httpbin"),
                get(8080),
                false,
            ),
            // The operator's runners: the HTTP targets, httpbin with GET only. Where a target
            // has a sidecar, STRICT mTLS refuses them (they go through the gateway).
            (
                "runner -> nginx-web",
                runner.clone(),
                a("nginx-web"),
                get(8080),
                true,
            ),
            (
                "runner GET httpbin",
                runner.clone(),
                a("httpbin"),
                get(8080),
                true,
            ),
            (
                "runner POST httpbin",
                runner.clone(),
                a("httpbin"),
                post(8080),
                false,
            ),
            (
                "runner -> keycloak",
                runner.clone(),
                a("keycloak"),
                get(8080),
                true,
            ),
            (
                "runner -> redis",
                runner.clone(),
                a("redis"),
                tcp(6379),
                false,
            ),
            (
                "runner -> postgres",
                runner,
                a("postgres"),
                tcp(5432),
                false,
            ),
            // Runners in a namespace of the LoadTest's choosing, labelled by the operator.
            (
                "runner in a custom namespace GET httpbin",
                Peer::Pod(runner_pod(Some("team-a-runs"))?),
                a("httpbin"),
                get(8080),
                true,
            ),
        ];
        // Runner labels alone, the runner namespace alone, are not enough.
        let mut in_demo = c.runner.clone();
        in_demo.namespace = "demo".into();
        in_demo.namespace_labels.clear();
        let mut unlabelled_ns = c.runner.clone();
        unlabelled_ns.namespace = "scratch".into();
        unlabelled_ns.namespace_labels.clear();
        let other_in_runner_ns = Pod {
            labels: BTreeMap::from([("app".into(), "debug".into())]),
            ..c.runner.clone()
        };
        flows.extend([
            (
                "runner labels in demo -> httpbin",
                Peer::Pod(in_demo),
                a("httpbin"),
                get(8080),
                false,
            ),
            (
                "runner labels, unlabelled namespace -> httpbin",
                Peer::Pod(unlabelled_ns),
                a("httpbin"),
                get(8080),
                false,
            ),
            (
                "another pod in the runner namespace -> httpbin",
                Peer::Pod(other_in_runner_ns),
                a("httpbin"),
                get(8080),
                false,
            ),
        ]);
        if mesh == Mesh::Off {
            flows.push((
                "no sidecar -> istiod",
                a("nginx-web"),
                istiod(),
                tcp(15012),
                false,
            ));
        } else {
            let postgres_meshed = has_sidecar(&a("postgres"));
            flows.extend([
                // The gateway: the way in for clients without a sidecar, runners included.
                (
                    "gateway GET httpbin",
                    gateway(),
                    a("httpbin"),
                    get(8080),
                    true,
                ),
                (
                    "gateway POST httpbin",
                    gateway(),
                    a("httpbin"),
                    post(8080),
                    false,
                ),
                (
                    "gateway -> nginx-web",
                    gateway(),
                    a("nginx-web"),
                    get(8080),
                    true,
                ),
                ("gateway -> redis", gateway(), a("redis"), tcp(6379), false),
                (
                    "postgres -> istiod",
                    a("postgres"),
                    istiod(),
                    tcp(15012),
                    postgres_meshed,
                ),
                (
                    "nginx-web -> istiod",
                    a("nginx-web"),
                    istiod(),
                    tcp(15012),
                    true,
                ),
                (
                    "nginx-web -> istiod plaintext xDS",
                    a("nginx-web"),
                    istiod(),
                    tcp(15010),
                    false,
                ),
            ]);
        }
        wrong.extend(expect(&c, mesh, &flows));
    }
    ensure!(
        wrong.is_empty(),
        "{} flows are wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    Ok(())
}

#[test]
fn no_l7_rule_selects_a_pod_with_a_sidecar_and_every_app_has_an_ingress_rule() -> Result<()> {
    for mesh in [Mesh::Off, Mesh::On] {
        let c = cluster(mesh)?;
        for p in &c.policies.network {
            ensure!(
                !p.has_http_rules() || p.only_without_sidecar(),
                "{}: an HTTP rule must select pods without an Istio sidecar only \
                 (Cilium cannot read mTLS); give pods with one an L4 twin",
                p.name
            );
        }
        for (name, pod) in &c.apps {
            ensure!(
                c.policies
                    .network
                    .iter()
                    .any(|p| p.has_ingress() && p.selects(pod)),
                "mesh {mesh:?}: no ingress rule selects {name}, so nothing can reach it"
            );
        }
    }
    Ok(())
}

/// A VirtualService's routes: for each rule, (name, header match, prefix, rewrite,
/// [(subset, weight)]).
type Route = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Vec<(String, i64)>,
);

fn routes(vs: &Value) -> Vec<Route> {
    vs["spec"]["http"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let m = &r["match"][0];
            let dest = r["route"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| {
                    (
                        d["destination"]["subset"].as_str().unwrap_or("").to_owned(),
                        d["weight"].as_i64().unwrap_or(100),
                    )
                })
                .collect();
            (
                r["name"].as_str().unwrap_or("").to_owned(),
                m["headers"]["x-canary"]["exact"]
                    .as_str()
                    .map(str::to_owned),
                m["uri"]["prefix"].as_str().map(str::to_owned),
                r["rewrite"]["uri"].as_str().map(str::to_owned),
                dest,
            )
        })
        .collect()
}

#[test]
fn the_gateway_splits_httpbin_like_the_mesh_route() -> Result<()> {
    let docs = documents::addon("istio")?;
    let find = |name: &str| -> Result<Value> {
        value(
            docs.iter()
                .find(|d| d.kind() == "VirtualService" && d.name() == name)
                .with_context(|| format!("VirtualService {name}"))?,
        )
    };
    let mesh = routes(&find("httpbin-routing")?);
    let canary = vec![("v2".to_owned(), 100)];
    let split = vec![("v1".to_owned(), 80), ("v2".to_owned(), 20)];
    ensure!(
        mesh == [
            (
                "canary-header".into(),
                Some("true".into()),
                None,
                None,
                canary.clone()
            ),
            ("weighted".into(), None, None, None, split.clone()),
        ],
        "httpbin-routing: {mesh:?}"
    );
    let gw = routes(&find("nginx-gateway-routing")?);
    let api: Vec<_> = gw
        .iter()
        .filter(|r| r.2.as_deref() == Some("/api/"))
        .collect();
    ensure!(api.len() == 2, "two /api/ routes: {gw:?}");
    for r in &api {
        ensure!(
            r.3.as_deref() == Some("/"),
            "{}: /api/ must be rewritten to /",
            r.0
        );
    }
    ensure!(
        api[0].1.as_deref() == Some("true") && api[0].4 == canary,
        "{:?}",
        api[0]
    );
    ensure!(api[1].1.is_none() && api[1].4 == split, "{:?}", api[1]);
    let dr = value(
        docs.iter()
            .find(|d| d.kind() == "DestinationRule")
            .context("DestinationRule")?,
    )?;
    let outlier = &dr["spec"]["trafficPolicy"]["outlierDetection"];
    ensure!(
        *outlier
            == json!({"consecutive5xxErrors": 3, "interval": "30s", "baseEjectionTime": "30s", "maxEjectionPercent": 50}),
        "the original's circuit breaker: {outlier}"
    );
    Ok(())
}

fn containers(template: &Value) -> Vec<&Value> {
    ["containers", "initContainers"]
        .iter()
        .flat_map(|k| template["spec"][k].as_array().into_iter().flatten())
        .collect()
}

#[test]
fn every_secret_the_apps_read_is_generated_and_none_is_in_git() -> Result<()> {
    let all = documents::addons()?;
    let committed: Vec<String> = of_kind(&all, "Secret")
        .iter()
        .map(|d| d.to_string())
        .collect();
    ensure!(committed.is_empty(), "Secrets in Git: {committed:?}");
    let docs = documents::addon("demo-apps")?;
    let hooks: Vec<Value> = docs
        .iter()
        .filter(|d| demo_credentials::is_hook(&d.object))
        .map(value)
        .collect::<Result<_>>()?;
    ensure!(hooks.len() == 1, "one hook, the credentials Job");
    let job = docs
        .iter()
        .find(|d| demo_credentials::is_hook(&d.object))
        .context("hook")?;
    let ensured = demo_credentials::ensured(demo_credentials::job_script(&job.object)?)?;
    let made: BTreeSet<(String, String)> = ensured
        .iter()
        .flat_map(|e| e.keys.keys().map(|k| (e.name.clone(), k.clone())))
        .collect();
    let mut read = BTreeSet::new();
    for d in of_kind(&docs, "Deployment") {
        let v = value(d)?;
        for c in containers(&v["spec"]["template"]) {
            for env in c["env"].as_array().into_iter().flatten() {
                let name = env["name"].as_str().unwrap_or_default();
                if let Some(r) = env["valueFrom"].get("secretKeyRef") {
                    read.insert((
                        r["name"].as_str().unwrap_or_default().to_owned(),
                        r["key"].as_str().unwrap_or_default().to_owned(),
                    ));
                } else if name.contains("PASS") || name.contains("SECRET") {
                    bail!("{d}: {name} is set in Git; read it from a generated Secret");
                }
            }
        }
    }
    let missing: Vec<_> = read.difference(&made).collect();
    ensure!(missing.is_empty(), "read but never generated: {missing:?}");
    let unused: Vec<_> = made.difference(&read).collect();
    ensure!(unused.is_empty(), "generated but never read: {unused:?}");
    // Passwords are random; only user and database names are fixed.
    for e in &ensured {
        ensure!(
            e.keys.get("password") == Some(&demo_credentials::Value::Random),
            "{}: the password must be generated",
            e.name
        );
    }
    Ok(())
}

/// Runs the credentials Job's script under a POSIX shell (busybox's if installed, as in the
/// Job) with a fake kubectl that keeps Secrets as directories.
fn run_script(script: &str, state: &Path, work: &Path, fail: bool) -> Result<std::process::Output> {
    let bin = state.join("bin");
    std::fs::create_dir_all(&bin)?;
    let kubectl = bin.join("kubectl");
    // `kubectl create secret generic NAME --namespace NS --from-file=DIR`, as the script calls it.
    std::fs::write(
        &kubectl,
        r#"#!/bin/sh
[ -n "${FAKE_KUBECTL_FAIL:-}" ] && { echo 'error: failed to create secret: connection refused' >&2; exit 1; }
[ "$1 $2 $3 $5" = "create secret generic --namespace" ] || { echo "unexpected: $*" >&2; exit 2; }
name=$4; dir=${7#--from-file=}
[ -d "$SECRETS/$name" ] && { echo "error: failed to create secret secrets \"$name\" already exists" >&2; exit 1; }
mkdir -p "$SECRETS/$name" && cp "$dir"/* "$SECRETS/$name/"
"#,
    )?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&kubectl, std::fs::Permissions::from_mode(0o755))?;
    let (shell, args): (&str, &[&str]) = if Command::new("busybox").arg("true").output().is_ok() {
        ("busybox", &["sh", "-c"])
    } else {
        ("sh", &["-c"])
    };
    let mut cmd = Command::new(shell);
    cmd.args(args)
        .arg(script)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("NAMESPACE", "demo")
        .env("WORK", work)
        .env("SECRETS", state.join("secrets"));
    if fail {
        cmd.env("FAKE_KUBECTL_FAIL", "1");
    }
    Ok(cmd.output()?)
}

#[test]
fn the_credentials_script_creates_missing_secrets_and_keeps_existing_ones() -> Result<()> {
    let docs = documents::addon("demo-apps")?;
    let job = docs
        .iter()
        .find(|d| demo_credentials::is_hook(&d.object))
        .context("the credentials Job")?;
    let script = demo_credentials::job_script(&job.object)?;
    let dir = tempfile::tempdir()?;
    let (state, work) = (dir.path().join("state"), dir.path().join("work"));
    std::fs::create_dir_all(&work)?;
    let read = |secret: &str, key: &str| {
        std::fs::read_to_string(state.join("secrets").join(secret).join(key))
            .with_context(|| format!("{secret}/{key}"))
    };

    let first = run_script(script, &state, &work, false)?;
    let out = String::from_utf8_lossy(&first.stdout);
    ensure!(
        first.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    for name in [
        "postgres-credentials",
        "rabbitmq-credentials",
        "keycloak-admin",
    ] {
        ensure!(
            out.contains(&format!("created Secret demo/{name}")),
            "{out}"
        );
    }
    ensure!(read("postgres-credentials", "username")? == "demo");
    ensure!(read("postgres-credentials", "database")? == "demo");
    ensure!(read("keycloak-admin", "username")? == "admin");
    let passwords: Vec<String> = [
        "postgres-credentials",
        "rabbitmq-credentials",
        "keycloak-admin",
    ]
    .iter()
    .map(|s| read(s, "password"))
    .collect::<Result<_>>()?;
    for p in &passwords {
        ensure!(
            p.len() == demo_credentials::PASSWORD_LEN
                && p.chars().all(|c| c.is_ascii_alphanumeric()),
            "password {p:?}"
        );
    }
    ensure!(
        passwords.iter().collect::<BTreeSet<_>>().len() == 3,
        "three different passwords"
    );
    ensure!(
        std::fs::read_dir(&work)?.next().is_none(),
        "the passwords are removed from the work directory"
    );
    for p in &passwords {
        ensure!(!out.contains(p.as_str()), "a password was printed");
    }

    // A second run (every sync) keeps them.
    let second = run_script(script, &state, &work, false)?;
    let out = String::from_utf8_lossy(&second.stdout);
    ensure!(
        second.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&second.stderr)
    );
    ensure!(out.matches("exists: kept").count() == 3, "{out}");
    ensure!(
        read("keycloak-admin", "password")? == passwords[2],
        "rotated under a running app"
    );

    // Any other failure fails the Job, with kubectl's message.
    let failed = run_script(script, &dir.path().join("other"), &work, true)?;
    ensure!(
        !failed.status.success(),
        "a failing kubectl must fail the Job"
    );
    ensure!(String::from_utf8_lossy(&failed.stderr).contains("connection refused"));
    Ok(())
}

/// Whether an image reference is pinned: a tag other than latest, or a digest.
fn pinned(image: &str) -> bool {
    let last = image.rsplit('/').next().unwrap_or(image);
    image.contains("@sha256:") || (last.contains(':') && !image.ends_with(":latest"))
}

#[test]
fn every_image_is_pinned_and_every_workload_is_limited() -> Result<()> {
    ensure!(pinned("redis:7.4-alpine") && pinned("registry.k8s.io/kubectl:v1.33.3"));
    ensure!(!pinned("nginx") && !pinned("grafana/k6:latest") && !pinned("localhost:5000/x"));
    let all = documents::addons()?;
    let mut bad = Vec::new();
    for d in &all {
        let v = value(d)?;
        let template = match d.kind() {
            "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => &v["spec"]["template"],
            _ => continue,
        };
        for c in containers(template) {
            let image = c["image"].as_str().unwrap_or_default();
            if !pinned(image) {
                bad.push(format!("{d}: image {image} is not pinned"));
            }
            let limits = &c["resources"]["limits"];
            if limits["cpu"].is_null() || limits["memory"].is_null() {
                bad.push(format!(
                    "{d}: container {} has no CPU or memory limit",
                    c["name"]
                ));
            }
            if c["securityContext"]["allowPrivilegeEscalation"] != false
                || c["securityContext"]["capabilities"]["drop"] != json!(["ALL"])
            {
                bad.push(format!(
                    "{d}: container {} may escalate or keeps capabilities",
                    c["name"]
                ));
            }
        }
        if template["spec"]["securityContext"]["runAsNonRoot"] != true {
            bad.push(format!("{d}: pods must run as non-root"));
        }
    }
    ensure!(bad.is_empty(), "{}", bad.join("\n"));
    Ok(())
}

#[test]
fn the_jenkinsfile_has_the_originals_stages_and_matches_the_repository() -> Result<()> {
    let text = std::fs::read_to_string(repo().join("gitops/addons/jenkins/Jenkinsfile"))?;
    let stages: Vec<&str> = text
        .match_indices("stage('")
        .filter_map(|(i, _)| text[i + 7..].split('\'').next())
        .collect();
    ensure!(
        stages
            == [
                "Validate Manifests",
                "Security Scan",
                "Deploy to Dev",
                "Wait for Rollouts",
                "Health Check",
                "Integration Test",
                "Smoke Test"
            ],
        "the original's seven stages, in order: {stages:?}"
    );
    ensure!(
        text.contains("-X POST http://httpbin.demo.svc.cluster.local/post")
            && text.contains("403)"),
        "the smoke test expects the L7 rule to refuse a POST with 403"
    );
    let code: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect();
    for secret in ["demo123", "admin:admin", "password=", "PASSWORD="] {
        ensure!(
            !code.iter().any(|l| l.contains(secret)),
            "a credential in the Jenkinsfile: {secret}"
        );
    }
    // The directories and Deployments it names exist.
    let env = |name: &str| -> Result<String> {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} = '")))
            .with_context(|| format!("environment {name}"))?;
        Ok(line.split('\'').nth(1).unwrap_or_default().to_owned())
    };
    for dir in env("MANIFESTS")?.split_whitespace() {
        ensure!(
            repo().join(dir).is_dir(),
            "MANIFESTS names {dir}, which does not exist"
        );
    }
    let mut named: Vec<String> = env("DEPLOYMENTS")?
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let mut shipped: Vec<String> = workloads(&documents::addon("demo-apps")?)?
        .into_iter()
        .map(|w| w.name)
        .collect();
    named.sort();
    shipped.sort();
    ensure!(
        named == shipped,
        "DEPLOYMENTS {named:?} vs gitops/addons/demo-apps {shipped:?}"
    );
    // The agent pod parses as a Pod with pinned images, non-root.
    let start = text.find("yaml \"\"\"").context("the agent pod's yaml")? + 8;
    let end = start
        + text[start..]
            .find("\"\"\"")
            .context("end of the agent pod's yaml")?;
    let pod_yaml = text[start..end].replace(
        "${params.AGENT_SERVICE_ACCOUNT ?: 'jenkins-demo-pipeline'}",
        "jenkins-demo-pipeline",
    );
    ensure!(
        !pod_yaml.contains("${"),
        "an unreplaced Groovy expression in the pod"
    );
    let pod: k8s_openapi::api::core::v1::Pod = serde_yaml::from_str(&pod_yaml)?;
    let spec = pod.spec.context("spec")?;
    ensure!(spec.security_context.and_then(|s| s.run_as_non_root) == Some(true));
    for c in &spec.containers {
        ensure!(
            pinned(c.image.as_deref().unwrap_or_default()),
            "{}: image not pinned",
            c.name
        );
    }
    Ok(())
}
