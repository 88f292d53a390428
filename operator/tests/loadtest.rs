//! The LoadTest controller against real control planes: a platform cluster (where the
//! LoadTests live) and target clusters with kube-controller-manager, kube-scheduler and
//! kwok nodes. No kubelet runs here, so the tests write the runner pod's status the way a
//! kubelet would: running, then terminated with an exit code and a termination message in
//! the format the shipped k6 script writes.

mod support;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use crds::LoadTest;
use crds::load_test::{LoadTestPhase, LoadTestReason};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use operator::context::Settings;
use support::*;

const CUSTOM: &str = r#"
apiVersion: tartinfra.dev/v1alpha1
kind: LoadTest
metadata: {name: checkout}
spec:
  cluster: dev
  http:
    targets: [http://nginx-web.demo.svc.cluster.local, http://httpbin.demo.svc.cluster.local/get]
    headers: [{name: x-canary, value: "true"}]
    vus: 20
    duration: 40s
    thresholds: {p95Ms: 2000, errorRate: 0.5}
"#;

/// Waits for the LoadTest's runner Job and its scheduled pod, and starts the runner
/// container as a kubelet would; returns the Job's name and the pod.
async fn start_runner(lts: &Api<LoadTest>, name: &str, d: &Client) -> Result<(String, Pod)> {
    let job = runner_job(lts, name, d).await?.name_any();
    let runner = scheduled_pod(d, RUNNERS_NS, &job).await?;
    kubelet_running(d, &runner).await?;
    Ok((job, runner))
}

/// The Events in a platform namespace.
async fn events(p: &Client, ns: &str) -> Result<Vec<Event>> {
    Ok(Api::<Event>::namespaced(p.clone(), ns)
        .list(&ListParams::default())
        .await?
        .items)
}

/// Settings that let five tests run at once in a cluster.
fn five_at_once() -> Settings {
    Settings {
        max_tests_per_cluster: 5,
        ..fast_settings()
    }
}

#[tokio::test]
async fn an_http_test_runs_its_job_and_records_the_results() -> Result<()> {
    let env = Env::start(fast_settings()).await?;
    let (p, d) = (&env.p, &env.d);
    let (ns, lts) = env.loadtests("team").await?;
    let name = create_loadtest(p, &ns, CUSTOM).await?;

    // The runner: a labelled namespace, the ConfigMap with the fixed script and the
    // parameters as data, and exactly one Job as the issue describes.
    let job = runner_job(&lts, &name, d).await?;
    let runner_ns = Api::<Namespace>::all(d.clone()).get(RUNNERS_NS).await?;
    ensure!(
        runner_ns
            .labels()
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str)
            == Some("tart-operator")
    );
    let spec = job.spec.clone().context("job spec")?;
    ensure!(spec.backoff_limit == Some(0));
    ensure!(
        spec.active_deadline_seconds == Some(40 + 300),
        "{:?}",
        spec.active_deadline_seconds
    );
    let pod = spec.template.spec.clone().context("pod spec")?;
    let c = &pod.containers[0];
    ensure!(
        c.image.as_deref() == Some("grafana/k6:1.7.1"),
        "{:?}",
        c.image
    );
    ensure!(c.termination_message_policy.as_deref() == Some("FallbackToLogsOnError"));
    ensure!(
        pod.security_context
            .as_ref()
            .and_then(|s| s.run_as_non_root)
            == Some(true)
    );
    let annotations = spec
        .template
        .metadata
        .clone()
        .and_then(|m| m.annotations)
        .unwrap_or_default();
    ensure!(
        annotations
            .get("sidecar.istio.io/inject")
            .map(String::as_str)
            == Some("false")
    );
    let requests = c
        .resources
        .clone()
        .and_then(|r| r.requests)
        .unwrap_or_default();
    ensure!(
        requests.get("memory").map(|q| q.0.as_str()) == Some("256Mi"),
        "{requests:?}"
    );
    let cm = Api::<ConfigMap>::namespaced(d.clone(), RUNNERS_NS)
        .get(&job.name_any())
        .await?;
    let data = cm.data.unwrap_or_default();
    let params: serde_json::Value =
        serde_json::from_str(data.get("params.json").context("params.json")?)?;
    ensure!(
        params["urls"].as_array().map(Vec::len) == Some(2),
        "{params}"
    );
    ensure!(
        params["headers"]["x-canary"] == "true"
            && params["vus"] == 20
            && params["durationSeconds"] == 40,
        "{params}"
    );
    ensure!(
        data.get("loadtest.js")
            .is_some_and(|s| s.contains("handleSummary"))
    );
    ensure!(jobs_in(d).await? == 1);

    // Scheduled, not started: Starting. Running: progress. Terminated with the k6 result.
    let runner = scheduled_pod(d, RUNNERS_NS, &job.name_any()).await?;
    wait_phase(&lts, &name, LoadTestPhase::Starting).await?;
    kubelet_running(d, &runner).await?;
    let running = wait_phase(&lts, &name, LoadTestPhase::Running).await?;
    ensure!(
        running
            .status
            .as_ref()
            .and_then(|s| s.started_at.as_ref())
            .is_some()
    );
    kubelet_k6_passed(d, &runner).await?;
    let done = wait_phase(&lts, &name, LoadTestPhase::Succeeded).await?;
    let s = done.status.clone().context("status")?;
    let r = s.results.context("results")?;
    ensure!(r.requests == Some(16510) && r.rps == Some(549.996), "{r:?}");
    ensure!(r.latency_ms.and_then(|l| l.p95) == Some(54.239));
    ensure!(s.progress_percent == Some(100) && s.finished_at.is_some() && s.reason.is_none());
    ensure!(s.test_type == Some(crds::load_test::TestType::Http));

    // Events on the transitions, in the LoadTest's namespace.
    let reasons: Vec<String> = events(p, &ns)
        .await?
        .iter()
        .filter_map(|e| e.reason.clone())
        .collect();
    for expected in ["RunnerCreated", "Running", "Succeeded"] {
        ensure!(
            reasons.iter().any(|r| r == expected),
            "no {expected} event in {reasons:?}"
        );
    }
    env.operator.stop().await
}

