//! Assembling a cluster's view from its caches (pure).

use std::collections::HashMap;
use std::sync::Arc;

use crds::ManagedCluster;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

use super::usage::UsageData;
use super::views;
use crate::model::{ClusterView, ServiceView};

/// What the ManagedCluster (or the operator, for the platform cluster) says about a
/// cluster.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterMeta {
    /// Name.
    pub name: String,
    /// platform, dev, staging, prod.
    pub tier: Option<String>,
    /// tart or external.
    pub provider: Option<String>,
    /// Phase.
    pub phase: Option<String>,
    /// Pod network.
    pub pod_cidr: Option<String>,
    /// Service network.
    pub service_cidr: Option<String>,
    /// Whether the API server answers.
    pub reachable: bool,
    /// API server URL.
    pub endpoint: Option<String>,
    /// API server version.
    pub version: Option<String>,
}

fn enum_name<T: serde::Serialize>(v: &T) -> Option<String> {
    serde_json::to_value(v).ok()?.as_str().map(str::to_owned)
}

/// A ManagedCluster's metadata.
pub fn meta(mc: &ManagedCluster) -> ClusterMeta {
    let status = mc.status.clone().unwrap_or_default();
    ClusterMeta {
        name: mc.metadata.name.clone().unwrap_or_default(),
        tier: enum_name(&mc.spec.tier),
        provider: enum_name(&mc.spec.provider),
        phase: status.phase.as_ref().and_then(enum_name),
        pod_cidr: mc.spec.network.as_ref().map(|n| n.pod_cidr.clone()),
        service_cidr: mc.spec.network.as_ref().map(|n| n.service_cidr.clone()),
        reachable: crate::conditions::is_true(
            &status.conditions,
            crds::conditions::ClusterCondition::Reachable,
        ),
        endpoint: status.api_server_endpoint,
        version: status.kubernetes_version,
    }
}

/// One cluster's view; pods sorted by namespace and name.
pub fn cluster_view(
    meta: &ClusterMeta,
    nodes: &[Arc<Node>],
    pods: &[Arc<Pod>],
    usage: &UsageData,
) -> ClusterView {
    let mut pod_views: Vec<_> = pods
        .iter()
        .map(|p| {
            let key = (
                p.metadata.namespace.clone().unwrap_or_default(),
                p.metadata.name.clone().unwrap_or_default(),
            );
            views::pod_view(p, usage.pods.get(&key).copied())
        })
        .collect();
    pod_views.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    for p in &pod_views {
        if let Some(n) = &p.node {
            *per_node.entry(n.as_str()).or_default() += 1;
        }
    }
    let mut node_views: Vec<_> = nodes
        .iter()
        .map(|n| {
            let name = n.metadata.name.clone().unwrap_or_default();
            let count = per_node.get(name.as_str()).copied().unwrap_or(0);
            views::node_view(n, usage.nodes.get(&name).copied(), count)
        })
        .collect();
    node_views.sort_by(|a, b| a.name.cmp(&b.name));
    ClusterView {
        name: meta.name.clone(),
        tier: meta.tier.clone(),
        provider: meta.provider.clone(),
        phase: meta.phase.clone(),
        reachable: meta.reachable,
        pod_cidr: meta.pod_cidr.clone(),
        service_cidr: meta.service_cidr.clone(),
        api_server_endpoint: meta.endpoint.clone(),
        kubernetes_version: meta.version.clone(),
        metrics_available: usage.available,
        namespaces: views::namespace_counts(&pod_views),
        nodes: node_views,
        pods: pod_views,
    }
}

/// Every Service with the endpoints of its EndpointSlices, sorted by namespace and name.
pub fn services(services: &[Arc<Service>], slices: &[Arc<EndpointSlice>]) -> Vec<ServiceView> {
    let mut by_service: HashMap<(&str, &str), Vec<&EndpointSlice>> = HashMap::new();
    for s in slices {
        if let (Some(ns), Some(svc)) = (
            s.metadata.namespace.as_deref(),
            s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(super::slim::SERVICE_NAME_LABEL)),
        ) {
            by_service.entry((ns, svc.as_str())).or_default().push(s);
        }
    }
    let mut views: Vec<_> = services
        .iter()
        .map(|s| {
            let key = (
                s.metadata.namespace.as_deref().unwrap_or(""),
                s.metadata.name.as_deref().unwrap_or(""),
            );
            views::service_view(s, by_service.get(&key).map(Vec::as_slice).unwrap_or(&[]))
        })
        .collect();
    views.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    views
}
