//! The cluster file's types: the whole file, its SSH login and its clusters.

use std::path::PathBuf;

use crds::managed_cluster::{Addons, ManagedClusterSpec, Network, NodeSpec, Provider, Tier};
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The whole cluster file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The Tart image every VM is cloned from, pinned to a tag (not `latest`), e.g.
    /// `ghcr.io/cirruslabs/ubuntu:24.04`, or the name of a local golden image.
    pub base_image: String,
    /// The Kubernetes version kubeadm installs, e.g. `1.33` or `1.33.4` (1.33 or newer).
    pub kubernetes_version: String,
    /// How the host agent logs in to the VMs.
    pub ssh: SshConfig,
    /// The clusters, in the order they are listed (the platform cluster is created first
    /// whatever its position; see [`Config::select`]).
    pub clusters: Vec<ClusterConfig>,
    /// The Git repository ArgoCD syncs the operator and the addons from (the GitOps
    /// hand-off of `up`); without it `up` installs ArgoCD but no root Application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitops: Option<GitopsConfig>,
}

/// Where ArgoCD finds this repository: your fork or mirror of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitopsConfig {
    /// The repository's URL as ArgoCD clones it (`https://…` or `ssh://…`/`git@…`).
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// The branch, tag or commit ArgoCD follows.
    #[serde(default = "default_revision")]
    pub target_revision: String,
}

fn default_revision() -> String {
    "main".to_owned()
}

/// SSH login to the VMs: key authentication only, with pinned host keys. There is no password
/// field; a `password` key anywhere in the file is an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SshConfig {
    /// The login user of the image (`admin` on the Cirrus Labs images).
    pub user: String,
    /// The private key, e.g. `~/.ssh/tart-infra_ed25519`. As written in the file: a leading
    /// `~/` (the user's home directory) is not expanded here.
    pub private_key_path: PathBuf,
    /// The VMs' pinned host keys (OpenSSH known_hosts format), e.g.
    /// `~/.config/tart-infra/known_hosts`. A leading `~/` is not expanded here.
    pub known_hosts_path: PathBuf,
}

/// One cluster of the lab: the fields of a `ManagedCluster` spec that the file sets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterConfig {
    /// The cluster's name, a DNS label unique in the file.
    pub name: String,
    /// The cluster's role in the lab; exactly one cluster has tier `platform`.
    pub tier: Tier,
    /// The pod and service CIDRs; no two CIDRs of the file overlap.
    pub network: Network,
    /// What is installed on the cluster (explicit per cluster; nothing follows from the name).
    pub addons: Addons,
    /// The cluster's nodes, one VM each; exactly one has role `controlPlane`.
    pub nodes: Vec<NodeSpec>,
}

impl Config {
    /// The ManagedCluster spec `cluster` becomes on the Tart path: provider tart, with the
    /// file's base image and Kubernetes version. The file's per-cluster rules are this spec's
    /// rules ([`crds::managed_cluster::validate_spec`]).
    pub fn spec(&self, cluster: &ClusterConfig) -> ManagedClusterSpec {
        ManagedClusterSpec {
            tier: cluster.tier,
            provider: Provider::Tart,
            kubernetes_version: Some(self.kubernetes_version.clone()),
            base_image: Some(self.base_image.clone()),
            network: Some(cluster.network.clone()),
            nodes: Some(cluster.nodes.clone()),
            addons: cluster.addons.clone(),
            kubeconfig_secret_ref: None,
            connection: Default::default(),
            paused: false,
            load_test_policy: Default::default(),
        }
    }

    /// The cluster with this name, if the file lists it.
    pub fn cluster(&self, name: &str) -> Option<&ClusterConfig> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// The clusters to act on: all of them when `names` is empty, else the named ones. The
    /// platform cluster is always included, first, because the others are managed from it;
    /// the rest keep the file's order. A name the file does not list is an error that lists
    /// the known names.
    pub fn select(&self, names: &[String]) -> Result<Vec<&ClusterConfig>, ConfigError> {
        let mut unknown: Vec<String> = Vec::new();
        for name in names {
            if self.cluster(name).is_none() && !unknown.contains(name) {
                unknown.push(name.clone());
            }
        }
        if !unknown.is_empty() {
            return Err(ConfigError::UnknownCluster {
                names: unknown,
                known: self.clusters.iter().map(|c| c.name.clone()).collect(),
            });
        }
        let wanted = |c: &ClusterConfig| names.is_empty() || names.contains(&c.name);
        let platform = self.clusters.iter().filter(|c| c.tier == Tier::Platform);
        let others = self
            .clusters
            .iter()
            .filter(|c| c.tier != Tier::Platform && wanted(c));
        Ok(platform.chain(others).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{names, shipped};

    #[test]
    fn select_without_names_gives_all_clusters_platform_first() {
        let mut config = shipped();
        assert_eq!(
            names(&config.select(&[]).expect("all")),
            ["platform", "dev", "staging", "prod"]
        );
        config.clusters.rotate_left(1);
        assert_eq!(
            names(&config.select(&[]).expect("all")),
            ["platform", "dev", "staging", "prod"]
        );
    }

    #[test]
    fn select_always_includes_the_platform_cluster_first() {
        let config = shipped();
        let wanted = ["prod".to_owned(), "dev".to_owned()];
        assert_eq!(
            names(&config.select(&wanted).expect("named")),
            ["platform", "dev", "prod"]
        );
        let wanted = ["dev".to_owned(), "platform".to_owned(), "dev".to_owned()];
        assert_eq!(
            names(&config.select(&wanted).expect("named")),
            ["platform", "dev"]
        );
    }

    #[test]
    fn select_of_an_unknown_cluster_lists_the_known_ones() {
        let config = shipped();
        let err = config
            .select(&["qa".to_owned(), "dev".to_owned()])
            .expect_err("unknown");
        let msg = err.to_string();
        assert!(msg.starts_with("unknown cluster `qa`"), "{msg}");
        assert!(
            msg.contains("`platform`, `dev`, `staging`, `prod`"),
            "{msg}"
        );
    }
}
