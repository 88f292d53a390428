//! The lab's simulated Hubble flows (pure). A lab cluster has no Cilium, so the simulated
//! Hubble Relay ([`super::hubble`]) shows the traffic the lab itself plays, built from the
//! cluster's objects as the load simulator last saw them ([`Observed`]):
//!
//! - **Probes.** The kubelet probes every Running pod's readiness and liveness probes that
//!   name a port (HTTP, TCP or gRPC; exec probes use no network) once per `periodSeconds`
//!   (default 10): a TCP flow from Cilium's reserved identity `host` (1) to the pod's
//!   resolved port, FORWARDED, observed on the pod's node. kwok marks the pods Ready as if
//!   these probes passed. Startup probes are left out (they stop once a container started).
//! - **Load.** While a k6 runner runs, its requests go to the ready pods behind the Service
//!   each of its URLs names, as in the load model ([`super::load_model`]): the same runners,
//!   parameters, VUs over time, Services and ready pods. A flow is an HTTP request (L7, the
//!   runner's method, the URL, status 200; latency left at 0, nothing measured it) from the
//!   runner pod to one backend pod (round robin) on the Service's target port, observed on
//!   the backend's node. The flows are a *sample*: [`FLOWS_PER_VU_SECOND`] per VU, at most
//!   [`MAX_LOAD_FLOWS_PER_SECOND`] per cluster, shared by the runners by VUs, so the
//!   operator's 200-flow window still shows the probes beside the load.
//! - **No backend.** A URL whose Service exists, has a cluster IP and has no ready pod gives
//!   DROPPED flows to that cluster IP (reserved identity `world`, as Hubble shows an address
//!   that is no endpoint) with drop reason SERVICE_BACKEND_NOT_FOUND (158), which is what
//!   Cilium's kube-proxy replacement reports for a Service without backends. URLs naming no
//!   Service of the cluster give no flows (the DNS lookup would fail first; the lab has no
//!   DNS server to show that).
//!
//! Security identities are a stand-in for Cilium's allocation: a number in Cilium's
//! cluster-local range, equal for pods with the same namespace and identity labels.

use std::collections::{BTreeMap, HashMap};

use hubble_api as pb;
use k8s_openapi::api::core::v1::{Container, Pod, Probe, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::load_model;
use super::simulator::{self, Observed, RunningRunner};

/// Cilium's reserved identity of the node itself (the kubelet).
pub const HOST_IDENTITY: u32 = 1;
/// Cilium's reserved identity of anything outside the cluster's endpoints.
pub const WORLD_IDENTITY: u32 = 2;
/// Cilium's drop reason "Service backend not found".
pub const SERVICE_BACKEND_NOT_FOUND: i32 = 158;
/// Sampled load flows per virtual user per second.
pub const FLOWS_PER_VU_SECOND: f64 = 0.5;
/// At most this many load flows per second per cluster.
pub const MAX_LOAD_FLOWS_PER_SECOND: f64 = 15.0;
/// The kubelet's default probe period.
const DEFAULT_PERIOD_SECONDS: i32 = 10;
/// Cilium's cluster-local identities.
const IDENTITY_RANGE: (u32, u32) = (256, 65535);
/// Hubble's L7 flow type of a request.
const L7_REQUEST: u32 = 1;
/// The longest gap one step fills; after a stall the flows resume instead of bursting.
const MAX_STEP_MS: i64 = 5_000;

/// Labels that do not make a pod's identity (Cilium leaves these out by default).
fn identity_label(key: &str) -> bool {
    !matches!(
        key,
        "pod-template-hash"
            | "pod-template-generation"
            | "controller-revision-hash"
            | "controller-uid"
            | "job-name"
    ) && ![
        "batch.kubernetes.io/",
        "statefulset.kubernetes.io/",
        "apps.kubernetes.io/",
    ]
    .iter()
    .any(|p| key.starts_with(p))
}

/// FNV-1a: stable across runs and Rust versions, unlike std's hasher.
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The security identity of a pod with these labels in this namespace.
pub fn identity(namespace: &str, labels: &BTreeMap<String, String>) -> u32 {
    let pairs: Vec<String> = labels
        .iter()
        .filter(|(k, _)| identity_label(k))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut parts = vec![namespace];
    parts.extend(pairs.iter().map(String::as_str));
    let (min, max) = IDENTITY_RANGE;
    min + (fnv(&parts) % u64::from(max - min + 1)) as u32
}

/// The workload Cilium names for a pod, as `(kind, name)`: a ReplicaSet's Deployment, else
/// the controlling owner.
pub fn workload(pod: &Pod) -> Option<(String, String)> {
    let owner = pod
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true))?;
    if owner.kind == "ReplicaSet"
        && let Some(hash) = pod.labels().get("pod-template-hash")
        && let Some(deployment) = owner.name.strip_suffix(&format!("-{hash}"))
    {
        return Some(("Deployment".to_owned(), deployment.to_owned()));
    }
    Some((owner.kind.clone(), owner.name.clone()))
}

/// A pod as one side of a flow.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Peer {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Its node.
    pub node: String,
    /// Its IP.
    pub ip: String,
    /// Its node's IP.
    pub host_ip: String,
    /// Security identity.
    pub identity: u32,
    /// Cilium's endpoint labels (`k8s:app=web`).
    pub labels: Vec<String>,
    /// `(kind, name)`.
    pub workload: Option<(String, String)>,
}

