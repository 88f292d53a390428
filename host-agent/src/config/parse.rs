//! Reading the cluster file: YAML into [`Config`], stricter than the types alone (no
//! passwords, no unknown fields anywhere), then [`validate`]d.

use std::path::Path;

use serde::Serialize;
use serde_yaml::Value;

use super::error::{format_error, invalid};
use super::{Config, ConfigError, validate};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixtures::{SHIPPED, assert_error, parse_err, shipped, shipped_with};
    use crds::managed_cluster::{NodeRole, Tier};

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
}
