//! What the API serves: the dashboard's view of clusters, nodes, pods, services, scaling
//! and traffic. Plain data with JSON schemas (they feed the OpenAPI document); the
//! collectors build them, the handlers serve them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Everything the overview page shows, in one document.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// When its newest data came in (RFC 3339): the latest change to any of its clusters.
    pub collected_at: String,
    /// True when some source is failing, so part of the data may be old.
    pub stale: bool,
    /// True when it was asked for without pods (`?pods=false`): every cluster's `pods` is
    /// empty, its `namespaces` still count them.
    pub pods_omitted: bool,
    /// The platform cluster and every managed cluster.
    pub clusters: Vec<ClusterView>,
    /// Tart VMs, when a host agent reports them (empty until then).
    pub vms: Vec<VmView>,
    /// Failing sources, by cluster.
    pub errors: Vec<SourceError>,
}

/// A failing data source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceError {
    /// The cluster.
    pub cluster: String,
    /// The source: nodes, pods, horizontalpodautoscalers, services, endpointslices,
    /// metrics, hubble, vms (the host agent).
    pub source: String,
    /// What went wrong.
    pub message: String,
    /// Since when (RFC 3339).
    pub since: String,
}

/// One cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterView {
    /// The ManagedCluster's name (or the platform cluster's).
    pub name: String,
    /// platform, dev, staging or prod.
    pub tier: Option<String>,
    /// tart or external (none for the platform cluster itself).
    pub provider: Option<String>,
    /// The ManagedCluster's phase.
    pub phase: Option<String>,
    /// Whether the API server answers.
    pub reachable: bool,
    /// The pod network.
    pub pod_cidr: Option<String>,
    /// The service network.
    pub service_cidr: Option<String>,
    /// The API server URL.
    pub api_server_endpoint: Option<String>,
    /// The API server version.
    pub kubernetes_version: Option<String>,
    /// Whether the metrics API (metrics.k8s.io) is served; usage is unknown otherwise.
    pub metrics_available: bool,
    /// Nodes.
    pub nodes: Vec<NodeView>,
    /// Pods.
    pub pods: Vec<PodView>,
    /// Pods per namespace, largest first.
    pub namespaces: Vec<NamespaceCount>,
}

/// One node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeView {
    /// Name.
    pub name: String,
    /// Roles from the node-role labels (worker when none).
    pub roles: Vec<String>,
    /// Ready, NotReady or Unknown.
    pub status: String,
    /// The kubelet's version.
    pub kubelet_version: Option<String>,
    /// The InternalIP.
    pub internal_ip: Option<String>,
    /// CPU capacity in millicores.
    pub cpu_capacity_millis: Option<u64>,
    /// Memory capacity in bytes.
    pub memory_capacity_bytes: Option<u64>,
    /// Allocatable CPU in millicores.
    pub cpu_allocatable_millis: Option<u64>,
    /// Allocatable memory in bytes.
    pub memory_allocatable_bytes: Option<u64>,
    /// Pod capacity.
    pub pod_capacity: Option<u64>,
    /// Pods scheduled here.
    pub pod_count: usize,
    /// Usage from the metrics API; absent when unknown.
    pub usage: Option<Usage>,
    /// Disk and network from node-exporter's series in the platform's Prometheus; absent
    /// when not collected (`figuresMissing` says why).
    pub figures: Option<NodeFigures>,
    /// Why there are no disk and network figures (no Prometheus, no node-exporter series for
    /// the cluster or node, a simulated node), when there are none.
    pub figures_missing: Option<String>,
}

/// A node's disk and network, read from node-exporter's series in Prometheus, or else from
/// the kubelet Summary API through the cluster's API server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeFigures {
    /// Where they come from, e.g. `node-exporter via Prometheus at http://…` or `kubelet
    /// Summary API through the API server's node proxy`.
    pub source: String,
    /// When the operator read them (RFC 3339).
    pub collected_at: String,
    /// The root file system (`/`; the kubelet's `nodefs`: the file system of its root
    /// directory), used being size less available; none when not reported.
    pub disk: Option<VmDisk>,
    /// Bytes per second over every interface but loopback and virtual ones, now.
    pub network: VmNetwork,
    /// The same over the last 30 minutes, oldest first, for sparklines; only in the
    /// cluster's own answer (`GET /api/v1/clusters/{name}`), empty in the snapshot.
    pub network_history: Vec<NetworkPoint>,
}