impl Peer {
    /// A pod that has been scheduled and given an IP; none otherwise.
    pub fn of(pod: &Pod) -> Option<Self> {
        let status = pod.status.as_ref()?;
        let namespace = pod.namespace()?;
        let mut labels: Vec<String> = pod
            .labels()
            .iter()
            .filter(|(k, _)| identity_label(k))
            .map(|(k, v)| format!("k8s:{k}={v}"))
            .collect();
        labels.push(format!("k8s:io.kubernetes.pod.namespace={namespace}"));
        Some(Self {
            identity: identity(&namespace, pod.labels()),
            namespace,
            pod: pod.name_any(),
            node: pod.spec.as_ref()?.node_name.clone()?,
            ip: status.pod_ip.clone()?,
            host_ip: status.host_ip.clone().unwrap_or_default(),
            labels,
            workload: workload(pod),
        })
    }

    fn endpoint(&self) -> pb::Endpoint {
        pb::Endpoint {
            id: 0,
            identity: self.identity,
            namespace: self.namespace.clone(),
            labels: self.labels.clone(),
            pod_name: self.pod.clone(),
            workloads: self
                .workload
                .iter()
                .map(|(kind, name)| pb::Workload {
                    name: name.clone(),
                    kind: kind.clone(),
                })
                .collect(),
        }
    }
}

fn reserved(identity: u32, label: &str) -> pb::Endpoint {
    pb::Endpoint {
        identity,
        labels: vec![format!("reserved:{label}")],
        ..Default::default()
    }
}

fn running(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

/// A container port by number or name.
fn container_port(port: &IntOrString, container: &Container) -> Option<u16> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n).ok().filter(|p| *p > 0),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok()),
    }
}

fn probe_port(probe: &Probe, container: &Container) -> Option<u16> {
    if let Some(http) = &probe.http_get {
        return container_port(&http.port, container);
    }
    if let Some(tcp) = &probe.tcp_socket {
        return container_port(&tcp.port, container);
    }
    probe.grpc.as_ref().and_then(|g| u16::try_from(g.port).ok())
}

/// One probe the kubelet runs.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeTarget {
    /// The probed pod.
    pub pod: Peer,
    /// The port.
    pub port: u16,
    /// Milliseconds between probes.
    pub period_ms: i64,
    /// When in the period it fires (the kubelet starts each probe worker at its own time).
    pub phase_ms: i64,
}

/// The readiness and liveness probes with a port of every Running pod.
pub fn probe_targets(pods: &[Pod]) -> Vec<ProbeTarget> {
    let mut out = Vec::new();
    for pod in pods.iter().filter(|p| running(p)) {
        let (Some(peer), Some(spec)) = (Peer::of(pod), pod.spec.as_ref()) else {
            continue;
        };
        for c in &spec.containers {
            let probes = [
                ("readiness", &c.readiness_probe),
                ("liveness", &c.liveness_probe),
            ];
            for (kind, probe) in probes {
                let Some(probe) = probe else { continue };
                let Some(port) = probe_port(probe, c) else {
                    continue;
                };
                let period_ms = i64::from(
                    probe
                        .period_seconds
                        .unwrap_or(DEFAULT_PERIOD_SECONDS)
                        .max(1),
                ) * 1000;
                let key = fnv(&[&peer.namespace, &peer.pod, &c.name, kind]);
                out.push(ProbeTarget {
                    pod: peer.clone(),
                    port,
                    period_ms,
                    phase_ms: (key % period_ms as u64) as i64,
                });
            }
        }
    }
    out
}

/// When a probe fires in `(from_ms, to_ms]` (milliseconds since the epoch).
pub fn probe_times(target: &ProbeTarget, from_ms: i64, to_ms: i64) -> Vec<i64> {
    let first = (from_ms - target.phase_ms).div_euclid(target.period_ms) + 1;
    (first..)
        .map(|k| target.phase_ms + k * target.period_ms)
        .take_while(|t| *t <= to_ms)
        .collect()
}

fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// A client's ephemeral port, stable for the same flow.
fn source_port(parts: &[&str], at_ms: i64) -> u32 {
    let at = at_ms.to_string();
    let mut all = parts.to_vec();
    all.push(&at);
    32768 + (fnv(&all) % 28232) as u32
}

fn tcp(source_port: u32, destination_port: u32) -> Option<pb::Layer4> {
    Some(pb::Layer4 {
        protocol: Some(pb::layer4::Protocol::Tcp(pb::Tcp {
            source_port,
            destination_port,
        })),
    })
}

/// The flow of one probe.
pub fn probe_flow(target: &ProbeTarget, at_ms: i64) -> pb::Flow {
    let pod = &target.pod;
    pb::Flow {
        time: Some(timestamp(at_ms)),
        verdict: pb::Verdict::Forwarded as i32,
        ip: Some(pb::Ip {
            source: pod.host_ip.clone(),
            destination: pod.ip.clone(),
        }),
        l4: tcp(
            source_port(&[&pod.node, &pod.pod], at_ms),
            u32::from(target.port),
        ),
        source: Some(reserved(HOST_IDENTITY, "host")),
        destination: Some(pod.endpoint()),
        r#type: pb::FlowType::L3L4 as i32,
        node_name: pod.node.clone(),
        ..Default::default()
    }
}

