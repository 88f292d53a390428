//! Run comparison against real control planes: LoadTests naming a baseline, whose runners
//! report through their pod's termination message as a kubelet would write it (no kubelet
//! runs here), get status.comparison and the RegressionDetected condition when they finish.

mod support;

use anyhow::{Context, Result, ensure};
use crds::LoadTest;
use crds::comparison::Metric;
use crds::load_test::LoadTestPhase;
use kube::ResourceExt;
use kube::api::Api;
use support::*;

/// What the shipped k6 script writes into the termination message, with these numbers.
fn k6_report(p95: f64, p99: f64, rps: f64, error_rate: f64) -> String {
    format!(
        r#"{{"version":1,"requests":1000,"rps":{rps},"latencyMs":{{"avg":50,"p95":{p95},"p99":{p99}}},"errorRate":{error_rate},"checks":{{"passed":1000,"failed":0}},"thresholds":[]}}"#
    )
}

/// What the stress-ng wrapper writes into the termination message, with this rate.
fn stress_report(per_second: f64) -> String {
    format!(
        "---\nmetrics:\n    - stressor: cpu\n      bogo-ops: {}\n      bogo-ops-per-second-real-time: {per_second}\n...\n",
        per_second * 60.0
    )
}

/// A LoadTest `name` on dev with `labels` and `baseline` (YAML flow mappings, or empty).
fn loadtest(name: &str, labels: &str, baseline: &str) -> String {
    preset_test(name, "light-load", labels, baseline)
}

/// A LoadTest `name` of `preset` on dev with `labels` and `baseline`.
fn preset_test(name: &str, preset: &str, labels: &str, baseline: &str) -> String {
    let baseline = if baseline.is_empty() {
        String::new()
    } else {
        format!(", baseline: {baseline}")
    };
    format!(
        "apiVersion: tartinfra.dev/v1alpha1\nkind: LoadTest\nmetadata: {{name: {name}, labels: {{{labels}}}}}\nspec: {{cluster: dev, preset: {preset}{baseline}}}\n"
    )
}

/// Creates the test, plays its runner's kubelet up to a clean exit with `report`, and waits
/// until it Succeeded (and, with a baseline, until it was compared).
async fn run(
    env: &Env,
    ns: &str,
    lts: &Api<LoadTest>,
    yaml: &str,
    report: &str,
) -> Result<LoadTest> {
    let name = create_loadtest(&env.p, ns, yaml).await?;
    let job = runner_job(lts, &name, &env.d).await?.name_any();
    let pod = scheduled_pod(&env.d, RUNNERS_NS, &job).await?;
    kubelet_running(&env.d, &pod).await?;
    kubelet_terminated(&env.d, &pod, 0, "Completed", report).await?;
    let compared = yaml.contains("baseline:");
    wait_for(lts, &name, "finished and compared", |lt| {
        phase(lt) == Some(LoadTestPhase::Succeeded) && (!compared || regression(lt).is_some())
    })
    .await
}

/// RegressionDetected's (status, reason, message).
fn regression(lt: &LoadTest) -> Option<(String, String, String)> {
    let c = lt
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "RegressionDetected")?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

fn delta(lt: &LoadTest, metric: Metric) -> Option<(Option<f64>, Option<f64>)> {
    let m = lt
        .status
        .as_ref()?
        .comparison
        .as_ref()?
        .metrics
        .iter()
        .find(|m| m.metric == metric)?;
    Some((m.delta, m.delta_percent))
}