/// A node's network throughput at one time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPoint {
    /// Unix seconds.
    pub time: i64,
    /// Received bytes per second, when measured then.
    pub rx_bytes_per_second: Option<f64>,
    /// Sent bytes per second, when measured then.
    pub tx_bytes_per_second: Option<f64>,
}

/// Resource usage from the metrics API.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// CPU in millicores.
    pub cpu_millis: u64,
    /// Memory (working set) in bytes.
    pub memory_bytes: u64,
    /// CPU as a percentage of allocatable (nodes) or of requests (pods), when known.
    pub cpu_percent: Option<f64>,
    /// Memory as a percentage of allocatable (nodes) or of requests (pods), when known.
    pub memory_percent: Option<f64>,
}

/// One pod, as `kubectl get pods` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodView {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The node it runs on.
    pub node: Option<String>,
    /// The pod phase.
    pub phase: String,
    /// What a user reads: Running, Completed, CrashLoopBackOff, ImagePullBackOff, OOMKilled,
    /// Terminating, Pending, ...
    pub status: String,
    /// Ready containers over all containers, e.g. `1/1`.
    pub ready: String,
    /// Container restarts.
    pub restarts: u32,
    /// When it was created (RFC 3339).
    pub created_at: Option<String>,
    /// Summed CPU requests in millicores.
    pub cpu_request_millis: Option<u64>,
    /// Summed memory requests in bytes.
    pub memory_request_bytes: Option<u64>,
    /// Usage from the metrics API; absent when unknown.
    pub usage: Option<Usage>,
}

/// Pods of one namespace by state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceCount {
    /// Namespace.
    pub namespace: String,
    /// All pods.
    pub total: usize,
    /// Running or Completed.
    pub running: usize,
    /// Pending or starting.
    pub pending: usize,
    /// Failed, crash-looping or unable to pull.
    pub failed: usize,
    /// Of the failed, those in CrashLoopBackOff.
    pub crash_looping: usize,
}

/// A Tart VM, as the host agent reports it (`tart-infra serve`; none in the local lab,
/// which has no VMs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmView {
    /// VM name.
    pub name: String,
    /// The cluster it belongs to (a ManagedCluster listing it as a node, or the cluster
    /// whose node it is); empty for a VM of no known cluster.
    pub cluster: String,
    /// running, suspended or stopped.
    pub state: String,
    /// The address the host agent reaches it at.
    pub ip: Option<String>,
    /// What it is configured with.
    pub resources: Option<VmResources>,
    /// Its last figures, read inside the VM by the host agent; none until one collection
    /// succeeded.
    pub stats: Option<VmStatsView>,
    /// Why the last collection failed (the figures, if any, are older).
    pub stats_error: Option<String>,
}

/// A VM's configured size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmResources {
    /// Virtual CPUs.
    pub cpu: u32,
    /// Memory in MiB.
    #[serde(rename = "memoryMiB")]
    pub memory_mib: u64,
    /// Disk in GiB.
    #[serde(rename = "diskGiB")]
    pub disk_gib: u64,
}

/// What the host agent measured inside a VM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmStatsView {
    /// When (RFC 3339).
    pub collected_at: String,
    /// All CPUs' busy time between the last two reads of /proc/stat, 0-100; none on the
    /// first read.
    pub cpu_percent: Option<f64>,
    /// MemTotal less MemAvailable.
    pub memory: VmMemory,
    /// The root file system.
    pub disk: VmDisk,
    /// Every interface but loopback.
    pub network: VmNetwork,
    /// Listening TCP sockets, by port.
    pub listening: Vec<VmListeningPort>,
}

/// Memory in use and in all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmMemory {
    /// Bytes in use.
    pub used_bytes: u64,
    /// Bytes in all.
    pub total_bytes: u64,
}

