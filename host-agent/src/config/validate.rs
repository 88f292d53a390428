//! The rules of the cluster file that its types cannot express.

use std::collections::HashMap;

use crds::managed_cluster::{NodeRole, NodeSpec, Tier};

use super::cidr::Cidr;
use super::error::invalid;
use super::{Config, ConfigError, SshConfig};

/// Node sizes: the ranges of the ManagedCluster schema (`NodeSpec`).
const CPU_RANGE: (u32, u32) = (1, 32);
const MEMORY_MIB_RANGE: (u32, u32) = (512, 262_144);
const DISK_GIB_RANGE: (u32, u32) = (10, 2048);
/// kubeadm's minimum for a control-plane node.
const CONTROL_PLANE_MIN_CPU: u32 = 2;
const CONTROL_PLANE_MIN_MEMORY_MIB: u32 = 2048;
/// The ManagedCluster schema's limit on nodes per cluster.
const MAX_NODES: usize = 16;

/// Checks the rules the types cannot express (pure; the first broken rule is returned):
/// at least one cluster, exactly one of tier platform; cluster names DNS labels and unique;
/// CIDRs IPv4 network addresses, none overlapping another anywhere in the file; node names DNS
/// labels, unique across the file (they are VM names); exactly one controlPlane per cluster
/// with at least 2 CPUs and 2048 MiB; node sizes within the ManagedCluster ranges; the SSH
/// user and paths, the base image and a Kubernetes version 1.33 or newer set.
pub fn validate(config: &Config) -> Result<(), ConfigError> {
    if config.base_image.trim().is_empty() {
        return Err(invalid(
            "baseImage",
            "is empty",
            "name the Tart image the VMs are cloned from, e.g. ghcr.io/cirruslabs/ubuntu:24.04",
        ));
    }
    if !is_kubernetes_version(&config.kubernetes_version) {
        return Err(invalid(
            "kubernetesVersion",
            format!(
                "`{}` is not a Kubernetes version 1.33 or newer",
                config.kubernetes_version
            ),
            "write it quoted, e.g. \"1.33\" or \"1.33.4\"",
        ));
    }
    validate_ssh(&config.ssh)?;
    if config.clusters.is_empty() {
        return Err(invalid(
            "clusters",
            "no clusters are listed",
            "list at least the platform cluster, as in the repository's config/clusters.yaml",
        ));
    }

    let mut cluster_names: HashMap<&str, usize> = HashMap::new();
    let mut node_names: HashMap<&str, String> = HashMap::new();
    let mut cidrs: Vec<(String, Cidr)> = Vec::new();
    for (i, cluster) in config.clusters.iter().enumerate() {
        let at = format!("clusters[{i}]");
        let name = cluster.name.as_str();
        check_label(&at, name)?;
        if let Some(first) = cluster_names.insert(name, i) {
            return Err(invalid(
                format!("{at}.name"),
                format!("cluster name `{name}` is already used by clusters[{first}]"),
                "give every cluster its own name",
            ));
        }
        for (field, text) in [
            ("podCidr", &cluster.network.pod_cidr),
            ("serviceCidr", &cluster.network.service_cidr),
        ] {
            let path = format!("{at}.network.{field}");
            let cidr = Cidr::parse(text).map_err(|e| e.into_config_error(&path, text))?;
            cidrs.push((path, cidr));
        }
        validate_nodes(&at, &cluster.nodes, &mut node_names)?;
    }

    let platforms: Vec<String> = (config.clusters.iter().enumerate())
        .filter(|(_, c)| c.tier == Tier::Platform)
        .map(|(i, c)| format!("clusters[{i}] ({})", c.name))
        .collect();
    if platforms.len() != 1 {
        let found = if platforms.is_empty() {
            "none".to_owned()
        } else {
            platforms.join(", ")
        };
        return Err(invalid(
            "clusters",
            format!("exactly one cluster must have tier platform (found {found})"),
            "set `tier: platform` on the one cluster that runs the operator, ArgoCD and monitoring",
        ));
    }

    for (k, (path, cidr)) in cidrs.iter().enumerate() {
        if let Some((other_path, other)) = cidrs[..k].iter().find(|(_, other)| other.overlaps(cidr))
        {
            return Err(invalid(
                path.clone(),
                format!("{cidr} overlaps {other_path} ({other})"),
                "give every pod and service range its own block, e.g. 10.<n>0.0.0/16 for pods and 10.9<n>.0.0/16 for services (traffic is routed between the clusters)",
            ));
        }
    }
    Ok(())
}

