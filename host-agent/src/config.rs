//! The lab's cluster file, `config/clusters.yaml`: which clusters and VMs `tart-infra`
//! creates, from which image, and how it logs in to them.
//!
//! [`parse`] reads the YAML into a [`Config`] and [`validate`]s it. Every error names the file
//! and the field path (`clusters[1].nodes[0].cpu`) and says how to fix it, because the person
//! reading it is editing that file. The network, addon and node types are the
//! `ManagedCluster` spec's, so a cluster of this file becomes a ManagedCluster as it is.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crds::managed_cluster::{Addons, Network, NodeRole, NodeSpec, Tier};
use serde::{Deserialize, Serialize};
use serde_yaml::Value;

/// Where the cluster file lives in the repository (and, by default, in the working directory).
pub const DEFAULT_PATH: &str = "config/clusters.yaml";

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

/// Why the cluster file cannot be used. Display is one line: the file, the field path, what is
/// wrong and how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error(
        "cannot read the cluster file {}: {error}; copy config/clusters.yaml from the repository to that path and edit it",
        .path.display()
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said (also shown in the message).
        error: io::Error,
    },
    /// The file is not YAML, or a field is missing, unknown or of the wrong type.
    #[error(
        "{}{message}; see the comments in the repository's config/clusters.yaml for the format",
        Location(.file, .path)
    )]
    Format {
        /// The file's name as given to [`parse`].
        file: String,
        /// The field path, e.g. `clusters[1].nodes[0].cpu`; empty for the whole file.
        path: String,
        /// What is wrong, with the line and column when the YAML parser knows them.
        message: String,
    },
    /// The file parses but breaks a rule.
    #[error("{}{problem}; {fix}", Location(.file, .path))]
    Invalid {
        /// The file's name as given to [`parse`]; empty when the error comes from [`validate`].
        file: String,
        /// The field path, e.g. `clusters[1].nodes`.
        path: String,
        /// What is wrong.
        problem: String,
        /// What to change.
        fix: String,
    },
    /// Clusters were asked for that the file does not list.
    #[error(
        "unknown cluster {}: the cluster file lists {}; name one of those or add the cluster to config/clusters.yaml",
        quoted(.names),
        quoted(.known)
    )]
    UnknownCluster {
        /// The names that are not in the file.
        names: Vec<String>,
        /// The clusters the file lists, in its order.
        known: Vec<String>,
    },
}

impl ConfigError {
    /// The field path the error is about, e.g. `clusters[1].nodes`, if it is about one.
    #[cfg(test)]
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::Format { path, .. } | Self::Invalid { path, .. } if !path.is_empty() => {
                Some(path)
            }
            _ => None,
        }
    }

    fn in_file(mut self, name: &str) -> Self {
        if let Self::Format { file, .. } | Self::Invalid { file, .. } = &mut self {
            name.clone_into(file);
        }
        self
    }
}

/// Formats `file: path: `, leaving out the empty parts.
struct Location<'a>(&'a str, &'a str);

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in [self.0, self.1] {
            if !part.is_empty() {
                write!(f, "{part}: ")?;
            }
        }
        Ok(())
    }
}

fn quoted(names: &[String]) -> String {
    if names.is_empty() {
        return "no clusters".to_owned();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn invalid(
    path: impl Into<String>,
    problem: impl Into<String>,
    fix: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        file: String::new(),
        path: path.into(),
        problem: problem.into(),
        fix: fix.into(),
    }
}

fn format_error(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    let mut message = message.into();
    for (needle, hint) in MIGRATION_HINTS {
        if message.contains(needle) {
            message.push_str(" (");
            message.push_str(hint);
            message.push(')');
        }
    }
    ConfigError::Format {
        file: String::new(),
        path: path.into(),
        message,
    }
}

/// Hints for the field names and values of the original `config/clusters.json`.
const MIGRATION_HINTS: [(&str, &str); 4] = [
    (
        "unknown variant `master`",
        "the role `master` is called `controlPlane`",
    ),
    ("unknown field `memory`", "memory is `memoryMiB`"),
    ("unknown field `disk`", "the disk size is `diskGiB`"),
    (
        "_cidr`",
        "the CIDRs are `network: {podCidr: ..., serviceCidr: ...}`",
    ),
];

/// Reads and parses the cluster file at `path` (see [`parse`]).
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_owned(),
        error,
    })?;
    parse(&text, &path.display().to_string())
}