#[tokio::test]
async fn a_finished_test_is_compared_with_its_baseline_once() -> Result<()> {
    let env = Env::start(fast_settings()).await?;
    let (ns, lts) = env.loadtests("compare").await?;
    let nightly = "suite: nightly";

    let v1 = run(
        &env,
        &ns,
        &lts,
        &loadtest("v1", nightly, ""),
        &k6_report(100.0, 150.0, 50.0, 0.0),
    )
    .await?;
    ensure!(
        regression(&v1).is_none(),
        "no baseline, no condition: {}",
        describe(&v1)
    );

    // Slower: p95 doubled, past the default +10 %.
    let v2 = run(
        &env,
        &ns,
        &lts,
        &loadtest("v2", nightly, "{name: v1}"),
        &k6_report(200.0, 160.0, 49.0, 0.0),
    )
    .await?;
    let (status, reason, message) = regression(&v2).context("compared")?;
    ensure!(
        status == "True" && reason == "Regressed",
        "{}",
        describe(&v2)
    );
    ensure!(
        message.contains("p95Ms 100 → 200 (+100.0%, tolerance +10%)"),
        "{message}"
    );
    ensure!(
        !message.contains("p99Ms"),
        "p99 is within tolerance: {message}"
    );
    ensure!(delta(&v2, Metric::P95Ms) == Some((Some(100.0), Some(100.0))));
    let c = v2
        .status
        .as_ref()
        .and_then(|s| s.comparison.clone())
        .context("comparison")?;
    ensure!(c.baseline.name == "v1" && c.baseline.uid == v1.uid());
    ensure!(c.baseline.finished_at == v1.status.as_ref().and_then(|s| s.finished_at.clone()));

    // By labels: the newest finished run of the suite (v2), within a looser tolerance.
    let by_labels =
        "{latestWithLabels: {matchLabels: {suite: nightly}}, tolerance: {p95Percent: 5}}";
    let v3 = run(
        &env,
        &ns,
        &lts,
        &loadtest("v3", nightly, by_labels),
        &k6_report(205.0, 160.0, 50.0, 0.001),
    )
    .await?;
    let (status, reason, message) = regression(&v3).context("compared")?;
    ensure!(
        status == "False" && reason == "WithinTolerance",
        "{}",
        describe(&v3)
    );
    ensure!(
        message.starts_with("within tolerance of baseline LoadTest v2"),
        "{message}"
    );
    ensure!(delta(&v3, Metric::P95Ms) == Some((Some(5.0), Some(2.5))));

    // A baseline that does not exist: Unknown, and the message says what to do.
    let v4 = run(
        &env,
        &ns,
        &lts,
        &loadtest("v4", "", "{name: v0}"),
        &k6_report(1.0, 1.0, 1.0, 0.0),
    )
    .await?;
    let (status, reason, message) = regression(&v4).context("compared")?;
    ensure!(
        status == "Unknown" && reason == "BaselineNotFound",
        "{}",
        describe(&v4)
    );
    ensure!(message.contains("kubectl get loadtest -n"), "{message}");
    ensure!(v4.status.as_ref().is_some_and(|s| s.comparison.is_none()));
    env.operator.stop().await
}

#[tokio::test]
async fn a_stress_test_whose_bogo_ops_fell_past_the_tolerance_regressed() -> Result<()> {
    let env = Env::start(fast_settings()).await?;
    let (ns, lts) = env.loadtests("compare-stress").await?;
    let stress = |name: &str, baseline: &str| {
        preset_test(name, "cpu-stress-light", "suite: stress", baseline)
    };
    run(&env, &ns, &lts, &stress("s1", ""), &stress_report(1000.0)).await?;

    // 20 % fewer ops/s: past the default -10 %.
    let s2 = run(
        &env,
        &ns,
        &lts,
        &stress("s2", "{name: s1}"),
        &stress_report(800.0),
    )
    .await?;
    let (status, reason, message) = regression(&s2).context("compared")?;
    ensure!(
        status == "True" && reason == "Regressed",
        "{}",
        describe(&s2)
    );
    ensure!(
        message.contains("bogoOpsPerSecond 1000 → 800 (-20.0%, tolerance -10%)"),
        "{message}"
    );
    ensure!(delta(&s2, Metric::BogoOpsPerSecond) == Some((Some(-200.0), Some(-20.0))));

    // The same drop within a spec's looser tolerance.
    let s3 = run(
        &env,
        &ns,
        &lts,
        &stress("s3", "{name: s1, tolerance: {bogoOpsPercent: 25}}"),
        &stress_report(800.0),
    )
    .await?;
    let (status, reason, message) = regression(&s3).context("compared")?;
    ensure!(
        status == "False" && reason == "WithinTolerance",
        "{}",
        describe(&s3)
    );
    ensure!(message.contains("tolerance -25%"), "{message}");
    let c = s3
        .status
        .as_ref()
        .and_then(|s| s.comparison.clone())
        .context("comparison")?;
    ensure!(
        c.metrics.len() == 1 && c.not_compared.is_empty(),
        "a stress test compares bogo-ops/s only: {c:?}"
    );
    env.operator.stop().await
}
