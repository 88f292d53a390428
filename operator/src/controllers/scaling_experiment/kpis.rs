//! The experiment's numbers, as pure functions of the sampled series.
//!
//! Definitions (all in seconds, from the samples' own timestamps):
//! - **baseline** of a target: its replicas in the last sample before the load started (the
//!   first sample if there is none);
//! - `scaleUpLatencySeconds`: the first sample at or after load start in which any target's
//!   replicas exceed its baseline, minus load start;
//! - `peakReplicas`: the largest sum of the targets' replicas over all samples;
//! - `scaleDownStartSeconds`: the first sample after load end in which any target is below
//!   its peak so far (its most replicas since load start, which may come after load end
//!   since the HPA's metrics lag), minus load end;
//! - `timeToBaselineSeconds`: the first sample after load end in which every target is at or
//!   below its baseline, minus load end;
//! - `avgRpsPerPod`: the load's requests per second over the mean summed replicas of the
//!   samples taken during the load.
//!
//! A target without data in a sample (its HPA was deleted, or the sample missed it) takes no
//! part in that sample: sums use the targets with data, and "every target" means every
//! target with data.

use crds::common::Time;
use crds::scaling_experiment::{DeploymentResult, Kpis, ReplicaEvent, Sample, SamplePhase};
use k8s_openapi::jiff::Timestamp;

/// A sampled target: a deployment and the HPA that scales it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Namespace.
    pub namespace: String,
    /// Deployment.
    pub deployment: String,
    /// The HPA's name.
    pub hpa: String,
}

/// One target's reading in one sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    /// Current replicas (None: no data).
    pub replicas: Option<i32>,
    /// CPU utilisation in percent of requests.
    pub cpu: Option<i32>,
}

/// One sample of every target, in target order.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// When it was taken.
    pub at: Timestamp,
    /// Per target.
    pub readings: Vec<Reading>,
}

/// When the load ran.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Window {
    /// When the runner started.
    pub load_start: Option<Timestamp>,
    /// When it finished.
    pub load_end: Option<Timestamp>,
}

impl Window {
    /// The phase a sample taken at `at` belongs to.
    pub fn phase(&self, at: Timestamp) -> SamplePhase {
        match (self.load_start, self.load_end) {
            (Some(s), _) if at < s => SamplePhase::Baseline,
            (None, _) => SamplePhase::Baseline,
            (Some(_), Some(e)) if at > e => SamplePhase::Cooldown,
            _ => SamplePhase::Load,
        }
    }
}

fn secs(from: Timestamp, to: Timestamp) -> f64 {
    let d = to.duration_since(from);
    (d.as_secs_f64() * 10.0).round() / 10.0
}

/// Each target's baseline replicas and CPU.
pub fn baselines(points: &[Point], targets: usize, w: &Window) -> Vec<Reading> {
    (0..targets)
        .map(|i| {
            let before = points
                .iter()
                .filter(|p| w.load_start.is_none_or(|s| p.at < s))
                .filter_map(|p| p.readings.get(i).filter(|r| r.replicas.is_some()))
                .next_back();
            before
                .or_else(|| {
                    points
                        .iter()
                        .find_map(|p| p.readings.get(i).filter(|r| r.replicas.is_some()))
                })
                .copied()
                .unwrap_or_default()
        })
        .collect()
}

fn sum(p: &Point) -> Option<i32> {
    let known: Vec<i32> = p.readings.iter().filter_map(|r| r.replicas).collect();
    (!known.is_empty()).then(|| known.iter().sum())
}