/// `<at>.name` must be a DNS label (cluster and node names are host and VM names).
fn check_label(at: &str, name: &str) -> Result<(), ConfigError> {
    if is_dns_label(name) {
        return Ok(());
    }
    Err(invalid(
        format!("{at}.name"),
        format!("`{name}` is not a DNS label"),
        "use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters",
    ))
}

fn validate_ssh(ssh: &SshConfig) -> Result<(), ConfigError> {
    if ssh.user.trim().is_empty() {
        return Err(invalid(
            "ssh.user",
            "is empty",
            "set the VMs' login user (`admin` on the Cirrus Labs images)",
        ));
    }
    if ssh.private_key_path.as_os_str().is_empty() {
        return Err(invalid(
            "ssh.privateKeyPath",
            "is empty",
            "set the path of the SSH private key, e.g. ~/.ssh/tart-infra_ed25519",
        ));
    }
    if ssh.known_hosts_path.as_os_str().is_empty() {
        return Err(invalid(
            "ssh.knownHostsPath",
            "is empty",
            "set the path of the known_hosts file that pins the VMs' host keys, e.g. ~/.config/tart-infra/known_hosts",
        ));
    }
    Ok(())
}

/// The node rules of one cluster; `node_names` maps the names seen so far in the file to
/// their paths.
fn validate_nodes<'a>(
    at: &str,
    nodes: &'a [NodeSpec],
    node_names: &mut HashMap<&'a str, String>,
) -> Result<(), ConfigError> {
    if nodes.is_empty() || nodes.len() > MAX_NODES {
        return Err(invalid(
            format!("{at}.nodes"),
            format!("lists {} nodes", nodes.len()),
            format!(
                "list one controlPlane node and up to {} workers",
                MAX_NODES - 1
            ),
        ));
    }
    for (j, node) in nodes.iter().enumerate() {
        let at = format!("{at}.nodes[{j}]");
        let name = node.name.as_str();
        check_label(&at, name)?;
        if let Some(first) = node_names.insert(name, at.clone()) {
            return Err(invalid(
                format!("{at}.name"),
                format!("node name `{name}` is already used by {first}"),
                "node names are VM names and must be unique across all clusters; rename one of them",
            ));
        }
        for (field, value, (min, max), unit) in [
            ("cpu", node.cpu, CPU_RANGE, "virtual CPUs"),
            ("memoryMiB", node.memory_mib, MEMORY_MIB_RANGE, "MiB"),
            ("diskGiB", node.disk_gib, DISK_GIB_RANGE, "GiB"),
        ] {
            if !(min..=max).contains(&value) {
                return Err(invalid(
                    format!("{at}.{field}"),
                    format!("{value} is out of range"),
                    format!("set {min} to {max} {unit}"),
                ));
            }
        }
    }

    let control_planes: Vec<usize> = (nodes.iter().enumerate())
        .filter(|(_, n)| n.role == NodeRole::ControlPlane)
        .map(|(j, _)| j)
        .collect();
    let &[j] = control_planes.as_slice() else {
        return Err(invalid(
            format!("{at}.nodes"),
            format!(
                "exactly one node must have role controlPlane (found {})",
                control_planes.len()
            ),
            "give one node `role: controlPlane` and the others `role: worker`",
        ));
    };
    let node = &nodes[j];
    for (field, value, min, unit) in [
        ("cpu", node.cpu, CONTROL_PLANE_MIN_CPU, "CPUs"),
        (
            "memoryMiB",
            node.memory_mib,
            CONTROL_PLANE_MIN_MEMORY_MIB,
            "MiB",
        ),
    ] {
        if value < min {
            return Err(invalid(
                format!("{at}.nodes[{j}].{field}"),
                format!(
                    "a controlPlane node needs at least {min} {unit} (kubeadm's minimum), found {value}"
                ),
                format!("set {field}: {min} or more"),
            ));
        }
    }
    Ok(())
}

