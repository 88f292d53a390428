//! The rules of the cluster file that its types cannot express: each cluster's spec by the
//! ManagedCluster rules of the crds crate (the rules the API server applies to the CRD, so
//! the file and `kubectl apply` cannot disagree), then the rules of the file as a whole.

use std::collections::HashMap;

use crds::FieldError;
use crds::managed_cluster::validate::DNS_LABEL_FIX;
use crds::managed_cluster::{Ipv4Cidr, Tier, validate_spec};

use super::error::invalid;
use super::{Config, ConfigError, GitopsConfig, SshConfig};

/// Checks the rules the types cannot express (pure; the first broken rule is returned).
///
/// Per cluster, the ManagedCluster rules ([`crds::managed_cluster::validate_spec`]) on the
/// spec the cluster becomes ([`Config::spec`]): base image pinned, Kubernetes 1.33 or newer,
/// IPv4 network CIDRs with the pod and service ranges apart, one to 16 nodes with DNS-label
/// names unique in the cluster, sizes within range, exactly one controlPlane with at least
/// 2 CPUs and 2048 MiB. For the file: the SSH user and paths set; at least one cluster;
/// cluster names DNS labels and unique; node names unique across the file (they are VM
/// names); exactly one cluster of tier platform; no CIDR overlapping another cluster's.
pub fn validate(config: &Config) -> Result<(), ConfigError> {
    match field_errors(config).into_iter().next() {
        Some(e) => Err(invalid(e.path, e.problem, e.fix)),
        None => Ok(()),
    }
}

/// Every broken rule with its path in the file: the file-wide fields first, then each
/// cluster's, then the rules across clusters.
fn field_errors(config: &Config) -> Vec<FieldError> {
    let mut top: Vec<FieldError> = Vec::new();
    let mut rest: Vec<FieldError> = check_ssh(&config.ssh);
    rest.extend(config.gitops.as_ref().and_then(check_gitops));
    if config.clusters.is_empty() {
        rest.push(FieldError::new(
            "clusters",
            "no clusters are listed",
            "list at least the platform cluster, as in the repository's config/clusters.yaml",
        ));
    }
    let mut cluster_names: HashMap<&str, usize> = HashMap::new();
    for (i, cluster) in config.clusters.iter().enumerate() {
        let at = format!("clusters[{i}]");
        let name = cluster.name.as_str();
        if !crds::common::DnsLabel::is_valid(name) {
            rest.push(FieldError::new(
                format!("{at}.name"),
                format!("`{name}` is not a DNS label"),
                DNS_LABEL_FIX,
            ));
        }
        if let Some(&first) = cluster_names.get(name) {
            rest.push(FieldError::new(
                format!("{at}.name"),
                format!("cluster name `{name}` is already used by clusters[{first}]"),
                "give every cluster its own name",
            ));
        } else {
            cluster_names.insert(name, i);
        }
        for e in validate_spec(&config.spec(cluster)) {
            // baseImage and kubernetesVersion are the file's, shared by every cluster.
            if matches!(e.path.as_str(), "baseImage" | "kubernetesVersion") {
                if !top.contains(&e) {
                    top.push(e);
                }
            } else {
                rest.push(e.under(&at));
            }
        }
    }
    rest.extend(check_one_platform(config));
    rest.extend(check_node_names_across_clusters(config));
    rest.extend(check_cidrs_across_clusters(config));
    top.extend(rest);
    top
}

fn check_ssh(ssh: &SshConfig) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if ssh.user.trim().is_empty() {
        errors.push(FieldError::new(
            "ssh.user",
            "is empty",
            "set the VMs' login user (`admin` on the Cirrus Labs images)",
        ));
    }
    if ssh.private_key_path.as_os_str().is_empty() {
        errors.push(FieldError::new(
            "ssh.privateKeyPath",
            "is empty",
            "set the path of the SSH private key, e.g. ~/.ssh/tart-infra_ed25519",
        ));
    }
    if ssh.known_hosts_path.as_os_str().is_empty() {
        errors.push(FieldError::new(
            "ssh.knownHostsPath",
            "is empty",
            "set the path of the known_hosts file that pins the VMs' host keys, e.g. ~/.config/tart-infra/known_hosts",
        ));
    }
    errors
}

fn check_gitops(gitops: &GitopsConfig) -> Option<FieldError> {
    let url = gitops.repo_url.trim();
    let scheme_ok = ["https://", "http://", "ssh://", "git@"]
        .iter()
        .any(|p| url.starts_with(p));
    if !scheme_ok || url.contains(char::is_whitespace) {
        return Some(FieldError::new(
            "gitops.repoURL",
            format!("`{url}` is not a Git URL ArgoCD can clone"),
            "set the https:// (or ssh://, git@) URL of your fork of this repository, e.g. https://github.com/you/tart-infra.git",
        ));
    }
    gitops.target_revision.trim().is_empty().then(|| {
        FieldError::new(
            "gitops.targetRevision",
            "is empty",
            "set the branch, tag or commit ArgoCD follows, e.g. main",
        )
    })
}

fn check_one_platform(config: &Config) -> Option<FieldError> {
    let platforms: Vec<String> = (config.clusters.iter().enumerate())
        .filter(|(_, c)| c.tier == Tier::Platform)
        .map(|(i, c)| format!("clusters[{i}] ({})", c.name))
        .collect();
    if platforms.len() == 1 || config.clusters.is_empty() {
        return None;
    }
    let found = if platforms.is_empty() {
        "none".to_owned()
    } else {
        platforms.join(", ")
    };
    Some(FieldError::new(
        "clusters",
        format!("exactly one cluster must have tier platform (found {found})"),
        "set `tier: platform` on the one cluster that runs the operator, ArgoCD and monitoring",
    ))
}

