//! The HPA sampler's pure parts: one sample per HPA, and the bounded history.

use std::collections::VecDeque;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;

use crate::model::{HpaSample, ScalingPoint};

/// Points kept per cluster: 30 minutes at one point every 5 s, as the original.
pub const HISTORY_POINTS: usize = 360;
/// HPA samples kept per cluster, over all points. A sample is about 200 bytes (four short
/// strings and six numbers), so a cluster's history stays under about 7 MB: the full 360
/// points up to 100 HPAs, fewer points (the newest) for more HPAs.
pub const HISTORY_SAMPLES: usize = 36_000;

/// One HPA as sampled now.
pub fn hpa_sample(hpa: &HorizontalPodAutoscaler) -> HpaSample {
    let spec = hpa.spec.clone().unwrap_or_default();
    let status = hpa.status.clone().unwrap_or_default();
    let cpu_target = spec
        .metrics
        .iter()
        .flatten()
        .filter_map(|m| m.resource.as_ref())
        .find(|r| r.name == "cpu")
        .and_then(|r| r.target.average_utilization);
    let cpu_current = status
        .current_metrics
        .iter()
        .flatten()
        .filter_map(|m| m.resource.as_ref())
        .find(|r| r.name == "cpu")
        .and_then(|r| r.current.average_utilization);
    HpaSample {
        namespace: hpa.metadata.namespace.clone().unwrap_or_default(),
        name: hpa.metadata.name.clone().unwrap_or_default(),
        target: format!(
            "{}/{}",
            spec.scale_target_ref.kind, spec.scale_target_ref.name
        ),
        deployment: spec.scale_target_ref.name.clone(),
        current_replicas: status.current_replicas.unwrap_or(0),
        desired_replicas: status.desired_replicas,
        min_replicas: spec.min_replicas.unwrap_or(1),
        max_replicas: spec.max_replicas,
        current_cpu_percent: cpu_current,
        target_cpu_percent: cpu_target,
    }
}

/// Appends a point, dropping the oldest beyond [`HISTORY_POINTS`] points or
/// [`HISTORY_SAMPLES`] samples (the newest point always stays).
pub fn push(history: &mut VecDeque<ScalingPoint>, point: ScalingPoint) {
    history.push_back(point);
    let mut samples: usize = history.iter().map(|p| p.hpas.len()).sum();
    while history.len() > 1 && (history.len() > HISTORY_POINTS || samples > HISTORY_SAMPLES) {
        if let Some(old) = history.pop_front() {
            samples -= old.hpas.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_hpa_sample_reads_replicas_and_cpu() {
        let hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({
            "metadata": { "name": "nginx-web-hpa", "namespace": "demo" },
            "spec": { "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "nginx-web" }, "minReplicas": 3, "maxReplicas": 10,
                      "metrics": [{ "type": "Resource", "resource": { "name": "cpu", "target": { "type": "Utilization", "averageUtilization": 50 } } }] },
            "status": { "currentReplicas": 4, "desiredReplicas": 6,
                        "currentMetrics": [{ "type": "Resource", "resource": { "name": "cpu", "current": { "averageUtilization": 87, "averageValue": "43m" } } }] },
        }))
        .expect("hpa");
        let s = hpa_sample(&hpa);
        assert_eq!(
            (
                s.current_replicas,
                s.desired_replicas,
                s.min_replicas,
                s.max_replicas
            ),
            (4, 6, 3, 10)
        );
        assert_eq!(
            (s.current_cpu_percent, s.target_cpu_percent),
            (Some(87), Some(50))
        );
        assert_eq!(
            (s.deployment.as_str(), s.target.as_str()),
            ("nginx-web", "Deployment/nginx-web")
        );
        let fresh: HorizontalPodAutoscaler = serde_json::from_value(json!({
            "metadata": { "name": "h", "namespace": "n" },
            "spec": { "scaleTargetRef": { "kind": "Deployment", "name": "d" }, "maxReplicas": 2 },
        }))
        .expect("hpa");
        assert_eq!(
            hpa_sample(&fresh).current_cpu_percent,
            None,
            "no metrics yet is unknown"
        );
    }

    #[test]
    fn the_history_keeps_the_newest_360_points() {
        let mut h = VecDeque::new();
        for i in 0..400 {
            push(
                &mut h,
                ScalingPoint {
                    timestamp: i.to_string(),
                    hpas: vec![],
                },
            );
        }
        assert_eq!(h.len(), HISTORY_POINTS);
        assert_eq!(h.front().map(|p| p.timestamp.as_str()), Some("40"));
    }

    #[test]
    fn the_history_of_a_cluster_with_many_hpas_is_bounded_by_samples() {
        let sample = HpaSample {
            namespace: "demo".into(),
            name: "nginx-web".into(),
            target: "Deployment/nginx-web".into(),
            deployment: "nginx-web".into(),
            ..HpaSample::default()
        };
        // The byte estimate the constant documents.
        let bytes = std::mem::size_of::<HpaSample>()
            + sample.namespace.len()
            + sample.name.len()
            + sample.target.len()
            + sample.deployment.len();
        assert!(bytes <= 200, "{bytes} bytes per sample");
        let mut h = VecDeque::new();
        for i in 0..400 {
            push(
                &mut h,
                ScalingPoint {
                    timestamp: i.to_string(),
                    hpas: vec![sample.clone(); 1000],
                },
            );
        }
        assert_eq!(h.len(), HISTORY_SAMPLES / 1000);
        assert_eq!(h.back().map(|p| p.timestamp.as_str()), Some("399"));
        // One point larger than the budget is still kept: the newest always stays.
        push(
            &mut h,
            ScalingPoint {
                timestamp: "huge".into(),
                hpas: vec![sample; HISTORY_SAMPLES + 1],
            },
        );
        assert_eq!(h.len(), 1);
    }
}
