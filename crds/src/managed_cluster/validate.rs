//! The rules of a ManagedCluster spec as a pure function, [`validate_spec`]: the same rules
//! the CRD's schema and CEL rules make the API server apply, with the same limits (the
//! constants below feed both), for callers that hold a spec the API server has not checked:
//! the host agent's `config/clusters.yaml` and the operator's guard against an object that
//! bypassed the schema. `crds/tests/apiserver/agreement.rs` proves that both reject the same
//! bad specs naming the same field.
//!
//! Not here: `provider` cannot change (a transition rule: it needs the old object).

use std::collections::HashMap;

use super::cidr::Ipv4Cidr;
use super::{ManagedClusterSpec, Network, NodeRole, NodeSpec, Provider, SecretKeyRef, image};
use crate::FieldError;
use crate::common::{DnsLabel, ObjectName};
use crate::pattern::is_match;

/// Inclusive bounds of a number field, with its unit for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// The smallest value allowed.
    pub min: u32,
    /// The largest value allowed.
    pub max: u32,
    /// What the number counts, e.g. `virtual CPUs`.
    pub unit: &'static str,
}

/// A node's virtual CPUs.
pub const CPU: Bounds = Bounds {
    min: 1,
    max: 32,
    unit: "virtual CPUs",
};
/// A node's memory.
pub const MEMORY_MIB: Bounds = Bounds {
    min: 512,
    max: 262_144,
    unit: "MiB",
};
/// A node's disk.
pub const DISK_GIB: Bounds = Bounds {
    min: 10,
    max: 2048,
    unit: "GiB",
};
/// kubeadm's minimum CPUs for a control-plane node.
pub const CONTROL_PLANE_MIN_CPU: u32 = 2;
/// kubeadm's minimum memory for a control-plane node.
pub const CONTROL_PLANE_MIN_MEMORY_MIB: u32 = 2048;
/// The most nodes a cluster lists.
pub const MAX_NODES: usize = 16;
/// `1.MM` or `1.MM.P` with MM from 33 to 99.
pub const KUBERNETES_VERSION: &str = r"^1\.(3[3-9]|[4-9][0-9])(\.[0-9]{1,3})?$";
/// The longest Kubernetes version string.
pub const KUBERNETES_VERSION_MAX_LEN: usize = 16;
/// The longest Secret key.
pub const SECRET_KEY_MAX_LEN: usize = 253;

/// How to write a DNS label.
pub const DNS_LABEL_FIX: &str = "use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";

/// Every broken rule of `spec`, in the order of the spec's fields, with paths relative to
/// the spec (`nodes[1].cpu`). Empty when the API server would accept the spec.
pub fn validate_spec(spec: &ManagedClusterSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(version) = &spec.kubernetes_version {
        errors.extend(check_kubernetes_version(version));
    }
    if let Some(base_image) = &spec.base_image {
        errors.extend(image::check(base_image));
    }
    match &spec.network {
        Some(network) => errors.extend(check_network(network)),
        None if spec.provider == Provider::Tart => errors.push(FieldError::new(
            "network",
            "is required when provider is tart",
            "set podCidr and serviceCidr, e.g. {podCidr: 10.20.0.0/16, serviceCidr: 10.97.0.0/16}",
        )),
        None => {}
    }
    let nodes = spec.nodes.as_deref().unwrap_or_default();
    if nodes.is_empty() && spec.provider == Provider::Tart {
        errors.push(FieldError::new(
            "nodes",
            "lists no nodes, and provider tart needs one VM per node",
            nodes_fix(),
        ));
    }
    errors.extend(check_nodes(nodes));
    match &spec.kubeconfig_secret_ref {
        Some(secret) => errors.extend(check_secret_ref(secret)),
        None if spec.provider == Provider::External => errors.push(FieldError::new(
            "kubeconfigSecretRef",
            "is required when provider is external",
            "name the Secret that holds the cluster's kubeconfig: {namespace: ..., name: ...}",
        )),
        None => {}
    }
    errors
}

/// Whether `version` is a Kubernetes version the CRD accepts (1.33 or newer).
pub fn is_kubernetes_version(version: &str) -> bool {
    version.len() <= KUBERNETES_VERSION_MAX_LEN && is_match(KUBERNETES_VERSION, version)
}

