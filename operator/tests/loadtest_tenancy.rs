//! What a LoadTest may do in its target cluster, and the queue's faults, against real control
//! planes: runner namespaces belong to the operator (an existing namespace it did not create
//! is refused and never relabelled), the cluster's loadTestPolicy is enforced by the
//! controller, a runner the target cluster refuses for good (quota, LimitRange) ends the test
//! at once, and a status the platform refuses ends the test instead of holding its slot.

mod support;

use std::collections::BTreeMap;

use anyhow::{Result, ensure};
use crds::load_test::{LoadTestPhase, LoadTestReason};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube::{Client, ResourceExt};
use local_control_plane::apply_yaml;
use support::*;

/// The labels of namespace `name` in `target`.
async fn labels(target: &Client, name: &str) -> Result<BTreeMap<String, String>> {
    Ok(Api::<Namespace>::all(target.clone())
        .get(name)
        .await?
        .metadata
        .labels
        .unwrap_or_default())
}

fn in_namespace(name: &str, runner_namespace: &str) -> String {
    format!(
        "apiVersion: tartinfra.dev/v1alpha1\nkind: LoadTest\nmetadata: {{name: {name}}}\n\
         spec: {{cluster: dev, preset: light-load, runnerNamespace: {runner_namespace}}}\n"
    )
}

#[tokio::test]
async fn a_runner_namespace_the_operator_did_not_create_is_refused_and_never_relabelled()
-> Result<()> {
    let env = Env::start(fast_settings()).await?;
    let (p, d) = (&env.p, &env.d);
    let (ns, lts) = env.loadtests("foreign").await?;
    let before = labels(d, "kube-public").await?;

    // The default policy allows only tart-loadtest.
    let name = create_loadtest(p, &ns, &in_namespace("public", "kube-public")).await?;
    let lt = loadtest_failed(&lts, &name, LoadTestReason::PolicyViolation, "kube-public").await?;
    ensure!(
        describe(&lt).contains("runnerNamespaces"),
        "{}",
        describe(&lt)
    );
    ensure!(
        labels(d, "kube-public").await? == before,
        "kube-public relabelled"
    );

    // A policy that allows it: the namespace exists and is not the operator's.
    set_policy(p, "dev", "{runnerNamespaces: [tart-loadtest, kube-public]}").await?;
    let name = create_loadtest(p, &ns, &in_namespace("public2", "kube-public")).await?;
    let lt = loadtest_failed(&lts, &name, LoadTestReason::PolicyViolation, "kube-public").await?;
    ensure!(
        describe(&lt).contains("not created by the operator"),
        "{}",
        describe(&lt)
    );
    ensure!(
        labels(d, "kube-public").await? == before,
        "kube-public relabelled"
    );
    ensure!(jobs_in_namespace(d, "kube-public").await? == 0);

    // A namespace the operator creates is labelled as its own and used.
    let name = create_loadtest(p, &ns, &preset_loadtest("own", "dev", "light-load")).await?;
    runner_job(&lts, &name, d).await?;
    let own = labels(d, RUNNERS_NS).await?;
    ensure!(
        own.get("app.kubernetes.io/managed-by").map(String::as_str) == Some("tart-operator"),
        "{own:?}"
    );
    env.operator.stop().await
}