/// Where one URL of a runner goes.
#[derive(Clone, Debug, PartialEq)]
pub enum Backends {
    /// The Service's ready pods, each with its target port.
    Ready(Vec<(Peer, u16)>),
    /// The Service has no ready pod: connections to its cluster IP are dropped.
    None {
        /// The Service's cluster IP.
        cluster_ip: String,
        /// The Service port.
        port: u16,
    },
}

/// One URL a runner requests, resolved in its cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// As in the runner's parameters.
    pub url: String,
    /// `(namespace, name)` of the Service.
    pub service: (String, String),
    /// Where requests go.
    pub backends: Backends,
}

/// A runner sending requests now.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadSource {
    /// Its pod.
    pub pod: Peer,
    /// Virtual users now.
    pub vus: f64,
    /// The HTTP method.
    pub method: String,
    /// Its URLs that reach a Service, in the order an iteration requests them.
    pub targets: Vec<Target>,
}

/// The Service port a URL connects to: the one with the URL's port, else (as the load model,
/// which loads a Service whatever the port) the first.
fn service_port<'a>(ports: &'a [ServicePort], url: &str) -> Option<&'a ServicePort> {
    let wanted = load_model::port_of(url).map(i32::from);
    ports
        .iter()
        .find(|p| Some(p.port) == wanted)
        .or_else(|| ports.first())
}

fn target_port(port: &ServicePort, pod: &Pod) -> Option<u16> {
    let Some(target) = &port.target_port else {
        return u16::try_from(port.port).ok();
    };
    let containers = &pod.spec.as_ref()?.containers;
    containers.iter().find_map(|c| match target {
        IntOrString::Int(n) => u16::try_from(*n).ok(),
        IntOrString::String(_) => container_port(target, c),
    })
}

/// Where a URL goes in a cluster with these pods and Services; none when it names no
/// Service there, a Service without a selector, or a headless one without ready pods.
pub fn resolve(url: &str, pods: &[Pod], services: &[Service]) -> Option<Target> {
    let (namespace, name) = load_model::service_of(url)?;
    let svc = services
        .iter()
        .find(|s| s.namespace().as_deref() == Some(namespace.as_str()) && s.name_any() == name)?;
    let spec = svc.spec.as_ref()?;
    let selector = spec.selector.as_ref()?;
    let port = service_port(spec.ports.as_deref().unwrap_or_default(), url)?;
    let ready: Vec<(Peer, u16)> = pods
        .iter()
        .filter(|p| p.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|p| simulator::selects(selector, p) && simulator::ready(p))
        .filter_map(|p| Some((Peer::of(p)?, target_port(port, p)?)))
        .collect();
    let backends = if ready.is_empty() {
        let cluster_ip = spec.cluster_ip.clone().filter(|ip| ip != "None")?;
        Backends::None {
            cluster_ip,
            port: u16::try_from(port.port).ok()?,
        }
    } else {
        Backends::Ready(ready)
    };
    Some(Target {
        url: url.to_owned(),
        service: (namespace, name),
        backends,
    })
}

/// A running k6 runner as a source of load `elapsed` seconds after it started; none when it
/// has no VUs now or no pod IP.
pub fn load_source(
    runner: &RunningRunner,
    elapsed: f64,
    pods: &[Pod],
    services: &[Service],
) -> Option<LoadSource> {
    let vus = runner.params.vus_at(elapsed);
    if vus <= 0.0 {
        return None;
    }
    Some(LoadSource {
        pod: Peer::of(&runner.pod)?,
        vus,
        method: runner
            .params
            .method
            .clone()
            .unwrap_or_else(|| "GET".to_owned()),
        targets: runner
            .params
            .urls
            .iter()
            .filter_map(|u| resolve(u, pods, services))
            .collect(),
    })
}

/// Load flows per second for this many VUs in a cluster.
pub fn load_rate(vus: f64) -> f64 {
    (vus.max(0.0) * FLOWS_PER_VU_SECOND).min(MAX_LOAD_FLOWS_PER_SECOND)
}

/// The HTTP request flow from a runner to a backend pod.
pub fn request_flow(
    source: &LoadSource,
    target: &Target,
    backend: &Peer,
    port: u16,
    at_ms: i64,
) -> pb::Flow {
    pb::Flow {
        time: Some(timestamp(at_ms)),
        verdict: pb::Verdict::Forwarded as i32,
        ip: Some(pb::Ip {
            source: source.pod.ip.clone(),
            destination: backend.ip.clone(),
        }),
        l4: tcp(
            source_port(&[&source.pod.pod, &backend.pod], at_ms),
            u32::from(port),
        ),
        source: Some(source.pod.endpoint()),
        destination: Some(backend.endpoint()),
        r#type: pb::FlowType::L7 as i32,
        node_name: backend.node.clone(),
        l7: Some(pb::Layer7 {
            r#type: L7_REQUEST,
            latency_ns: 0,
            record: Some(pb::layer7::Record::Http(pb::Http {
                code: 200,
                method: source.method.clone(),
                url: target.url.clone(),
                protocol: "HTTP/1.1".to_owned(),
            })),
        }),
        destination_service: Some(pb::Service {
            name: target.service.1.clone(),
            namespace: target.service.0.clone(),
        }),
        ..Default::default()
    }
}

