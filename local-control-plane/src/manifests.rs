//! Objects the harness creates (simulated nodes, kwok's configuration) and applying YAML
//! manifests the way `kubectl apply --server-side` does.

use std::path::Path;

use k8s_openapi::api::core::v1::Node;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use serde::Deserialize;

use crate::{Error, PodLifecycle, SimNode};

/// The kwok stages the harness uses: nodes become Ready and heartbeat through leases,
/// deleted pods go away and, when pods are simulated, pods become Ready (and Job pods
/// complete unless the lifecycle is `Ready`).
fn stages(pods: PodLifecycle) -> &'static [&'static str] {
    match pods {
        PodLifecycle::Simulated => &[
            "node-initialize.yaml",
            "node-heartbeat-with-lease.yaml",
            "pod-ready.yaml",
            "pod-complete.yaml",
            "pod-delete.yaml",
        ],
        PodLifecycle::Ready => &[
            "node-initialize.yaml",
            "node-heartbeat-with-lease.yaml",
            "pod-ready.yaml",
            "pod-delete.yaml",
        ],
        PodLifecycle::Manual => &[
            "node-initialize.yaml",
            "node-heartbeat-with-lease.yaml",
            "pod-delete.yaml",
        ],
    }
}

/// kwok's usage simulation: kubelet-style `/metrics/resource` per node, with each pod's
/// usage from its annotations.
const USAGE: [&str; 2] = ["metrics-resource.yaml", "usage-from-annotation.yaml"];

/// The APIService metrics-server serves.
pub(crate) const METRICS_API_SERVICE: &str = "v1beta1.metrics.k8s.io";

/// metrics-server's registration with the aggregator: an ExternalName Service pointing at
/// loopback (no kube-proxy or endpoints needed) and the APIService. metrics-server's
/// certificate is self-signed, so TLS verification is skipped (test clusters only).
pub(crate) fn metrics_api(port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: metrics-server, namespace: kube-system}}\n\
         spec: {{type: ExternalName, externalName: 127.0.0.1, ports: [{{name: https, port: {port}, targetPort: {port}}}]}}\n\
         ---\napiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {{name: {METRICS_API_SERVICE}}}\n\
         spec: {{group: metrics.k8s.io, version: v1beta1, groupPriorityMinimum: 100, versionPriority: 100, \
         insecureSkipTLSVerify: true, service: {{name: metrics-server, namespace: kube-system, port: {port}}}}}\n"
    )
}

/// kwok's `--config` file: the upstream stage definitions, concatenated, plus the usage
/// simulation when metrics-server runs.
pub(crate) fn kwok_config(dir: &Path, pods: PodLifecycle, usage: bool) -> Result<String, Error> {
    let mut out = String::new();
    let extra: &[&str] = if usage { &USAGE } else { &[] };
    for file in stages(pods).iter().chain(extra) {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            context: format!("reading kwok stage {}", path.display()),
            source,
        })?;
        out.push_str("---\n");
        out.push_str(&text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// A Node object for kwok to manage: capacity from the spec, the kubelet-style metrics path
/// metrics-server scrapes, and the control-plane role label and taint when asked.
pub fn node(spec: &SimNode) -> Result<Node, Error> {
    let mut labels = serde_json::json!({
        "kubernetes.io/hostname": spec.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "kwok",
    });
    let mut taints = serde_json::json!([]);
    if spec.control_plane {
        labels["node-role.kubernetes.io/control-plane"] = "".into();
        taints = serde_json::json!([{ "key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule" }]);
    }
    let resources = serde_json::json!({
        "cpu": spec.cpu,
        "memory": spec.memory,
        "pods": spec.pods.to_string(),
    });
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": spec.name,
            "labels": labels,
            "annotations": {
                "kwok.x-k8s.io/node": "fake",
                "node.alpha.kubernetes.io/ttl": "0",
                "metrics.k8s.io/resource-metrics-path": format!("/metrics/nodes/{}/metrics/resource", spec.name),
            },
        },
        "spec": { "taints": taints },
        "status": { "allocatable": resources, "capacity": resources },
    }))
    .map_err(|source| Error::Encode {
        what: format!("node {}", spec.name),
        source,
    })
}

