//! The hand-off to the operator on the platform cluster: the CRDs, the operator's RBAC, the
//! Secrets it needs (`tart-system/host-agent`: the VM API's URL, token and certificate;
//! `tart-system/tart-operator-ssh`: its own SSH key) and one `ManagedCluster` per other
//! cluster of the file, all applied server-side (a re-run changes nothing). The objects
//! are built by pure functions; the operator itself, ArgoCD and Cilium are not installed
//! here (see docs/mac-lab.md).

use std::time::Duration;

use crds::managed_cluster::Tier;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config as KubeConfig};
use serde_json::{Value, json};

use super::MacError;
use crate::config::{ClusterConfig, Config};
use crate::lab::platform::{SYSTEM_NAMESPACE, install_crds};

/// The field manager of everything `up` applies.
pub const FIELD_MANAGER: &str = "tart-infra-up";
/// The Secret with the VM API's URL, token and certificate.
pub const AGENT_SECRET: &str = "host-agent";
/// The Secret with the operator's SSH key.
pub const SSH_SECRET: &str = "tart-operator-ssh";

/// A client of the cluster a kubeconfig points at.
pub async fn client(kubeconfig: &str, cluster: &str) -> Result<Client, MacError> {
    client_with_retry(kubeconfig, cluster, true).await
}

/// A client that does not retry 429/503 answers itself when `retry` is false: the drain
/// retries refused evictions on its own schedule, bounded by its timeout.
pub async fn client_with_retry(
    kubeconfig: &str,
    cluster: &str,
    retry: bool,
) -> Result<Client, MacError> {
    let fail = |e: &dyn std::fmt::Display| {
        MacError::step(
            cluster,
            "kubeconfig",
            format!("{e}; run `tart-infra up` again to rewrite it"),
        )
    };
    let kc = Kubeconfig::from_yaml(kubeconfig).map_err(|e| fail(&e))?;
    let mut config = KubeConfig::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| fail(&e))?;
    config.connect_timeout = Some(Duration::from_secs(5));
    config.read_timeout = Some(Duration::from_secs(30));
    config.default_retry = retry;
    Client::try_from(config).map_err(|e| fail(&e))
}

/// The keys of the Secret `tart-system/host-agent` naming the platform cluster and its
/// control-plane VM: the operator asks the VM API for that VM's address and points the
/// other clusters' nodes' platform names at it (`platform-names`).
pub const PLATFORM_CLUSTER_KEY: &str = "platform-cluster";
/// See [`PLATFORM_CLUSTER_KEY`].
pub const PLATFORM_VM_KEY: &str = "platform-vm";

/// The Secret `tart-system/host-agent`: where the operator reaches the VM API, and which VM
/// is the platform's control plane.
pub fn agent_secret(
    url: &str,
    token: &str,
    ca_pem: &str,
    platform: &ClusterConfig,
) -> Result<Value, MacError> {
    let vm = super::vms::control_plane(platform)
        .ok_or_else(|| {
            MacError::step(
                &platform.name,
                "secret host-agent",
                "the cluster has no controlPlane node",
            )
        })?
        .name
        .clone();
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": AGENT_SECRET,
            "namespace": SYSTEM_NAMESPACE,
            "labels": {"app.kubernetes.io/part-of": "tart-infra"},
        },
        "type": "Opaque",
        "stringData": {
            "url": url,
            "token": token,
            "ca.crt": ca_pem,
            PLATFORM_CLUSTER_KEY: platform.name,
            PLATFORM_VM_KEY: vm,
        },
    }))
}

/// The Secret `tart-system/tart-operator-ssh`: the operator's own SSH key.
pub fn ssh_secret(private_openssh: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": SSH_SECRET,
            "namespace": SYSTEM_NAMESPACE,
            "labels": {"app.kubernetes.io/part-of": "tart-infra"},
        },
        "type": "kubernetes.io/ssh-auth",
        "stringData": {"ssh-privatekey": private_openssh},
    })
}

/// The ManagedCluster of a non-platform cluster of the file: provider tart, the file's spec.
pub fn managed_cluster(config: &Config, cluster: &ClusterConfig) -> Result<Value, MacError> {
    let spec = serde_json::to_value(config.spec(cluster))
        .map_err(|e| MacError::step(&cluster.name, "managed-cluster", e))?;
    Ok(json!({
        "apiVersion": "tartinfra.dev/v1alpha1",
        "kind": "ManagedCluster",
        "metadata": {
            "name": cluster.name,
            "labels": {"app.kubernetes.io/part-of": "tart-infra"},
        },
        "spec": spec,
    }))
}

