//! LoadTests on the platform: creating them, reading their status, and waiting for their
//! runner.

use anyhow::{Context as _, Result, ensure};
use crds::LoadTest;
use crds::load_test::{LoadTestPhase, LoadTestReason};
use k8s_openapi::api::batch::v1::Job;
use kube::Client;
use kube::api::{Api, ListParams};
use local_control_plane::apply_yaml;

use super::wait_for;

/// Where runner Jobs live in a target cluster.
pub const RUNNERS_NS: &str = "tart-loadtest";

/// The LoadTest's phase, reason and message in one line, for assertions.
pub fn describe(lt: &LoadTest) -> String {
    let s = lt.status.clone().unwrap_or_default();
    format!(
        "{:?}/{:?}: {}",
        s.phase,
        s.reason,
        s.message.unwrap_or_default()
    )
}

/// Creates a LoadTest from YAML in `namespace` and returns its name.
pub async fn create_loadtest(platform: &Client, namespace: &str, yaml: &str) -> Result<String> {
    let objects = apply_yaml(platform, yaml, namespace).await?;
    objects
        .first()
        .and_then(|o| o.metadata.name.clone())
        .context("no LoadTest created")
}

/// A LoadTest `name` on `cluster` running `preset`, as YAML.
pub fn preset_loadtest(name: &str, cluster: &str, preset: &str) -> String {
    format!(
        "apiVersion: tartinfra.dev/v1alpha1\nkind: LoadTest\nmetadata: {{name: {name}}}\nspec: {{cluster: {cluster}, preset: {preset}}}\n"
    )
}

pub fn phase(lt: &LoadTest) -> Option<LoadTestPhase> {
    lt.status.as_ref().and_then(|s| s.phase)
}

/// Waits until the LoadTest is in `want`.
pub async fn wait_phase(lts: &Api<LoadTest>, name: &str, want: LoadTestPhase) -> Result<LoadTest> {
    wait_for(lts, name, &format!("{want:?}"), |lt| {
        phase(lt) == Some(want)
    })
    .await
}

/// Waits until the LoadTest has Failed, and checks that it failed for `reason` with a
/// message containing `words`.
pub async fn loadtest_failed(
    lts: &Api<LoadTest>,
    name: &str,
    reason: LoadTestReason,
    words: &str,
) -> Result<LoadTest> {
    let lt = wait_phase(lts, name, LoadTestPhase::Failed).await?;
    let status = lt.status.as_ref();
    ensure!(
        status.and_then(|s| s.reason) == Some(reason),
        "{}",
        describe(&lt)
    );
    ensure!(
        status
            .and_then(|s| s.message.as_deref())
            .is_some_and(|m| m.contains(words)),
        "{}",
        describe(&lt)
    );
    Ok(lt)
}

/// The name of the LoadTest's runner Job, once it has one.
pub fn job_name(lt: &LoadTest) -> Option<String> {
    lt.status
        .as_ref()
        .and_then(|s| s.runner.as_ref())
        .map(|r| r.job.clone())
}

pub fn has_condition(lt: &LoadTest, type_: &str, status: &str) -> bool {
    lt.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == type_ && c.status == status)
    })
}

/// Waits for the LoadTest's runner Job in `target` and returns it.
pub async fn runner_job(lts: &Api<LoadTest>, name: &str, target: &Client) -> Result<Job> {
    let lt = wait_for(lts, name, "given a runner", |lt| job_name(lt).is_some()).await?;
    let job = job_name(&lt).context("runner")?;
    Ok(Api::<Job>::namespaced(target.clone(), RUNNERS_NS)
        .get(&job)
        .await?)
}

/// How many runner Jobs `target` has.
pub async fn jobs_in(target: &Client) -> Result<usize> {
    jobs_in_namespace(target, RUNNERS_NS).await
}

/// How many Jobs namespace `ns` of `target` has.
pub async fn jobs_in_namespace(target: &Client, ns: &str) -> Result<usize> {
    Ok(Api::<Job>::namespaced(target.clone(), ns)
        .list(&ListParams::default())
        .await?
        .items
        .len())
}
