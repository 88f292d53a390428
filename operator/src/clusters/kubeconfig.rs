//! Turning the kubeconfig in a ManagedCluster's Secret into a client configuration.
//!
//! Only self-contained kubeconfigs are accepted: inline certificates and tokens. File
//! references (`tokenFile`, `client-certificate`, `certificate-authority`), exec credential
//! plugins and auth providers are refused, because they would make the operator read its
//! own files or run programs on behalf of whoever can write that Secret (for example, send
//! its own service-account token to a server the Secret names).
//!
//! A kubeconfig that turns off TLS verification (`insecure-skip-tls-verify`) or routes
//! through a proxy (`proxy-url`) is refused too, unless the ManagedCluster's
//! `spec.connection` allows it: either hands the operator's credentials for that cluster to
//! whoever sits on the path.

use std::time::Duration;

use crds::conditions::ClusterConditionReason as R;
use crds::managed_cluster::Connection;
use kube::Config;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// How long a connection attempt to a managed cluster may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a kubeconfig cannot be used: a ManagedCluster condition reason and a message that
/// names the field and the fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct KubeconfigError {
    /// KubeconfigInvalid, InsecureKubeconfig or ProxyNotAllowed.
    pub reason: R,
    /// What is wrong and what to do.
    pub message: String,
}

impl KubeconfigError {
    /// A kubeconfig that is malformed or unsupported.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            reason: R::KubeconfigInvalid,
            message: message.into(),
        }
    }
}

/// Checks that the current context uses only inline credentials, and neither skips TLS
/// verification nor uses a proxy unless `allowed` says so.
pub fn check_self_contained(kc: &Kubeconfig, allowed: &Connection) -> Result<(), KubeconfigError> {
    let current = kc.current_context.clone().unwrap_or_default();
    let context = kc
        .contexts
        .iter()
        .find(|c| c.name == current)
        .and_then(|c| c.context.as_ref())
        .ok_or_else(|| {
            KubeconfigError::invalid(format!("current-context {current:?} is not defined"))
        })?;
    let refuse = |what: &str| {
        Err(KubeconfigError::invalid(format!(
            "{what} is not allowed: the operator only uses self-contained kubeconfigs (inline \
             certificate-authority-data, client-certificate-data/client-key-data or token)"
        )))
    };
    if let Some(cluster) = kc
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.as_ref())
    {
        if cluster.certificate_authority.is_some() {
            return refuse("cluster.certificate-authority (a file path)");
        }
        if cluster.insecure_skip_tls_verify == Some(true) && !allowed.allow_insecure_skip_tls_verify
        {
            return Err(KubeconfigError {
                reason: R::InsecureKubeconfig,
                message: "cluster.insecure-skip-tls-verify is true: the operator would send its \
                          credentials to whoever answers at the server's address. Put the \
                          cluster's CA in certificate-authority-data instead, or set \
                          spec.connection.allowInsecureSkipTLSVerify: true on the ManagedCluster"
                    .into(),
            });
        }
        if cluster.proxy_url.is_some() && !allowed.allow_proxy_url {
            return Err(KubeconfigError {
                reason: R::ProxyNotAllowed,
                message: "cluster.proxy-url is set: the operator's traffic to the cluster would \
                          go through that proxy. Remove proxy-url, or set \
                          spec.connection.allowProxyURL: true on the ManagedCluster"
                    .into(),
            });
        }
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

/// Parses and checks a kubeconfig (with the options `allowed`) and builds the client
/// configuration for its current context.
pub async fn config_from_bytes(
    bytes: &[u8],
    allowed: &Connection,
) -> Result<Config, KubeconfigError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| KubeconfigError::invalid("the kubeconfig is not UTF-8 text"))?;
    let kc = Kubeconfig::from_yaml(text)
        .map_err(|e| KubeconfigError::invalid(format!("the kubeconfig is not valid YAML: {e}")))?;
    check_self_contained(&kc, allowed)?;
    let mut config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| KubeconfigError::invalid(e.to_string()))?;
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
        config_from_bytes(text.as_bytes(), &Connection::default()).await
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
                err.reason == R::KubeconfigInvalid
                    && err.message.contains(what)
                    && err.message.contains("self-contained"),
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
            err.message,
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
                .message
                .contains("not valid YAML")
        );
        let no_context = kubeconfig("    token: abc\n", "")
            .replace("current-context: c", "current-context: other");
        assert!(
            check(&no_context)
                .await
                .expect_err("context")
                .message
                .contains("\"other\" is not defined")
        );
        assert!(
            config_from_bytes(&[0xff, 0xfe], &Connection::default())
                .await
                .expect_err("utf8")
                .message
                .contains("UTF-8")
        );
    }

    #[tokio::test]
    async fn skipping_tls_verification_or_a_proxy_needs_the_clusters_consent() {
        let insecure = kubeconfig("    token: abc\n", "    insecure-skip-tls-verify: true\n");
        let proxy = kubeconfig(
            "    token: abc\n",
            "    certificate-authority-data: Zm9v\n    proxy-url: http://127.0.0.1:3128\n",
        );
        let err = check(&insecure).await.expect_err("insecure");
        assert_eq!(err.reason, R::InsecureKubeconfig);
        assert!(
            err.message.contains("insecure-skip-tls-verify")
                && err
                    .message
                    .contains("spec.connection.allowInsecureSkipTLSVerify"),
            "{err}"
        );
        let err = check(&proxy).await.expect_err("proxy");
        assert_eq!(err.reason, R::ProxyNotAllowed);
        assert!(
            err.message.contains("proxy-url")
                && err.message.contains("spec.connection.allowProxyURL"),
            "{err}"
        );
        // Each option is allowed by its own flag only.
        let insecure_ok = Connection {
            allow_insecure_skip_tls_verify: true,
            ..Connection::default()
        };
        let proxy_ok = Connection {
            allow_proxy_url: true,
            ..Connection::default()
        };
        let accepted = config_from_bytes(insecure.as_bytes(), &insecure_ok)
            .await
            .expect("allowed");
        assert!(accepted.accept_invalid_certs);
        assert_eq!(
            config_from_bytes(insecure.as_bytes(), &proxy_ok)
                .await
                .expect_err("other flag")
                .reason,
            R::InsecureKubeconfig
        );
        assert!(
            config_from_bytes(proxy.as_bytes(), &proxy_ok)
                .await
                .expect("allowed")
                .proxy_url
                .is_some()
        );
        // false is the default and explicit false is fine.
        let explicit = kubeconfig("    token: abc\n", "    insecure-skip-tls-verify: false\n");
        check(&explicit).await.expect("false is safe");
    }
}
