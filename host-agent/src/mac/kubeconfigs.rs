//! The kubeconfigs `up` and `boot` write on the host: one per cluster, and all of them merged
//! into one file whose contexts are `tart-<cluster>`. Merging and reading are pure; writing
//! is atomic with mode 0600 (they hold cluster-admin credentials).

use std::io::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use serde_yaml::{Mapping, Value};

/// Why kubeconfigs cannot be merged or read.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigFileError {
    /// Not a kubeconfig.
    #[error("{origin} is not a kubeconfig ({problem}); delete it and run `tart-infra up` again")]
    Invalid { origin: String, problem: String },
    /// A file cannot be written or read.
    #[error("{}: {source}", .path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn invalid(origin: &str, problem: impl Into<String>) -> KubeconfigFileError {
    KubeconfigFileError::Invalid {
        origin: origin.to_owned(),
        problem: problem.into(),
    }
}

/// One kubeconfig with every cluster, user and context of `configs` (`(origin, text)`, in
/// order); the current context is the first file's. An entry of a later file with a name
/// already taken is left out.
pub fn merge(configs: &[(String, String)]) -> Result<String, KubeconfigFileError> {
    let mut lists: [(&str, Vec<Value>); 3] = [
        ("clusters", vec![]),
        ("users", vec![]),
        ("contexts", vec![]),
    ];
    let mut current: Option<Value> = None;
    for (origin, text) in configs {
        let doc: Value =
            serde_yaml::from_str(text).map_err(|e| invalid(origin, format!("not YAML: {e}")))?;
        for (key, list) in &mut lists {
            let entries = doc
                .get(*key)
                .and_then(Value::as_sequence)
                .ok_or_else(|| invalid(origin, format!("no `{key}` list")))?;
            for entry in entries {
                let name = entry.get("name");
                if !list.iter().any(|e| e.get("name") == name) {
                    list.push(entry.clone());
                }
            }
        }
        if current.is_none() {
            current = doc.get("current-context").cloned();
        }
    }
    let mut out = Mapping::new();
    out.insert("apiVersion".into(), "v1".into());
    out.insert("kind".into(), "Config".into());
    for (key, list) in lists {
        out.insert(key.into(), Value::Sequence(list));
    }
    if let Some(current) = current {
        out.insert("current-context".into(), current);
    }
    serde_yaml::to_string(&out).map_err(|e| invalid("the merged kubeconfig", e.to_string()))
}

/// The context names of a kubeconfig.
pub fn contexts(text: &str) -> Vec<String> {
    let Ok(doc) = serde_yaml::from_str::<Value>(text) else {
        return Vec::new();
    };
    doc.get("contexts")
        .and_then(Value::as_sequence)
        .map(|list| {
            list.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The address in the first cluster's `server` (`https://<ip>:6443`), if it is an IP.
pub fn server_ip(text: &str) -> Option<IpAddr> {
    let doc: Value = serde_yaml::from_str(text).ok()?;
    let server = doc
        .get("clusters")?
        .as_sequence()?
        .first()?
        .get("cluster")?
        .get("server")?
        .as_str()?;
    let host = server.strip_prefix("https://")?;
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Writes `text` to `path` atomically with mode 0600, creating the directory (0700).
pub fn write_private(path: &Path, text: &str) -> Result<(), KubeconfigFileError> {
    let io = |source| KubeconfigFileError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kc(name: &str, ip: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: tart-{name}\n  cluster: {{server: 'https://{ip}:6443', tls-server-name: api.{name}.tart-infra.internal}}\n\
             users:\n- name: tart-{name}\n  user: {{token: t}}\ncontexts:\n- name: tart-{name}\n  context: {{cluster: tart-{name}, user: tart-{name}}}\ncurrent-context: tart-{name}\n"
        )
    }

    #[test]
    fn merging_keeps_every_context_and_the_first_current_one() {
        let merged = merge(&[
            ("platform".into(), kc("platform", "127.0.0.2")),
            ("dev".into(), kc("dev", "127.0.0.4")),
            ("again".into(), kc("dev", "127.0.0.9")),
        ])
        .expect("merged");
        assert_eq!(contexts(&merged), ["tart-platform", "tart-dev"]);
        assert!(
            merged.contains("current-context: tart-platform"),
            "{merged}"
        );
        assert!(
            !merged.contains("127.0.0.9"),
            "a duplicate name is left out"
        );
        let err = merge(&[("x.yaml".into(), "kind: Config\n".into())])
            .expect_err("no lists")
            .to_string();
        assert!(err.contains("x.yaml") && err.contains("clusters"), "{err}");
    }

    #[test]
    fn the_server_address_is_read_back() {
        assert_eq!(server_ip(&kc("p", "127.0.0.2")), "127.0.0.2".parse().ok());
        assert_eq!(
            server_ip("clusters: [{cluster: {server: 'https://[::1]:6443'}}]"),
            "::1".parse().ok()
        );
        assert_eq!(
            server_ip("clusters: [{cluster: {server: 'https://api:6443'}}]"),
            None
        );
        assert_eq!(server_ip("{"), None);
        assert!(contexts("{").is_empty());
    }

    #[test]
    fn files_are_written_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("k/p.yaml");
        write_private(&path, "a").expect("write");
        write_private(&path, "b").expect("again");
        let meta = std::fs::metadata(&path).expect("meta");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "b");
    }
}