/// A connection from a runner to a Service without backends, dropped.
pub fn no_backend_flow(
    source: &LoadSource,
    target: &Target,
    cluster_ip: &str,
    port: u16,
    at_ms: i64,
) -> pb::Flow {
    pb::Flow {
        time: Some(timestamp(at_ms)),
        verdict: pb::Verdict::Dropped as i32,
        drop_reason_desc: SERVICE_BACKEND_NOT_FOUND,
        ip: Some(pb::Ip {
            source: source.pod.ip.clone(),
            destination: cluster_ip.to_owned(),
        }),
        l4: tcp(
            source_port(&[&source.pod.pod, cluster_ip], at_ms),
            u32::from(port),
        ),
        source: Some(source.pod.endpoint()),
        destination: Some(reserved(WORLD_IDENTITY, "world")),
        r#type: pb::FlowType::L3L4 as i32,
        node_name: source.pod.node.clone(),
        destination_service: Some(pb::Service {
            name: target.service.1.clone(),
            namespace: target.service.0.clone(),
        }),
        ..Default::default()
    }
}

/// Where the load flows of a cluster left off: fractions of a flow not sent yet per runner,
/// and the next URL per runner and backend per Service (round robin).
#[derive(Debug, Default)]
pub struct LoadCursor {
    owed: HashMap<String, f64>,
    next_url: HashMap<String, usize>,
    next_backend: HashMap<(String, String), usize>,
}

fn next(counter: &mut usize, len: usize) -> usize {
    let i = *counter % len;
    *counter = counter.wrapping_add(1);
    i
}

/// The load flows of `(from_ms, to_ms]`, spread evenly over it, oldest first.
pub fn load_flows(
    cursor: &mut LoadCursor,
    sources: &[LoadSource],
    from_ms: i64,
    to_ms: i64,
) -> Vec<pb::Flow> {
    let key = |s: &LoadSource| format!("{}/{}", s.pod.namespace, s.pod.pod);
    let sources: Vec<&LoadSource> = sources.iter().filter(|s| !s.targets.is_empty()).collect();
    cursor
        .owed
        .retain(|k, _| sources.iter().any(|s| key(s) == *k));
    let total: f64 = sources.iter().map(|s| s.vus).sum();
    let span = (to_ms - from_ms).max(0);
    if total <= 0.0 || span == 0 {
        return Vec::new();
    }
    let per_vu = load_rate(total) / total * span as f64 / 1000.0;
    let mut flows = Vec::new();
    for source in sources {
        let owed = cursor.owed.entry(key(source)).or_insert(0.0);
        *owed += source.vus * per_vu;
        let n = owed.floor();
        *owed -= n;
        let n = n as i64;
        for i in 0..n {
            let at = from_ms + (2 * i + 1) * span / (2 * n);
            let url = next(
                cursor.next_url.entry(key(source)).or_default(),
                source.targets.len(),
            );
            let target = &source.targets[url];
            flows.push(match &target.backends {
                Backends::Ready(pods) => {
                    let b = next(
                        cursor
                            .next_backend
                            .entry(target.service.clone())
                            .or_default(),
                        pods.len(),
                    );
                    let (backend, port) = &pods[b];
                    request_flow(source, target, backend, *port, at)
                }
                Backends::None { cluster_ip, port } => {
                    no_backend_flow(source, target, cluster_ip, *port, at)
                }
            });
        }
    }
    flows.sort_by_key(|f| f.time.map(|t| (t.seconds, t.nanos)));
    flows
}

/// The flows of one cluster over time: each [`Flows::step`] gives those since the last one.
#[derive(Debug, Default)]
pub struct Flows {
    load: LoadCursor,
    last_ms: Option<i64>,
}

