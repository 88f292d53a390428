//! What the tart controller writes so that ArgoCD installs a cluster's addons, and what it
//! reads to know they are installed (pure).
//!
//! The ArgoCD cluster Secret carries the labels of [`crds::argocd::argocd_labels`]; the
//! ApplicationSets' cluster generators select on them. Readiness is read from the cluster itself: each addon's DaemonSets and Deployments
//! must exist with every replica Ready. Addons without a workload of their own (the network
//! policies) count as installed once ArgoCD reports their Application healthy, which this
//! table does not cover.

use crds::argocd::wanted;
use crds::managed_cluster::Addons;

/// A workload kind the readiness check reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    DaemonSet,
    Deployment,
}

/// One workload an addon runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    /// The addon's name as in its label.
    pub addon: &'static str,
    pub kind: Kind,
    pub namespace: &'static str,
    pub name: &'static str,
}

impl Workload {
    /// `namespace/kind/name`, as messages show it.
    pub fn display(&self) -> String {
        let kind = match self.kind {
            Kind::DaemonSet => "daemonset",
            Kind::Deployment => "deployment",
        };
        format!("{}/{kind}/{}", self.namespace, self.name)
    }
}

const fn w(
    addon: &'static str,
    kind: Kind,
    namespace: &'static str,
    name: &'static str,
) -> Workload {
    Workload {
        addon,
        kind,
        namespace,
        name,
    }
}

/// The workloads that must be Ready for the addons spec.addons asks for.
pub fn workloads(addons: &Addons) -> Vec<Workload> {
    use Kind::{DaemonSet, Deployment};
    let all = [
        w("cilium", DaemonSet, "kube-system", "cilium"),
        w("cilium", Deployment, "kube-system", "cilium-operator"),
        w("hubble", Deployment, "kube-system", "hubble-relay"),
        w(
            "metrics-server",
            Deployment,
            "kube-system",
            "metrics-server",
        ),
        w("istio", Deployment, "istio-system", "istiod"),
        w("istio", Deployment, "istio-ingress", "istio-ingressgateway"),
        w("demo-apps", Deployment, "demo", "nginx-web"),
        w("demo-apps", Deployment, "demo", "httpbin"),
        w("demo-apps", Deployment, "demo", "redis"),
        w(
            "monitoring",
            Deployment,
            "monitoring",
            "kube-prometheus-stack-operator",
        ),
        w(
            "monitoring",
            Deployment,
            "monitoring",
            "kube-prometheus-stack-grafana",
        ),
    ];
    let wanted = wanted(addons);
    all.into_iter()
        .filter(|w| wanted.iter().any(|(a, on)| *on && *a == w.addon))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workloads_follow_the_addons() {
        let addons = Addons {
            metrics_server: true,
            demo_apps: true,
            ..Addons::default()
        };
        let names: Vec<String> = workloads(&addons).iter().map(Workload::display).collect();
        assert_eq!(
            names,
            [
                "kube-system/daemonset/cilium",
                "kube-system/deployment/cilium-operator",
                "kube-system/deployment/hubble-relay",
                "kube-system/deployment/metrics-server",
                "demo/deployment/nginx-web",
                "demo/deployment/httpbin",
                "demo/deployment/redis",
            ]
        );
    }

    #[test]
    fn cilium_is_always_wanted_and_hubble_can_be_turned_off() {
        let mut addons = Addons::default();
        addons.cilium.hubble = false;
        let names: Vec<&str> = workloads(&addons).iter().map(|w| w.name).collect();
        assert_eq!(names, ["cilium", "cilium-operator"]);
    }
}
