//! Fault injection: 20 LoadTests and 3 ScalingExperiments in flight on two target clusters
//! while (a) the operator is SIGKILLed at 10 random moments and restarted, (b) a target
//! cluster's API server stops and comes back, (c) the platform's API server stops and comes
//! back, and (d) a runner's pod vanishes. Afterwards: no LoadTest ever had a second Job, no
//! finished result changed, every test reached a final phase with its true reason, no
//! cluster ran more runners than its limit, and no slot leaked.
//!
//! Everything is real (API servers, etcd, kube-controller-manager's Job controller,
//! kube-scheduler, the operator's binary with leader election) except the kubelet: no
//! container runs here, so the test moves each scheduled runner pod to Running and, a few
//! seconds later, to a k6 summary, as a kubelet would. The seed of the random moments is
//! printed; `FAULTS_SEED=<n>` replays a run.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use crds::load_test::LoadTestPhase;
use crds::{LoadTest, ScalingExperiment};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams};
use kube::{Client, ResourceExt};
use local_control_plane::{ControlPlane, apply_yaml};
use operator::controllers::load_test::runner::UID_LABEL;
use support::*;

/// Runners at once per cluster.
const LIMIT: usize = 3;
const CLUSTERS: [&str; 2] = ["dev", "staging"];
const TESTS_PER_CLUSTER: usize = 10;
/// How long a runner "runs" before the fake kubelet ends it.
const RUN_FOR: Duration = Duration::from_secs(6);
/// How long every test may take to finish, faults included.
const ALL_DONE: Duration = Duration::from_secs(420);
const KILLS: usize = 10;
const POLL: Duration = Duration::from_millis(300);

/// A small deterministic generator for the fault moments (xorshift64*).
struct Moments(u64);

impl Moments {
    fn between(&mut self, low: Duration, high: Duration) -> Duration {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let span = (high - low).as_millis() as u64;
        low + Duration::from_millis(r % span.max(1))
    }
}

/// The operator's binary, killable with SIGKILL.
struct OperatorProcess {
    platform_kubeconfig: std::path::PathBuf,
    port: u16,
    log: std::path::PathBuf,
    child: Option<Running>,
    starts: usize,
}

impl OperatorProcess {
    fn start(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tart-operator"));
        cmd.env("KUBECONFIG", &self.platform_kubeconfig)
            .env("RUST_LOG", "info")
            .args(["--http-addr", &format!("127.0.0.1:{}", self.port)])
            .args(["--log-format", "text", "--secrets-namespace", SECRETS_NS])
            .args(["--max-tests-per-cluster", &LIMIT.to_string()])
            .args(["--cluster-recheck-seconds", "1"])
            .args(["--cluster-unavailable-timeout-seconds", "180"])
            .args(["--scaling-interval-seconds", "1"])
            .args(["--leader-elect", "--leader-elect-lease-seconds", "4"])
            .stdout(log.try_clone()?)
            .stderr(log);
        self.child = Some(Running::spawn(&mut cmd)?);
        self.starts += 1;
        Ok(())
    }

    /// SIGKILL: no graceful shutdown, no lease released.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.0.kill();
            let _ = c.0.wait();
        }
    }

    /// The last lines of the operator's log, for failure messages.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.0.try_wait().ok().flatten()
    }
}

/// What the test saw, recorded by the observers.
#[derive(Default)]
struct Record {
    /// Every runner Job uid seen per LoadTest uid.
    jobs: HashMap<String, HashSet<String>>,
    /// The most non-terminal runner pods seen at once, per cluster.
    max_running: BTreeMap<String, usize>,
    /// Each test's outcome the first time it was seen finished.
    finished: BTreeMap<String, serde_json::Value>,
    /// Finished outcomes that later read differently.
    changed: Vec<String>,
    /// Every LoadTest seen, with its last phase.
    phases: BTreeMap<String, Option<LoadTestPhase>>,
    /// Runner pods the fake kubelet must not touch (the vanished one).
    spared: HashSet<String>,
}

type Shared = Arc<Mutex<Record>>;

fn lock(r: &Shared) -> std::sync::MutexGuard<'_, Record> {
    r.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The fields of a finished test that must never change.
fn outcome(lt: &LoadTest) -> serde_json::Value {
    let s = lt.status.clone().unwrap_or_default();
    serde_json::json!({
        "phase": s.phase, "reason": s.reason, "results": s.results,
        "finishedAt": s.finished_at, "runner": s.runner,
    })
}

