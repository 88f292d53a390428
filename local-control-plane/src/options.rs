//! What a control plane runs: the components, the simulated nodes and who moves their pods
//! through their lifecycle, the networks, and where it keeps its files.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// A simulated node run by kwok.
#[derive(Clone, Debug)]
pub struct SimNode {
    /// Node name.
    pub name: String,
    /// Control-plane role: labelled and tainted `node-role.kubernetes.io/control-plane`.
    pub control_plane: bool,
    /// CPU capacity, e.g. `4`.
    pub cpu: String,
    /// Memory capacity, e.g. `8Gi`.
    pub memory: String,
    /// Pod capacity.
    pub pods: u32,
}

impl SimNode {
    /// A worker with the given CPU and memory capacity and room for 110 pods.
    pub fn worker(name: &str, cpu: &str, memory: &str) -> Self {
        Self {
            name: name.to_owned(),
            control_plane: false,
            cpu: cpu.to_owned(),
            memory: memory.to_owned(),
            pods: 110,
        }
    }

    /// A tainted control-plane node.
    pub fn control_plane(name: &str, cpu: &str, memory: &str) -> Self {
        Self {
            control_plane: true,
            ..Self::worker(name, cpu, memory)
        }
    }
}

/// Who moves pods through their lifecycle (no kubelet runs here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodLifecycle {
    /// kwok: pods become Running and Ready, Job pods complete with exit code 0.
    Simulated,
    /// The test writes pod status itself, as a kubelet would (running, terminated with an
    /// exit code and a termination message); kwok only removes deleted pods.
    Manual,
    /// kwok: every pod becomes Running and Ready and stays so, Job pods included; the test
    /// ends Job pods itself by writing their status as a kubelet would.
    Ready,
}

/// A control plane placed like a kubeadm node's: on one address with kubeadm's ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnAddress {
    /// Every component binds here (etcd 2379/2380, kube-apiserver 6443, kwok's kubelet
    /// port 10250, metrics-server 4443) instead of free ports on 127.0.0.1.
    pub address: Ipv4Addr,
    /// More names and addresses for the API server's certificate (a stable
    /// `controlPlaneEndpoint` name, certSANs); `address` is always in it. The certificate is
    /// made once, so when the address later changes clients connect with TLS server name
    /// set to one of these names (the components themselves use `localhost`).
    pub sans: Vec<String>,
}

impl OnAddress {
    /// The kubeadm ports.
    pub const APISERVER_PORT: u16 = 6443;
}

/// What to start.
#[derive(Clone, Debug)]
pub struct Options {
    /// A short name, used in directory and log names.
    pub name: String,
    /// Run kube-controller-manager (Deployments, ReplicaSets, Jobs, HPAs, GC, namespaces).
    pub controller_manager: bool,
    /// Extra kube-controller-manager flags, e.g. shorter HPA periods.
    pub controller_manager_args: Vec<String>,
    /// Run kube-scheduler.
    pub scheduler: bool,
    /// Simulated nodes; kwok runs when this is not empty.
    pub nodes: Vec<SimNode>,
    /// Who moves pods on the simulated nodes through their lifecycle.
    pub pods: PodLifecycle,
    /// More kwok configuration documents (YAML), e.g. a `PortForward` that connects
    /// `kubectl port-forward` to a pod with a local server.
    pub kwok_config: Vec<String>,
    /// The service network (the API server's --service-cluster-ip-range).
    pub service_cidr: String,
    /// The pod network kwok assigns pod IPs from. These addresses are never dialled.
    pub pod_cidr: String,
    /// Run metrics-server (registered as `v1beta1.metrics.k8s.io`), scraping the CPU and
    /// memory usage kwok simulates for each pod: 1m CPU and 1Mi memory unless the pod's
    /// `kwok.x-k8s.io/usage-cpu` / `kwok.x-k8s.io/usage-memory` annotations say otherwise.
    pub metrics_server: bool,
    /// Keep everything in this directory and reuse it on the next start (certificates,
    /// token, ports, etcd data), as the local lab does; nothing is removed when the control
    /// plane stops. `None` (tests): a temporary directory, removed on drop.
    pub state_dir: Option<PathBuf>,
    /// Place the control plane like a kubeadm node's (one address, kubeadm's ports), with
    /// bootstrap-token authentication on and kwok managing only nodes annotated
    /// `kwok.x-k8s.io/node: fake`, so nodes joined later are simulated too. `None`: free
    /// ports on 127.0.0.1, kwok managing every node.
    pub on_address: Option<OnAddress>,
    /// Node addresses the API server reaches at a loopback address instead (see
    /// [`crate::egress`]): a node whose `InternalIP` is a key here (a documentation address,
    /// 192.0.2.0/24) is reachable through the node proxy (`/api/v1/nodes/{name}/proxy/...`)
    /// at the value's address on the node's kubelet port. Empty: no egress proxy.
    pub node_addresses: BTreeMap<Ipv4Addr, Ipv4Addr>,
}

impl Options {
    /// etcd and kube-apiserver only: CRUD, watches, CRDs, RBAC, admission.
    pub fn apiserver(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            controller_manager: false,
            controller_manager_args: Vec::new(),
            scheduler: false,
            nodes: Vec::new(),
            pods: PodLifecycle::Simulated,
            kwok_config: Vec::new(),
            service_cidr: "10.96.0.0/16".to_owned(),
            pod_cidr: "10.244.0.0/16".to_owned(),
            metrics_server: false,
            state_dir: None,
            on_address: None,
            node_addresses: BTreeMap::new(),
        }
    }

    /// A working cluster: controller-manager, scheduler and one simulated worker node
    /// (4 CPU, 8Gi), so workloads get pods that run (and Job pods that complete).
    pub fn cluster(name: &str) -> Self {
        Self {
            controller_manager: true,
            scheduler: true,
            nodes: vec![SimNode::worker(&format!("{name}-worker"), "4", "8Gi")],
            ..Self::apiserver(name)
        }
    }

    /// Sets who moves pods through their lifecycle.
    pub fn with_pods(mut self, pods: PodLifecycle) -> Self {
        self.pods = pods;
        self
    }

    /// Adds metrics-server, so HPAs see the pods' simulated CPU usage. The HPA controller
    /// runs with test-speed periods: sync every 2 s, new pods' CPU counted after 1 s.
    pub fn with_metrics_server(mut self) -> Self {
        self.metrics_server = true;
        self.controller_manager_args.extend([
            "--horizontal-pod-autoscaler-sync-period=2s".to_owned(),
            "--horizontal-pod-autoscaler-cpu-initialization-period=1s".to_owned(),
            "--horizontal-pod-autoscaler-initial-readiness-delay=1s".to_owned(),
        ]);
        self
    }

    /// Places the control plane on `address` with kubeadm's ports and `sans` in its
    /// certificate ([`OnAddress`]).
    pub fn on_address(mut self, address: Ipv4Addr, sans: Vec<String>) -> Self {
        self.on_address = Some(OnAddress { address, sans });
        self
    }

    /// Lets the API server reach node address `node` at loopback address `loopback` (see
    /// [`Self::node_addresses`]).
    pub fn with_node_address(mut self, node: Ipv4Addr, loopback: Ipv4Addr) -> Self {
        self.node_addresses.insert(node, loopback);
        self
    }

    /// Replaces the simulated nodes.
    pub fn with_nodes(mut self, nodes: Vec<SimNode>) -> Self {
        self.nodes = nodes;
        self
    }
}
