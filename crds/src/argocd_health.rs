//! ArgoCD health checks for the three kinds, as the `argocd-cm` entries that install them
//! (pure). The Lua scripts live under `gitops/argocd/health/`; ArgoCD runs them in its
//! gopher-lua (Lua 5.1) with the object as the global `obj`:
//!
//! - LoadTest: Progressing while pending, queued, starting or running; Healthy once
//!   Succeeded with every threshold held; Degraded with the reason once Failed, and once
//!   Completed (the runner measured nothing: a gate never passes on it).
//! - ScalingExperiment: Progressing until Completed (Healthy) or Failed (Degraded with the
//!   reason).
//! - ManagedCluster: by phase (Ready Healthy; Degraded and Failed Degraded with the
//!   condition's reason; the rest Progressing); `spec.paused` Suspended.
//!
//! - Application (argoproj.io): the health ArgoCD found for it, so a parent Application's
//!   sync waves wait for its child Applications (ArgoCD 1.8 dropped this check).
//!
//! With these, ArgoCD shows a test's verdict in its tree and a LoadTest can gate a sync as a
//! `PostSync` hook. `crds/tests/argocd_health.rs` runs them under Lua 5.1.

use std::collections::BTreeMap;

use kube::Resource;

use crate::{GROUP, LoadTest, ManagedCluster, ScalingExperiment, TestSchedule};

/// The health check of a LoadTest.
pub const LOADTEST_LUA: &str = include_str!("../../gitops/argocd/health/loadtest.lua");
/// The health check of a ScalingExperiment.
pub const SCALINGEXPERIMENT_LUA: &str =
    include_str!("../../gitops/argocd/health/scalingexperiment.lua");
/// The health check of a ManagedCluster.
pub const MANAGEDCLUSTER_LUA: &str = include_str!("../../gitops/argocd/health/managedcluster.lua");
/// The health check of a TestSchedule.
pub const TESTSCHEDULE_LUA: &str = include_str!("../../gitops/argocd/health/testschedule.lua");

/// The health check of an ArgoCD Application (the one of ArgoCD's documentation), so sync
/// waves order child Applications.
pub const APPLICATION_LUA: &str = include_str!("../../gitops/argocd/health/application.lua");
/// The `argocd-cm` key of [`APPLICATION_LUA`].
pub const APPLICATION_KEY: &str = "resource.customizations.health.argoproj.io_Application";

/// Each kind with its health check.
pub fn checks() -> [(String, &'static str); 4] {
    [
        (LoadTest::kind(&()).into_owned(), LOADTEST_LUA),
        (
            ScalingExperiment::kind(&()).into_owned(),
            SCALINGEXPERIMENT_LUA,
        ),
        (ManagedCluster::kind(&()).into_owned(), MANAGEDCLUSTER_LUA),
        (TestSchedule::kind(&()).into_owned(), TESTSCHEDULE_LUA),
    ]
}

/// The `argocd-cm` key of a kind's health check: `resource.customizations.health.<group>_<kind>`
/// (the group and kind joined by `_`, since `/` is not allowed in a ConfigMap key).
pub fn health_key(kind: &str) -> String {
    format!("resource.customizations.health.{GROUP}_{kind}")
}

/// The `argocd-cm` data that installs the health checks: the three kinds' and ArgoCD
/// Application's; key to Lua script.
pub fn resource_customizations() -> BTreeMap<String, String> {
    let mut data: BTreeMap<String, String> = checks()
        .into_iter()
        .map(|(kind, lua)| (health_key(&kind), lua.to_owned()))
        .collect();
    data.insert(APPLICATION_KEY.to_owned(), APPLICATION_LUA.to_owned());
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keys_name_the_group_and_kind_as_argocd_looks_them_up() {
        let data = resource_customizations();
        let keys: Vec<&str> = data.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "resource.customizations.health.argoproj.io_Application",
                "resource.customizations.health.tartinfra.dev_LoadTest",
                "resource.customizations.health.tartinfra.dev_ManagedCluster",
                "resource.customizations.health.tartinfra.dev_ScalingExperiment",
                "resource.customizations.health.tartinfra.dev_TestSchedule",
            ]
        );
        // What the API server accepts as a ConfigMap key.
        for key in &keys {
            assert!(
                key.len() <= 253
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)),
                "{key}"
            );
        }
        assert_eq!(
            data["resource.customizations.health.tartinfra.dev_LoadTest"],
            LOADTEST_LUA
        );
    }

    #[test]
    fn every_script_returns_hs() {
        for (kind, lua) in checks()
            .into_iter()
            .chain([("Application".to_owned(), APPLICATION_LUA)])
        {
            assert!(lua.contains("obj.status"), "{kind}");
            assert!(lua.trim_end().ends_with("return hs"), "{kind}");
        }
    }
}