impl Flows {
    /// The flows of the cluster `observed` describes between the last step and `now`,
    /// oldest first (none on the first step: it only sets the start).
    pub fn step(&mut self, observed: &Observed, now: Timestamp) -> Vec<pb::Flow> {
        let to = now.as_millisecond();
        let Some(last) = self.last_ms.replace(to) else {
            return Vec::new();
        };
        let from = last.max(to - MAX_STEP_MS);
        if to <= from {
            return Vec::new();
        }
        let mut flows: Vec<pb::Flow> = probe_targets(&observed.pods)
            .iter()
            .flat_map(|t| {
                probe_times(t, from, to)
                    .into_iter()
                    .map(|at| probe_flow(t, at))
            })
            .collect();
        let sources: Vec<LoadSource> = observed
            .runners
            .iter()
            .filter_map(|r| {
                let elapsed = now.duration_since(r.started).as_secs_f64();
                load_source(r, elapsed, &observed.pods, &observed.services)
            })
            .collect();
        flows.extend(load_flows(&mut self.load, &sources, from, to));
        flows.sort_by_key(|f| f.time.map(|t| (t.seconds, t.nanos)));
        flows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::load_model::RunnerParams;
    use serde_json::json;

    fn pod(yaml: &str) -> Pod {
        serde_yaml::from_str(yaml).expect("pod")
    }

    /// A Running, Ready nginx-web pod as kwok leaves it (ReplicaSet-owned, IPs set).
    fn nginx(name: &str, ip: &str) -> Pod {
        pod(&format!(
            r#"
metadata:
  name: {name}
  namespace: demo
  labels: {{app: nginx-web, pod-template-hash: 5d8f9c7b6d}}
  ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: nginx-web-5d8f9c7b6d, uid: u, controller: true}}]
spec:
  nodeName: dev-worker1
  containers:
  - name: nginx
    ports: [{{name: http, containerPort: 8080}}]
    readinessProbe: {{httpGet: {{path: /, port: http}}, periodSeconds: 5}}
    livenessProbe: {{httpGet: {{path: /, port: http}}, periodSeconds: 10}}
status:
  phase: Running
  podIP: {ip}
  hostIP: 192.168.1.11
  conditions: [{{type: Ready, status: "True"}}]
"#
        ))
    }

    fn redis() -> Pod {
        pod(r#"
metadata: {name: redis-0, namespace: demo, labels: {app: redis, controller-revision-hash: redis-7c9}}
spec:
  nodeName: dev-worker1
  containers:
  - name: redis
    ports: [{name: redis, containerPort: 6379}]
    readinessProbe: {tcpSocket: {port: redis}}
    livenessProbe: {exec: {command: [redis-cli, ping]}}
status: {phase: Running, podIP: 10.20.1.9, hostIP: 192.168.1.11}
"#)
    }

    fn runner_pod() -> Pod {
        pod(r#"
metadata:
  name: lt-light-abc12-x7k2p
  namespace: tart-loadtest
  uid: runner-uid
  labels: {app.kubernetes.io/component: loadtest-runner, job-name: lt-light-abc12, controller-uid: c1}
  ownerReferences: [{apiVersion: batch/v1, kind: Job, name: lt-light-abc12, uid: j, controller: true}]
spec:
  nodeName: dev-worker1
  containers: [{name: k6}]
status: {phase: Running, podIP: 10.20.1.30, hostIP: 192.168.1.11}
"#)
    }

    fn service(name: &str, selector: &str, target_port: &str) -> Service {
        serde_yaml::from_str(&format!(
            "metadata: {{name: {name}, namespace: demo}}\n\
             spec: {{selector: {selector}, clusterIP: 10.97.0.20, ports: [{{name: http, port: 80, targetPort: {target_port}}}]}}\n"
        ))
        .expect("service")
    }

    fn runner(vus: u64, urls: &[&str]) -> RunningRunner {
        RunningRunner {
            pod: runner_pod(),
            params: RunnerParams {
                urls: urls.iter().map(|u| (*u).to_owned()).collect(),
                method: Some("GET".into()),
                vus: Some(vus),
                duration_seconds: Some(60),
                stages: Vec::new(),
            },
            started: Timestamp::UNIX_EPOCH,
        }
    }

    const NGINX_URL: &str = "http://nginx-web.demo.svc.cluster.local";

    #[test]
    fn identities_follow_namespace_and_identity_labels_only() {
        let a = nginx("nginx-web-5d8f9c7b6d-aaaaa", "10.20.1.5");
        let mut b = nginx("nginx-web-5d8f9c7b6d-bbbbb", "10.20.1.6");
        b.labels_mut()
            .insert("pod-template-hash".into(), "0000000000".into());
        let (pa, pb) = (Peer::of(&a).expect("a"), Peer::of(&b).expect("b"));
        assert_eq!(
            pa.identity, pb.identity,
            "replicas share an identity whatever their hash"
        );
        assert!((256..=65535).contains(&pa.identity));
        assert_ne!(pa.identity, Peer::of(&redis()).expect("redis").identity);
        let labels = BTreeMap::from([("app".to_owned(), "nginx-web".to_owned())]);
        assert_ne!(identity("demo", &labels), identity("other", &labels));
        assert_eq!(
            pa.labels,
            ["k8s:app=nginx-web", "k8s:io.kubernetes.pod.namespace=demo"]
        );
        assert_eq!(
            pa.workload,
            Some(("Deployment".into(), "nginx-web".into())),
            "a ReplicaSet's pods belong to its Deployment"
        );
        assert_eq!(
            Peer::of(&runner_pod()).expect("runner").workload,
            Some(("Job".into(), "lt-light-abc12".into()))
        );
        assert_eq!(Peer::of(&redis()).expect("redis").workload, None);
    }

    #[test]
    fn probes_with_a_port_come_from_the_host_to_the_resolved_port() {
        let mut pending = nginx("nginx-web-5d8f9c7b6d-ccccc", "10.20.1.7");
        pending.status.as_mut().expect("status").phase = Some("Pending".into());
        let targets = probe_targets(&[
            nginx("nginx-web-5d8f9c7b6d-aaaaa", "10.20.1.5"),
            redis(),
            pending,
        ]);
        let summary: Vec<(&str, u16, i64)> = targets
            .iter()
            .map(|t| (t.pod.pod.as_str(), t.port, t.period_ms))
            .collect();
        assert_eq!(
            summary,
            [
                ("nginx-web-5d8f9c7b6d-aaaaa", 8080, 5000),
                ("nginx-web-5d8f9c7b6d-aaaaa", 8080, 10000),
                ("redis-0", 6379, 10000),
            ],
            "named ports resolve, exec probes and pods not Running have no flows, the default period is 10 s"
        );
        let flow = probe_flow(&targets[0], 1_800_000_000_250);
        let src = flow.source.as_ref().expect("source");
        assert_eq!(
            (src.identity, src.namespace.as_str(), src.pod_name.as_str()),
            (HOST_IDENTITY, "", ""),
            "the kubelet is Cilium's reserved host identity"
        );
        assert_eq!(src.labels, ["reserved:host"]);
        let dst = flow.destination.as_ref().expect("destination");
        assert_eq!(
            (dst.namespace.as_str(), dst.pod_name.as_str()),
            ("demo", "nginx-web-5d8f9c7b6d-aaaaa")
        );
        assert_eq!(flow.verdict, pb::Verdict::Forwarded as i32);
        assert_eq!(flow.r#type, pb::FlowType::L3L4 as i32);
        assert_eq!(flow.node_name, "dev-worker1");
        let ip = flow.ip.as_ref().expect("ip");
        assert_eq!(
            (ip.source.as_str(), ip.destination.as_str()),
            ("192.168.1.11", "10.20.1.5")
        );
        match flow.l4.and_then(|l| l.protocol) {
            Some(pb::layer4::Protocol::Tcp(t)) => {
                assert_eq!(t.destination_port, 8080);
                assert!((32768..61000).contains(&t.source_port));
            }
            other => panic!("not TCP: {other:?}"),
        }
        assert_eq!(
            flow.time,
            Some(prost_types::Timestamp {
                seconds: 1_800_000_000,
                nanos: 250_000_000
            })
        );
    }

    #[test]
    fn a_probe_fires_once_per_period_at_its_own_phase() {
        let target = ProbeTarget {
            pod: Peer::default(),
            port: 80,
            period_ms: 5000,
            phase_ms: 1200,
        };
        assert_eq!(
            probe_times(&target, 0, 20_000),
            [1200, 6200, 11_200, 16_200]
        );
        assert_eq!(
            probe_times(&target, 1200, 6199),
            Vec::<i64>::new(),
            "the start is excluded"
        );
        assert_eq!(
            probe_times(&target, 1200, 6200),
            [6200],
            "the end is included"
        );
        // Consecutive steps cover every firing exactly once.
        let joined: Vec<i64> = [(0, 3000), (3000, 9000), (9000, 20_000)]
            .iter()
            .flat_map(|(a, b)| probe_times(&target, *a, *b))
            .collect();
        assert_eq!(joined, probe_times(&target, 0, 20_000));
        // Phases spread the probes of different pods over the period.
        let pods: Vec<Pod> = (0..5)
            .map(|i| nginx(&format!("nginx-web-5d8f9c7b6d-p{i:04}"), "10.20.1.5"))
            .collect();
        let phases: std::collections::BTreeSet<i64> =
            probe_targets(&pods).iter().map(|t| t.phase_ms).collect();
        assert!(phases.len() > 5, "{phases:?}");
    }

    #[test]
    fn a_runner_loads_the_ready_pods_behind_its_services_on_the_target_port() {
        let mut not_ready = nginx("nginx-web-5d8f9c7b6d-nrdy1", "10.20.1.8");
        not_ready.status.as_mut().expect("status").conditions = None;
        let pods = vec![
            nginx("nginx-web-5d8f9c7b6d-aaaaa", "10.20.1.5"),
            nginx("nginx-web-5d8f9c7b6d-bbbbb", "10.20.1.6"),
            not_ready,
            redis(),
            runner_pod(),
        ];
        let services = vec![
            service("nginx-web", "{app: nginx-web}", "http"),
            service("httpbin", "{app: httpbin}", "8080"),
        ];
        let r = runner(
            30,
            &[NGINX_URL, "http://httpbin.demo/get", "http://missing.demo/"],
        );
        let source = load_source(&r, 10.0, &pods, &services).expect("source");
        assert_eq!(source.vus, 30.0);
        assert_eq!(source.pod.pod, "lt-light-abc12-x7k2p");
        assert_eq!(
            source.targets.len(),
            2,
            "a URL naming no Service has no flows"
        );
        let Backends::Ready(backends) = &source.targets[0].backends else {
            panic!("nginx-web has ready pods");
        };
        let names: Vec<(&str, u16)> = backends
            .iter()
            .map(|(p, port)| (p.pod.as_str(), *port))
            .collect();
        assert_eq!(
            names,
            [
                ("nginx-web-5d8f9c7b6d-aaaaa", 8080),
                ("nginx-web-5d8f9c7b6d-bbbbb", 8080)
            ],
            "only ready pods, on the named target port"
        );
        assert_eq!(
            source.targets[1].backends,
            Backends::None {
                cluster_ip: "10.97.0.20".into(),
                port: 80
            }
        );
        assert!(
            load_source(&r, 60.0, &pods, &services).is_none(),
            "a runner whose time is up sends nothing"
        );

        let mut cursor = LoadCursor::default();
        let flows = load_flows(&mut cursor, &[source], 0, 2000);
        assert_eq!(flows.len(), 30, "30 VUs × 0.5 flows/s × 2 s");
        let forwarded: Vec<&pb::Flow> = flows
            .iter()
            .filter(|f| f.verdict == pb::Verdict::Forwarded as i32)
            .collect();
        assert_eq!(forwarded.len(), 15, "URLs alternate as in a k6 iteration");
        let f = forwarded[0];
        assert_eq!(f.r#type, pb::FlowType::L7 as i32);
        let src = f.source.as_ref().expect("source");
        assert_eq!(
            (src.namespace.as_str(), src.pod_name.as_str()),
            ("tart-loadtest", "lt-light-abc12-x7k2p")
        );
        assert_eq!(f.node_name, "dev-worker1");
        match f.l7.as_ref().and_then(|l| l.record.as_ref()) {
            Some(pb::layer7::Record::Http(h)) => {
                assert_eq!(
                    (h.code, h.method.as_str(), h.url.as_str()),
                    (200, "GET", NGINX_URL)
                );
            }
            other => panic!("not HTTP: {other:?}"),
        }
        assert_eq!(
            f.l7.as_ref().map(|l| l.latency_ns),
            Some(0),
            "no invented latency"
        );
        let per_backend = |pod: &str| {
            forwarded
                .iter()
                .filter(|f| f.destination.as_ref().is_some_and(|d| d.pod_name == pod))
                .count()
        };
        assert_eq!(
            (
                per_backend("nginx-web-5d8f9c7b6d-aaaaa"),
                per_backend("nginx-web-5d8f9c7b6d-bbbbb")
            ),
            (8, 7),
            "round robin over the ready pods"
        );

        let dropped = flows
            .iter()
            .find(|f| f.verdict == pb::Verdict::Dropped as i32)
            .expect("dropped");
        assert_eq!(dropped.drop_reason_desc, SERVICE_BACKEND_NOT_FOUND);
        let dst = dropped.destination.as_ref().expect("destination");
        assert_eq!((dst.identity, dst.namespace.as_str()), (WORLD_IDENTITY, ""));
        assert_eq!(
            dropped.ip.as_ref().map(|i| i.destination.as_str()),
            Some("10.97.0.20")
        );
        assert_eq!(
            dropped
                .destination_service
                .as_ref()
                .map(|s| (s.namespace.as_str(), s.name.as_str())),
            Some(("demo", "httpbin"))
        );
        assert!(dropped.l7.is_none(), "dropped before any proxy saw HTTP");
        let times: Vec<i64> = flows
            .iter()
            .filter_map(|f| {
                f.time
                    .map(|t| t.seconds * 1000 + i64::from(t.nanos / 1_000_000))
            })
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]) && times[0] > 0 && times[29] < 2000);
    }

    #[test]
    fn the_load_rate_is_proportional_to_vus_and_capped_per_cluster() {
        assert_eq!(load_rate(0.0), 0.0);
        assert_eq!(load_rate(10.0), 5.0);
        assert_eq!(load_rate(30.0), MAX_LOAD_FLOWS_PER_SECOND);
        assert_eq!(load_rate(200.0), MAX_LOAD_FLOWS_PER_SECOND);
        let pods = vec![
            nginx("nginx-web-5d8f9c7b6d-aaaaa", "10.20.1.5"),
            runner_pod(),
        ];
        let services = vec![service("nginx-web", "{app: nginx-web}", "http")];
        let heavy = load_source(&runner(200, &[NGINX_URL]), 5.0, &pods, &services).expect("source");
        let mut light = heavy.clone();
        light.vus = 100.0;
        light.pod.pod = "lt-other-x".into();
        let mut cursor = LoadCursor::default();
        let flows = load_flows(&mut cursor, &[heavy, light], 0, 10_000);
        assert_eq!(
            flows.len(),
            150,
            "two runners share the cap: 15 flows/s × 10 s"
        );
        let heavy_flows = flows
            .iter()
            .filter(|f| {
                f.source
                    .as_ref()
                    .is_some_and(|s| s.pod_name == "lt-light-abc12-x7k2p")
            })
            .count();
        assert_eq!(heavy_flows, 100, "shared by VUs");
    }

    #[test]
    fn fractions_of_a_flow_carry_over_between_steps() {
        let pods = vec![
            nginx("nginx-web-5d8f9c7b6d-aaaaa", "10.20.1.5"),
            runner_pod(),
        ];
        let services = vec![service("nginx-web", "{app: nginx-web}", "http")];
        let source = load_source(&runner(3, &[NGINX_URL]), 1.0, &pods, &services).expect("source");
        let mut cursor = LoadCursor::default();
        // 1.5 flows/s in steps of 250 ms: 0.375 per step.
        let total: usize = (0..24)
            .map(|i| {
                load_flows(
                    &mut cursor,
                    std::slice::from_ref(&source),
                    i * 250,
                    (i + 1) * 250,
                )
                .len()
            })
            .sum();
        assert_eq!(total, 9, "1.5 flows/s over 6 s");
        assert!(load_flows(&mut cursor, &[], 6000, 7000).is_empty());
        assert!(
            cursor.owed.is_empty(),
            "a gone runner's fraction is dropped"
        );
    }

    /// The shipped demo apps as the lab runs them: one Running, Ready pod per Deployment
    /// (from its pod template) and the Services.
    fn demo() -> (Vec<Pod>, Vec<Service>) {
        let (mut pods, mut services) = (Vec::new(), Vec::new());
        for (file, text) in crate::lab::platform::DEMO {
            for (i, obj) in local_control_plane::parse_yaml_documents(text)
                .unwrap_or_else(|e| panic!("{file}: {e}"))
                .into_iter()
                .enumerate()
            {
                let kind = obj
                    .types
                    .as_ref()
                    .map(|t| t.kind.clone())
                    .unwrap_or_default();
                let name = obj.metadata.name.clone().unwrap_or_default();
                let value = serde_json::to_value(&obj).expect("json");
                match kind.as_str() {
                    "Service" => services.push(serde_json::from_value(value).expect("service")),
                    "Deployment" => {
                        let mut pod = value["spec"]["template"].clone();
                        pod["metadata"]["name"] = json!(format!("{name}-5d8f9c7b6d-x2x9q"));
                        pod["metadata"]["namespace"] = json!("demo");
                        pod["metadata"]["labels"]["pod-template-hash"] = json!("5d8f9c7b6d");
                        pod["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1",
                            "kind": "ReplicaSet", "name": format!("{name}-5d8f9c7b6d"), "uid": "u", "controller": true}]);
                        pod["spec"]["nodeName"] = json!("dev-worker1");
                        pod["status"] = json!({"phase": "Running", "podIP": format!("10.20.1.{}", 10 + i),
                            "hostIP": "192.168.1.11", "conditions": [{"type": "Ready", "status": "True"}]});
                        pods.push(serde_json::from_value(pod).expect("pod"));
                    }
                    _ => {}
                }
            }
        }
        (pods, services)
    }

    #[test]
    fn the_shipped_demo_apps_are_probed_and_reached_on_their_container_ports() {
        let (mut pods, services) = demo();
        let mut probes: Vec<(String, u16)> = probe_targets(&pods)
            .into_iter()
            .map(|t| (t.pod.pod, t.port))
            .collect();
        probes.sort();
        assert_eq!(
            probes,
            [
                ("httpbin-5d8f9c7b6d-x2x9q".to_owned(), 8080),
                ("httpbin-v2-5d8f9c7b6d-x2x9q".to_owned(), 8080),
                ("nginx-web-5d8f9c7b6d-x2x9q".to_owned(), 8080),
                ("nginx-web-5d8f9c7b6d-x2x9q".to_owned(), 8080),
                ("redis-5d8f9c7b6d-x2x9q".to_owned(), 6379),
            ]
        );
        pods.push(runner_pod());
        // cascade-light's URLs.
        let r = runner(
            30,
            &[
                NGINX_URL,
                "http://httpbin.demo.svc.cluster.local/get",
                "http://httpbin.demo.svc.cluster.local/headers",
            ],
        );
        let source = load_source(&r, 1.0, &pods, &services).expect("source");
        let backends: Vec<Vec<(String, u16)>> = source
            .targets
            .iter()
            .map(|t| match &t.backends {
                Backends::Ready(b) => b.iter().map(|(p, port)| (p.pod.clone(), *port)).collect(),
                Backends::None { .. } => Vec::new(),
            })
            .collect();
        let httpbin = vec![
            ("httpbin-5d8f9c7b6d-x2x9q".to_owned(), 8080),
            ("httpbin-v2-5d8f9c7b6d-x2x9q".to_owned(), 8080),
        ];
        assert_eq!(
            backends,
            [
                vec![("nginx-web-5d8f9c7b6d-x2x9q".to_owned(), 8080)],
                httpbin.clone(),
                httpbin
            ],
            "httpbin's one Service selects v1 and v2"
        );
    }

    #[test]
    fn steps_follow_the_observed_cluster() {
        let now = Timestamp::from_second(1_800_000_000).expect("time");
        let secs = |n: u64| now + std::time::Duration::from_secs(n);
        let mut r = runner(30, &[NGINX_URL]);
        r.params.duration_seconds = Some(600);
        r.started = now - std::time::Duration::from_secs(10);
        let observed = Observed {
            pods: vec![
                nginx("nginx-web-5d8f9c7b6d-aaaaa", "10.20.1.5"),
                runner_pod(),
            ],
            services: vec![service("nginx-web", "{app: nginx-web}", "http")],
            runners: vec![r],
        };
        let from_host = |flows: &[pb::Flow]| {
            flows
                .iter()
                .filter(|f| {
                    f.source
                        .as_ref()
                        .is_some_and(|s| s.identity == HOST_IDENTITY)
                })
                .count()
        };
        let mut flows = Flows::default();
        assert!(
            flows.step(&observed, now).is_empty(),
            "the first step sets the start"
        );
        let out: Vec<pb::Flow> = (1..=4)
            .flat_map(|i| flows.step(&observed, secs(5 * i)))
            .collect();
        assert_eq!(
            from_host(&out),
            6,
            "readiness every 5 s and liveness every 10 s, for 20 s"
        );
        assert_eq!(out.len() - 6, 300, "15 load flows/s for 20 s");
        let after_a_stall = flows.step(&observed, secs(80));
        assert_eq!(
            after_a_stall.len() - from_host(&after_a_stall),
            75,
            "a 60 s gap is filled with 5 s of flows, not a burst"
        );
        assert!(
            after_a_stall
                .windows(2)
                .all(|w| w[0].time.map(|t| (t.seconds, t.nanos))
                    <= w[1].time.map(|t| (t.seconds, t.nanos)))
        );
    }
}