#[tokio::test]
async fn a_threshold_breach_fails_the_test_and_keeps_the_results() -> Result<()> {
    let env = Env::start(fast_settings()).await?;
    let (p, d) = (&env.p, &env.d);
    let (ns, lts) = env.loadtests("sla").await?;
    let name = create_loadtest(p, &ns, &preset_loadtest("strict", "dev", "strict-sla")).await?;
    let (_, runner) = start_runner(&lts, &name, d).await?;
    kubelet_terminated(
        d,
        &runner,
        99,
        "Error",
        &k6_result("k6-summary-breached.json")?,
    )
    .await?;
    let lt = loadtest_failed(&lts, &name, LoadTestReason::ThresholdsBreached, "p(95)<500").await?;
    let r = lt
        .status
        .and_then(|s| s.results)
        .context("results are kept")?;
    ensure!(r.error_rate == Some(0.08) && r.thresholds.iter().filter(|t| !t.passed).count() == 2);
    env.operator.stop().await
}

#[tokio::test]
async fn unschedulable_runners_and_image_pull_failures_give_their_reasons() -> Result<()> {
    let env = Env::start(five_at_once()).await?;
    let (p, d) = (&env.p, &env.d);
    let (ns, lts) = env.loadtests("broken").await?;
    // The default policy allows neither: this cluster's owner allows both.
    set_policy(
        p,
        "dev",
        "{maxCpuPerRunner: '64', allowedImages: [registry.invalid/]}",
    )
    .await?;

    // 64 CPUs fit no node.
    let huge = create_loadtest(
        p,
        &ns,
        "apiVersion: tartinfra.dev/v1alpha1\nkind: LoadTest\nmetadata: {name: huge}\nspec:\n  cluster: dev\n  preset: cpu-stress-light\n  \
         resources: {requests: {cpu: '64', memory: 256Mi}, limits: {cpu: '64', memory: 256Mi}}\n",
    )
    .await?;
    let pull = create_loadtest(
        p,
        &ns,
        "apiVersion: tartinfra.dev/v1alpha1\nkind: LoadTest\nmetadata: {name: pull}\nspec: {cluster: dev, preset: light-load, image: 'registry.invalid/k6:0.0.1'}\n",
    )
    .await?;
    let huge_job = runner_job(&lts, &huge, d).await?.name_any();
    loadtest_failed(
        &lts,
        &huge,
        LoadTestReason::Unschedulable,
        "Insufficient cpu",
    )
    .await?;
    wait_gone(&Api::<Job>::namespaced(d.clone(), RUNNERS_NS), &huge_job).await?;

    let pull_job = runner_job(&lts, &pull, d).await?;
    let runner = scheduled_pod(d, RUNNERS_NS, &pull_job.name_any()).await?;
    kubelet_image_pull_backoff(d, &runner).await?;
    let image = "registry.invalid/k6:0.0.1";
    loadtest_failed(&lts, &pull, LoadTestReason::ImagePullFailed, image).await?;
    env.operator.stop().await
}

