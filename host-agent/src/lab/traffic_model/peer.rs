//! A pod as Hubble shows it: its Cilium security identity, endpoint labels and workload.

use std::collections::BTreeMap;

use hubble_api as pb;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::fnv;

/// Cilium's cluster-local identities.
const IDENTITY_RANGE: (u32, u32) = (256, 65535);

/// Labels that do not make a pod's identity (Cilium leaves these out by default).
fn identity_label(key: &str) -> bool {
    !matches!(
        key,
        "pod-template-hash"
            | "pod-template-generation"
            | "controller-revision-hash"
            | "controller-uid"
            | "job-name"
    ) && ![
        "batch.kubernetes.io/",
        "statefulset.kubernetes.io/",
        "apps.kubernetes.io/",
    ]
    .iter()
    .any(|p| key.starts_with(p))
}

/// The security identity of a pod with these labels in this namespace.
pub fn identity(namespace: &str, labels: &BTreeMap<String, String>) -> u32 {
    let pairs: Vec<String> = labels
        .iter()
        .filter(|(k, _)| identity_label(k))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut parts = vec![namespace];
    parts.extend(pairs.iter().map(String::as_str));
    let (min, max) = IDENTITY_RANGE;
    min + (fnv(&parts) % u64::from(max - min + 1)) as u32
}

/// The workload Cilium names for a pod, as `(kind, name)`: a ReplicaSet's Deployment, else
/// the controlling owner.
pub fn workload(pod: &Pod) -> Option<(String, String)> {
    let owner = pod
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true))?;
    if owner.kind == "ReplicaSet"
        && let Some(hash) = pod.labels().get("pod-template-hash")
        && let Some(deployment) = owner.name.strip_suffix(&format!("-{hash}"))
    {
        return Some(("Deployment".to_owned(), deployment.to_owned()));
    }
    Some((owner.kind.clone(), owner.name.clone()))
}

/// A pod as one side of a flow.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Peer {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Its node.
    pub node: String,
    /// Its IP.
    pub ip: String,
    /// Its node's IP.
    pub host_ip: String,
    /// Security identity.
    pub identity: u32,
    /// Cilium's endpoint labels (`k8s:app=web`).
    pub labels: Vec<String>,
    /// `(kind, name)`.
    pub workload: Option<(String, String)>,
}

impl Peer {
    /// A pod that has been scheduled and given an IP; none otherwise.
    pub fn of(pod: &Pod) -> Option<Self> {
        let status = pod.status.as_ref()?;
        let namespace = pod.namespace()?;
        let mut labels: Vec<String> = pod
            .labels()
            .iter()
            .filter(|(k, _)| identity_label(k))
            .map(|(k, v)| format!("k8s:{k}={v}"))
            .collect();
        labels.push(format!("k8s:io.kubernetes.pod.namespace={namespace}"));
        Some(Self {
            identity: identity(&namespace, pod.labels()),
            namespace,
            pod: pod.name_any(),
            node: pod.spec.as_ref()?.node_name.clone()?,
            ip: status.pod_ip.clone()?,
            host_ip: status.host_ip.clone().unwrap_or_default(),
            labels,
            workload: workload(pod),
        })
    }

    pub(super) fn endpoint(&self) -> pb::Endpoint {
        pb::Endpoint {
            id: 0,
            identity: self.identity,
            namespace: self.namespace.clone(),
            labels: self.labels.clone(),
            pod_name: self.pod.clone(),
            workloads: self
                .workload
                .iter()
                .map(|(kind, name)| pb::Workload {
                    name: name.clone(),
                    kind: kind.clone(),
                })
                .collect(),
        }
    }
}

pub(super) fn reserved(identity: u32, label: &str) -> pb::Endpoint {
    pb::Endpoint {
        identity,
        labels: vec![format!("reserved:{label}")],
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::traffic_model::fixtures::{nginx, redis, runner_pod};

    #[test]
    fn identities_follow_namespace_and_identity_labels_only() {
        let a = nginx("nginx-web-5d8f9c7b6d-aaaaa", "10.20.1.5");
        let mut b = nginx("nginx-web-5d8f9c7b6d-bbbbb", "10.20.1.6");
        b.labels_mut()
            .insert("pod-template-hash".into(), "0000000000".into());
        let (pa, pb) = (Peer::of(&a).expect("a"), Peer::of(&b).expect("b"));
        assert_eq!(
            pa.identity, pb.identity,
            "replicas share an identity whatever their hash"
        );
        assert!((256..=65535).contains(&pa.identity));
        assert_ne!(pa.identity, Peer::of(&redis()).expect("redis").identity);
        let labels = BTreeMap::from([("app".to_owned(), "nginx-web".to_owned())]);
        assert_ne!(identity("demo", &labels), identity("other", &labels));
        assert_eq!(
            pa.labels,
            ["k8s:app=nginx-web", "k8s:io.kubernetes.pod.namespace=demo"]
        );
        assert_eq!(
            pa.workload,
            Some(("Deployment".into(), "nginx-web".into())),
            "a ReplicaSet's pods belong to its Deployment"
        );
        assert_eq!(
            Peer::of(&runner_pod()).expect("runner").workload,
            Some(("Job".into(), "lt-light-abc12".into()))
        );
        assert_eq!(Peer::of(&redis()).expect("redis").workload, None);
    }
}