/// Splits a multi-document YAML text into objects, skipping empty documents.
pub fn parse_yaml_documents(text: &str) -> Result<Vec<DynamicObject>, serde_yaml::Error> {
    let mut objects = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let value = serde_json::Value::deserialize(doc)?;
        if value.is_null() {
            continue;
        }
        objects.push(
            serde_json::from_value(value)
                .map_err(<serde_yaml::Error as serde::de::Error>::custom)?,
        );
    }
    Ok(objects)
}

/// [`apply_yaml_as`] with the field manager `tart-infra`.
pub async fn apply_yaml(
    client: &Client,
    text: &str,
    namespace: &str,
) -> Result<Vec<DynamicObject>, kube::Error> {
    apply_yaml_as(client, text, namespace, "tart-infra").await
}

/// [`apply_yaml`] as field manager `manager`.
pub async fn apply_yaml_as(
    client: &Client,
    text: &str,
    namespace: &str,
    manager: &str,
) -> Result<Vec<DynamicObject>, kube::Error> {
    let objects = parse_yaml_documents(text).map_err(|e| kube::Error::Service(Box::new(e)))?;
    apply_objects_as(client, objects, namespace, manager).await
}

/// [`apply_objects_as`] with the field manager `tart-infra`.
pub async fn apply_objects(
    client: &Client,
    objects: Vec<DynamicObject>,
    namespace: &str,
) -> Result<Vec<DynamicObject>, kube::Error> {
    apply_objects_as(client, objects, namespace, "tart-infra").await
}

/// Applies `objects` with server-side apply as field manager `manager`, resolving kinds
/// through discovery, as `kubectl apply --server-side` does: Namespaces first, then CRDs
/// (each Established before any other object is applied, since those may be its
/// instances), then the rest in order. Namespaced objects without a namespace go to
/// `namespace`. Returns the applied objects, or the first error with the object named.
pub async fn apply_objects_as(
    client: &Client,
    mut objects: Vec<DynamicObject>,
    namespace: &str,
    manager: &str,
) -> Result<Vec<DynamicObject>, kube::Error> {
    objects.sort_by_key(|o| match o.types.as_ref().map(|t| t.kind.as_str()) {
        Some("Namespace") => 0,
        Some("CustomResourceDefinition") => 1,
        _ => 2,
    });
    let mut applied = Vec::new();
    let mut crds: Vec<String> = Vec::new();
    for obj in objects {
        let types = obj.types.clone().unwrap_or_default();
        let gvk =
            GroupVersionKind::try_from(&types).map_err(|e| kube::Error::Service(Box::new(e)))?;
        let name = obj.metadata.name.clone().unwrap_or_default();
        if gvk.kind == "CustomResourceDefinition" {
            crds.push(name.clone());
        } else if gvk.kind != "Namespace" {
            wait_established(client, &std::mem::take(&mut crds)).await?;
        }
        let named = |e: kube::Error| match e {
            kube::Error::Api(mut status) => {
                status.message = format!("{} {name}: {}", gvk.kind, status.message);
                kube::Error::Api(status)
            }
            other => other,
        };
        let (resource, caps) = discovery::pinned_kind(client, &gvk).await.map_err(named)?;
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Namespaced => Api::namespaced_with(
                client.clone(),
                obj.metadata.namespace.as_deref().unwrap_or(namespace),
                &resource,
            ),
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        let params = PatchParams::apply(manager).force();
        applied.push(
            api.patch(&name, &params, &Patch::Apply(&obj))
                .await
                .map_err(named)?,
        );
    }
    wait_established(client, &crds).await?;
    Ok(applied)
}

/// Waits (up to a minute each) until the named CRDs are Established.
async fn wait_established(client: &Client, names: &[String]) -> Result<(), kube::Error> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in names {
        let cond = kube::runtime::wait::conditions::is_crd_established();
        let wait = kube::runtime::wait::await_condition(crds.clone(), name, cond);
        match tokio::time::timeout(std::time::Duration::from_secs(60), wait).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(kube::Error::Service(Box::new(e))),
            Err(_) => {
                return Err(kube::Error::Service(
                    format!(
                        "CRD {name} is not Established after 60s; see `kubectl describe crd {name}`"
                    )
                    .into(),
                ));
            }
        }
    }
    Ok(())
}
