//! The lab's cluster file, `config/clusters.yaml`: which clusters and VMs `tart-infra`
//! creates, from which image, and how it logs in to them.
//!
//! [`parse`] reads the YAML into a [`Config`] and [`validate`]s it. Every error names the file
//! and the field path (`clusters[1].nodes[0].cpu`) and says how to fix it, because the person
//! reading it is editing that file. The network, addon and node types are the
//! `ManagedCluster` spec's, so a cluster of this file becomes a ManagedCluster as it is.

mod error;
#[cfg(test)]
pub(crate) mod fixtures;
mod parse;
mod types;
mod validate;

pub use error::ConfigError;
pub use parse::{load, parse};
pub use types::{ClusterConfig, Config, GitopsConfig, SshConfig};
pub use validate::{is_dns_label, validate};

/// Where the cluster file lives in the repository (and, by default, in the working directory).
pub const DEFAULT_PATH: &str = "config/clusters.yaml";