/// Parses the cluster file's text and [`validate`]s it. `source` names the file in errors.
///
/// Beyond the shape of the types, it rejects any `password` key (only SSH keys are supported)
/// and unknown fields in the network, addon and node entries, whose `ManagedCluster` types
/// accept unknown fields.
pub fn parse(text: &str, source: &str) -> Result<Config, ConfigError> {
    let tree: Value =
        serde_yaml::from_str(text).map_err(|e| format_error("", e.to_string()).in_file(source))?;
    let mut path = String::new();
    reject_passwords(&tree, &mut path).map_err(|e| e.in_file(source))?;
    let config: Config = serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(text))
        .map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            let message = strip_path(&path, e.into_inner().to_string());
            format_error(path, message).in_file(source)
        })?;
    reject_unknown_fields(&tree, &config).map_err(|e| e.in_file(source))?;
    validate(&config).map_err(|e| e.in_file(source))?;
    Ok(config)
}

/// The YAML parser's messages start with its own idea of the path (`clusters[2]: unknown
/// field ...`); drops it when `path` (serde_path_to_error's, which this error shows) has it.
fn strip_path(path: &str, message: String) -> String {
    match message.split_once(": ") {
        Some((prefix, rest))
            if path == prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|tail| tail.starts_with(['.', '['])) =>
        {
            rest.to_owned()
        }
        _ => message,
    }
}

/// Rejects any key that contains `password`, wherever it is.
fn reject_passwords(value: &Value, path: &mut String) -> Result<(), ConfigError> {
    let len = path.len();
    match value {
        Value::Mapping(map) => {
            for (key, child) in map {
                let key = match key {
                    Value::String(s) => s.clone(),
                    other => serde_yaml::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                };
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key);
                if key.to_ascii_lowercase().contains("password") {
                    return Err(invalid(
                        path.clone(),
                        "passwords are not supported",
                        "remove it and use an SSH key: set ssh.privateKeyPath to your private key \
                         (create one with `ssh-keygen -t ed25519 -N '' -f ~/.ssh/tart-infra_ed25519`)",
                    ));
                }
                reject_passwords(child, path)?;
                path.truncate(len);
            }
        }
        Value::Sequence(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                reject_passwords(child, path)?;
                path.truncate(len);
            }
        }
        Value::Tagged(tagged) => reject_passwords(&tagged.value, path)?,
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
    Ok(())
}

/// The crds types (network, addons, nodes) do not deny unknown fields, so a misspelt field
/// there (`monitorng: true`) would be dropped silently. Compares the keys as written with the
/// fields the parsed value serialises to.
fn reject_unknown_fields(tree: &Value, config: &Config) -> Result<(), ConfigError> {
    let Some(clusters) = tree.get("clusters").and_then(Value::as_sequence) else {
        return Ok(());
    };
    for (i, (raw, cluster)) in clusters.iter().zip(&config.clusters).enumerate() {
        let addons = raw.get("addons");
        check_keys(
            raw.get("network"),
            &cluster.network,
            &format!("clusters[{i}].network"),
        )?;
        check_keys(addons, &cluster.addons, &format!("clusters[{i}].addons"))?;
        check_keys(
            addons.and_then(|a| a.get("cilium")),
            &cluster.addons.cilium,
            &format!("clusters[{i}].addons.cilium"),
        )?;
        if let Some(nodes) = raw.get("nodes").and_then(Value::as_sequence) {
            for (j, (raw, node)) in nodes.iter().zip(&cluster.nodes).enumerate() {
                check_keys(Some(raw), node, &format!("clusters[{i}].nodes[{j}]"))?;
            }
        }
    }
    Ok(())
}

fn check_keys<T: Serialize>(
    raw: Option<&Value>,
    parsed: &T,
    path: &str,
) -> Result<(), ConfigError> {
    let (Some(Value::Mapping(raw)), Ok(Value::Mapping(known))) =
        (raw, serde_yaml::to_value(parsed))
    else {
        return Ok(());
    };
    match raw.keys().find(|key| !known.contains_key(*key)) {
        None => Ok(()),
        Some(key) => {
            let key = key
                .as_str()
                .map_or_else(|| format!("{key:?}"), str::to_owned);
            let expected: Vec<String> = known
                .keys()
                .filter_map(Value::as_str)
                .map(|k| format!("`{k}`"))
                .collect();
            Err(format_error(
                path,
                format!(
                    "unknown field `{key}`, expected one of {}",
                    expected.join(", ")
                ),
            ))
        }
    }
}

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
        if !is_dns_label(name) {
            return Err(invalid(
                format!("{at}.name"),
                format!("`{name}` is not a DNS label"),
                DNS_LABEL_FIX,
            ));
        }
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

