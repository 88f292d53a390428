//! Benchmark: the cost of comparing a finished LoadTest with its baseline, the pure step a
//! reconcile runs once per finished run with spec.baseline: the candidate runs of its
//! namespace (from the controller's cache) are searched for the newest finished one with
//! the same labels, then both runs' metrics are compared. Prints the time per comparison
//! for 100 to 20 000 candidate runs. Run `bench/comparison.sh`.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use crds::LoadTest;
use crds::comparison::BaselineSelector;
use k8s_openapi::jiff::Timestamp;
use operator::controllers::comparison::{Run, load_test_tolerance, verdict};
use serde_json::json;

fn run(i: usize, suite: &str) -> Result<LoadTest> {
    let finished = Timestamp::from_second(1_800_000_000 + i as i64)?.to_string();
    Ok(serde_json::from_value(json!({
        "apiVersion": "tartinfra.dev/v1alpha1", "kind": "LoadTest",
        "metadata": { "name": format!("run-{i}"), "namespace": "team", "uid": format!("uid-{i}"),
                      "labels": { "suite": suite, "app": "checkout" } },
        "spec": { "cluster": "dev", "preset": "light-load",
                  "baseline": { "latestWithLabels": { "matchLabels": { "suite": "nightly", "app": "checkout" } } } },
        "status": { "phase": "Succeeded", "finishedAt": finished,
                    "results": { "rps": 50.0 + (i % 7) as f64, "errorRate": 0.001, "latencyMs": { "p95": 100.0 + (i % 13) as f64, "p99": 150.0 } } },
    }))?)
}

fn main() -> Result<()> {
    println!("candidates  comparisons  time per comparison");
    for n in [100usize, 1_000, 5_000, 20_000] {
        // Half the runs belong to another suite; the newest matching one is the baseline.
        let candidates: Vec<Arc<LoadTest>> = (0..n)
            .map(|i| run(i, if i % 2 == 0 { "nightly" } else { "weekly" }).map(Arc::new))
            .collect::<Result<_>>()?;
        let this = run(n + 1, "nightly")?;
        let facts = this.facts();
        let baseline = this.spec.baseline.clone().context("baseline")?;
        let selector = baseline.selector().context("selector")?;
        let labels = match selector {
            BaselineSelector::Labels(l) => l.len(),
            BaselineSelector::Name(_) => 0,
        };
        let rounds = (200_000 / n).max(5);
        let began = Instant::now();
        let mut found = 0;
        for _ in 0..rounds {
            let v = verdict(
                &this,
                &facts,
                selector,
                &candidates,
                load_test_tolerance(&baseline.tolerance),
            );
            found += usize::from(v.comparison.is_some());
        }
        let per = began.elapsed() / rounds as u32;
        anyhow::ensure!(found == rounds, "every round finds a baseline");
        println!("{n:>10}  {rounds:>11}  {per:>10.2?}   ({labels} labels matched)");
    }
    Ok(())
}