/// A runner namespace made as the operator makes it (its ownership label), holding `extra`
/// (YAML documents) too.
async fn owned_namespace(target: &Client, name: &str, extra: &str) -> Result<()> {
    apply_yaml(
        target,
        &format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels: {{app.kubernetes.io/managed-by: tart-operator}}\n---\n{extra}"
        ),
        name,
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_quota_or_limit_range_refusing_the_runner_ends_the_test_at_once() -> Result<()> {
    let env = Env::start(fast_settings()).await?;
    let (p, d) = (&env.p, &env.d);
    let (ns, lts) = env.loadtests("refused").await?;
    set_policy(p, "dev", "{runnerNamespaces: [tart-loadtest, limited]}").await?;
    // A quota smaller than one runner (250m CPU requested).
    owned_namespace(
        d,
        RUNNERS_NS,
        "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: tiny}\nspec: {hard: {requests.cpu: 100m}}\n",
    )
    .await?;
    // A LimitRange below the runner's CPU limit (1).
    owned_namespace(
        d,
        "limited",
        "apiVersion: v1\nkind: LimitRange\nmetadata: {name: small}\nspec: {limits: [{type: Container, max: {cpu: 500m}}]}\n",
    )
    .await?;

    let quota = create_loadtest(p, &ns, &preset_loadtest("quota", "dev", "light-load")).await?;
    let lt = loadtest_failed(
        &lts,
        &quota,
        LoadTestReason::RunnerRejected,
        "exceeded quota",
    )
    .await?;
    ensure!(describe(&lt).contains("tiny"), "{}", describe(&lt));
    let limited = create_loadtest(p, &ns, &in_namespace("limit", "limited")).await?;
    loadtest_failed(
        &lts,
        &limited,
        LoadTestReason::RunnerRejected,
        "maximum cpu usage",
    )
    .await?;
    // Nothing was left behind to hold a slot.
    ensure!(jobs_in(d).await? == 0 && jobs_in_namespace(d, "limited").await? == 0);
    // The slot is free: a test that fits runs.
    set_policy(
        p,
        "dev",
        "{runnerNamespaces: [tart-loadtest, limited], maxCpuPerRunner: 500m}",
    )
    .await?;
    let fits = create_loadtest(
        p,
        &ns,
        "apiVersion: tartinfra.dev/v1alpha1\nkind: LoadTest\nmetadata: {name: fits}\nspec:\n  cluster: dev\n  preset: light-load\n  \
         runnerNamespace: limited\n  resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: 500m, memory: 256Mi}}\n",
    )
    .await?;
    wait_for(&lts, &fits, "given a runner", |lt| job_name(lt).is_some()).await?;
    env.operator.stop().await
}

#[tokio::test]
async fn a_status_the_platform_refuses_ends_the_test_and_frees_its_slot() -> Result<()> {
    let env = Env::start(fast_settings()).await?;
    let (p, d) = (&env.p, &env.d);
    let (ns, lts) = env.loadtests("unwritable").await?;
    let name = create_loadtest(p, &ns, &preset_loadtest("huge", "dev", "light-load")).await?;
    let next = create_loadtest(p, &ns, &preset_loadtest("next", "dev", "light-load")).await?;
    let job = runner_job(&lts, &name, d).await?.name_any();
    let runner = scheduled_pod(d, RUNNERS_NS, &job).await?;
    kubelet_running(d, &runner).await?;
    // A count past the schema's int64: the platform refuses the status that records it.
    let mut report: serde_json::Value =
        serde_json::from_str(&k6_result("k6-summary-passed.json")?)?;
    report["requests"] = serde_json::json!(u64::MAX);
    let report = report.to_string();
    kubelet_terminated(d, &runner, 0, "Completed", &report).await?;
    let lt = loadtest_failed(&lts, &name, LoadTestReason::StatusRejected, "refused").await?;
    ensure!(
        lt.status
            .as_ref()
            .is_some_and(|s| s.results.is_none() && s.runner.is_some()),
        "{}",
        describe(&lt)
    );
    // The next test gets the slot.
    wait_for(&lts, &next, "given a runner", |lt| job_name(lt).is_some()).await?;
    ensure!(phase(&lts.get(&name).await?) == Some(LoadTestPhase::Failed));
    env.operator.stop().await
}

#[tokio::test]
async fn a_test_being_deleted_keeps_its_slot_until_its_runner_pod_is_gone() -> Result<()> {
    let env = Env::start(fast_settings()).await?;
    let (p, d) = (&env.p, &env.d);
    let (ns, lts) = env.loadtests("draining").await?;
    let first = create_loadtest(p, &ns, &preset_loadtest("first", "dev", "light-load")).await?;
    let job = runner_job(&lts, &first, d).await?.name_any();
    let runner = scheduled_pod(d, RUNNERS_NS, &job).await?;
    kubelet_running(d, &runner).await?;
    // A kubelet slow to stop the container: the pod stays, running, after it is deleted.
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(d.clone(), RUNNERS_NS);
    let hold =
        serde_json::json!({ "metadata": { "finalizers": ["test.tartinfra.dev/slow-kubelet"] } });
    pods.patch(
        &runner.name_any(),
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&hold),
    )
    .await?;
    let second = create_loadtest(p, &ns, &preset_loadtest("second", "dev", "light-load")).await?;
    wait_for(&lts, &second, "Queued", |lt| {
        has_condition(lt, "Queued", "True")
    })
    .await?;

    lts.delete(&first, &kube::api::DeleteParams::default())
        .await?;
    // The Job goes; its pod is being deleted but still runs.
    wait_gone(
        &Api::<k8s_openapi::api::batch::v1::Job>::namespaced(d.clone(), RUNNERS_NS),
        &job,
    )
    .await?;
    wait_for(&pods, &runner.name_any(), "being deleted", |p| {
        p.metadata.deletion_timestamp.is_some()
    })
    .await?;
    // Several of the deleting test's retries later, it is still there and holds the slot.
    tokio::time::timeout(
        std::time::Duration::from_secs(8),
        wait_for(&lts, &second, "given a runner", |lt| job_name(lt).is_some()),
    )
    .await
    .err()
    .ok_or_else(|| {
        anyhow::anyhow!("the queued test started while the deleted test's runner still ran")
    })?;
    ensure!(
        lts.get_opt(&first).await?.is_some(),
        "the deleted test went before its runner"
    );

    // The kubelet stops the container: the pod goes, then the test, then the next one runs.
    let mut stopping = pods.get(&runner.name_any()).await?;
    kubelet_terminated(d, &stopping, 137, "Error", "").await?;
    stopping = pods.get(&runner.name_any()).await?;
    let release = serde_json::json!({ "metadata": { "finalizers": null, "resourceVersion": stopping.resource_version() } });
    pods.patch(
        &runner.name_any(),
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&release),
    )
    .await?;
    wait_gone(&lts, &first).await?;
    wait_for(&lts, &second, "given a runner", |lt| job_name(lt).is_some()).await?;
    env.operator.stop().await
}
