//! The labels of an ArgoCD cluster Secret that select a cluster's addons (pure). The
//! operator writes them for the clusters it builds, `tart-infra up` for the platform; the
//! ApplicationSets under `gitops/` select on them with cluster generators.
//!
//! One label per addon (`addons.tartinfra.dev/<addon>`, `"true"` or `"false"`), the tier
//! (`tartinfra.dev/tier`) and the cluster's name (`tartinfra.dev/cluster`).

use std::collections::BTreeMap;

use crate::managed_cluster::{Addons, Tier};

/// The label every ArgoCD cluster Secret has.
pub const ARGOCD_SECRET_TYPE: (&str, &str) = ("argocd.argoproj.io/secret-type", "cluster");
/// The label prefix of the addon labels.
pub const ADDON_LABEL_PREFIX: &str = "addons.tartinfra.dev/";
/// The tier label.
pub const TIER_LABEL: &str = "tartinfra.dev/tier";
/// The label naming the ManagedCluster a Secret belongs to.
pub const CLUSTER_LABEL: &str = "tartinfra.dev/cluster";

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
    fn the_labels_name_every_addon() {
        let addons = Addons {
            metrics_server: true,
            demo_apps: true,
            ..Addons::default()
        };
        let labels = argocd_labels("dev", Tier::Dev, &addons);
        assert_eq!(labels["argocd.argoproj.io/secret-type"], "cluster");
        assert_eq!(labels["tartinfra.dev/tier"], "dev");
        assert_eq!(labels["tartinfra.dev/cluster"], "dev");
        assert_eq!(labels["addons.tartinfra.dev/cilium"], "true");
        assert_eq!(
            labels["addons.tartinfra.dev/hubble"], "true",
            "hubble defaults on"
        );
        assert_eq!(labels["addons.tartinfra.dev/metrics-server"], "true");
        assert_eq!(labels["addons.tartinfra.dev/istio"], "false");
        assert_eq!(labels.len(), 10);
    }
}
