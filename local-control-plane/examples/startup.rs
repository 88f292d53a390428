//! Benchmark: how long the harness takes until the API server is ready (etcd +
//! kube-apiserver), and until a whole cluster tier is usable, and how much memory the
//! processes use. Run with `bench/local-control-plane-startup.sh` (release build, several runs).

#[path = "../../bench/measure.rs"]
mod measure;

use std::time::Instant;

use local_control_plane::{ControlPlane, Options};
use measure::status_kib;

fn memory(cp: &ControlPlane) -> (u64, u64) {
    cp.pids().iter().fold((0, 0), |(rss, hwm), (_, pid)| {
        (
            rss + status_kib(*pid, "VmRSS:"),
            hwm + status_kib(*pid, "VmHWM:"),
        )
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    for (tier, opts) in [
        ("etcd + kube-apiserver", Options::apiserver("bench")),
        (
            "cluster tier (+ controller-manager, scheduler, kwok, 1 node)",
            Options::cluster("bench"),
        ),
    ] {
        let (mut ready, mut usable, mut rss, mut peak) = (vec![], vec![], vec![], vec![]);
        for _ in 0..runs {
            let began = Instant::now();
            let cp = ControlPlane::start(opts.clone()).await?;
            usable.push(began.elapsed().as_secs_f64());
            ready.push(cp.ready_after().as_secs_f64());
            let (r, p) = memory(&cp);
            rss.push(r as f64 / 1024.0);
            peak.push(p as f64 / 1024.0);
        }
        println!("{tier}, {runs} runs (median [min-max]):");
        for (label, unit, v) in [
            ("API server ready", "s", &mut ready),
            ("all components usable", "s", &mut usable),
            ("RSS when usable", "MiB", &mut rss),
            ("peak RSS (sum of VmHWM)", "MiB", &mut peak),
        ] {
            let (min, max) = (
                v.iter().copied().fold(f64::MAX, f64::min),
                v.iter().copied().fold(0.0, f64::max),
            );
            println!(
                "  {label:<26} {:>7.2} {unit} [{min:.2}-{max:.2}]",
                median(v)
            );
        }
    }
    Ok(())
}
