//! Parallel LoadTests (spec.http.parallelism) against real control planes: a platform and a
//! target cluster with kube-controller-manager (its Job controller creates the indexed
//! runner pods and sets their JOB_COMPLETION_INDEX), kube-scheduler (it spreads them) and
//! two kwok workers. No kubelet runs here, so the test writes the pods' status as a kubelet
//! would: ready with a pod IP, then terminated with the compact result the shipped k6
//! script writes (made by Node from k6's summary data). k6 itself does not run here.

mod support;

use std::collections::BTreeSet;

use anyhow::{Context, Result, ensure};
use crds::LoadTest;
use crds::load_test::{LoadTestPhase, LoadTestReason, Percentiles};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::Api;
use kube::{Client, ResourceExt};
use local_control_plane::{Options, PodLifecycle, SimNode, apply_yaml};
use support::*;

const PARALLEL: &str = r#"
apiVersion: tartinfra.dev/v1alpha1
kind: LoadTest
metadata: {name: spread}
spec:
  cluster: dev
  http: {targetUrl: http://nginx-web.demo.svc.cluster.local, vus: 30, duration: 40s, parallelism: 3}
"#;

/// dev with two workers, so the runners have somewhere to spread.
fn two_workers() -> Options {
    Options::cluster("dev")
        .with_nodes(vec![
            SimNode::control_plane("dev-master", "2", "4Gi"),
            SimNode::worker("dev-worker1", "4", "8Gi"),
            SimNode::worker("dev-worker2", "4", "8Gi"),
        ])
        .with_pods(PodLifecycle::Manual)
}

/// The `n` pods of Job `job` once the scheduler has placed them all, by index.
async fn runners_by_index(target: &Client, job: &str, n: usize) -> Result<Vec<Pod>> {
    let mut all = support::scheduled_pods(target, RUNNERS_NS, job, n).await?;
    all.sort_by_key(index);
    Ok(all)
}

fn index(pod: &Pod) -> Option<u32> {
    pod.annotations()
        .get("batch.kubernetes.io/job-completion-index")?
        .parse()
        .ok()
}

/// The runner started and its k6 API answers: running, Ready, with a pod IP.
async fn kubelet_ready(target: &Client, pod: &Pod, ip: &str) -> Result<()> {
    kubelet_running(target, pod).await?;
    kubelet_status(
        target,
        pod,
        serde_json::json!({ "podIP": ip, "podIPs": [{ "ip": ip }] }),
    )
    .await
}

/// The starter Job, once the operator has created one.
async fn starter(target: &Client, runner_job: &str) -> Result<Job> {
    let name = format!("st-{}", runner_job.trim_start_matches("lt-"));
    let jobs: Api<Job> = Api::namespaced(target.clone(), RUNNERS_NS);
    wait_for(&jobs, &name, "created", |_| true).await
}

#[tokio::test]
async fn a_parallel_test_starts_its_runners_together_and_merges_their_results() -> Result<()> {
    let env = Env::with_dev(two_workers(), fast_settings()).await?;
    let (p, d) = (&env.p, &env.d);
    let (ns, lts) = env.loadtests("parallel").await?;
    let name = create_loadtest(p, &ns, PARALLEL).await?;

    // One Indexed Job of three paused runners, with the segment module and its parameters.
    let job = runner_job(&lts, &name, d).await?;
    let job_name = job.name_any();
    let spec = job.spec.clone().context("job spec")?;
    ensure!(
        spec.completion_mode.as_deref() == Some("Indexed")
            && spec.completions == Some(3)
            && spec.parallelism == Some(3),
        "{spec:?}"
    );
    // Only the test's starter may reach the runners' k6 REST API (created before the Job).
    let policy = Api::<NetworkPolicy>::namespaced(d.clone(), RUNNERS_NS)
        .get(&job_name)
        .await?
        .spec
        .context("policy spec")?;
    let from = policy.ingress.clone().unwrap_or_default();
    ensure!(
        policy
            .pod_selector
            .as_ref()
            .and_then(|s| s.match_labels.clone())
            == Some([("batch.kubernetes.io/job-name".to_owned(), job_name.clone())].into())
            && from.len() == 1
            && from[0].ports.clone().unwrap_or_default()[0].port == Some(IntOrString::Int(6565))
            && from[0].from.clone().unwrap_or_default()[0]
                .pod_selector
                .as_ref()
                .and_then(|s| s.match_labels.clone())
                == Some(
                    [(
                        "batch.kubernetes.io/job-name".to_owned(),
                        format!("st-{}", job_name.trim_start_matches("lt-"))
                    )]
                    .into()
                ),
        "{policy:?}"
    );
    let cm = Api::<ConfigMap>::namespaced(d.clone(), RUNNERS_NS)
        .get(&job_name)
        .await?;
    let data = cm.data.unwrap_or_default();
    ensure!(data.contains_key("segments.js"), "{:?}", data.keys());
    let params: serde_json::Value =
        serde_json::from_str(data.get("params.json").context("params.json")?)?;
    ensure!(
        params["parallelism"] == 3 && params["vus"] == 30,
        "{params}"
    );

    // The Job controller creates three pods, each with its index in JOB_COMPLETION_INDEX
    // (the script computes its k6 segment from it); the scheduler spreads them.
    let runners = runners_by_index(d, &job_name, 3).await?;
    ensure!(
        runners.iter().map(index).collect::<Vec<_>>() == [Some(0), Some(1), Some(2)],
        "{:?}",
        runners.iter().map(index).collect::<Vec<_>>()
    );
    for pod in &runners {
        let c = &pod.spec.as_ref().context("pod spec")?.containers[0];
        ensure!(
            c.env
                .iter()
                .flatten()
                .any(|e| e.name == "JOB_COMPLETION_INDEX"),
            "{:?}",
            c.env
        );
        ensure!(
            c.args.iter().flatten().any(|a| a == "--paused"),
            "{:?}",
            c.args
        );
    }
    let nodes: BTreeSet<String> = runners
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .collect();
    ensure!(
        nodes.len() == 2,
        "the runners spread over both workers: {nodes:?}"
    );

    // Two of three ready: the test waits, and no starter exists.
    kubelet_ready(d, &runners[0], "10.244.1.10").await?;
    kubelet_ready(d, &runners[1], "10.244.2.11").await?;
    wait_for(&lts, &name, "waiting for its third runner", |lt| {
        describe(lt).contains("2 of 3 runners ready")
    })
    .await?;
    ensure!(
        jobs_in(d).await? == 1,
        "no starter before every runner is ready"
    );

    // The third: one starter, resuming each runner at its address with the k6 image.
    kubelet_ready(d, &runners[2], "10.244.1.12").await?;
    wait_for(&lts, &name, "starting its runners", |lt| {
        describe(lt).contains("resume")
    })
    .await?;
    let st = starter(d, &job_name).await?;
    let containers = st
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|s| s.containers.clone())
        .unwrap_or_default();
    let args: Vec<Vec<String>> = containers
        .iter()
        .map(|c| c.args.clone().unwrap_or_default())
        .collect();
    ensure!(
        args == [
            ["resume", "--address", "10.244.1.10:6565"],
            ["resume", "--address", "10.244.2.11:6565"],
            ["resume", "--address", "10.244.1.12:6565"],
        ],
        "{args:?}"
    );
    ensure!(
        containers
            .iter()
            .all(|c| c.image.as_deref() == Some("grafana/k6:1.7.1"))
    );
    wait_phase(&lts, &name, LoadTestPhase::Starting).await?;
    ensure!(jobs_in(d).await? == 2, "exactly one starter");

    // The starter's resumes returned: its Job completes, and the load runs.
    let starter_pod = runners_by_index(d, &st.name_any(), 1).await?.remove(0);
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let terminated: Vec<serde_json::Value> = containers
        .iter()
        .map(|c| serde_json::json!({ "name": c.name, "image": c.image, "imageID": "", "ready": false, "restartCount": 0,
            "state": { "terminated": { "exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now } } }))
        .collect();
    kubelet_status(
        d,
        &starter_pod,
        serde_json::json!({ "phase": "Succeeded", "containerStatuses": terminated }),
    )
    .await?;
    let running = wait_phase(&lts, &name, LoadTestPhase::Running).await?;
    ensure!(
        running
            .status
            .as_ref()
            .and_then(|s| s.started_at.as_ref())
            .is_some(),
        "{}",
        describe(&running)
    );

    // Each runner reports its share; the test merges them.
    let result = k6_result("k6-summary-passed.json")?;
    for pod in &runners {
        let pod = Api::<Pod>::namespaced(d.clone(), RUNNERS_NS)
            .get(&pod.name_any())
            .await?;
        kubelet_terminated(d, &pod, 0, "Completed", &result).await?;
    }
    let done = wait_phase(&lts, &name, LoadTestPhase::Succeeded).await?;
    let r = done.status.and_then(|s| s.results).context("results")?;
    ensure!(r.requests == Some(3 * 16510), "{r:?}");
    ensure!(r.rps == Some(1649.988), "summed: {:?}", r.rps);
    ensure!(r.error_rate == Some(0.0));
    ensure!(r.percentiles == Some(Percentiles::PerRunner));
    let latency = r.latency_ms.clone().context("latency")?;
    ensure!(
        latency.p95.is_none() && latency.med.is_none(),
        "percentiles are never averaged: {latency:?}"
    );
    ensure!(r.runners.len() == 3, "{:?}", r.runners);
    for (i, runner) in r.runners.iter().enumerate() {
        ensure!(runner.index as usize == i && runner.requests == Some(16510));
        ensure!(runner.latency_ms.as_ref().and_then(|l| l.p95) == Some(54.239));
    }
    env.operator.stop().await
}

#[tokio::test]
async fn a_cluster_policy_refuses_more_runners_than_it_allows() -> Result<()> {
    let env = Env::start(fast_settings()).await?;
    let (p, d) = (&env.p, &env.d);
    set_policy(p, "dev", "{maxParallelism: 2}").await?;
    let (ns, lts) = env.loadtests("narrow").await?;
    let name = create_loadtest(p, &ns, PARALLEL).await?;
    let lt: LoadTest = loadtest_failed(
        &lts,
        &name,
        LoadTestReason::PolicyViolation,
        "maxParallelism: spec.http.parallelism 3 asked, at most 2 runner pods",
    )
    .await?;
    ensure!(
        lt.status.and_then(|s| s.runner).is_none(),
        "no runner was created"
    );
    ensure!(jobs_in(d).await? == 0);
    env.operator.stop().await
}

#[tokio::test]
async fn a_quota_with_room_for_fewer_runners_fails_the_test_and_removes_them() -> Result<()> {
    let env = Env::with_dev(two_workers(), fast_settings()).await?;
    let (p, d) = (&env.p, &env.d);
    // The operator's own runner namespace, with room for two pods: the dry run of one runner
    // passes, and the Job controller creates two of the three.
    apply_yaml(
        d,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: tart-loadtest\n  labels: {app.kubernetes.io/managed-by: tart-operator}\n---\n\
         apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: two-pods}\nspec: {hard: {pods: \"2\"}}\n",
        RUNNERS_NS,
    )
    .await?;
    let (ns, lts) = env.loadtests("quota").await?;
    let name = create_loadtest(p, &ns, PARALLEL).await?;
    let lt = loadtest_failed(
        &lts,
        &name,
        LoadTestReason::RunnerRejected,
        "only 2 of 3 runner pods exist",
    )
    .await?;
    ensure!(
        describe(&lt).contains("ResourceQuota in tart-loadtest"),
        "{}",
        describe(&lt)
    );
    // The two paused runners do not wait for the deadline: the Job, and the NetworkPolicy
    // with it, are removed.
    let job_name = lt
        .status
        .and_then(|s| s.runner)
        .context("the runner was recorded")?
        .job;
    let policies: Api<NetworkPolicy> = Api::namespaced(d.clone(), RUNNERS_NS);
    for _ in 0..100 {
        if jobs_in(d).await? == 0 && policies.get_opt(&job_name).await?.is_none() {
            return env.operator.stop().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    anyhow::bail!("the runner Job or its NetworkPolicy is still there")
}