const DNS_LABEL_FIX: &str = "use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";

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
        if !is_dns_label(name) {
            return Err(invalid(
                format!("{at}.name"),
                format!("`{name}` is not a DNS label"),
                DNS_LABEL_FIX,
            ));
        }
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
    if node.cpu < CONTROL_PLANE_MIN_CPU {
        return Err(invalid(
            format!("{at}.nodes[{j}].cpu"),
            format!(
                "a controlPlane node needs at least {CONTROL_PLANE_MIN_CPU} CPUs (kubeadm's minimum), found {}",
                node.cpu
            ),
            format!("set cpu: {CONTROL_PLANE_MIN_CPU} or more"),
        ));
    }
    if node.memory_mib < CONTROL_PLANE_MIN_MEMORY_MIB {
        return Err(invalid(
            format!("{at}.nodes[{j}].memoryMiB"),
            format!(
                "a controlPlane node needs at least {CONTROL_PLANE_MIN_MEMORY_MIB} MiB (kubeadm's minimum), found {}",
                node.memory_mib
            ),
            format!("set memoryMiB: {CONTROL_PLANE_MIN_MEMORY_MIB} or more"),
        ));
    }
    Ok(())
}

/// A DNS label (RFC 1123): 1 to 63 lowercase letters, digits and '-', not starting or ending
/// with '-'.
fn is_dns_label(s: &str) -> bool {
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

/// An IPv4 network: the address (host bits zero) and the prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cidr {
    addr: u32,
    prefix: u8,
}

/// Why a CIDR does not parse.
#[derive(Debug, PartialEq, Eq)]
enum CidrError {
    /// Not `a.b.c.d/n` with octets 0-255 and n 0-32.
    Malformed,
    /// The address has host bits set; the network address is given.
    HostBits(Cidr),
}

impl CidrError {
    fn into_config_error(self, path: &str, text: &str) -> ConfigError {
        match self {
            Self::Malformed => invalid(
                path,
                format!("`{text}` is not an IPv4 CIDR"),
                "write a network address and prefix length, e.g. 10.20.0.0/16",
            ),
            Self::HostBits(network) => invalid(
                path,
                format!("`{text}` has host bits set"),
                format!("write the network address, {network}"),
            ),
        }
    }
}

impl Cidr {
    fn parse(s: &str) -> Result<Self, CidrError> {
        let (addr, prefix) = s.split_once('/').ok_or(CidrError::Malformed)?;
        let prefix = decimal(prefix, 2)
            .filter(|&p| p <= 32)
            .ok_or(CidrError::Malformed)?;
        let mut octets = addr.split('.');
        let mut value: u32 = 0;
        for _ in 0..4 {
            let octet = octets
                .next()
                .and_then(|o| decimal(o, 3))
                .filter(|&o| o <= 255)
                .ok_or(CidrError::Malformed)?;
            value = (value << 8) | octet;
        }
        if octets.next().is_some() {
            return Err(CidrError::Malformed);
        }
        // Both checked above to fit.
        let prefix = u8::try_from(prefix).map_err(|_| CidrError::Malformed)?;
        let network = Self {
            addr: value & mask(prefix),
            prefix,
        };
        if network.addr == value {
            Ok(network)
        } else {
            Err(CidrError::HostBits(network))
        }
    }