#[tokio::test]
async fn a_restarted_operator_adopts_the_job_it_created() -> Result<()> {
    let env = Env::start(fast_settings()).await?;
    let (p, d) = (&env.p, &env.d);
    let (ns, lts) = env.loadtests("restart").await?;
    let name =
        create_loadtest(p, &ns, &preset_loadtest("adopt", "dev", "cpu-stress-light")).await?;
    let job = runner_job(&lts, &name, d).await?;
    env.operator.stop().await?;
    // As if the operator died after creating the Job but before recording it.
    lts.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "status": { "runner": null } })),
    )
    .await?;
    let second = Operator::start(&env.platform, fast_settings()).await?;
    let lt = wait_for(&lts, &name, "given a runner again", |lt| {
        job_name(lt).is_some()
    })
    .await?;
    ensure!(
        job_name(&lt) == Some(job.name_any()),
        "the restarted operator must adopt {}",
        job.name_any()
    );
    ensure!(
        jobs_in(d).await? == 1,
        "a restart must never create a second Job"
    );
    let runner = scheduled_pod(d, RUNNERS_NS, &job.name_any()).await?;
    kubelet_running(d, &runner).await?;
    let yaml = "---\nmetrics:\n    - stressor: cpu\n      bogo-ops: 1657\n      bogo-ops-per-second-real-time: 828.099801\n...\n";
    kubelet_terminated(d, &runner, 0, "Completed", yaml).await?;
    let lt = wait_phase(&lts, &name, LoadTestPhase::Succeeded).await?;
    let r = lt.status.and_then(|s| s.results).context("results")?;
    ensure!(
        r.bogo_ops == Some(1657) && r.bogo_ops_per_second == Some(828.1),
        "{r:?}"
    );
    ensure!(jobs_in(d).await? == 1);
    second.stop().await
}

#[tokio::test]
async fn deleting_a_test_removes_its_runner_and_ttl_removes_it_while_results_stay() -> Result<()> {
    let env = Env::start(five_at_once()).await?;
    let (p, d) = (&env.p, &env.d);
    let (ns, lts) = env.loadtests("cleanup").await?;
    let jobs: Api<Job> = Api::namespaced(d.clone(), RUNNERS_NS);
    let cms: Api<ConfigMap> = Api::namespaced(d.clone(), RUNNERS_NS);

    let doomed = create_loadtest(p, &ns, &preset_loadtest("doomed", "dev", "light-load")).await?;
    let job = runner_job(&lts, &doomed, d).await?.name_any();
    ensure!(cms.get_opt(&job).await?.is_some());
    let runner = scheduled_pod(d, RUNNERS_NS, &job).await?;
    lts.delete(&doomed, &DeleteParams::default()).await?;
    wait_gone(&lts, &doomed).await?;
    wait_gone(&jobs, &job).await?;
    wait_gone(&cms, &job).await?;
    // The Job's pods go with it (garbage collector, background propagation).
    wait_gone(
        &Api::<Pod>::namespaced(d.clone(), RUNNERS_NS),
        &runner.name_any(),
    )
    .await?;

    let kept = create_loadtest(
        p,
        &ns,
        "apiVersion: tartinfra.dev/v1alpha1\nkind: LoadTest\nmetadata: {name: kept}\nspec: {cluster: dev, preset: light-load, ttlSecondsAfterFinished: 1}\n",
    )
    .await?;
    let (job, runner) = start_runner(&lts, &kept, d).await?;
    kubelet_k6_passed(d, &runner).await?;
    wait_for(&lts, &kept, "RunnerDeleted", |lt| {
        has_condition(lt, "RunnerDeleted", "True")
    })
    .await?;
    wait_gone(&jobs, &job).await?;
    let lt = lts.get(&kept).await?;
    ensure!(
        phase(&lt) == Some(LoadTestPhase::Succeeded) && lt.status.and_then(|s| s.results).is_some()
    );
    env.operator.stop().await
}

