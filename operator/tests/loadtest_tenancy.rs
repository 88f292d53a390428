//! What a LoadTest may do in its target cluster, against real control planes: runner
//! namespaces belong to the operator (an existing namespace it did not create is refused and
//! never relabelled), the cluster's loadTestPolicy is enforced by the controller, and a
//! runner the target cluster refuses for good ends the test at once.

mod support;

use std::collections::BTreeMap;

use anyhow::{Result, ensure};
use crds::load_test::LoadTestReason;
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::Api;
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