/// Node names are VM names: unique across the file. (Within a cluster, the spec's rule.)
fn check_node_names_across_clusters(config: &Config) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen: HashMap<&str, (usize, usize)> = HashMap::new();
    for (i, cluster) in config.clusters.iter().enumerate() {
        for (j, node) in cluster.nodes.iter().enumerate() {
            match seen.get(node.name.as_str()) {
                Some(&(fi, fj)) if fi != i => errors.push(FieldError::new(
                    format!("clusters[{i}].nodes[{j}].name"),
                    format!(
                        "node name `{}` is already used by clusters[{fi}].nodes[{fj}]",
                        node.name
                    ),
                    "node names are VM names and must be unique across all clusters; rename one of them",
                )),
                Some(_) => {}
                None => {
                    seen.insert(node.name.as_str(), (i, j));
                }
            }
        }
    }
    errors
}

/// Traffic is routed between the clusters: no range may overlap another cluster's. (A
/// cluster's own pod and service ranges are the spec's rule; a CIDR that does not parse
/// was reported there.)
fn check_cidrs_across_clusters(config: &Config) -> Vec<FieldError> {
    let mut cidrs: Vec<(usize, String, Ipv4Cidr)> = Vec::new();
    for (i, cluster) in config.clusters.iter().enumerate() {
        for (field, text) in [
            ("podCidr", &cluster.network.pod_cidr),
            ("serviceCidr", &cluster.network.service_cidr),
        ] {
            if let Ok(cidr) = Ipv4Cidr::parse(text) {
                cidrs.push((i, format!("clusters[{i}].network.{field}"), cidr));
            }
        }
    }
    let mut errors = Vec::new();
    for (k, (i, path, cidr)) in cidrs.iter().enumerate() {
        let earlier = cidrs[..k]
            .iter()
            .find(|(other_i, _, other)| other_i != i && other.overlaps(cidr));
        if let Some((_, other_path, other)) = earlier {
            errors.push(FieldError::new(
                path.clone(),
                format!("{cidr} overlaps {other_path} ({other})"),
                "give every pod and service range its own block, e.g. 10.<n>0.0.0/16 for pods and 10.9<n>.0.0/16 for services (traffic is routed between the clusters)",
            ));
        }
    }
    errors
}

/// A DNS label (RFC 1123): 1 to 63 lowercase letters, digits and '-', not starting or ending
/// with '-' (the CRD's rule for names).
pub fn is_dns_label(s: &str) -> bool {
    crds::common::DnsLabel::is_valid(s)
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

        // A cluster's own pod and service ranges count too (the ManagedCluster rule).
        let text = shipped_with("serviceCidr: 10.99.0.0/16", "serviceCidr: 10.40.0.0/24");
        assert_error(
            &parse_err(&text),
            "clusters[3].network.serviceCidr",
            &["10.40.0.0/24 overlaps network.podCidr (10.40.0.0/16)"],
        );
    }

    #[test]
    fn an_unpinned_base_image_is_rejected_once_for_the_whole_file() {
        for (image, words) in [
            ("ghcr.io/cirruslabs/ubuntu:latest", "uses the tag latest"),
            ("ghcr.io/cirruslabs/ubuntu", "has no tag"),
            ("ubuntu:24.04", "not an image reference"),
        ] {
            let text = shipped_with(
                "baseImage: ghcr.io/cirruslabs/ubuntu:24.04",
                &format!("baseImage: {image}"),
            );
            assert_error(
                &parse_err(&text),
                "baseImage",
                &[words, "pin a release tag"],
            );
            let mut config = shipped();
            config.base_image = image.to_owned();
            assert_eq!(
                field_errors(&config).len(),
                1,
                "{image}: one error, not one per cluster"
            );
        }
        let mut config = shipped();
        config.base_image = "tart-infra-k8s-1.33".to_owned();
        assert!(
            validate(&config).is_ok(),
            "a local golden image counts as pinned"
        );
    }

    #[test]
    fn a_node_name_used_twice_in_a_cluster_is_the_spec_rule() {
        let text = shipped_with("{name: prod-worker2,", "{name: prod-worker1,");
        assert_error(
            &parse_err(&text),
            "clusters[3].nodes[2]",
            &["node name `prod-worker1` is already used by nodes[1]"],
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
    fn the_gitops_repository_must_be_a_git_url() {
        let mut config = shipped();
        config.gitops = Some(super::GitopsConfig {
            repo_url: "github.com/you/tart-infra".to_owned(),
            target_revision: "main".to_owned(),
        });
        let err = validate(&config).expect_err("no scheme").to_string();
        assert!(err.starts_with("gitops.repoURL: "), "{err}");
        config.gitops = Some(super::GitopsConfig {
            repo_url: "https://github.com/you/tart-infra.git".to_owned(),
            target_revision: " ".to_owned(),
        });
        let err = validate(&config).expect_err("empty revision").to_string();
        assert!(err.starts_with("gitops.targetRevision: is empty"), "{err}");
        config.gitops.as_mut().expect("set").target_revision = "v0.2.0".to_owned();
        validate(&config).expect("valid");
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
            assert_eq!(
                crds::managed_cluster::validate::is_kubernetes_version(version),
                ok,
                "{version}"
            );
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
