//! What the tart controller writes so that ArgoCD installs a cluster's addons, and what it
//! reads to know they are installed (pure).
//!
//! The ArgoCD cluster Secret carries one label per addon (`addons.tartinfra.dev/<addon>`,
//! `"true"` or `"false"`) and the tier; the ApplicationSets' cluster generators select on
//! them. Readiness is read from the cluster itself: each addon's DaemonSets and Deployments
//! must exist with every replica Ready. Addons without a workload of their own (the network
//! policies) count as installed once ArgoCD reports their Application healthy, which this
//! table does not cover.

use std::collections::BTreeMap;

use crds::managed_cluster::{Addons, Tier};

/// The label every ArgoCD cluster Secret has.
pub const ARGOCD_SECRET_TYPE: (&str, &str) = ("argocd.argoproj.io/secret-type", "cluster");
/// The label prefix of the addon labels.
pub const ADDON_LABEL_PREFIX: &str = "addons.tartinfra.dev/";
/// The tier label.
pub const TIER_LABEL: &str = "tartinfra.dev/tier";
/// The label naming the ManagedCluster a Secret belongs to.
pub const CLUSTER_LABEL: &str = "tartinfra.dev/cluster";

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

/// Every addon with whether spec.addons asks for it, in install order (Cilium first: nodes
/// become Ready only with a CNI).
pub fn wanted(addons: &Addons) -> [(&'static str, bool); 7] {
    [
        ("cilium", true),
        ("hubble", addons.cilium.hubble),
        ("metrics-server", addons.metrics_server),
        ("istio", addons.istio),
        ("network-policies", addons.network_policies),
        ("demo-apps", addons.demo_apps),
        ("monitoring", addons.monitoring),
    ]
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

/// The labels of the cluster's ArgoCD Secret.
pub fn argocd_labels(cluster: &str, tier: Tier, addons: &Addons) -> BTreeMap<String, String> {
    let tier = match tier {
        Tier::Platform => "platform",
        Tier::Dev => "dev",
        Tier::Staging => "staging",
        Tier::Prod => "prod",
    };
    let mut labels = BTreeMap::from([
        (
            ARGOCD_SECRET_TYPE.0.to_owned(),
            ARGOCD_SECRET_TYPE.1.to_owned(),
        ),
        (TIER_LABEL.to_owned(), tier.to_owned()),
        (CLUSTER_LABEL.to_owned(), cluster.to_owned()),
    ]);
    for (addon, on) in wanted(addons) {
        labels.insert(format!("{ADDON_LABEL_PREFIX}{addon}"), on.to_string());
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_labels_name_every_addon_and_the_workloads_follow_them() {
        let addons = Addons {
            metrics_server: true,
            demo_apps: true,
            ..Addons::default()
        };
        let labels = argocd_labels("dev", Tier::Dev, &addons);
        assert_eq!(labels["argocd.argoproj.io/secret-type"], "cluster");
        assert_eq!(labels["tartinfra.dev/tier"], "dev");
        assert_eq!(labels["addons.tartinfra.dev/cilium"], "true");
        assert_eq!(
            labels["addons.tartinfra.dev/hubble"], "true",
            "hubble defaults on"
        );
        assert_eq!(labels["addons.tartinfra.dev/metrics-server"], "true");
        assert_eq!(labels["addons.tartinfra.dev/istio"], "false");
        assert_eq!(labels.len(), 10);
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
