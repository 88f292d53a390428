//! `ManagedCluster`: one Kubernetes cluster of the lab (platform, dev, staging or prod).
//!
//! With `provider: tart` the operator creates the cluster's VMs through the host agent and
//! bootstraps it with kubeadm; with `provider: external` it adopts an existing cluster from a
//! kubeconfig Secret (how the local lab, tests and non-Mac users point it at clusters).
//!
//! The spec's rules live in one place: the limits and patterns of [`validate`] feed both the
//! CRD's schema and CEL rules (the API server) and [`validate_spec`] (Rust callers: the host
//! agent's cluster file, the operator).

pub mod cidr;
pub mod image;
pub mod policy;
pub mod validate;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Condition, DnsLabel, ObjectName, Time, conditions_list_type};
use crate::pattern::cel_matches;

pub use cidr::{CidrError, Ipv4Cidr};
pub use policy::LoadTestPolicy;
pub use validate::validate_spec;

/// The desired state of a ManagedCluster.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "tartinfra.dev",
    version = "v1alpha1",
    kind = "ManagedCluster",
    shortname = "mc",
    category = "tartinfra",
    status = "ManagedClusterStatus",
    derive = "PartialEq",
    doc = "A Kubernetes cluster of the lab: created on Tart VMs by the operator (provider tart) or adopted from a kubeconfig Secret (provider external).",
    printcolumn(
        name = "Tier",
        type_ = "string",
        json_path = ".spec.tier",
        description = "The cluster's role in the lab"
    ),
    printcolumn(
        name = "Provider",
        type_ = "string",
        json_path = ".spec.provider",
        description = "tart or external"
    ),
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "Lifecycle phase"
    ),
    printcolumn(
        name = "Nodes",
        type_ = "string",
        json_path = ".status.readyNodes",
        description = "Ready nodes / all nodes"
    ),
    printcolumn(
        name = "Version",
        type_ = "string",
        json_path = ".status.kubernetesVersion",
        description = "The API server's version"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("self.provider != 'external' || has(self.kubeconfigSecretRef)")
    .message("kubeconfigSecretRef is required when provider is external: name the Secret that holds the cluster's kubeconfig")
    .field_path(".kubeconfigSecretRef"))]
#[x_kube(validation = kube::core::Rule::new("self.provider != 'tart' || has(self.network)")
    .message("network (podCidr and serviceCidr) is required when provider is tart")
    .field_path(".network"))]
#[x_kube(validation = kube::core::Rule::new("self.provider != 'tart' || (has(self.nodes) && size(self.nodes) > 0)")
    .message("nodes must list the cluster's VMs when provider is tart")
    .field_path(".nodes"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.nodes) || size(self.nodes) == 0 || self.nodes.exists_one(n, n.role == 'controlPlane')")
    .message("nodes must contain exactly one node with role controlPlane")
    .field_path(".nodes"))]
#[x_kube(validation = kube::core::Rule::new("self.provider == oldSelf.provider")
    .message("provider cannot change; delete the ManagedCluster and create a new one")
    .field_path(".provider"))]
pub struct ManagedClusterSpec {
    /// The cluster's role in the lab. platform runs the operator, ArgoCD and monitoring;
    /// dev, staging and prod run workloads and tests.
    pub tier: Tier,
    /// Who provides the cluster: `tart` (VMs created and bootstrapped by the operator through
    /// the host agent) or `external` (an existing cluster reached through kubeconfigSecretRef).
    pub provider: Provider,
    /// The Kubernetes version kubeadm installs on tart clusters, e.g. `1.33` or `1.33.4`
    /// (1.33 or newer). Default 1.33. For external clusters the observed version is in
    /// status.kubernetesVersion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new(cel_matches(validate::KUBERNETES_VERSION))
        .message("must be a Kubernetes version 1.33 or newer, such as 1.33 or 1.33.4"))]
    #[schemars(length(max = validate::KUBERNETES_VERSION_MAX_LEN))]
    pub kubernetes_version: Option<String>,
    /// The Tart image the VMs are cloned from (tart only), pinned: a tag other than latest
    /// (ghcr.io/cirruslabs/ubuntu:24.04), a digest (...@sha256:...), or the name of a local
    /// image such as a golden image built by `tart-infra golden-image` (tart-infra-k8s-1.33;
    /// no '/' or ':'). Default ghcr.io/cirruslabs/ubuntu:24.04.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = image::MAX_LEN))]
    #[x_kube(validation = kube::core::Rule::new(image::cel_rule()).message(image::MESSAGE))]
    pub base_image: Option<String>,
    /// The cluster's pod and service address ranges. Required for tart; for external
    /// clusters it documents the ranges the cluster uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// The cluster's nodes (tart: one VM each). Exactly one has role controlPlane. For
    /// external clusters it may be left empty; the observed nodes are in status.nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = validate::MAX_NODES))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["name".into()]))]
    pub nodes: Option<Vec<NodeSpec>>,
    /// Which addons the cluster gets (tart) or has (external).
    #[serde(default)]
    pub addons: Addons,
    /// The Secret holding the cluster's kubeconfig. Required for external clusters; for
    /// tart clusters the operator writes it after bootstrap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig_secret_ref: Option<SecretKeyRef>,
    /// What the kubeconfig may ask of the operator's connection. By default a kubeconfig
    /// that turns off TLS verification or routes through a proxy is refused.
    #[serde(default)]
    pub connection: Connection,
    /// Stop reconciling this cluster (no VM or addon changes, no status checks) until false.
    #[serde(default)]
    pub paused: bool,
    /// What LoadTests aimed at this cluster may do: which platform namespaces, images and
    /// runner namespaces, how many VUs, how long, how many workers, how much CPU and memory
    /// per runner, how many tests at once. Absent or partly set, the defaults apply (only the
    /// operator's own runner images, at most 200 VUs for 10m).
    #[serde(default)]
    pub load_test_policy: LoadTestPolicy,
}

