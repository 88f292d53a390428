//! What the watch caches keep of each object: only the fields the API serves or the
//! collectors read. Every watched object is trimmed as it arrives (`.modify()` on the
//! watcher), so a cluster's memory grows with its number of objects, not with the size of
//! their specs, annotations or field-manager bookkeeping.
//!
//! Measured on a typical Deployment pod (`tests/fixtures/pod-nginx-web.json`, run
//! `cargo run -p operator --example pod_cache_bytes`): 6 119 bytes of JSON as the API server
//! sends it, 591 bytes once trimmed (10x smaller); 1 000 pods cost about 0.6 MB, not 6 MB.

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod, PodSpec, PodStatus};
use kube::Resource;

/// The annotation `kubectl apply` leaves: a copy of the whole applied object.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// For every cached kind: drops `managedFields` and the `last-applied-configuration`
/// annotation (no view reads them; together they are often larger than the object).
/// Other annotations stay: the node views read kwok's.
pub fn meta<K: Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(a) = meta.annotations.as_mut() {
        a.remove(LAST_APPLIED);
    }
}

/// A pod reduced to what [`super::views::pod_view`] and the Hubble Relay lookup read:
/// name, namespace, labels, creation and deletion time; node, container names and resource
/// requests, init container names; phase, reason and each container's state, readiness and
/// restarts.
pub fn pod(p: &mut Pod) {
    meta(p);
    p.metadata.annotations = None;
    p.metadata.owner_references = None;
    p.metadata.generate_name = None;
    p.metadata.finalizers = None;
    let container = |c: &Container| Container {
        name: c.name.clone(),
        resources: c
            .resources
            .as_ref()
            .map(|r| k8s_openapi::api::core::v1::ResourceRequirements {
                requests: r.requests.clone(),
                ..Default::default()
            }),
        ..Default::default()
    };
    let name_only = |c: &Container| Container {
        name: c.name.clone(),
        ..Default::default()
    };
    p.spec = p.spec.take().map(|s| PodSpec {
        node_name: s.node_name,
        containers: s.containers.iter().map(container).collect(),
        init_containers: s
            .init_containers
            .map(|cs| cs.iter().map(name_only).collect()),
        ..Default::default()
    });
    let status = |c: &ContainerStatus| ContainerStatus {
        name: c.name.clone(),
        ready: c.ready,
        restart_count: c.restart_count,
        state: c.state.clone(),
        ..Default::default()
    };
    p.status = p.status.take().map(|s| PodStatus {
        phase: s.phase,
        reason: s.reason,
        container_statuses: s
            .container_statuses
            .map(|cs| cs.iter().map(status).collect()),
        init_container_statuses: s
            .init_container_statuses
            .map(|cs| cs.iter().map(status).collect()),
        ..Default::default()
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::views::{pod_status, pod_view};

    const FIXTURE: &str = include_str!("../../tests/fixtures/pod-nginx-web.json");

    fn fixture() -> Pod {
        serde_json::from_str(FIXTURE).expect("pod")
    }

    fn bytes(p: &Pod) -> usize {
        serde_json::to_vec(p).expect("json").len()
    }

    #[test]
    fn a_trimmed_pod_serves_the_same_views_and_is_a_fraction_of_the_size() {
        let full = fixture();
        let mut slim = full.clone();
        pod(&mut slim);
        assert_eq!(
            pod_view(&slim, Some((12, 3 << 20))),
            pod_view(&full, Some((12, 3 << 20)))
        );
        assert_eq!(pod_status(&slim), "Running");
        assert_eq!(slim.metadata.labels, full.metadata.labels);
        assert!(slim.metadata.managed_fields.is_none() && slim.metadata.annotations.is_none());
        assert!(slim.spec.as_ref().is_some_and(|s| s.volumes.is_none()));
        // The budget this module's comment states: under 1 KB, at most a sixth of the original.
        assert!(bytes(&slim) < 1024, "{} bytes", bytes(&slim));
        assert!(
            bytes(&slim) * 6 < bytes(&full),
            "{} of {}",
            bytes(&slim),
            bytes(&full)
        );
    }

    #[test]
    fn every_kind_loses_its_field_manager_bookkeeping_and_last_applied_copy_only() {
        let mut node: k8s_openapi::api::core::v1::Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n", "annotations": {LAST_APPLIED: "{...}", "kwok.x-k8s.io/node": "fake"},
                          "managedFields": [{"manager": "kwok", "operation": "Update"}]},
        }))
        .expect("node");
        meta(&mut node);
        assert!(node.metadata.managed_fields.is_none());
        assert_eq!(
            node.metadata
                .annotations
                .expect("annotations")
                .into_keys()
                .collect::<Vec<_>>(),
            ["kwok.x-k8s.io/node"]
        );
    }

    #[test]
    fn trimming_keeps_what_the_status_column_needs_for_failing_and_terminating_pods() {
        let mut p = fixture();
        let status = p.status.as_mut().expect("status");
        status.container_statuses =
            Some(vec![serde_json::from_value(serde_json::json!({
            "name": "nginx", "ready": false, "restartCount": 4, "image": "x", "imageID": "y",
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}
        }))
        .expect("status")]);
        let mut slim = p.clone();
        pod(&mut slim);
        assert_eq!(pod_status(&slim), "CrashLoopBackOff");
        p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-11-28T10:00:00Z".parse().expect("t"),
        ));
        let mut slim = p.clone();
        pod(&mut slim);
        assert_eq!(pod_status(&slim), pod_status(&p));
        assert_eq!(pod_status(&slim), "Terminating");
    }
}