#[tokio::test]
async fn an_unreachable_cluster_pauses_a_test_which_recovers_or_fails_after_the_window()
-> Result<()> {
    let settings = Settings {
        cluster_unavailable_timeout: Duration::from_secs(5),
        ..five_at_once()
    };
    let env = Env::start(settings.clone()).await?;
    let p = &env.p;
    let (ns, lts) = env.loadtests("outage").await?;

    // A cluster that never comes: Failed/ClusterUnavailable once the window is over.
    let ghost = create_loadtest(p, &ns, &preset_loadtest("ghost", "nowhere", "light-load")).await?;
    wait_for(&lts, &ghost, "waiting for its cluster", |lt| {
        has_condition(lt, "ClusterReachable", "False")
    })
    .await?;
    let not_connected = "ManagedCluster nowhere is not connected";
    loadtest_failed(
        &lts,
        &ghost,
        LoadTestReason::ClusterUnavailable,
        not_connected,
    )
    .await?;
    env.operator.stop().await?;

    // A running test whose cluster goes away and comes back within the window recovers.
    let settings = Settings {
        cluster_unavailable_timeout: Duration::from_secs(120),
        ..settings
    };
    let operator = Operator::start(&env.platform, settings).await?;
    let name = create_loadtest(p, &ns, &preset_loadtest("outage", "dev", "light-load")).await?;
    let (_, runner) = start_runner(&lts, &name, &env.d).await?;
    wait_phase(&lts, &name, LoadTestPhase::Running).await?;
    env.dev.stop_apiserver()?;
    let lt = wait_for(&lts, &name, "ClusterReachable=False", |lt| {
        has_condition(lt, "ClusterReachable", "False")
    })
    .await?;
    ensure!(
        phase(&lt) == Some(LoadTestPhase::Running),
        "a short outage must not end the test: {}",
        describe(&lt)
    );
    env.dev.start_apiserver().await?;
    wait_for(&lts, &name, "ClusterReachable=True", |lt| {
        has_condition(lt, "ClusterReachable", "True")
    })
    .await?;
    let d = env.dev.client().await?;
    kubelet_k6_passed(&d, &runner).await?;
    wait_phase(&lts, &name, LoadTestPhase::Succeeded).await?;
    operator.stop().await
}

#[tokio::test]
async fn tests_queue_per_cluster_and_run_in_parallel_across_clusters() -> Result<()> {
    let (env, staging) = tokio::join!(Env::start(fast_settings()), target("staging"));
    let (env, staging) = (env?, staging?);
    let (p, d) = (&env.p, &env.d);
    register(p, "staging", &staging).await?;
    let (ns, lts) = env.loadtests("queue").await?;
    let s = staging.client().await?;
    let first = create_loadtest(p, &ns, &preset_loadtest("first", "dev", "light-load")).await?;
    runner_job(&lts, &first, d).await?;
    let other = create_loadtest(p, &ns, &preset_loadtest("other", "staging", "light-load")).await?;
    let third = create_loadtest(p, &ns, &preset_loadtest("third", "dev", "light-load")).await?;
    runner_job(&lts, &other, &s).await?;
    let queued = wait_for(&lts, &third, "Queued", |lt| {
        has_condition(lt, "Queued", "True")
    })
    .await?;
    ensure!(
        phase(&queued) == Some(LoadTestPhase::Pending) && job_name(&queued).is_none(),
        "{}",
        describe(&queued)
    );
    ensure!(
        describe(&queued).contains("position 1"),
        "{}",
        describe(&queued)
    );
    ensure!(jobs_in(d).await? == 1 && jobs_in(&s).await? == 1);

    let (_, runner) = start_runner(&lts, &first, d).await?;
    kubelet_k6_passed(d, &runner).await?;
    wait_phase(&lts, &first, LoadTestPhase::Succeeded).await?;
    let third = wait_for(&lts, &third, "admitted", |lt| job_name(lt).is_some()).await?;
    ensure!(
        has_condition(&third, "Queued", "False"),
        "{}",
        describe(&third)
    );
    env.operator.stop().await
}

