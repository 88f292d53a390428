//! The HPA sampler's pure parts: one sample per HPA, and the bounded history.

use std::collections::VecDeque;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;

use crate::model::{HpaSample, ScalingPoint};

/// Points kept per cluster: 30 minutes at one point every 5 s, as the original.
pub const HISTORY_POINTS: usize = 360;

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

/// Appends a point, dropping the oldest beyond [`HISTORY_POINTS`].
pub fn push(history: &mut VecDeque<ScalingPoint>, point: ScalingPoint) {
    history.push_back(point);
    while history.len() > HISTORY_POINTS {
        history.pop_front();
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
}
