//! Turning the kubeconfig in a ManagedCluster's Secret into a client configuration.
//!
//! Only self-contained kubeconfigs are accepted: inline certificates and tokens. File
//! references (`tokenFile`, `client-certificate`, `certificate-authority`), exec credential
//! plugins and auth providers are refused, because they would make the operator read its
//! own files or run programs on behalf of whoever can write that Secret (for example, send
//! its own service-account token to a server the Secret names).

use std::time::Duration;

use kube::Config;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// How long a connection attempt to a managed cluster may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a kubeconfig cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct KubeconfigError(pub String);

/// Checks that the current context uses only inline credentials.
pub fn check_self_contained(kc: &Kubeconfig) -> Result<(), KubeconfigError> {
    let current = kc.current_context.clone().unwrap_or_default();
    let context = kc
        .contexts
        .iter()
        .find(|c| c.name == current)
        .and_then(|c| c.context.as_ref())
        .ok_or_else(|| KubeconfigError(format!("current-context {current:?} is not defined")))?;
    let refuse = |what: &str| {
        Err(KubeconfigError(format!(
            "{what} is not allowed: the operator only uses self-contained kubeconfigs (inline \
             certificate-authority-data, client-certificate-data/client-key-data or token)"
        )))
    };
    if let Some(cluster) = kc
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.as_ref())
        && cluster.certificate_authority.is_some()
    {
        return refuse("cluster.certificate-authority (a file path)");
    }
    if let Some(user) = context.user.as_ref().and_then(|u| {
        kc.auth_infos
            .iter()
            .find(|a| &a.name == u)
            .and_then(|a| a.auth_info.as_ref())
    }) {
        if user.exec.is_some() {
            return refuse("user.exec (a credential plugin)");
        }
        if user.auth_provider.is_some() {
            return refuse("user.auth-provider");
        }
        if user.token_file.is_some() {
            return refuse("user.tokenFile (a file path)");
        }
        if user.client_certificate.is_some() || user.client_key.is_some() {
            return refuse("user.client-certificate/client-key (file paths)");
        }
    }
    Ok(())
}

/// Parses and checks a kubeconfig and builds the client configuration for its current
/// context.
pub async fn config_from_bytes(bytes: &[u8]) -> Result<Config, KubeconfigError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| KubeconfigError("the kubeconfig is not UTF-8 text".into()))?;
    let kc = Kubeconfig::from_yaml(text)
        .map_err(|e| KubeconfigError(format!("the kubeconfig is not valid YAML: {e}")))?;
    check_self_contained(&kc)?;
    let mut config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| KubeconfigError(e.to_string()))?;
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(user: &str, cluster_extra: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {{cluster: k, user: u}}\n\
             clusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:6443\n{cluster_extra}\
             users:\n- name: u\n  user:\n{user}"
        )
    }

    async fn check(text: &str) -> Result<Config, KubeconfigError> {
        config_from_bytes(text.as_bytes()).await
    }

    #[tokio::test]
    async fn a_token_kubeconfig_is_accepted() {
        let config = check(&kubeconfig("    token: abc\n", ""))
            .await
            .expect("accepted");
        assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:6443/");
        assert_eq!(config.connect_timeout, Some(CONNECT_TIMEOUT));
    }

    #[tokio::test]
    async fn credentials_from_files_or_programs_are_refused() {
        for (user, cluster, what) in [
            (
                "    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n",
                "",
                "tokenFile",
            ),
            (
                "    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh}\n",
                "",
                "exec",
            ),
            (
                "    client-certificate: /etc/cert.pem\n    client-key: /etc/key.pem\n",
                "",
                "client-certificate",
            ),
            (
                "    token: abc\n",
                "    certificate-authority: /etc/ca.pem\n",
                "certificate-authority",
            ),
        ] {
            let err = check(&kubeconfig(user, cluster)).await.expect_err(what);
            assert!(
                err.0.contains(what) && err.0.contains("self-contained"),
                "{what}: {err}"
            );
        }
    }

    #[tokio::test]
    async fn auth_provider_users_are_refused() {
        // An OIDC provider would have the operator refresh tokens against an issuer the
        // Secret names; refused even with an inline token beside it.
        let user = "    token: abc\n    auth-provider:\n      name: oidc\n      config: {idp-issuer-url: https://issuer.example, client-id: tart}\n";
        let err = check(&kubeconfig(user, ""))
            .await
            .expect_err("auth-provider");
        assert_eq!(
            err.0,
            "user.auth-provider is not allowed: the operator only uses self-contained kubeconfigs \
             (inline certificate-authority-data, client-certificate-data/client-key-data or token)"
        );
    }

    #[tokio::test]
    async fn broken_kubeconfigs_say_what_is_wrong() {
        assert!(
            check("not: [yaml")
                .await
                .expect_err("yaml")
                .0
                .contains("not valid YAML")
        );
        let no_context = kubeconfig("    token: abc\n", "")
            .replace("current-context: c", "current-context: other");
        assert!(
            check(&no_context)
                .await
                .expect_err("context")
                .0
                .contains("\"other\" is not defined")
        );
        assert!(
            config_from_bytes(&[0xff, 0xfe])
                .await
                .expect_err("utf8")
                .0
                .contains("UTF-8")
        );
    }
}
