//! The samplers of running experiments: one task per experiment reads its targets' HPAs
//! from the target cluster's watch cache every `sampleIntervalSeconds` (interval ticks, so
//! timestamps are real and drift does not accumulate) and keeps the full series in memory,
//! where the controller and the API read it. Status gets a downsampled copy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::jiff::Timestamp;
use tokio::task::JoinHandle;

use super::kpis::{Point, Reading, Target};
use crate::clusters::Registry;
use crate::collectors::scaling::hpa_sample;

/// The most points kept in memory per experiment (more than a day at one per second).
/// A point costs about 40 bytes besides its readings (a timestamp and a vector): 4 MB.
pub const MAX_POINTS: usize = 100_000;
/// The most readings (one target at one time: two `Option<i32>`, 16 bytes) kept per
/// experiment: 8 MB. With the schema's 20 targets that is 25 000 points (7 hours at one per
/// second); with up to 5 targets the point cap applies first. So one experiment's series
/// stays under 12 MB however many targets it has.
pub const MAX_READINGS: usize = 500_000;

/// How many points of an experiment with `targets` targets are kept.
pub fn points_kept(targets: usize) -> usize {
    (MAX_READINGS / targets.max(1)).min(MAX_POINTS)
}

/// Drops the oldest points beyond `max`.
fn keep_newest(points: &mut Vec<Point>, max: usize) {
    if points.len() > max {
        let excess = points.len() - max;
        points.drain(..excess);
    }
}

/// The reading of one target from the HPAs in the cache (None when its HPA is gone).
pub fn read(target: &Target, hpas: &[Arc<HorizontalPodAutoscaler>]) -> Reading {
    hpas.iter()
        .find(|h| {
            h.metadata.namespace.as_deref() == Some(target.namespace.as_str())
                && h.metadata.name.as_deref() == Some(target.hpa.as_str())
        })
        .map(|h| Reading {
            // An HPA the controller has not updated yet has no currentReplicas: unknown, not 0
            // (a 0 would read as a scale-up from nothing at the start of the baseline).
            replicas: h.status.as_ref().and_then(|s| s.current_replicas),
            cpu: hpa_sample(h).current_cpu_percent,
        })
        .unwrap_or_default()
}

/// One experiment's sampler and series.
pub struct Run {
    /// The targets, in sample order.
    pub targets: Vec<Target>,
    points: Arc<Mutex<Vec<Point>>>,
    task: JoinHandle<()>,
}

impl Run {
    /// The series so far.
    pub fn points(&self) -> Vec<Point> {
        self.points.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The running samplers, by experiment uid.
#[derive(Default)]
pub struct Live {
    runs: Mutex<HashMap<String, Arc<Run>>>,
}

impl Live {
    /// The run of `uid`, if sampling.
    pub fn get(&self, uid: &str) -> Option<Arc<Run>> {
        self.runs.lock().ok()?.get(uid).cloned()
    }

    /// The run of `uid`, started (from `seed`, e.g. after an operator restart) when missing.
    pub fn ensure(
        &self,
        uid: &str,
        cluster: &str,
        targets: Vec<Target>,
        every: Duration,
        registry: Arc<Registry>,
        seed: Vec<Point>,
    ) -> Arc<Run> {
        let Ok(mut runs) = self.runs.lock() else {
            return Arc::new(Run {
                targets,
                points: Arc::default(),
                task: tokio::spawn(async {}),
            });
        };
        if let Some(run) = runs.get(uid) {
            return run.clone();
        }
        let points = Arc::new(Mutex::new(seed));
        let task = tokio::spawn(sample(
            cluster.to_owned(),
            targets.clone(),
            every,
            registry,
            points.clone(),
        ));
        let run = Arc::new(Run {
            targets,
            points,
            task,
        });
        runs.insert(uid.to_owned(), run.clone());
        run
    }

    /// Stops sampling `uid`.
    pub fn stop(&self, uid: &str) {
        if let Ok(mut runs) = self.runs.lock() {
            runs.remove(uid);
        }
    }

    /// Stops every run whose experiment is gone.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        if let Ok(mut runs) = self.runs.lock() {
            runs.retain(|uid, _| keep(uid));
        }
    }

    /// How many experiments are sampling.
    pub fn len(&self) -> usize {
        self.runs.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

async fn sample(
    cluster: String,
    targets: Vec<Target>,
    every: Duration,
    registry: Arc<Registry>,
    points: Arc<Mutex<Vec<Point>>>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        // Looked up each time: a removed cluster yields no data rather than a stale cache.
        // A failing watch keeps its last state; its readings would be stale, so they count
        // as missing.
        let hpas = registry
            .collector(&cluster)
            .filter(|c| c.source_ready("horizontalpodautoscalers").is_ok())
            .map(|c| c.hpas.state())
            .unwrap_or_default();
        let point = Point {
            at: Timestamp::now(),
            readings: targets.iter().map(|t| read(t, &hpas)).collect(),
        };
        if let Ok(mut p) = points.lock() {
            p.push(point);
            keep_newest(&mut p, points_kept(targets.len()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hpa(status: serde_json::Value) -> Arc<HorizontalPodAutoscaler> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": { "name": "nginx-web-hpa", "namespace": "demo" },
                "spec": { "scaleTargetRef": { "kind": "Deployment", "name": "nginx-web" }, "maxReplicas": 10 },
                "status": status,
            }))
            .expect("hpa"),
        )
    }

    #[test]
    fn a_series_is_bounded_by_its_readings_not_only_its_points() {
        assert_eq!(points_kept(1), MAX_POINTS);
        assert_eq!(points_kept(0), MAX_POINTS);
        assert_eq!(points_kept(20), 25_000);
        for targets in 1..=20 {
            let bytes = points_kept(targets) * (40 + 16 * targets);
            assert!(bytes <= 12_000_000, "{targets} targets: {bytes} bytes");
        }
        let point = |s: i64| Point {
            at: Timestamp::from_second(s).expect("t"),
            readings: vec![Reading::default()],
        };
        let mut points: Vec<Point> = (0..10).map(point).collect();
        keep_newest(&mut points, 4);
        assert_eq!(
            points.iter().map(|p| p.at.as_second()).collect::<Vec<_>>(),
            [6, 7, 8, 9],
            "the newest points stay"
        );
    }

    #[test]
    fn an_hpa_without_status_reads_as_unknown_not_zero() {
        let target = Target {
            namespace: "demo".into(),
            deployment: "nginx-web".into(),
            hpa: "nginx-web-hpa".into(),
        };
        assert_eq!(
            read(&target, &[hpa(json!({ "desiredReplicas": 0 }))]),
            Reading::default()
        );
        assert_eq!(
            read(
                &target,
                &[hpa(json!({ "currentReplicas": 3, "desiredReplicas": 3 }))]
            ),
            Reading {
                replicas: Some(3),
                cpu: None
            }
        );
        assert_eq!(read(&target, &[]), Reading::default());
    }
}