/// The cluster's role in the lab.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Platform,
    Dev,
    Staging,
    Prod,
}

/// Who provides the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Tart,
    External,
}

/// The pod and service CIDRs. They must be network addresses and must not overlap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("!isCIDR(self.podCidr) || !isCIDR(self.serviceCidr) || !(cidr(self.podCidr).containsCIDR(self.serviceCidr) || cidr(self.serviceCidr).containsCIDR(self.podCidr))")
    .message("podCidr and serviceCidr must not overlap")
    .field_path(".serviceCidr"))]
pub struct Network {
    /// The pod network, e.g. `10.20.0.0/16` (Cilium cluster-pool IPAM).
    #[schemars(length(max = 43))]
    #[x_kube(validation = kube::core::Rule::new("isCIDR(self) && cidr(self).ip().family() == 4 && cidr(self) == cidr(self).masked()")
        .message("must be an IPv4 CIDR network address with the host bits zero, e.g. 10.20.0.0/16"))]
    pub pod_cidr: String,
    /// The service network, e.g. `10.97.0.0/16` (kubeadm --service-cidr).
    #[schemars(length(max = 43))]
    #[x_kube(validation = kube::core::Rule::new("isCIDR(self) && cidr(self).ip().family() == 4 && cidr(self) == cidr(self).masked()")
        .message("must be an IPv4 CIDR network address with the host bits zero, e.g. 10.97.0.0/16"))]
    pub service_cidr: String,
}

/// One node of the cluster (for tart: one VM).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(format!("self.role != 'controlPlane' || self.cpu >= {}", validate::CONTROL_PLANE_MIN_CPU))
    .message(format!("a controlPlane node needs at least {} CPUs (kubeadm's minimum)", validate::CONTROL_PLANE_MIN_CPU).as_str())
    .field_path(".cpu"))]
#[x_kube(validation = kube::core::Rule::new(format!("self.role != 'controlPlane' || self.memoryMiB >= {}", validate::CONTROL_PLANE_MIN_MEMORY_MIB))
    .message(format!("a controlPlane node needs at least {} MiB of memory (kubeadm's minimum)", validate::CONTROL_PLANE_MIN_MEMORY_MIB).as_str())
    .field_path(".memoryMiB"))]
pub struct NodeSpec {
    /// The node name, also the VM name and hostname. A DNS label, unique in the cluster.
    pub name: DnsLabel,
    /// `controlPlane` (kubeadm init, tainted) or `worker` (kubeadm join).
    pub role: NodeRole,
    /// Virtual CPUs (1 to 32).
    #[schemars(range(min = validate::CPU.min, max = validate::CPU.max))]
    pub cpu: u32,
    /// Memory in MiB (512 to 262144).
    #[serde(rename = "memoryMiB")]
    #[schemars(range(min = validate::MEMORY_MIB.min, max = validate::MEMORY_MIB.max))]
    pub memory_mib: u32,
    /// Disk size in GiB (10 to 2048). Default 50.
    #[serde(rename = "diskGiB", default = "default_disk_gib")]
    #[schemars(range(min = validate::DISK_GIB.min, max = validate::DISK_GIB.max))]
    pub disk_gib: u32,
}

fn default_disk_gib() -> u32 {
    50
}

/// A node's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NodeRole {
    ControlPlane,
    Worker,
}

/// The addons of a cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Addons {
    /// Cilium, the CNI (always installed on tart clusters), and its options.
    #[serde(default)]
    pub cilium: CiliumAddon,
    /// metrics-server, which HPAs and the dashboard's usage figures need.
    #[serde(default)]
    pub metrics_server: bool,
    /// Istio (istiod and an ingress gateway) with STRICT mTLS in the demo namespace.
    #[serde(default)]
    pub istio: bool,
    /// The zero-trust CiliumNetworkPolicies of the demo namespace.
    #[serde(default)]
    pub network_policies: bool,
    /// The demo workloads (nginx-web, httpbin, redis) with their HPAs and PDBs.
    #[serde(default)]
    pub demo_apps: bool,
    /// The monitoring stack (Prometheus, Grafana, Loki, AlertManager); platform only.
    #[serde(default)]
    pub monitoring: bool,
}