fn check_kubernetes_version(version: &str) -> Option<FieldError> {
    (!is_kubernetes_version(version)).then(|| {
        FieldError::new(
            "kubernetesVersion",
            format!("`{version}` is not a Kubernetes version 1.33 or newer"),
            "write it quoted, e.g. \"1.33\" or \"1.33.4\"",
        )
    })
}

/// The CIDRs: IPv4 network addresses, the service range apart from the pod range.
fn check_network(network: &Network) -> Vec<FieldError> {
    let parse = |field: &str, text: &str| {
        Ipv4Cidr::parse(text).map_err(|e| e.at(&format!("network.{field}"), text))
    };
    let pod = parse("podCidr", &network.pod_cidr);
    let service = parse("serviceCidr", &network.service_cidr);
    match (pod, service) {
        (Ok(pod), Ok(service)) if pod.overlaps(&service) => vec![FieldError::new(
            "network.serviceCidr",
            format!("{service} overlaps network.podCidr ({pod})"),
            "give the pod and service ranges separate blocks, e.g. 10.20.0.0/16 for pods and 10.97.0.0/16 for services",
        )],
        (pod, service) => [pod.err(), service.err()].into_iter().flatten().collect(),
    }
}

fn nodes_fix() -> String {
    format!(
        "list one controlPlane node and up to {} workers",
        MAX_NODES - 1
    )
}