/// The KPIs so far (pure); `rps` is the load's requests per second when known.
pub fn kpis(points: &[Point], targets: usize, w: &Window, rps: Option<f64>) -> Kpis {
    let base = baselines(points, targets, w);
    let exceeds = |p: &Point| {
        p.readings
            .iter()
            .zip(&base)
            .any(|(r, b)| matches!((r.replicas, b.replicas), (Some(r), Some(b)) if r > b))
    };
    let scale_up_latency_seconds = w.load_start.and_then(|s| {
        points
            .iter()
            .filter(|p| p.at >= s)
            .find(|p| exceeds(p))
            .map(|p| secs(s, p.at))
    });
    let peak_replicas = points.iter().filter_map(sum).max();
    let after_end = |e: Timestamp| points.iter().filter(move |p| p.at > e);
    let scale_down_start_seconds = match (w.load_start, w.load_end) {
        (Some(s), Some(e)) => {
            // Each target's peak so far, from load start: the HPA may keep scaling up after
            // the load ended (its metrics lag), and the scale-down starts from there.
            let mut peaks: Vec<Option<i32>> = vec![None; targets];
            points.iter().filter(|p| p.at >= s).find_map(|p| {
                let below = p.at > e
                    && p.readings.iter().zip(&peaks).any(|(r, peak)| {
                        matches!((r.replicas, peak), (Some(r), Some(peak)) if r < *peak)
                    });
                for (peak, r) in peaks.iter_mut().zip(&p.readings) {
                    *peak = (*peak).max(r.replicas);
                }
                below.then(|| secs(e, p.at))
            })
        }
        _ => None,
    };
    let time_to_baseline_seconds = w.load_end.and_then(|e| {
        after_end(e)
            .find(|p| {
                let mut any = false;
                let all =
                    p.readings
                        .iter()
                        .zip(&base)
                        .all(|(r, b)| match (r.replicas, b.replicas) {
                            (Some(r), Some(b)) => {
                                any = true;
                                r <= b
                            }
                            _ => true,
                        });
                all && any
            })
            .map(|p| secs(e, p.at))
    });
    let during: Vec<i32> = match (w.load_start, w.load_end) {
        (Some(s), e) => points
            .iter()
            .filter(|p| p.at >= s && e.is_none_or(|e| p.at <= e))
            .filter_map(sum)
            .collect(),
        _ => Vec::new(),
    };
    let mean = (!during.is_empty())
        .then(|| during.iter().map(|v| f64::from(*v)).sum::<f64>() / during.len() as f64);
    let avg_rps_per_pod = match (rps, mean) {
        (Some(rps), Some(m)) if m > 0.0 => Some((rps / m * 100.0).round() / 100.0),
        _ => None,
    };
    Kpis {
        scale_up_latency_seconds,
        peak_replicas,
        scale_down_start_seconds,
        time_to_baseline_seconds,
        avg_rps_per_pod,
    }
}

/// Whether the latest sample after load end has every target with data at or below its
/// baseline (what `endCooldownWhenBaselineRestored` waits for).
pub fn restored(points: &[Point], targets: usize, w: &Window) -> bool {
    let (Some(end), Some(last)) = (w.load_end, points.last()) else {
        return false;
    };
    let base = baselines(points, targets, w);
    let known: Vec<(i32, i32)> = last
        .readings
        .iter()
        .zip(&base)
        .filter_map(|(r, b)| Some((r.replicas?, b.replicas?)))
        .collect();
    last.at > end && !known.is_empty() && known.iter().all(|(r, b)| r <= b)
}

/// The series stored in status, back as points (to resume after an operator restart).
pub fn from_samples(samples: &[Sample]) -> Vec<Point> {
    samples
        .iter()
        .map(|s| Point {
            at: s.time.0,
            readings: s
                .replicas
                .iter()
                .enumerate()
                .map(|(i, r)| Reading {
                    replicas: *r,
                    cpu: s.cpu_percent.get(i).copied().flatten(),
                })
                .collect(),
        })
        .collect()
}

/// Per target: baseline, peak and final replicas and CPU, and its own scale-up latency.
pub fn deployments(points: &[Point], targets: &[Target], w: &Window) -> Vec<DeploymentResult> {
    let base = baselines(points, targets.len(), w);
    targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let readings = points.iter().filter_map(|p| p.readings.get(i));
            let last = points
                .iter()
                .rev()
                .find_map(|p| p.readings.get(i).filter(|r| r.replicas.is_some()));
            DeploymentResult {
                namespace: t.namespace.clone(),
                name: t.deployment.clone(),
                hpa: Some(t.hpa.clone()),
                baseline_replicas: base[i].replicas,
                peak_replicas: readings.clone().filter_map(|r| r.replicas).max(),
                final_replicas: last.and_then(|r| r.replicas),
                baseline_cpu_percent: base[i].cpu,
                peak_cpu_percent: readings.filter_map(|r| r.cpu).max(),
                final_cpu_percent: last.and_then(|r| r.cpu),
                scale_up_latency_seconds: w.load_start.and_then(|s| {
                    points
                        .iter()
                        .filter(|p| p.at >= s)
                        .find(|p| {
                            matches!((p.readings.get(i).and_then(|r| r.replicas), base[i].replicas),
                                (Some(r), Some(b)) if r > b)
                        })
                        .map(|p| secs(s, p.at))
                }),
            }
        })
        .collect()
}

