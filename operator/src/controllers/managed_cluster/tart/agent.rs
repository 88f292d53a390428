//! The host agent's VM API, as the operator reaches it: the Secret `tart-infra up` writes
//! (keys `url`, `token`, `ca.crt`) becomes an [`AgentClient`] that trusts only that
//! certificate; its keys `platform-cluster` and `platform-vm` name the platform cluster and
//! its control-plane VM, whose address (asked of the VM API) the nodes resolve the
//! platform's names to.

use crds::conditions::ClusterConditionReason as R;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use vm_api::AgentClient;

use super::names::TartSettings;

/// The key naming the platform cluster (`platform`).
pub const PLATFORM_CLUSTER_KEY: &str = "platform-cluster";
/// The key naming the platform's control-plane VM (`platform-master`).
pub const PLATFORM_VM_KEY: &str = "platform-vm";

/// The host agent and what its Secret says of the platform.
pub struct HostAgent {
    /// The VM API's client.
    pub client: AgentClient,
    /// The platform cluster and its control-plane VM, or why the Secret does not say (a
    /// Secret written by an older `tart-infra up`).
    pub platform: Result<PlatformVm, String>,
}

/// The platform cluster and the VM whose address its names resolve to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformVm {
    /// The platform cluster's name.
    pub cluster: String,
    /// Its control-plane VM.
    pub vm: String,
}

/// Whether the host agent's Secret may exist: false only when reading its metadata says it
/// does not (another error reads as yes, so that [`connect`] reports it).
pub async fn configured(client: &Client, settings: &TartSettings) -> bool {
    !matches!(
        Api::<Secret>::namespaced(client.clone(), &settings.namespace)
            .get_metadata_opt(&settings.host_agent_secret)
            .await,
        Ok(None)
    )
}

/// The client of the host agent named by the settings, or why there is none (a condition
/// reason and a message with the fix).
pub async fn connect(client: &Client, settings: &TartSettings) -> Result<HostAgent, (R, String)> {
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
    let value = |key: &str| {
        data.get(key)
            .map(|b| String::from_utf8_lossy(&b.0).trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let field = |key: &str| {
        value(key).ok_or_else(|| missing(format!("Secret {ns}/{name} has no key {key}")))
    };
    let (url, token, ca) = (field("url")?, field("token")?, field("ca.crt")?);
    let client = AgentClient::with_certificate_pem(&url, &token, &ca)
        .map_err(|e| missing(format!("Secret {ns}/{name}: {e}")))?;
    let platform = match (value(PLATFORM_CLUSTER_KEY), value(PLATFORM_VM_KEY)) {
        (Some(cluster), Some(vm)) => Ok(PlatformVm { cluster, vm }),
        _ => Err(format!(
            "Secret {ns}/{name} has no keys {PLATFORM_CLUSTER_KEY} and {PLATFORM_VM_KEY} (the platform cluster and its control-plane VM; `tart-infra up` of this version writes them: run it again)"
        )),
    };
    Ok(HostAgent { client, platform })
}