/// Watches the platform's LoadTests: records first outcomes and any later change.
async fn observe_tests(platform: Client, ns: String, record: Shared) {
    let api: Api<LoadTest> = Api::namespaced(platform, &ns);
    loop {
        if let Ok(list) = api.list(&ListParams::default()).await {
            let mut r = lock(&record);
            for lt in list {
                let key = lt.name_any();
                let phase = lt.status.as_ref().and_then(|s| s.phase);
                r.phases.insert(key.clone(), phase);
                if !phase.is_some_and(LoadTestPhase::is_finished) {
                    if r.finished.contains_key(&key) {
                        r.changed.push(format!("{key}: finished, then {phase:?}"));
                    }
                    continue;
                }
                let now = outcome(&lt);
                match r.finished.get(&key) {
                    None => {
                        r.finished.insert(key, now);
                    }
                    Some(first) if *first != now => {
                        let change = format!("{key}: {first} -> {now}");
                        if !r.changed.contains(&change) {
                            r.changed.push(change);
                        }
                    }
                    Some(_) => {}
                }
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

fn pod_terminal(p: &Pod) -> bool {
    matches!(
        p.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// Plays the kubelet of one target cluster, and records its Jobs and running runners.
async fn kubelet(cluster: &'static str, target: Client, record: Shared) {
    let pods: Api<Pod> = Api::namespaced(target.clone(), RUNNERS_NS);
    let jobs: Api<Job> = Api::namespaced(target.clone(), RUNNERS_NS);
    let mut running_since: HashMap<String, Instant> = HashMap::new();
    loop {
        if let Ok(list) = jobs.list(&ListParams::default()).await {
            let mut r = lock(&record);
            for job in list {
                let test = job.labels().get(UID_LABEL).cloned().unwrap_or_default();
                r.jobs
                    .entry(test)
                    .or_default()
                    .insert(job.uid().unwrap_or_default());
            }
        }
        let Ok(list) = pods.list(&ListParams::default()).await else {
            tokio::time::sleep(POLL).await;
            continue;
        };
        let live = list.items.iter().filter(|p| !pod_terminal(p)).count();
        {
            let mut r = lock(&record);
            let max = r.max_running.entry(cluster.to_owned()).or_default();
            *max = (*max).max(live);
        }
        for pod in &list.items {
            let uid = pod.uid().unwrap_or_default();
            let scheduled = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_ref())
                .is_some();
            if !scheduled || pod_terminal(pod) || lock(&record).spared.contains(&uid) {
                continue;
            }
            match running_since.get(&uid) {
                None => {
                    if kubelet_running(&target, pod).await.is_ok() {
                        running_since.insert(uid, Instant::now());
                    }
                }
                Some(since) if since.elapsed() >= RUN_FOR => {
                    let _ = kubelet_k6_passed(&target, pod).await;
                }
                Some(_) => {}
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A running runner pod on `target` that the fake kubelet now leaves alone (for the
/// vanishing pod), waiting for one.
async fn a_running_runner(target: &Client, record: &Shared) -> Result<Pod> {
    let pods: Api<Pod> = Api::namespaced(target.clone(), RUNNERS_NS);
    let running = |p: &Pod| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    let deadline = Instant::now() + WAIT;
    loop {
        let found = pods
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .find(running);
        if let Some(pod) = found {
            let uid = pod.uid().unwrap_or_default();
            lock(record).spared.insert(uid.clone());
            // The kubelet may have ended it between the list and the spare.
            if running(&pods.get(&pod.name_any()).await?) {
                return Ok(pod);
            }
            lock(record).spared.remove(&uid);
        }
        ensure!(Instant::now() < deadline, "no runner pod ran on staging");
        tokio::time::sleep(POLL).await;
    }
}

/// nginx-web with an HPA in namespace demo, for the experiments.
async fn demo(target: &Client) -> Result<()> {
    create_namespace(target, "demo").await?;
    apply_yaml(
        target,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: nginx-web, namespace: demo}\nspec:\n  replicas: 1\n  \
         selector: {matchLabels: {app: nginx-web}}\n  template:\n    metadata: {labels: {app: nginx-web}}\n    spec:\n      \
         containers: [{name: nginx, image: \"nginx:1.27-alpine\", resources: {requests: {cpu: 100m}}}]\n---\n\
         apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: nginx-web, namespace: demo}\nspec:\n  \
         scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: nginx-web}\n  minReplicas: 1\n  maxReplicas: 3\n  \
         metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]\n",
        "demo",
    )
    .await?;
    Ok(())
}

fn experiment(name: &str, cluster: &str) -> String {
    format!(
        "apiVersion: tartinfra.dev/v1alpha1\nkind: ScalingExperiment\nmetadata: {{name: {name}}}\nspec:\n  cluster: {cluster}\n  \
         load: {{http: {{vus: 5, duration: 5s}}}}\n  sampleIntervalSeconds: 1\n  cooldownSeconds: 5\n"
    )
}

/// Sleeps `d` while making sure the operator process did not exit by itself.
async fn wait_watching(op: &mut OperatorProcess, d: Duration) -> Result<()> {
    tokio::time::sleep(d).await;
    if let Some(status) = op.exited() {
        bail!(
            "the operator exited by itself ({status}); its log ends:\n{}",
            op.log_tail()
        );
    }
    Ok(())
}

/// One row of the table printed at the end.
struct Row {
    fault: String,
    affected: usize,
}

fn unfinished(record: &Shared) -> usize {
    lock(record)
        .phases
        .values()
        .filter(|p| !p.is_some_and(LoadTestPhase::is_finished))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_is_lost_duplicated_or_stuck_when_the_operator_and_api_servers_fail() -> Result<()>
{
    let seed: u64 = std::env::var("FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    println!("FAULTS_SEED={seed}");
    let mut moments = Moments(seed);

    let platform = platform().await?;
    let p = platform.client().await?;
    let mut targets: Vec<ControlPlane> = Vec::new();
    for name in CLUSTERS {
        let t = target(name).await?;
        register_kubeconfig(&p, name, t.kubeconfig()).await?;
        demo(&t.client().await?).await?;
        targets.push(t);
    }
    let logs = tempfile::tempdir()?;
    let mut op = OperatorProcess {
        platform_kubeconfig: platform.kubeconfig_path().to_path_buf(),
        port: free_port()?,
        log: logs.path().join("operator.log"),
        child: None,
        starts: 0,
    };
    op.start()?;
    for name in CLUSTERS {
        wait_ready(&p, name).await?;
    }

    let record: Shared = Arc::default();
    let ns = platform.namespace("faults").await?;
    let mut tasks = vec![tokio::spawn(observe_tests(
        p.clone(),
        ns.clone(),
        record.clone(),
    ))];
    for (name, t) in CLUSTERS.iter().zip(&targets) {
        tasks.push(tokio::spawn(kubelet(
            name,
            t.client().await?,
            record.clone(),
        )));
    }

    for i in 0..TESTS_PER_CLUSTER {
        for cluster in CLUSTERS {
            create_loadtest(
                &p,
                &ns,
                &preset_loadtest(&format!("{cluster}-{i:02}"), cluster, "light-load"),
            )
            .await?;
        }
    }
    for (name, cluster) in [("se-a", "dev"), ("se-b", "staging"), ("se-c", "dev")] {
        apply_yaml(&p, &experiment(name, cluster), &ns).await?;
    }

    let mut rows: Vec<Row> = Vec::new();
    let mut vanished: Option<String> = None;
    for kill in 1..=KILLS {
        wait_watching(
            &mut op,
            moments.between(Duration::from_secs(2), Duration::from_secs(7)),
        )
        .await?;
        rows.push(Row {
            fault: format!("SIGKILL operator #{kill}"),
            affected: unfinished(&record),
        });
        op.kill();
        tokio::time::sleep(moments.between(Duration::ZERO, Duration::from_secs(2))).await;
        op.start()?;
        match kill {
            3 => {
                rows.push(Row {
                    fault: "dev API server stopped 6 s".into(),
                    affected: unfinished(&record),
                });
                targets[0].stop_apiserver()?;
                tokio::time::sleep(Duration::from_secs(6)).await;
                targets[0].start_apiserver().await?;
            }
            2 => {
                let staging = targets[1].client().await?;
                let pod = a_running_runner(&staging, &record).await?;
                {
                    vanished = pod.labels().get("job-name").cloned();
                    rows.push(Row {
                        fault: format!("runner pod {} deleted", pod.name_any()),
                        affected: 1,
                    });
                    Api::<Pod>::namespaced(staging, RUNNERS_NS)
                        .delete(&pod.name_any(), &DeleteParams::default().grace_period(0))
                        .await?;
                }
            }
            5 => {
                rows.push(Row {
                    fault: "platform API server stopped 6 s".into(),
                    affected: unfinished(&record),
                });
                platform.stop_apiserver()?;
                tokio::time::sleep(Duration::from_secs(6)).await;
                platform.start_apiserver().await?;
            }
            _ => {}
        }
    }

    // Every test and experiment ends.
    let lts: Api<LoadTest> = Api::namespaced(p.clone(), &ns);
    let ses: Api<ScalingExperiment> = Api::namespaced(p.clone(), &ns);
    let deadline = Instant::now() + ALL_DONE;
    loop {
        let tests = lts.list(&ListParams::default()).await?.items;
        let experiments = ses.list(&ListParams::default()).await?.items;
        let open: Vec<String> = tests
            .iter()
            .filter(|lt| !phase(lt).is_some_and(LoadTestPhase::is_finished))
            .map(|lt| format!("{}: {}", lt.name_any(), describe(lt)))
            .chain(
                experiments
                    .iter()
                    .filter(|se| {
                        !matches!(
                            se.status.as_ref().and_then(|s| s.phase),
                            Some(
                                crds::scaling_experiment::ExperimentPhase::Completed
                                    | crds::scaling_experiment::ExperimentPhase::Failed
                            )
                        )
                    })
                    .map(|se| format!("{}: {:?}", se.name_any(), se.status)),
            )
            .collect();
        if open.is_empty() && tests.len() == TESTS_PER_CLUSTER * CLUSTERS.len() + 3 {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "still open after {}s: {open:#?}\noperator log ends:\n{}",
                ALL_DONE.as_secs(),
                op.log_tail()
            );
        }
        wait_watching(&mut op, Duration::from_secs(1)).await?;
    }
    // One more observation pass after the last change, so late rewrites are seen.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let tests = lts.list(&ListParams::default()).await?.items;
    let experiments = ses.list(&ListParams::default()).await?.items;
    // What the observers saw, taken out of the lock.
    let r = std::mem::take(&mut *lock(&record));
    let mut wrong: Vec<String> = Vec::new();
    let mut duplicated = 0;
    for lt in &tests {
        let name = lt.name_any();
        let jobs = r
            .jobs
            .get(&lt.uid().unwrap_or_default())
            .map_or(0, HashSet::len);
        if jobs > 1 {
            duplicated += 1;
            wrong.push(format!("{name} had {jobs} runner Jobs"));
        }
        let s = lt.status.clone().unwrap_or_default();
        let is_victim =
            vanished.is_some() && s.runner.as_ref().map(|x| &x.job) == vanished.as_ref();
        if is_victim {
            // Whichever notices first: the operator (the pod it saw is gone) or the Job
            // controller (the deleted pod counts as a failure, past backoffLimit 0).
            let disappeared = s.message.as_deref().is_some_and(|m| {
                m.contains("disappeared") || m.contains("reached the specified backoff limit")
            });
            if s.reason != Some(crds::load_test::LoadTestReason::PodFailed) || !disappeared {
                wrong.push(format!("{name} lost its pod but reads {}", describe(lt)));
            }
        } else if s.phase != Some(LoadTestPhase::Succeeded) || s.results.is_none() {
            wrong.push(format!("{name}: {}", describe(lt)));
        }
    }
    for (cluster, max) in &r.max_running {
        if *max > LIMIT {
            wrong.push(format!(
                "{cluster} ran {max} runners at once (limit {LIMIT})"
            ));
        }
    }
    let lost = tests.len().abs_diff(TESTS_PER_CLUSTER * CLUSTERS.len() + 3);
    let changed = r.changed.len();
    let over_limit = r.max_running.values().filter(|m| **m > LIMIT).count();
    println!("\n| fault injected | tests in flight |\n|---|---|");
    for row in &rows {
        println!("| {} | {} |", row.fault, row.affected);
    }
    println!(
        "\n{} faults, {} operator starts, {} LoadTests (3 of them the experiments' loads): \
         lost {lost}, results changed {changed}, duplicated Jobs {duplicated}, clusters over the limit {over_limit}; \
         most runners at once: {:?}",
        rows.len(),
        op.starts,
        tests.len(),
        r.max_running
    );
    if let Some(job) = &vanished {
        let victim = tests.iter().find(|lt| {
            lt.status
                .as_ref()
                .and_then(|s| s.runner.as_ref())
                .map(|x| &x.job)
                == Some(job)
        });
        println!(
            "vanished pod's test: {}",
            victim.map(describe).unwrap_or_default()
        );
    }
    for se in experiments {
        let s = se.status.clone().unwrap_or_default();
        if s.phase != Some(crds::scaling_experiment::ExperimentPhase::Completed) {
            wrong.push(format!(
                "{}: {:?}/{:?}: {:?}",
                se.name_any(),
                s.phase,
                s.reason,
                s.message
            ));
        }
    }
    wrong.extend(r.changed.iter().cloned());
    ensure!(
        wrong.is_empty() && lost == 0,
        "{wrong:#?}\noperator log ends:\n{}",
        op.log_tail()
    );

    // No slot leaked: a new test on each cluster gets its runner at once.
    for cluster in CLUSTERS {
        let name = create_loadtest(
            &p,
            &ns,
            &preset_loadtest(&format!("{cluster}-after"), cluster, "light-load"),
        )
        .await?;
        wait_for(&lts, &name, "given a runner without queueing", |lt| {
            job_name(lt).is_some()
        })
        .await
        .with_context(|| format!("a slot leaked on {cluster}"))?;
    }
    for t in tasks {
        t.abort();
    }
    op.kill();
    Ok(())
}
