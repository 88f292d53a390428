//! The targets of an experiment: each deployment found through the HPA that scales it, and
//! whether the cooldown is long enough to see them scale down (pure).

use std::sync::Arc;

use crds::plan::TargetSelection;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;

use super::kpis::Target;

/// How much longer than a target HPA's scale-down stabilization window the cooldown should
/// be for the scale-down to be seen.
pub const COOLDOWN_MARGIN_SECS: i64 = 30;
/// The scale-down stabilization window of an HPA without `behavior.scaleDown` (the
/// Kubernetes default of kube-controller-manager's
/// `--horizontal-pod-autoscaler-downscale-stabilization`).
pub const DEFAULT_SCALE_DOWN_WINDOW_SECS: i32 = 300;

/// Why an experiment has no targets.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetsError {
    /// Listed deployments without an HPA.
    #[error(
        "no HPA scales Deployment {deployments} in cluster {cluster}: create an HPA whose scaleTargetRef names it, or remove it from spec.targets"
    )]
    NoHpaFor {
        /// `namespace/name`, comma-separated.
        deployments: String,
        /// The cluster.
        cluster: String,
    },
    /// A target namespace without an HPA.
    #[error(
        "namespace {namespace} of cluster {cluster} has no HPA that scales a Deployment: create one, or set spec.targetNamespace or spec.targets"
    )]
    NoHpaIn {
        /// The namespace.
        namespace: String,
        /// The cluster.
        cluster: String,
    },
}

/// The targets of an experiment from the HPAs of its cluster (pure). Each listed deployment
/// is found through the HPA whose scaleTargetRef names it; with no list, every HPA of the
/// namespace that scales a Deployment is a target (at most 20, by name).
pub fn resolve(
    selection: &TargetSelection,
    hpas: &[Arc<HorizontalPodAutoscaler>],
    cluster: &str,
) -> Result<Vec<Target>, TargetsError> {
    let scaling = |ns: &str, deployment: Option<&str>| {
        let mut found: Vec<Target> = hpas
            .iter()
            .filter(|h| h.metadata.namespace.as_deref() == Some(ns))
            .filter_map(|h| {
                let r = &h.spec.as_ref()?.scale_target_ref;
                (r.kind == "Deployment" && deployment.is_none_or(|d| d == r.name)).then(|| Target {
                    namespace: ns.to_owned(),
                    deployment: r.name.clone(),
                    hpa: h.metadata.name.clone().unwrap_or_default(),
                })
            })
            .collect();
        found.sort_by(|a, b| (&a.deployment, &a.hpa).cmp(&(&b.deployment, &b.hpa)));
        found
    };
    match selection {
        TargetSelection::Listed(list) => {
            let mut targets = Vec::new();
            let mut missing = Vec::new();
            for t in list {
                match scaling(t.namespace.as_str(), Some(t.deployment.as_str()))
                    .into_iter()
                    .next()
                {
                    Some(found) => targets.push(found),
                    None => missing.push(format!("{}/{}", t.namespace, t.deployment)),
                }
            }
            if missing.is_empty() {
                Ok(targets)
            } else {
                Err(TargetsError::NoHpaFor {
                    deployments: missing.join(", "),
                    cluster: cluster.to_owned(),
                })
            }
        }
        TargetSelection::AllHpasIn(ns) => {
            let mut found = scaling(ns, None);
            found.dedup_by(|a, b| a.deployment == b.deployment);
            found.truncate(20);
            if found.is_empty() {
                Err(TargetsError::NoHpaIn {
                    namespace: ns.to_string(),
                    cluster: cluster.to_owned(),
                })
            } else {
                Ok(found)
            }
        }
    }
}

/// The scale-down stabilization window of an HPA, in seconds.
pub fn scale_down_window(hpa: &HorizontalPodAutoscaler) -> i32 {
    hpa.spec
        .as_ref()
        .and_then(|s| s.behavior.as_ref())
        .and_then(|b| b.scale_down.as_ref())
        .and_then(|d| d.stabilization_window_seconds)
        .unwrap_or(DEFAULT_SCALE_DOWN_WINDOW_SECS)
}

/// Why the cooldown is too short to see the scale-down, if it is (pure).
pub fn cooldown_warning(cooldown_secs: u32, windows: &[(String, i32)]) -> Option<String> {
    let (hpa, window) = windows.iter().max_by_key(|(_, w)| *w)?;
    let needed = i64::from(*window) + COOLDOWN_MARGIN_SECS;
    (i64::from(cooldown_secs) < needed).then(|| {
        format!(
            "the cooldown of {cooldown_secs}s is shorter than HPA {hpa}'s scale-down stabilization window ({window}s) plus {COOLDOWN_MARGIN_SECS}s: the scale-down may not be seen; set spec.cooldownSeconds to at least {needed}"
        )
    })
}