/// The nodes: how many, names, sizes and exactly one control plane big enough for kubeadm.
fn check_nodes(nodes: &[NodeSpec]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if nodes.len() > MAX_NODES {
        errors.push(FieldError::new(
            "nodes",
            format!("lists {} nodes, more than {MAX_NODES}", nodes.len()),
            nodes_fix(),
        ));
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (j, node) in nodes.iter().enumerate() {
        let at = format!("nodes[{j}]");
        let name = node.name.as_str();
        if !DnsLabel::is_valid(name) {
            errors.push(FieldError::new(
                format!("{at}.name"),
                format!("`{name}` is not a DNS label"),
                DNS_LABEL_FIX,
            ));
        }
        // The API server reports a repeated key of a list-map at the item, not its key.
        if let Some(&first) = names.get(name) {
            errors.push(FieldError::new(
                at.clone(),
                format!("node name `{name}` is already used by nodes[{first}]"),
                "node names are VM names and hostnames; give every node its own",
            ));
        } else {
            names.insert(name, j);
        }
        for (field, value, bounds) in [
            ("cpu", node.cpu, CPU),
            ("memoryMiB", node.memory_mib, MEMORY_MIB),
            ("diskGiB", node.disk_gib, DISK_GIB),
        ] {
            if !(bounds.min..=bounds.max).contains(&value) {
                errors.push(FieldError::new(
                    format!("{at}.{field}"),
                    format!("{value} is out of range"),
                    format!("set {} to {} {}", bounds.min, bounds.max, bounds.unit),
                ));
            }
        }
        if node.role == NodeRole::ControlPlane {
            errors.extend(check_control_plane(&at, node));
        }
    }
    let control_planes = nodes
        .iter()
        .filter(|n| n.role == NodeRole::ControlPlane)
        .count();
    if !nodes.is_empty() && control_planes != 1 {
        errors.push(FieldError::new(
            "nodes",
            format!("exactly one node must have role controlPlane (found {control_planes})"),
            "give one node `role: controlPlane` and the others `role: worker`",
        ));
    }
    errors
}

/// kubeadm's minimums for a control-plane node at `at`.
fn check_control_plane(at: &str, node: &NodeSpec) -> Vec<FieldError> {
    [
        ("cpu", node.cpu, CONTROL_PLANE_MIN_CPU, "CPUs"),
        (
            "memoryMiB",
            node.memory_mib,
            CONTROL_PLANE_MIN_MEMORY_MIB,
            "MiB",
        ),
    ]
    .into_iter()
    .filter(|(_, value, min, _)| value < min)
    .map(|(field, value, min, unit)| {
        FieldError::new(
            format!("{at}.{field}"),
            format!(
                "a controlPlane node needs at least {min} {unit} (kubeadm's minimum), found {value}"
            ),
            format!("set {field}: {min} or more"),
        )
    })
    .collect()
}

fn check_secret_ref(secret: &SecretKeyRef) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !DnsLabel::is_valid(secret.namespace.as_str()) {
        errors.push(FieldError::new(
            "kubeconfigSecretRef.namespace",
            format!("`{}` is not a DNS label", secret.namespace),
            DNS_LABEL_FIX,
        ));
    }
    if !ObjectName::is_valid(secret.name.as_str()) {
        errors.push(FieldError::new(
            "kubeconfigSecretRef.name",
            format!("`{}` is not a Kubernetes object name", secret.name),
            "use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters",
        ));
    }
    if !(1..=SECRET_KEY_MAX_LEN).contains(&secret.key.len()) {
        errors.push(FieldError::new(
            "kubeconfigSecretRef.key",
            format!("is {} characters long", secret.key.len()),
            format!(
                "name the Secret's key, 1 to {SECRET_KEY_MAX_LEN} characters (default kubeconfig)"
            ),
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managed_cluster::{Addons, Tier};

    fn node(name: &str, role: NodeRole, cpu: u32, memory_mib: u32) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            role,
            cpu,
            memory_mib,
            disk_gib: 20,
        }
    }

    fn tart() -> ManagedClusterSpec {
        ManagedClusterSpec {
            tier: Tier::Dev,
            provider: Provider::Tart,
            kubernetes_version: Some("1.33".to_owned()),
            base_image: Some("ghcr.io/cirruslabs/ubuntu:24.04".to_owned()),
            network: Some(Network {
                pod_cidr: "10.20.0.0/16".to_owned(),
                service_cidr: "10.97.0.0/16".to_owned(),
            }),
            nodes: Some(vec![
                node("cp", NodeRole::ControlPlane, 2, 4096),
                node("w1", NodeRole::Worker, 2, 8192),
            ]),
            addons: Addons::default(),
            kubeconfig_secret_ref: None,
            connection: Default::default(),
            paused: false,
            load_test_policy: Default::default(),
        }
    }

    fn paths(spec: &ManagedClusterSpec) -> Vec<String> {
        validate_spec(spec).into_iter().map(|e| e.path).collect()
    }

    #[test]
    fn a_good_spec_has_no_errors() {
        assert_eq!(validate_spec(&tart()), []);
        let external = ManagedClusterSpec {
            provider: Provider::External,
            network: None,
            nodes: None,
            kubeconfig_secret_ref: Some(SecretKeyRef {
                namespace: "tart-system".into(),
                name: "dev.kubeconfig".into(),
                key: "kubeconfig".to_owned(),
            }),
            ..tart()
        };
        assert_eq!(validate_spec(&external), []);
    }

    /// Each bad spec and the one field it is rejected at.
    #[test]
    fn each_broken_rule_names_its_field() {
        type Edit = fn(&mut ManagedClusterSpec);
        let cases: &[(&str, Edit, &str)] = &[
            (
                "old Kubernetes",
                |s| s.kubernetes_version = Some("1.32".into()),
                "kubernetesVersion",
            ),
            (
                "latest image",
                |s| s.base_image = Some("ghcr.io/cirruslabs/ubuntu:latest".into()),
                "baseImage",
            ),
            (
                "untagged image",
                |s| s.base_image = Some("ghcr.io/cirruslabs/ubuntu".into()),
                "baseImage",
            ),
            ("tart without network", |s| s.network = None, "network"),
            ("tart without nodes", |s| s.nodes = Some(vec![]), "nodes"),
            (
                "external without kubeconfig",
                |s| s.provider = Provider::External,
                "kubeconfigSecretRef",
            ),
            (
                "IPv6 pod CIDR",
                |s| {
                    if let Some(n) = &mut s.network {
                        n.pod_cidr = "fd00::/64".into()
                    }
                },
                "network.podCidr",
            ),
            (
                "host bits",
                |s| {
                    if let Some(n) = &mut s.network {
                        n.pod_cidr = "10.20.0.5/16".into()
                    }
                },
                "network.podCidr",
            ),
            (
                "overlap",
                |s| {
                    if let Some(n) = &mut s.network {
                        n.service_cidr = "10.20.128.0/17".into()
                    }
                },
                "network.serviceCidr",
            ),
            (
                "bad node name",
                |s| {
                    if let Some(n) = &mut s.nodes {
                        n[1].name = "Worker_1".into()
                    }
                },
                "nodes[1].name",
            ),
            (
                "duplicate node",
                |s| {
                    if let Some(n) = &mut s.nodes {
                        n[1].name = "cp".into()
                    }
                },
                "nodes[1]",
            ),
            (
                "zero CPUs",
                |s| {
                    if let Some(n) = &mut s.nodes {
                        n[1].cpu = 0
                    }
                },
                "nodes[1].cpu",
            ),
            (
                "huge memory",
                |s| {
                    if let Some(n) = &mut s.nodes {
                        n[1].memory_mib = 300_000
                    }
                },
                "nodes[1].memoryMiB",
            ),
            (
                "small disk",
                |s| {
                    if let Some(n) = &mut s.nodes {
                        n[1].disk_gib = 5
                    }
                },
                "nodes[1].diskGiB",
            ),
            (
                "small control plane",
                |s| {
                    if let Some(n) = &mut s.nodes {
                        n[0].cpu = 1
                    }
                },
                "nodes[0].cpu",
            ),
            (
                "control plane memory",
                |s| {
                    if let Some(n) = &mut s.nodes {
                        n[0].memory_mib = 1024
                    }
                },
                "nodes[0].memoryMiB",
            ),
            (
                "two control planes",
                |s| {
                    if let Some(n) = &mut s.nodes {
                        n[1].role = NodeRole::ControlPlane
                    }
                },
                "nodes",
            ),
            (
                "no control plane",
                |s| {
                    if let Some(n) = &mut s.nodes {
                        n[0].role = NodeRole::Worker
                    }
                },
                "nodes",
            ),
            (
                "17 nodes",
                |s| {
                    s.nodes = Some(
                        (0..17)
                            .map(|i| {
                                node(
                                    &format!("n{i}"),
                                    if i == 0 {
                                        NodeRole::ControlPlane
                                    } else {
                                        NodeRole::Worker
                                    },
                                    2,
                                    4096,
                                )
                            })
                            .collect(),
                    )
                },
                "nodes",
            ),
        ];
        for (what, edit, path) in cases {
            let mut spec = tart();
            edit(&mut spec);
            assert_eq!(paths(&spec), [*path], "{what}");
        }
    }

    #[test]
    fn messages_name_the_value_and_the_fix() {
        let mut spec = tart();
        if let Some(n) = &mut spec.nodes {
            n[1].cpu = 40;
            n[1].name = "cp".into();
            n.push(node("cp", NodeRole::Worker, 2, 4096));
        }
        let messages: Vec<String> = validate_spec(&spec)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            messages,
            [
                "nodes[1]: node name `cp` is already used by nodes[0]; node names are VM names and hostnames; give every node its own",
                "nodes[1].cpu: 40 is out of range; set 1 to 32 virtual CPUs",
                "nodes[2]: node name `cp` is already used by nodes[0]; node names are VM names and hostnames; give every node its own",
            ]
        );
        let mut spec = tart();
        spec.provider = Provider::External;
        spec.kubeconfig_secret_ref = Some(SecretKeyRef {
            namespace: "Tart".into(),
            name: "-x".into(),
            key: String::new(),
        });
        assert_eq!(
            paths(&spec),
            [
                "kubeconfigSecretRef.namespace",
                "kubeconfigSecretRef.name",
                "kubeconfigSecretRef.key"
            ]
        );
    }

    #[test]
    fn kubernetes_versions_are_1_33_or_newer() {
        for (version, ok) in [
            ("1.33", true),
            ("1.33.4", true),
            ("1.40", true),
            ("1.32", false),
            ("v1.33", false),
            ("1.33.", false),
            ("2.0", false),
            ("1.3", false),
            ("1.33.1234", false),
        ] {
            assert_eq!(is_kubernetes_version(version), ok, "{version}");
        }
    }
}