/// A DNS label (RFC 1123): 1 to 63 lowercase letters, digits and '-', not starting or ending
/// with '-'.
pub fn is_dns_label(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// `1.MM` or `1.MM.P` with MM from 33 to 99: the ManagedCluster schema's rule.
fn is_kubernetes_version(s: &str) -> bool {
    let digits = |p: &str, len: std::ops::RangeInclusive<usize>| {
        len.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    let mut parts = s.split('.');
    let (Some("1"), Some(minor), patch, None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    digits(minor, 2..=2)
        && minor.parse::<u32>().is_ok_and(|m| m >= 33)
        && patch.is_none_or(|p| digits(p, 1..=3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixtures::{assert_error, parse_err, shipped, shipped_with};

    #[test]
    fn overlapping_cidrs_across_clusters_are_rejected() {
        let text = shipped_with("podCidr: 10.20.0.0/16", "podCidr: 10.10.128.0/17");
        let err = parse_err(&text);
        assert_error(
            &err,
            "clusters[1].network.podCidr",
            &["overlaps clusters[0].network.podCidr (10.10.0.0/16)"],
        );

        // A cluster's own pod and service ranges count too.
        let text = shipped_with("serviceCidr: 10.99.0.0/16", "serviceCidr: 10.40.0.0/24");
        assert_error(
            &parse_err(&text),
            "clusters[3].network.serviceCidr",
            &["overlaps clusters[3].network.podCidr"],
        );
    }

    #[test]
    fn a_node_name_used_twice_in_the_file_is_rejected() {
        let text = shipped_with("{name: prod-worker2,", "{name: dev-worker1,");
        assert_error(
            &parse_err(&text),
            "clusters[3].nodes[2].name",
            &[
                "`dev-worker1` is already used by clusters[1].nodes[1]",
                "unique across all clusters",
            ],
        );
    }

    #[test]
    fn two_control_planes_are_rejected() {
        let text = shipped_with(
            "{name: staging-worker1, role: worker,",
            "{name: staging-worker1, role: controlPlane,",
        );
        assert_error(
            &parse_err(&text),
            "clusters[2].nodes",
            &[
                "exactly one node must have role controlPlane (found 2)",
                "role: worker",
            ],
        );
    }

    #[test]
    fn a_small_control_plane_is_rejected() {
        let text = shipped_with(
            "{name: dev-master, role: controlPlane, cpu: 2,",
            "{name: dev-master, role: controlPlane, cpu: 1,",
        );
        assert_error(
            &parse_err(&text),
            "clusters[1].nodes[0].cpu",
            &["at least 2 CPUs", "found 1"],
        );

        let text = shipped_with(
            "{name: dev-master, role: controlPlane, cpu: 2, memoryMiB: 4096",
            "{name: dev-master, role: controlPlane, cpu: 2, memoryMiB: 1024",
        );
        assert_error(
            &parse_err(&text),
            "clusters[1].nodes[0].memoryMiB",
            &["at least 2048 MiB", "found 1024"],
        );
    }

    #[test]
    fn node_sizes_below_the_minimum_are_rejected() {
        let text = shipped_with(
            "{name: prod-worker1, role: worker, cpu: 2, memoryMiB: 8192, diskGiB: 20}",
            "{name: prod-worker1, role: worker, cpu: 2, memoryMiB: 8192, diskGiB: 5}",
        );
        assert_error(
            &parse_err(&text),
            "clusters[3].nodes[1].diskGiB",
            &["5 is out of range", "10 to 2048"],
        );
        let text = shipped_with(
            "{name: prod-worker1, role: worker, cpu: 2, memoryMiB: 8192",
            "{name: prod-worker1, role: worker, cpu: 2, memoryMiB: 256",
        );
        assert_error(
            &parse_err(&text),
            "clusters[3].nodes[1].memoryMiB",
            &["512 to"],
        );
        let text = shipped_with(
            "{name: prod-worker1, role: worker, cpu: 2,",
            "{name: prod-worker1, role: worker, cpu: 0,",
        );
        assert_error(&parse_err(&text), "clusters[3].nodes[1].cpu", &["1 to 32"]);
    }

    #[test]
    fn a_bad_cidr_is_rejected() {
        let text = shipped_with("podCidr: 10.30.0.0/16", "podCidr: 10.300.0.0/16");
        assert_error(
            &parse_err(&text),
            "clusters[2].network.podCidr",
            &["`10.300.0.0/16` is not an IPv4 CIDR", "e.g. 10.20.0.0/16"],
        );

        let text = shipped_with("podCidr: 10.30.0.0/16", "podCidr: 10.30.1.0/16");
        assert_error(
            &parse_err(&text),
            "clusters[2].network.podCidr",
            &["host bits", "10.30.0.0/16"],
        );
    }

    #[test]
    fn cluster_names_and_tiers_are_checked() {
        let text = shipped_with("  - name: staging\n", "  - name: Staging\n");
        assert_error(&parse_err(&text), "clusters[2].name", &["not a DNS label"]);

        let text = shipped_with("  - name: staging\n", "  - name: dev\n");
        assert_error(
            &parse_err(&text),
            "clusters[2].name",
            &["already used by clusters[1]"],
        );

        let text = shipped_with("    tier: prod\n", "    tier: platform\n");
        assert_error(
            &parse_err(&text),
            "clusters: ",
            &[
                "exactly one cluster must have tier platform",
                "clusters[0] (platform), clusters[3] (prod)",
            ],
        );

        let text = shipped_with("    tier: platform\n", "    tier: dev\n");
        assert_error(&parse_err(&text), "clusters: ", &["(found none)"]);

        let mut config = shipped();
        config.clusters.clear();
        assert_eq!(
            validate(&config).map_err(|e| e.path().map(str::to_owned)),
            Err(Some("clusters".to_owned()))
        );
    }

    #[test]
    fn ssh_and_versions_are_checked() {
        let mut config = shipped();
        config.ssh.user = " ".to_owned();
        let err = validate(&config).expect_err("empty user");
        // Without a file name (validate alone), the message starts with the path.
        assert!(err.to_string().starts_with("ssh.user: is empty; "), "{err}");

        for (version, ok) in [
            ("1.33", true),
            ("1.33.4", true),
            ("1.40", true),
            ("1.32", false),
            ("v1.33", false),
            ("1.33.", false),
            ("2.0", false),
            ("1.3", false),
        ] {
            assert_eq!(is_kubernetes_version(version), ok, "{version}");
        }
        let text = shipped_with("kubernetesVersion: \"1.33\"", "kubernetesVersion: 1.30");
        assert_error(&parse_err(&text), "kubernetesVersion", &["`1.30`"]);
        for (label, ok) in [
            ("dev", true),
            ("dev-worker1", true),
            ("-dev", false),
            ("dev-", false),
            ("dev_1", false),
            ("", false),
        ] {
            assert_eq!(is_dns_label(label), ok, "{label:?}");
        }
        assert!(!is_dns_label(&"a".repeat(64)));
    }
}