/// Cilium options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CiliumAddon {
    /// Hubble with Hubble Relay, the source of the dashboard's traffic view. Default true.
    #[serde(default = "default_true")]
    pub hubble: bool,
}

impl Default for CiliumAddon {
    fn default() -> Self {
        Self { hubble: true }
    }
}

fn default_true() -> bool {
    true
}

/// Connection options a kubeconfig may only use when the cluster's owner allows them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Connection {
    /// Accept a kubeconfig with `insecure-skip-tls-verify: true`: the operator then sends
    /// its credentials to whoever answers at the server's address. Default false; prefer
    /// putting the cluster's CA in `certificate-authority-data`.
    #[serde(rename = "allowInsecureSkipTLSVerify", default)]
    pub allow_insecure_skip_tls_verify: bool,
    /// Accept a kubeconfig with a `proxy-url`: the operator's traffic to the cluster (and
    /// its credentials, unless TLS is verified end to end) goes through that proxy. Default
    /// false.
    #[serde(rename = "allowProxyURL", default)]
    pub allow_proxy_url: bool,
}

/// A key of a Secret in a given namespace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// The Secret's namespace.
    pub namespace: DnsLabel,
    /// The Secret's name.
    pub name: ObjectName,
    /// The key holding the kubeconfig. Default `kubeconfig`.
    #[serde(default = "default_kubeconfig_key")]
    #[schemars(length(min = 1, max = validate::SECRET_KEY_MAX_LEN))]
    pub key: String,
}

fn default_kubeconfig_key() -> String {
    "kubeconfig".to_owned()
}

/// The observed state of a ManagedCluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedClusterStatus {
    /// Lifecycle phase, for humans; conditions carry the details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ClusterPhase>,
    /// Conditions: Reachable, NodesReady, AddonsReady, Provisioned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = conditions_list_type())]
    pub conditions: Vec<Condition>,
    /// The nodes as observed (tart: VM state too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeStatus>,
    /// Ready nodes over all nodes, e.g. `2/3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_nodes: Option<String>,
    /// The API server's version, e.g. `v1.33.4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// The API server URL the operator uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server_endpoint: Option<String>,
    /// The spec generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The step the operator is working on, with progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_operation: Option<LastOperation>,
}

/// Lifecycle phase of a ManagedCluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ClusterPhase {
    /// Nothing done yet, or waiting for something outside the operator (the host agent).
    Pending,
    /// tart: the cluster's VMs are being created and started through the host agent.
    #[serde(rename = "ProvisioningVMs")]
    ProvisioningVms,
    /// tart: SSH access is set up and `kubeadm init` runs on the control plane.
    Bootstrapping,
    /// tart: the workers pass the network preflight and `kubeadm join`.
    Joining,
    /// tart: the cluster is registered with ArgoCD, whose ApplicationSets install its addons.
    InstallingAddons,
    /// Every node is Ready (tart: and every addon of spec.addons).
    Ready,
    /// The cluster answers but something is wrong; the conditions say what.
    Degraded,
    /// Being deleted: nodes reset, VMs deleted, Secrets removed.
    Deleting,
    /// A step failed in a way that retrying cannot fix; the conditions say what to change.
    Failed,
}

/// One observed node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    /// Node name.
    pub name: String,
    /// `controlPlane` or `worker`, from the node's role labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<NodeRole>,
    /// The node's internal IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The VM's state as the host agent reports it (tart only), e.g. running or stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_state: Option<String>,
    /// Whether the node's Ready condition is True.
    #[serde(default)]
    pub ready: bool,
    /// The kubelet's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubelet_version: Option<String>,
    /// How far the node is in its bring-up (tart only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<NodeStage>,
}

/// How far a tart node is in its bring-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum NodeStage {
    /// Its VM is being created.
    Creating,
    /// Its VM is stopped and being started.
    Starting,
    /// Its VM runs and has no address yet.
    Booting,
    /// SSH access is being set up (key authorised, host key pinned).
    Connecting,
    /// Waiting for kubeadm init (control plane) or join (worker).
    Joining,
    /// The node is registered in the cluster.
    Joined,
}

/// The step the operator is working on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastOperation {
    /// The kind of step, e.g. CreateVMs, KubeadmInit, JoinWorkers, InstallAddons, CheckHealth.
    #[serde(rename = "type")]
    pub type_: String,
    /// What is happening, for humans.
    pub description: String,
    /// Progress of this step, 0 to 100.
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    pub progress_percent: u32,
    /// When the step last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,
}