    /// Whether the two networks share an address: one contains the other.
    fn overlaps(&self, other: &Self) -> bool {
        let m = mask(self.prefix.min(other.prefix));
        self.addr & m == other.addr & m
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.addr.to_be_bytes();
        write!(f, "{a}.{b}.{c}.{d}/{}", self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

/// A decimal number of 1 to `max_len` digits, without sign or leading zeros.
fn decimal(s: &str, max_len: usize) -> Option<u32> {
    let ok = (1..=max_len).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if ok { s.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../config/clusters.yaml");

    /// The shipped file with `from` (which must occur exactly once) replaced by `to`.
    fn shipped_with(from: &str, to: &str) -> String {
        assert_eq!(
            SHIPPED.matches(from).count(),
            1,
            "fixture text {from:?} must occur once"
        );
        SHIPPED.replacen(from, to, 1)
    }

    fn parse_err(text: &str) -> ConfigError {
        match parse(text, "config/clusters.yaml") {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    /// The error names the file and the field, and fits on one line.
    fn assert_error(err: &ConfigError, path: &str, words: &[&str]) {
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("config/clusters.yaml: {path}")),
            "{msg:?} should start with the file and {path}"
        );
        assert!(!msg.contains('\n'), "{msg:?} should be one line");
        if !path.is_empty() {
            assert_eq!(
                msg.matches(path).count(),
                1,
                "{msg:?} should name {path} once"
            );
        }
        for word in words {
            assert!(msg.contains(word), "{msg:?} should contain {word:?}");
        }
    }

    fn shipped() -> Config {
        match parse(SHIPPED, "config/clusters.yaml") {
            Ok(c) => c,
            Err(e) => panic!("the shipped file must be valid: {e}"),
        }
    }

    fn names(clusters: &[&ClusterConfig]) -> Vec<String> {
        clusters.iter().map(|c| c.name.clone()).collect()
    }

    #[test]
    fn the_shipped_file_has_the_four_clusters_of_the_original() {
        let config = shipped();
        let cluster_names: Vec<&str> = config.clusters.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(cluster_names, ["platform", "dev", "staging", "prod"]);
        assert_eq!(
            config.clusters.iter().map(|c| c.nodes.len()).sum::<usize>(),
            10
        );
        assert_eq!(config.base_image, "ghcr.io/cirruslabs/ubuntu:24.04");
        assert_eq!(config.kubernetes_version, "1.33");
        assert_eq!(config.ssh.user, "admin");

        let platform = config.cluster("platform").expect("platform");
        assert_eq!(platform.tier, Tier::Platform);
        assert_eq!(platform.network.pod_cidr, "10.10.0.0/16");
        assert_eq!(platform.network.service_cidr, "10.96.0.0/16");
        assert!(platform.addons.monitoring && !platform.addons.demo_apps);
        let worker1 = &platform.nodes[1];
        assert_eq!(
            (
                worker1.name.as_str(),
                worker1.role,
                worker1.cpu,
                worker1.memory_mib,
                worker1.disk_gib
            ),
            ("platform-worker1", NodeRole::Worker, 3, 12288, 20)
        );

        let dev = config.cluster("dev").expect("dev");
        let a = &dev.addons;
        assert!(a.demo_apps && a.istio && a.network_policies && a.metrics_server && !a.monitoring);
        assert!(
            config
                .cluster("staging")
                .expect("staging")
                .addons
                .metrics_server
        );
        assert!(config.clusters.iter().all(|c| c.addons.cilium.hubble));
        assert_eq!(
            config.cluster("prod").expect("prod").network.pod_cidr,
            "10.40.0.0/16"
        );
    }

    #[test]
    fn load_reads_the_file_and_names_a_missing_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("clusters.yaml");
        std::fs::write(&path, SHIPPED).expect("write");
        assert_eq!(load(&path).expect("load"), shipped());

        let missing = dir.path().join("missing.yaml");
        let msg = load(&missing).expect_err("missing file").to_string();
        assert!(msg.contains(&missing.display().to_string()), "{msg}");
        assert!(
            msg.contains("copy config/clusters.yaml from the repository"),
            "{msg}"
        );
    }

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
    fn the_cidr_parser_accepts_network_addresses_only() {
        assert_eq!(
            Cidr::parse("10.96.0.0/12"),
            Ok(Cidr {
                addr: 0x0a60_0000,
                prefix: 12
            })
        );
        assert_eq!(Cidr::parse("0.0.0.0/0"), Ok(Cidr { addr: 0, prefix: 0 }));
        assert_eq!(
            Cidr::parse("192.168.64.7/32").map(|c| c.to_string()),
            Ok("192.168.64.7/32".to_owned())
        );
        for bad in [
            "",
            "10.0.0.0",
            "10.0.0/8",
            "10.0.0.0.0/8",
            "10.0.0.0/33",
            "10.0.0.256/32",
            "010.0.0.0/8",
            "10.0.0.0/08",
            "+10.0.0.0/8",
            "10.0.0.0/-1",
            "10..0.0/8",
            "::1/128",
            " 10.0.0.0/8",
            "10.0.0.0/8/8",
        ] {
            assert_eq!(Cidr::parse(bad), Err(CidrError::Malformed), "{bad:?}");
        }
        let network = Cidr {
            addr: 0x0a00_0000,
            prefix: 8,
        };
        assert_eq!(Cidr::parse("10.1.2.3/8"), Err(CidrError::HostBits(network)));

        let parse = |s| Cidr::parse(s).expect(s);
        assert!(parse("10.0.0.0/8").overlaps(&parse("10.255.0.0/16")));
        assert!(parse("10.255.0.0/16").overlaps(&parse("10.0.0.0/8")));
        assert!(parse("0.0.0.0/0").overlaps(&parse("192.168.0.0/16")));
        assert!(!parse("10.96.0.0/16").overlaps(&parse("10.97.0.0/16")));
        assert!(!parse("10.10.0.0/16").overlaps(&parse("10.96.0.0/12")));
    }

    #[test]
    fn unknown_fields_are_rejected_everywhere() {
        let text = shipped_with(
            "kubernetesVersion: \"1.33\"",
            "kubernetesVersion: \"1.33\"\nbase_image: x",
        );
        assert_error(&parse_err(&text), "", &["unknown field `base_image`"]);

        let text = shipped_with(
            "  - name: staging\n",
            "  - name: staging\n    purpose: tests\n",
        );
        assert_error(
            &parse_err(&text),
            "clusters[2]",
            &["unknown field `purpose`"],
        );

        // The crds types accept unknown fields; the file does not.
        let text = shipped_with(
            "{name: dev-worker1, role: worker, cpu: 2, memoryMiB: 8192, diskGiB: 20}",
            "{name: dev-worker1, role: worker, cpu: 2, memoryMiB: 8192, disk: 20}",
        );
        assert_error(
            &parse_err(&text),
            "clusters[1].nodes[1]",
            &["unknown field `disk`", "`diskGiB`"],
        );
        let text = shipped_with("      monitoring: true", "      monitorng: true");
        assert_error(
            &parse_err(&text),
            "clusters[0].addons",
            &["unknown field `monitorng`", "`monitoring`"],
        );
        let text = shipped_with(
            "network: {podCidr: 10.30.0.0/16,",
            "network: {pod_cidr: 10.30.0.0/16, podCidr: 10.30.0.0/16,",
        );
        assert_error(
            &parse_err(&text),
            "clusters[2].network",
            &["unknown field `pod_cidr`"],
        );
    }

    #[test]
    fn a_password_anywhere_is_rejected_with_a_pointer_to_ssh_keys() {
        let text = shipped_with("  user: admin\n", "  user: admin\n  password: admin\n");
        assert_error(
            &parse_err(&text),
            "ssh.password",
            &["passwords are not supported", "SSH key", "privateKeyPath"],
        );

        let text = shipped_with("baseImage:", "ssh_password: admin\nbaseImage:");
        assert_error(&parse_err(&text), "ssh_password", &["SSH key"]);

        let text = shipped_with("{name: prod-worker2,", "{password: x, name: prod-worker2,");
        assert_error(
            &parse_err(&text),
            "clusters[3].nodes[2].password",
            &["SSH key"],
        );
    }

    #[test]
    fn a_type_error_names_the_field_path() {
        let text = shipped_with(
            "{name: dev-master, role: controlPlane, cpu: 2,",
            "{name: dev-master, role: controlPlane, cpu: two,",
        );
        let err = parse_err(&text);
        assert_error(
            &err,
            "clusters[1].nodes[0].cpu: ",
            &["invalid type", "line"],
        );
        assert_eq!(err.path(), Some("clusters[1].nodes[0].cpu"));

        let text = shipped_with(
            "{name: dev-master, role: controlPlane,",
            "{name: dev-master, role: master,",
        );
        assert_error(
            &parse_err(&text),
            "clusters[1].nodes[0].role",
            &["unknown variant `master`", "called `controlPlane`"],
        );

        let text = shipped_with("  user: admin\n", "");
        assert_error(&parse_err(&text), "ssh", &["missing field `user`"]);
    }

    #[test]
    fn broken_yaml_names_the_line() {
        let err = parse_err("clusters: [\n");
        let msg = err.to_string();
        assert!(
            msg.starts_with("config/clusters.yaml: ") && msg.contains("line"),
            "{msg}"
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