/// A file system's use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmDisk {
    /// Mount point (`/`).
    pub mount: String,
    /// Bytes used.
    pub used_bytes: u64,
    /// Size in bytes.
    pub total_bytes: u64,
}

/// Network throughput; none until two reads were compared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmNetwork {
    /// Received bytes per second.
    pub rx_bytes_per_second: Option<f64>,
    /// Sent bytes per second.
    pub tx_bytes_per_second: Option<f64>,
}

/// A listening socket inside a VM.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmListeningPort {
    /// Port.
    pub port: u16,
    /// `tcp`.
    pub protocol: String,
    /// Local address (`0.0.0.0`, `::`, `127.0.0.1`, `*`).
    pub address: String,
    /// The owning process, when known.
    pub process: Option<String>,
}

/// One Service with its endpoints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceView {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// ClusterIP, NodePort, LoadBalancer or ExternalName.
    #[serde(rename = "type")]
    pub type_: String,
    /// The ClusterIP ("None" for headless).
    pub cluster_ip: Option<String>,
    /// Ports.
    pub ports: Vec<ServicePort>,
    /// Ready and not-ready endpoints from the EndpointSlices.
    pub endpoints: Vec<EndpointView>,
}

/// A Service port.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// Name.
    pub name: Option<String>,
    /// Port.
    pub port: i32,
    /// Target port (number or name).
    pub target_port: Option<String>,
    /// Node port.
    pub node_port: Option<i32>,
    /// TCP, UDP or SCTP.
    pub protocol: String,
}

/// One endpoint address.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointView {
    /// The address.
    pub address: String,
    /// Whether it is ready.
    pub ready: bool,
    /// The pod behind it.
    pub pod: Option<String>,
    /// Its node.
    pub node: Option<String>,
}

/// One HPA sample of one cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingPoint {
    /// When it was taken (RFC 3339).
    pub timestamp: String,
    /// Every HPA.
    pub hpas: Vec<HpaSample>,
}

/// One HPA at one time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HpaSample {
    /// Namespace.
    pub namespace: String,
    /// The HPA's name.
    pub name: String,
    /// The scaled workload's kind and name, e.g. `Deployment/nginx-web`.
    pub target: String,
    /// The deployment (scaleTargetRef name).
    pub deployment: String,
    /// status.currentReplicas.
    pub current_replicas: i32,
    /// status.desiredReplicas.
    pub desired_replicas: i32,
    /// spec.minReplicas.
    pub min_replicas: i32,
    /// spec.maxReplicas.
    pub max_replicas: i32,
    /// Current CPU utilisation in percent of requests, when reported.
    pub current_cpu_percent: Option<i32>,
    /// Target CPU utilisation, when the HPA scales on CPU utilisation.
    pub target_cpu_percent: Option<i32>,
}

/// The HPA history of one cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingHistory {
    /// The cluster.
    pub cluster: String,
    /// Seconds between points.
    pub interval_seconds: u64,
    /// Oldest first, at most 360 (30 minutes).
    pub points: Vec<ScalingPoint>,
}

/// The traffic of one cluster from Hubble Relay.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrafficView {
    /// The cluster.
    pub cluster: String,
    /// Whether flows are being received.
    pub available: bool,
    /// Where flows come from, e.g. `port-forward kube-system/hubble-relay-7d9c…:4245`.
    pub source: Option<String>,
    /// Why there are no flows (no Hubble Relay, connection failing), when so.
    pub message: Option<String>,
    /// Whether any of `flows` is simulated (made up by the local lab's Hubble Relay); absent
    /// when none is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub simulated: bool,
    /// The last flows (at most 200), newest first.
    pub flows: Vec<FlowView>,
    /// Flows aggregated by service pair, busiest first (self-edges left out).
    pub edges: Vec<EdgeView>,
    /// Forwarded flows among `flows`.
    pub forwarded: usize,
    /// Dropped flows among `flows`.
    pub dropped: usize,
}