/// The scale-down windows of the targets' HPAs, as `namespace/hpa` and seconds.
pub fn windows(targets: &[Target], hpas: &[Arc<HorizontalPodAutoscaler>]) -> Vec<(String, i32)> {
    targets
        .iter()
        .filter_map(|t| {
            let h = hpas.iter().find(|h| {
                h.metadata.namespace.as_deref() == Some(t.namespace.as_str())
                    && h.metadata.name.as_deref() == Some(t.hpa.as_str())
            })?;
            Some((format!("{}/{}", t.namespace, t.hpa), scale_down_window(h)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::scaling_experiment::ScalingTarget;

    fn hpa(
        ns: &str,
        name: &str,
        kind: &str,
        target: &str,
        window: Option<i32>,
    ) -> Arc<HorizontalPodAutoscaler> {
        let behavior =
            window.map(|w| serde_json::json!({ "scaleDown": { "stabilizationWindowSeconds": w } }));
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": { "name": name, "namespace": ns },
                "spec": {
                    "scaleTargetRef": { "apiVersion": "apps/v1", "kind": kind, "name": target },
                    "maxReplicas": 10,
                    "behavior": behavior,
                }
            }))
            .expect("hpa"),
        )
    }

    fn listed(targets: &[(&str, &str)]) -> TargetSelection {
        TargetSelection::Listed(
            targets
                .iter()
                .map(|(ns, d)| ScalingTarget {
                    namespace: (*ns).into(),
                    deployment: (*d).into(),
                })
                .collect(),
        )
    }

    #[test]
    fn listed_deployments_resolve_through_their_hpas_scale_target_ref() {
        let hpas = [
            hpa("demo", "web-hpa", "Deployment", "nginx-web", None),
            hpa("demo", "bin", "Deployment", "httpbin", None),
        ];
        let t = resolve(&listed(&[("demo", "nginx-web")]), &hpas, "dev").expect("resolved");
        assert_eq!(
            t,
            vec![Target {
                namespace: "demo".into(),
                deployment: "nginx-web".into(),
                hpa: "web-hpa".into()
            }]
        );
    }

    #[test]
    fn a_deployment_without_hpa_is_named_with_the_fix() {
        let hpas = [
            hpa("demo", "web", "Deployment", "nginx-web", None),
            hpa("demo", "db", "StatefulSet", "postgres", None),
        ];
        let e = resolve(
            &listed(&[
                ("demo", "nginx-web"),
                ("demo", "postgres"),
                ("other", "nginx-web"),
            ]),
            &hpas,
            "dev",
        )
        .expect_err("missing");
        let e = e.to_string();
        assert!(
            e.contains("demo/postgres, other/nginx-web")
                && e.contains("cluster dev")
                && e.contains("spec.targets"),
            "{e}"
        );
    }

    #[test]
    fn an_empty_list_takes_every_deployment_hpa_of_the_namespace() {
        let hpas = [
            hpa("demo", "b", "Deployment", "zeta", None),
            hpa("demo", "a", "Deployment", "alpha", None),
            hpa("demo", "s", "StatefulSet", "db", None),
            hpa("other", "c", "Deployment", "x", None),
        ];
        let t =
            resolve(&TargetSelection::AllHpasIn("demo".into()), &hpas, "dev").expect("resolved");
        let names: Vec<&str> = t.iter().map(|t| t.deployment.as_str()).collect();
        assert_eq!(names, ["alpha", "zeta"]);
        let e = resolve(&TargetSelection::AllHpasIn("empty".into()), &hpas, "dev")
            .expect_err("none")
            .to_string();
        assert!(
            e.contains("namespace empty") && e.contains("spec.targetNamespace"),
            "{e}"
        );
    }

    #[test]
    fn the_cooldown_must_exceed_the_longest_scale_down_window_plus_a_margin() {
        assert_eq!(
            scale_down_window(&hpa("d", "a", "Deployment", "x", None)),
            300
        );
        assert_eq!(
            scale_down_window(&hpa("d", "a", "Deployment", "x", Some(120))),
            120
        );
        let windows = [("demo/web".to_owned(), 120), ("demo/bin".to_owned(), 300)];
        let w = cooldown_warning(180, &windows).expect("too short");
        assert!(
            w.contains("demo/bin") && w.contains("300s") && w.contains("at least 330"),
            "{w}"
        );
        assert_eq!(cooldown_warning(330, &windows), None);
        assert_eq!(
            cooldown_warning(10, &[]),
            None,
            "no HPA, nothing to warn about"
        );
    }
}
