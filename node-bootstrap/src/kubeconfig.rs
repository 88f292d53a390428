//! The kubeconfig tart-infra hands out for a cluster, made from kubeadm's `admin.conf`
//! (pure): the server is the control plane's current address, `tls-server-name` is the
//! stable API name (which the certificate is issued for, so an address change after a reboot
//! only changes `server`), and the cluster, user and context are named `tart-<cluster>` so
//! kubeconfigs of several kubeadm clusters merge without clashing (kubeadm names them all
//! `kubernetes` / `kubernetes-admin`).

use std::net::IpAddr;

use serde_yaml::{Mapping, Value};

use crate::kubeadm::{API_PORT, stable_name};

/// Why a kubeconfig could not be rewritten.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KubeconfigError {
    /// Not YAML, or not a kubeconfig with one cluster, one user and one context.
    #[error("the kubeconfig of cluster `{cluster}` is not usable: {problem}")]
    Invalid { cluster: String, problem: String },
}

/// The context (and cluster and user) name of `cluster` in the kubeconfigs tart-infra writes.
pub fn context_name(cluster: &str) -> String {
    format!("tart-{cluster}")
}

/// The server URL of a control plane at `ip`.
pub fn server_url(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("https://{v4}:{API_PORT}"),
        IpAddr::V6(v6) => format!("https://[{v6}]:{API_PORT}"),
    }
}

/// Rewrites `admin_conf` (or a kubeconfig this function wrote) for `cluster`'s control plane
/// at `ip`: one cluster, user and context named [`context_name`], the server at `ip` and
/// `tls-server-name` the stable name. The credentials are kept as they are.
pub fn for_cluster(admin_conf: &str, cluster: &str, ip: IpAddr) -> Result<String, KubeconfigError> {
    let invalid = |problem: &str| KubeconfigError::Invalid {
        cluster: cluster.to_owned(),
        problem: problem.to_owned(),
    };
    let doc: Value =
        serde_yaml::from_str(admin_conf).map_err(|e| invalid(&format!("not YAML: {e}")))?;
    let only = |key: &str, inner: &str| -> Result<Mapping, KubeconfigError> {
        let list = doc
            .get(key)
            .and_then(Value::as_sequence)
            .ok_or_else(|| invalid(&format!("no `{key}` list")))?;
        let [entry] = list.as_slice() else {
            return Err(invalid(&format!(
                "`{key}` has {} entries, not one",
                list.len()
            )));
        };
        entry
            .get(inner)
            .and_then(Value::as_mapping)
            .cloned()
            .ok_or_else(|| invalid(&format!("`{key}[0].{inner}` is missing")))
    };
    let mut server = only("clusters", "cluster")?;
    let user = only("users", "user")?;
    if !server.contains_key("certificate-authority-data") {
        return Err(invalid(
            "`clusters[0].cluster.certificate-authority-data` is missing",
        ));
    }
    server.insert("server".into(), server_url(ip).into());
    server.insert("tls-server-name".into(), stable_name(cluster).into());
    let name = context_name(cluster);
    let named = |key: &str, value: Mapping| {
        let mut entry = Mapping::new();
        entry.insert("name".into(), name.clone().into());
        entry.insert(key.into(), Value::Mapping(value));
        Value::Sequence(vec![Value::Mapping(entry)])
    };
    let mut context = Mapping::new();
    context.insert("cluster".into(), name.clone().into());
    context.insert("user".into(), name.clone().into());
    let mut out = Mapping::new();
    out.insert("apiVersion".into(), "v1".into());
    out.insert("kind".into(), "Config".into());
    out.insert("clusters".into(), named("cluster", server));
    out.insert("users".into(), named("user", user));
    out.insert("contexts".into(), named("context", context));
    out.insert("current-context".into(), name.clone().into());
    serde_yaml::to_string(&out).map_err(|e| invalid(&format!("cannot write it back: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of kubeadm's admin.conf (v1.33), with shortened credentials.
    const ADMIN_CONF: &str = "apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0EK
    server: https://api.dev.tart-infra.internal:6443
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: kubernetes-admin
  name: kubernetes-admin@kubernetes
current-context: kubernetes-admin@kubernetes
kind: Config
preferences: {}
users:
- name: kubernetes-admin
  user:
    client-certificate-data: Q0VSVAo=
    client-key-data: S0VZCg==
";

    #[test]
    fn admin_conf_becomes_a_named_kubeconfig_on_the_current_address() {
        let out =
            for_cluster(ADMIN_CONF, "dev", "192.168.64.7".parse().expect("ip")).expect("rewritten");
        let doc: Value = serde_yaml::from_str(&out).expect("yaml");
        assert_eq!(doc["current-context"], "tart-dev");
        assert_eq!(doc["clusters"][0]["name"], "tart-dev");
        assert_eq!(
            doc["clusters"][0]["cluster"]["server"],
            "https://192.168.64.7:6443"
        );
        assert_eq!(
            doc["clusters"][0]["cluster"]["tls-server-name"],
            "api.dev.tart-infra.internal"
        );
        assert_eq!(
            doc["clusters"][0]["cluster"]["certificate-authority-data"],
            "Q0EK"
        );
        assert_eq!(doc["users"][0]["name"], "tart-dev");
        assert_eq!(doc["users"][0]["user"]["client-key-data"], "S0VZCg==");
        assert_eq!(doc["contexts"][0]["context"]["cluster"], "tart-dev");
        assert_eq!(doc["contexts"][0]["context"]["user"], "tart-dev");
        // Rewriting again for a new address changes only the server.
        let moved = for_cluster(&out, "dev", "192.168.64.9".parse().expect("ip")).expect("again");
        assert_eq!(moved, out.replace("192.168.64.7", "192.168.64.9"));
    }

    #[test]
    fn a_kubeconfig_that_is_not_admin_conf_is_refused_with_the_reason() {
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        for (text, problem) in [
            ("{", "not YAML"),
            ("kind: Config\n", "no `clusters` list"),
            (
                "clusters: []\nusers: []\n",
                "`clusters` has 0 entries, not one",
            ),
            (
                "clusters: [{cluster: {server: x}}]\nusers: [{user: {}}]\n",
                "certificate-authority-data` is missing",
            ),
        ] {
            let err = for_cluster(text, "dev", ip).expect_err(text).to_string();
            assert!(err.contains(problem), "{text:?}: {err}");
            assert!(err.starts_with("the kubeconfig of cluster `dev`"), "{err}");
        }
    }
}
