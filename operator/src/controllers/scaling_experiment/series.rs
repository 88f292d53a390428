//! The numbers in an experiment's status, from its series of samples (pure).

use crds::scaling_experiment::{DeploymentResult, ScalingExperimentStatus};

use super::kpis::{self, Target, Window};

/// Fills the numbers of `s` (KPIs, deployments, events, samples) from the series `points`,
/// keeping at most `max_samples` samples and `max_events` events (pure). `rps` is the load's
/// requests per second when known; without it the stored avgRpsPerPod stays.
pub fn with_series(
    s: &mut ScalingExperimentStatus,
    points: &[kpis::Point],
    rps: Option<f64>,
    max_samples: usize,
    max_events: usize,
) {
    if points.is_empty() {
        return;
    }
    let targets = targets_of(&s.deployments);
    let window = window_of(s);
    let mut k = kpis::kpis(points, targets.len(), &window, rps);
    if k.avg_rps_per_pod.is_none() {
        k.avg_rps_per_pod = s.kpis.as_ref().and_then(|k| k.avg_rps_per_pod);
    }
    s.kpis = Some(k);
    s.deployments = kpis::deployments(points, &targets, &window);
    s.events = kpis::events(points, &targets, &window, max_events);
    s.samples = kpis::downsample(points, &window, max_samples);
}

/// When the load ran, from status.
pub fn window_of(s: &ScalingExperimentStatus) -> Window {
    Window {
        load_start: s.load_started_at.as_ref().map(|t| t.0),
        load_end: s.load_ended_at.as_ref().map(|t| t.0),
    }
}

/// The sampled targets recorded in status.deployments.
pub fn targets_of(deployments: &[DeploymentResult]) -> Vec<Target> {
    deployments
        .iter()
        .map(|d| Target {
            namespace: d.namespace.clone(),
            deployment: d.name.clone(),
            hpa: d.hpa.clone().unwrap_or_default(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::common::Time;
    use k8s_openapi::jiff::Timestamp;

    #[test]
    fn the_series_fills_the_numbers_and_keeps_a_known_rps_figure() {
        let t = |s: i64| Timestamp::from_second(1_800_000_000 + s).expect("time");
        let mut s = ScalingExperimentStatus {
            deployments: vec![DeploymentResult {
                namespace: "demo".into(),
                name: "web".into(),
                hpa: Some("web".into()),
                ..DeploymentResult::default()
            }],
            load_started_at: Some(Time(t(10))),
            load_ended_at: Some(Time(t(20))),
            kpis: Some(crds::scaling_experiment::Kpis {
                avg_rps_per_pod: Some(12.5),
                ..Default::default()
            }),
            ..ScalingExperimentStatus::default()
        };
        let points: Vec<kpis::Point> = [(0, 3), (10, 3), (15, 5), (25, 3)]
            .iter()
            .map(|(at, r)| kpis::Point {
                at: t(*at),
                readings: vec![kpis::Reading {
                    replicas: Some(*r),
                    cpu: Some(40),
                }],
            })
            .collect();
        with_series(&mut s, &points, None, 240, 200);
        let k = s.kpis.clone().expect("kpis");
        assert_eq!(
            (
                k.scale_up_latency_seconds,
                k.peak_replicas,
                k.avg_rps_per_pod
            ),
            (Some(5.0), Some(5), Some(12.5))
        );
        assert_eq!(s.samples.len(), 4);
        assert_eq!(s.events.len(), 2);
        assert_eq!(s.deployments[0].peak_replicas, Some(5));
        assert_eq!(
            kpis::from_samples(&s.samples),
            points,
            "status samples resume the series after a restart"
        );
    }
}