/// The clusters that become ManagedClusters: every one but the platform.
pub fn managed(config: &Config) -> Vec<&ClusterConfig> {
    config
        .clusters
        .iter()
        .filter(|c| c.tier != Tier::Platform)
        .collect()
}

fn api_error(what: &str) -> impl FnOnce(kube::Error) -> MacError + '_ {
    move |e| MacError::step("platform", what, e)
}

/// Applies the CRDs and the operator's RBAC (from the chart's rules, [`crate::rbac`]).
pub async fn install_base(client: &Client) -> Result<(), MacError> {
    install_crds(client)
        .await
        .map_err(|e| MacError::step("platform", "crds", e))?;
    let rbac = crate::rbac::operator_objects(SYSTEM_NAMESPACE)
        .map_err(|e| MacError::step("platform", "rbac", e))?;
    local_control_plane::apply_objects(client, rbac, SYSTEM_NAMESPACE)
        .await
        .map_err(api_error("rbac"))?;
    Ok(())
}

/// Applies a manifest (one or many YAML documents) server-side as `manager`, creating its
/// default namespace first. A manager owns exactly the fields of what it last applied, so
/// each separately applied part of an object needs a manager of its own.
pub async fn apply_manifest(
    client: &Client,
    yaml: &str,
    namespace: &str,
    step: &str,
    manager: &str,
) -> Result<usize, MacError> {
    let ns = format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {namespace}}}\n");
    local_control_plane::apply_yaml_as(client, &ns, namespace, FIELD_MANAGER)
        .await
        .map_err(api_error(step))?;
    let applied = local_control_plane::apply_yaml_as(client, yaml, namespace, manager)
        .await
        .map_err(api_error(step))?;
    Ok(applied.len())
}

/// Applies a Secret server-side.
pub async fn apply_secret(client: &Client, body: &Value) -> Result<(), MacError> {
    let name = body["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), SYSTEM_NAMESPACE);
    secrets
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(body),
        )
        .await
        .map_err(|e| MacError::step("platform", &format!("secret {SYSTEM_NAMESPACE}/{name}"), e))?;
    Ok(())
}

/// Applies a ManagedCluster server-side.
pub async fn apply_managed_cluster(client: &Client, body: &Value) -> Result<(), MacError> {
    let name = body["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let clusters: Api<crds::ManagedCluster> = Api::all(client.clone());
    clusters
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(body),
        )
        .await
        .map_err(|e| MacError::step(&name, "managed-cluster", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secrets_have_the_keys_the_operator_reads() {
        let config = crate::config::parse(
            include_str!("../../../config/clusters.yaml"),
            "config/clusters.yaml",
        )
        .expect("shipped file");
        let platform = config
            .clusters
            .iter()
            .find(|c| c.tier == Tier::Platform)
            .expect("platform");
        let s = agent_secret("https://192.168.64.1:7443", "tok", "PEM", platform).expect("secret");
        assert_eq!(s["metadata"]["namespace"], "tart-system");
        assert_eq!(s["stringData"]["url"], "https://192.168.64.1:7443");
        assert_eq!(s["stringData"]["ca.crt"], "PEM");
        assert_eq!(s["stringData"]["platform-cluster"], "platform");
        assert_eq!(s["stringData"]["platform-vm"], "platform-master");
        let k = ssh_secret("KEY");
        assert_eq!(k["type"], "kubernetes.io/ssh-auth");
        assert_eq!(k["stringData"]["ssh-privatekey"], "KEY");
        assert!(serde_json::from_value::<Secret>(s).is_ok());
    }

    #[test]
    fn every_cluster_but_the_platform_becomes_a_tart_managed_cluster() {
        let config = crate::config::parse(
            include_str!("../../../config/clusters.yaml"),
            "config/clusters.yaml",
        )
        .expect("shipped file");
        let names: Vec<&str> = managed(&config).iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["dev", "staging", "prod"]);
        let mc = managed_cluster(&config, managed(&config)[0]).expect("mc");
        assert_eq!(mc["spec"]["provider"], "tart");
        assert_eq!(mc["metadata"]["name"], "dev");
        assert!(serde_json::from_value::<crds::ManagedCluster>(mc).is_ok());
    }
}