/// One observed flow.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowView {
    /// When it was observed (RFC 3339).
    pub time: Option<String>,
    /// The node that observed it.
    pub node: String,
    /// FORWARDED, DROPPED or ERROR (audit, redirect, trace and translation count as forwarded).
    pub verdict: String,
    /// The sender.
    pub source: PeerView,
    /// The receiver.
    pub destination: PeerView,
    /// TCP, UDP, ICMP, SCTP or UNKNOWN.
    pub protocol: String,
    /// The destination port (none for ICMP).
    pub port: Option<u32>,
    /// HTTP, DNS or Kafka when Cilium parsed the layer-7 protocol.
    pub l7: Option<String>,
    /// The HTTP status code.
    pub http_status: Option<u32>,
    /// The HTTP method.
    pub http_method: Option<String>,
    /// The HTTP URL.
    pub http_url: Option<String>,
    /// The DNS query.
    pub dns_query: Option<String>,
    /// Made up by the local lab's simulated Hubble Relay (its node labels carry
    /// `tartinfra.dev/simulated=true`), not observed by Cilium: its HTTP status, for one,
    /// is what the lab's load model assumed. Absent on flows Cilium observed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub simulated: bool,
}

/// One side of a flow.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerView {
    /// Namespace; `cluster` for Cilium's reserved identities (host, world, ...).
    pub namespace: String,
    /// The service or workload: the pod's workload, its name without ReplicaSet suffixes, or
    /// a reserved identity's name.
    pub service: String,
    /// The pod, when it is one.
    pub pod: Option<String>,
    /// Cilium's security identity.
    pub identity: u32,
    /// The IP address.
    pub ip: Option<String>,
}

/// Flows between two services.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EdgeView {
    /// `namespace/service` of the sender.
    pub source: String,
    /// `namespace/service` of the receiver.
    pub destination: String,
    /// The sender's namespace.
    pub source_namespace: String,
    /// The receiver's namespace.
    pub destination_namespace: String,
    /// Flows.
    pub flow_count: usize,
    /// Forwarded flows.
    pub forwarded_count: usize,
    /// Dropped flows.
    pub dropped_count: usize,
    /// Protocols seen, e.g. `TCP/HTTP`, `UDP/DNS`.
    pub protocols: Vec<String>,
}

/// What changed in one cluster's pods and nodes since its previous delta (an `/api/v1/events`
/// `delta` event). Apply in order: upserts and deletes, then `namespaces`, then `usage`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterDelta {
    /// The cluster.
    pub cluster: String,
    /// The cluster's revision after this delta.
    pub revision: u64,
    /// The revision this delta applies on top of (the previous delta's `revision`).
    pub since: u64,
    /// Pods created or changed (their whole view, latest wins).
    pub pods: Vec<PodView>,
    /// Pods gone.
    pub pods_deleted: Vec<ObjectKey>,
    /// Nodes created or changed (`figures` are not part of a delta: they come with the
    /// snapshot, and a changed node keeps its own).
    pub nodes: Vec<NodeView>,
    /// Nodes gone, by name.
    pub nodes_deleted: Vec<String>,
    /// The counts of every namespace whose pods changed (`total` 0: the namespace has no
    /// pods any more).
    pub namespaces: Vec<NamespaceCount>,
    /// When pods changed: the pods bound to each node (every node that has any).
    pub node_pods: BTreeMap<String, usize>,
    /// A new metrics-API reading, when it differs from the previous one.
    pub usage: Option<UsageReading>,
}

/// A pod's or other namespaced object's key.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct ObjectKey {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// One metrics-API reading of a cluster, compact: it replaces every pod's and node's usage
/// (absent ones become unknown). Figures are `[cpu millicores, memory bytes]`; the
/// percentages are the usage over the pod's requests or the node's allocatable.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageReading {
    /// Whether the metrics API answered.
    pub metrics_available: bool,
    /// Per namespace, per pod name.
    pub pods: BTreeMap<String, BTreeMap<String, [u64; 2]>>,
    /// Per node name.
    pub nodes: BTreeMap<String, [u64; 2]>,
}