#[tokio::test]
async fn deleting_a_test_whose_cluster_is_gone_gives_up_with_an_event() -> Result<()> {
    let env = Env::start(fast_settings()).await?;
    let p = &env.p;
    let (ns, lts) = env.loadtests("gone").await?;
    let name = create_loadtest(p, &ns, &preset_loadtest("stranded", "dev", "light-load")).await?;
    runner_job(&lts, &name, &env.d).await?;
    env.dev.stop_apiserver()?;
    lts.delete(&name, &DeleteParams::default()).await?;
    // fast_settings gives up after 10 s; the LoadTest then goes, with a Warning event.
    wait_gone(&lts, &name).await?;
    let events = events(p, &ns).await?;
    let abandoned = events
        .iter()
        .find(|e| e.reason.as_deref() == Some("CleanupAbandoned"))
        .context("no CleanupAbandoned event")?;
    ensure!(abandoned.type_.as_deref() == Some("Warning"));
    ensure!(
        abandoned
            .message
            .as_deref()
            .is_some_and(|n| n.contains("delete the runner by hand")),
        "{:?}",
        abandoned.message
    );
    env.operator.stop().await
}

#[tokio::test]
async fn a_restarted_operator_serves_the_metrics_of_existing_objects_once_ready() -> Result<()> {
    let Env {
        platform,
        dev: _dev,
        p,
        d,
        operator,
        ..
    } = Env::start(fast_settings()).await?;
    let ns = platform.namespace("restart").await?;
    let lts: Api<LoadTest> = Api::namespaced(p.clone(), &ns);
    let name = create_loadtest(&p, &ns, CUSTOM).await?;
    let (_, runner) = start_runner(&lts, &name, &d).await?;
    kubelet_k6_passed(&d, &runner).await?;
    wait_phase(&lts, &name, LoadTestPhase::Succeeded).await?;
    operator.stop().await?;

    // Nothing changes while the operator restarts: its metrics come from the initial lists.
    let port = free_port()?;
    let operator = Operator::start_on(&platform, fast_settings(), port).await?;
    let http = Http::new(port);
    let deadline = std::time::Instant::now() + WAIT;
    while !matches!(http.get("/readyz", None).await, Ok((200, _))) {
        ensure!(
            std::time::Instant::now() < deadline,
            "/readyz never answered 200"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = operator.metrics_port;
    let state = metric_lines(
        metrics,
        "tart_operator_loadtest_state{",
        &format!("name=\"{name}\""),
    )
    .await?;
    ensure!(
        state.len() == 1 && state[0].contains("state=\"Succeeded\"") && state[0].ends_with(" 1"),
        "{state:?}"
    );
    let rps = metric_lines(
        metrics,
        "tart_operator_loadtest_requests_per_second{",
        &format!("name=\"{name}\""),
    )
    .await?;
    ensure!(rps.len() == 1, "{rps:?}");
    let ready = metric_lines(metrics, "tart_operator_cluster_ready{", "cluster=\"dev\"").await?;
    ensure!(
        ready == ["tart_operator_cluster_ready{cluster=\"dev\"} 1"],
        "{ready:?}"
    );
    operator.stop().await
}

#[tokio::test]
async fn a_header_from_a_labelled_secret_reaches_the_runner_and_nowhere_else() -> Result<()> {
    use k8s_openapi::api::core::v1::Secret;
    const VALUE: &str = "Bearer tok-9f8e7d6c5b4a";
    let env = Env::start(five_at_once()).await?;
    let (p, d) = (&env.p, &env.d);
    let (ns, lts) = env.loadtests("headers").await?;
    let secret = |name: &str, labelled: bool| -> Result<Secret> {
        let labels = if labelled {
            serde_json::json!({ "tartinfra.dev/loadtest-header": "true" })
        } else {
            serde_json::json!({})
        };
        Ok(serde_json::from_value(serde_json::json!({
            "metadata": { "name": name, "labels": labels },
            "stringData": { "token": VALUE },
        }))?)
    };
    let secrets: Api<Secret> = Api::namespaced(p.clone(), &ns);
    secrets
        .create(&Default::default(), &secret("api-token", true)?)
        .await?;
    secrets
        .create(&Default::default(), &secret("db-password", false)?)
        .await?;
    let spec = |name: &str, secret: &str| {
        format!(
            "apiVersion: tartinfra.dev/v1alpha1\nkind: LoadTest\nmetadata: {{name: {name}}}\nspec:\n  cluster: dev\n  http:\n    targetUrl: http://nginx-web.demo.svc.cluster.local\n    \
             vus: 2\n    duration: 10s\n    headers:\n    - {{name: x-plain, value: \"1\"}}\n    - name: authorization\n      valueFrom: {{secretKeyRef: {{name: {secret}, key: token}}}}\n"
        )
    };

    // The labelled Secret: its value is in a runner Secret the Job reads from, and in
    // neither the ConfigMap nor the Job.
    let name = create_loadtest(p, &ns, &spec("with-token", "api-token")).await?;
    let job = runner_job(&lts, &name, d).await?;
    let runner = job.metadata.name.clone().context("job name")?;
    let copied = Api::<Secret>::namespaced(d.clone(), RUNNERS_NS)
        .get(&runner)
        .await?;
    ensure!(
        copied
            .data
            .as_ref()
            .and_then(|d| d.get("TART_HEADER_0"))
            .map(|v| v.0.as_slice())
            == Some(VALUE.as_bytes()),
        "the runner Secret lacks the value"
    );
    let cm = Api::<ConfigMap>::namespaced(d.clone(), RUNNERS_NS)
        .get(&runner)
        .await?;
    ensure!(!serde_json::to_string(&cm)?.contains(VALUE));
    ensure!(!serde_json::to_string(&job)?.contains(VALUE));
    let env_vars =
        serde_json::to_value(&job)?["spec"]["template"]["spec"]["containers"][0]["env"].clone();
    ensure!(
        env_vars[0]["valueFrom"]["secretKeyRef"]["name"] == runner.as_str(),
        "{env_vars}"
    );
    // Not in the LoadTest, its events, or the API's answers.
    let lt = lts.get(&name).await?;
    ensure!(!serde_json::to_string(&lt)?.contains(VALUE));
    ensure!(!serde_json::to_string(&events(p, &ns).await?)?.contains(VALUE));
    // The API reads its own cache, which may see the test a moment after the controller.
    let http = Http::new(env.port);
    for path in [
        format!("/api/v1/tests/{ns}/{name}"),
        format!("/api/v1/tests?namespace={ns}"),
    ] {
        let body = http
            .eventually(&path, env.token(), "the test", |b| {
                b.to_string().contains(&name)
            })
            .await?;
        ensure!(!body.to_string().contains(VALUE), "{path} shows the value");
    }

    // An unlabelled Secret is refused with a reason naming it and the label.
    let refused = create_loadtest(p, &ns, &spec("with-password", "db-password")).await?;
    let lt = loadtest_failed(
        &lts,
        &refused,
        LoadTestReason::HeaderSecretInvalid,
        "tartinfra.dev/loadtest-header",
    )
    .await?;
    ensure!(describe(&lt).contains("db-password"), "{}", describe(&lt));
    ensure!(!serde_json::to_string(&lt)?.contains(VALUE));
    ensure!(job_name(&lt).is_none(), "no runner for a refused test");
    env.operator.stop().await
}