/// Every change of a target's replicas, oldest first, at most `limit`.
pub fn events(points: &[Point], targets: &[Target], w: &Window, limit: usize) -> Vec<ReplicaEvent> {
    let mut out = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let mut previous: Option<i32> = None;
        for p in points {
            let Some(r) = p.readings.get(i) else { continue };
            let Some(now) = r.replicas else { continue };
            if let Some(before) = previous
                && before != now
            {
                out.push(ReplicaEvent {
                    time: Time(p.at),
                    phase: w.phase(p.at),
                    namespace: t.namespace.clone(),
                    deployment: t.deployment.clone(),
                    from_replicas: before,
                    to_replicas: now,
                    cpu_percent: r.cpu,
                });
            }
            previous = Some(now);
        }
    }
    out.sort_by_key(|e| e.time.0);
    out.truncate(limit);
    out
}

/// At most `max` samples for status: evenly spaced, always with the first and last, and
/// every sample where some target's replicas changed (while room remains).
pub fn downsample(points: &[Point], w: &Window, max: usize) -> Vec<Sample> {
    let to_sample = |p: &Point| Sample {
        time: Time(p.at),
        phase: w.phase(p.at),
        replicas: p.readings.iter().map(|r| r.replicas).collect(),
        cpu_percent: p.readings.iter().map(|r| r.cpu).collect(),
    };
    if points.len() <= max {
        return points.iter().map(to_sample).collect();
    }
    let mut keep = vec![false; points.len()];
    keep[0] = true;
    keep[points.len() - 1] = true;
    let changes: Vec<usize> = (1..points.len())
        .filter(|&i| {
            points[i]
                .readings
                .iter()
                .zip(&points[i - 1].readings)
                .any(|(a, b)| a.replicas != b.replicas)
        })
        .collect();
    let mut kept = 2;
    for &i in &changes {
        if kept >= max / 2 {
            break;
        }
        if !keep[i] {
            keep[i] = true;
            kept += 1;
        }
    }
    // The rest, evenly spaced over the samples not kept yet.
    let rest: Vec<usize> = (0..points.len()).filter(|&i| !keep[i]).collect();
    let room = max.saturating_sub(kept).min(rest.len());
    for j in 0..room {
        keep[rest[j * rest.len() / room]] = true;
    }
    points
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(p, _)| to_sample(p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).expect("time")
    }

    /// A series: one point every 5 s, one reading per target (None = no data).
    fn series(rows: &[&[Option<i32>]]) -> Vec<Point> {
        rows.iter()
            .enumerate()
            .map(|(i, row)| Point {
                at: t(i as i64 * 5),
                readings: row
                    .iter()
                    .map(|r| Reading {
                        replicas: *r,
                        cpu: r.map(|r| r * 10),
                    })
                    .collect(),
            })
            .collect()
    }

    fn target(name: &str) -> Target {
        Target {
            namespace: "demo".into(),
            deployment: name.into(),
            hpa: name.into(),
        }
    }

    fn w(start: i64, end: i64) -> Window {
        Window {
            load_start: Some(t(start)),
            load_end: Some(t(end)),
        }
    }

    #[test]
    fn a_classic_run_scales_up_peaks_and_comes_back() {
        // t=0,5 baseline 3; load 10..30; up at 15; down from 35; baseline at 45.
        let p = series(&[
            &[Some(3)],
            &[Some(3)],
            &[Some(3)],
            &[Some(5)],
            &[Some(8)],
            &[Some(8)],
            &[Some(8)],
            &[Some(6)],
            &[Some(4)],
            &[Some(3)],
        ]);
        let k = kpis(&p, 1, &w(10, 30), Some(120.0));
        assert_eq!(k.scale_up_latency_seconds, Some(5.0));
        assert_eq!(k.peak_replicas, Some(8));
        assert_eq!(k.scale_down_start_seconds, Some(5.0));
        assert_eq!(k.time_to_baseline_seconds, Some(15.0));
        // During load (10..=30): 3, 5, 8, 8, 8 -> mean 6.4.
        assert_eq!(k.avg_rps_per_pod, Some(18.75));
    }

    #[test]
    fn no_scaling_at_all() {
        let p = series(&[&[Some(3)], &[Some(3)], &[Some(3)], &[Some(3)], &[Some(3)]]);
        let k = kpis(&p, 1, &w(5, 15), None);
        assert_eq!(
            (k.scale_up_latency_seconds, k.scale_down_start_seconds),
            (None, None)
        );
        assert_eq!(k.peak_replicas, Some(3));
        assert_eq!(
            k.time_to_baseline_seconds,
            Some(5.0),
            "at baseline from the first sample after the load"
        );
        assert_eq!(k.avg_rps_per_pod, None, "no RPS given");
    }

    #[test]
    fn scaling_before_the_load_moves_the_baseline() {
        // Replicas already rose to 4 before the load started at t=10.
        let p = series(&[&[Some(3)], &[Some(4)], &[Some(4)], &[Some(6)], &[Some(4)]]);
        let base = baselines(&p, 1, &w(10, 15));
        assert_eq!(base[0].replicas, Some(4));
        let k = kpis(&p, 1, &w(10, 15), None);
        assert_eq!(k.scale_up_latency_seconds, Some(5.0));
        assert_eq!(k.time_to_baseline_seconds, Some(5.0));
    }

    #[test]
    fn a_target_deleted_mid_run_drops_out_of_the_sums() {
        let p = series(&[
            &[Some(3), Some(2)],
            &[Some(3), Some(2)],
            &[Some(5), None],
            &[Some(5), None],
            &[Some(3), None],
        ]);
        let k = kpis(&p, 2, &w(5, 15), None);
        assert_eq!(
            k.peak_replicas,
            Some(5),
            "3+2 before, 5 alone after the second went"
        );
        assert_eq!(
            k.time_to_baseline_seconds,
            Some(5.0),
            "every target with data is back"
        );
        let d = deployments(&p, &[target("a"), target("b")], &w(5, 15));
        assert_eq!(
            (d[1].baseline_replicas, d[1].final_replicas),
            (Some(2), Some(2)),
            "the last value it had"
        );
    }

    #[test]
    fn each_target_has_its_own_scale_up_latency() {
        // Load from t=10: a scales at 15, b (a cascade's second hop) at 25, c never.
        let p = series(&[
            &[Some(2), Some(1), Some(1)],
            &[Some(2), Some(1), Some(1)],
            &[Some(2), Some(1), Some(1)],
            &[Some(4), Some(1), Some(1)],
            &[Some(4), Some(1), Some(1)],
            &[Some(4), Some(3), Some(1)],
        ]);
        let d = deployments(&p, &[target("a"), target("b"), target("c")], &w(10, 30));
        let latency: Vec<Option<f64>> = d.iter().map(|d| d.scale_up_latency_seconds).collect();
        assert_eq!(latency, vec![Some(5.0), Some(15.0), None]);
        assert_eq!(
            kpis(&p, 3, &w(10, 30), None).scale_up_latency_seconds,
            Some(5.0),
            "the experiment's latency is the first target's"
        );
        let before = deployments(&p, &[target("a")], &Window::default());
        assert_eq!(
            before[0].scale_up_latency_seconds, None,
            "no load, no latency"
        );
    }

    #[test]
    fn missing_samples_use_the_real_timestamps() {
        let mut p = series(&[&[Some(3)], &[Some(3)], &[Some(3)], &[Some(7)]]);
        p[3].at = t(47); // the sampler missed several intervals
        let k = kpis(&p, 1, &w(10, 60), None);
        assert_eq!(k.scale_up_latency_seconds, Some(37.0));
    }

    #[test]
    fn a_scale_up_that_continues_after_the_load_counts_its_later_peak() {
        // Load 5..10; the HPA keeps scaling to 8 after the end, then comes down.
        let p = series(&[
            &[Some(3)],
            &[Some(3)],
            &[Some(5)],
            &[Some(8)],
            &[Some(8)],
            &[Some(6)],
            &[Some(3)],
        ]);
        let k = kpis(&p, 1, &w(5, 10), None);
        assert_eq!(k.peak_replicas, Some(8));
        assert_eq!(k.scale_down_start_seconds, Some(15.0), "8 -> 6 at t=25");
        assert_eq!(k.time_to_baseline_seconds, Some(20.0));
    }

    #[test]
    fn scale_down_never_reached_stays_unset() {
        let p = series(&[
            &[Some(3)],
            &[Some(3)],
            &[Some(6)],
            &[Some(6)],
            &[Some(6)],
            &[Some(6)],
        ]);
        let k = kpis(&p, 1, &w(5, 10), None);
        assert_eq!(
            (k.scale_down_start_seconds, k.time_to_baseline_seconds),
            (None, None)
        );
    }

    #[test]
    fn several_targets_any_scales_up_every_must_return() {
        // nginx-web scales, httpbin does not; httpbin returns first, nginx later.
        let p = series(&[
            &[Some(3), Some(2)],
            &[Some(3), Some(2)],
            &[Some(3), Some(3)],
            &[Some(6), Some(3)],
            &[Some(6), Some(2)],
            &[Some(4), Some(2)],
            &[Some(3), Some(2)],
        ]);
        let k = kpis(&p, 2, &w(10, 15), Some(100.0));
        assert_eq!(
            k.scale_up_latency_seconds,
            Some(0.0),
            "httpbin rose at load start"
        );
        assert_eq!(k.peak_replicas, Some(9));
        assert_eq!(
            k.scale_down_start_seconds,
            Some(5.0),
            "httpbin dropped below its peak first"
        );
        assert_eq!(
            k.time_to_baseline_seconds,
            Some(15.0),
            "when nginx-web is back too"
        );
        let e = events(
            &p,
            &[target("nginx-web"), target("httpbin")],
            &w(10, 15),
            200,
        );
        assert_eq!(e.len(), 5);
        assert_eq!(
            (
                e[0].deployment.as_str(),
                e[0].from_replicas,
                e[0].to_replicas,
                e[0].phase
            ),
            ("httpbin", 2, 3, SamplePhase::Load)
        );
        assert!(e.iter().any(|e| e.phase == SamplePhase::Cooldown));
    }

    #[test]
    fn baseline_restored_looks_at_the_latest_sample_after_the_load() {
        let p = series(&[
            &[Some(3), Some(2)],
            &[Some(6), Some(2)],
            &[Some(3), Some(2)],
        ]);
        assert!(!restored(&p[..2], 2, &w(2, 4)), "still above");
        assert!(restored(&p, 2, &w(2, 4)));
        assert!(
            !restored(&p, 2, &w(2, 10)),
            "the last sample is not after the load"
        );
        let gone = series(&[&[Some(3)], &[Some(6)], &[None]]);
        assert!(
            !restored(&gone, 1, &w(2, 7)),
            "no data is not a return to baseline"
        );
    }

    #[test]
    fn downsampling_keeps_bounds_ends_and_changes() {
        let rows: Vec<Vec<Option<i32>>> = (0..1000)
            .map(|i| vec![Some(if (400..600).contains(&i) { 7 } else { 3 })])
            .collect();
        let refs: Vec<&[Option<i32>]> = rows.iter().map(Vec::as_slice).collect();
        let p = series(&refs);
        let s = downsample(&p, &w(1000, 3000), 240);
        assert_eq!(s.len(), 240);
        assert_eq!(s.first().map(|s| s.time.0), Some(p[0].at));
        assert_eq!(s.last().map(|s| s.time.0), Some(p[999].at));
        assert!(
            s.iter().any(|s| s.time.0 == p[400].at) && s.iter().any(|s| s.time.0 == p[600].at),
            "the changes survive"
        );
        assert_eq!(downsample(&p[..10], &w(0, 10), 240).len(), 10);
    }
}
