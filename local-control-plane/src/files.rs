//! Files only the owner may read (keys, tokens, kubeconfigs) and the admin kubeconfig's text.

use std::path::Path;

use base64::Engine as _;

use crate::Error;

/// Writes a file readable by the owner only (keys, tokens, kubeconfigs).
pub fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|source| Error::Io {
            context: format!("writing {}", path.display()),
            source,
        })
}

/// An admin kubeconfig: the CA inline and a bearer token (member of system:masters), and
/// the TLS server name to check when it is not the URL's host.
pub fn kubeconfig_yaml(
    name: &str,
    url: &str,
    ca_pem: &str,
    token: &str,
    tls_server_name: Option<&str>,
) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let server_name = tls_server_name
        .map(|n| format!("    tls-server-name: {n}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\n{server_name}\
         users:\n- name: {name}-admin\n  user:\n    token: {token}\n\
         contexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}-admin\n\
         current-context: {name}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_are_readable_by_the_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("token");
        write_private(&path, "first").expect("write");
        write_private(&path, "second").expect("overwrite");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "second");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let err = write_private(&dir.path().join("missing/token"), "x").expect_err("no dir");
        assert!(err.to_string().starts_with("writing "), "{err}");
    }

    #[test]
    fn the_kubeconfig_is_self_contained() {
        let text = kubeconfig_yaml("dev", "https://127.0.0.1:6443", "PEM", "t0k3n", None);
        let parsed = kube::config::Kubeconfig::from_yaml(&text).expect("kubeconfig");
        assert_eq!(parsed.current_context.as_deref(), Some("dev"));
        let cluster = parsed.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:6443"));
        assert_eq!(cluster.certificate_authority_data.as_deref(), Some("UEVN"));
        let user = parsed.auth_infos[0].auth_info.as_ref().expect("user");
        assert!(user.token.is_some());
        assert_eq!(cluster.tls_server_name, None);
        let named = kubeconfig_yaml("dev", "https://127.0.0.9:6443", "PEM", "t", Some("api.dev"));
        let parsed = kube::config::Kubeconfig::from_yaml(&named).expect("kubeconfig");
        let cluster = parsed.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.tls_server_name.as_deref(), Some("api.dev"));
    }
}
