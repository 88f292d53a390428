//! The host agent's VM API, as the operator reaches it: the Secret `tart-infra up` writes
//! (keys `url`, `token`, `ca.crt`) becomes an [`AgentClient`] that trusts only that
//! certificate.

use crds::conditions::ClusterConditionReason as R;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use vm_api::AgentClient;

use super::names::TartSettings;

/// The client of the host agent named by the settings, or why there is none (a condition
/// reason and a message with the fix).
pub async fn connect(client: &Client, settings: &TartSettings) -> Result<AgentClient, (R, String)> {
    let (ns, name) = (&settings.namespace, &settings.host_agent_secret);
    let missing = |what: String| {
        (
            R::HostAgentMissing,
            format!(
                "{what}; `tart-infra up` on the Mac writes Secret {ns}/{name} with the keys url, token and ca.crt of `tart-infra serve`"
            ),
        )
    };
    let secret = Api::<Secret>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(|e| missing(format!("reading Secret {ns}/{name}: {e}")))?
        .ok_or_else(|| missing(format!("Secret {ns}/{name} does not exist")))?;
    let data = secret.data.unwrap_or_default();
    let field = |key: &str| {
        data.get(key)
            .map(|b| String::from_utf8_lossy(&b.0).trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| missing(format!("Secret {ns}/{name} has no key {key}")))
    };
    let (url, token, ca) = (field("url")?, field("token")?, field("ca.crt")?);
    AgentClient::with_certificate_pem(&url, &token, &ca)
        .map_err(|e| missing(format!("Secret {ns}/{name}: {e}")))
}
