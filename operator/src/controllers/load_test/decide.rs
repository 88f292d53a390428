//! The LoadTest controller's decisions: a pure function of what was observed, the
//! operator's settings and the time, to the next status, one effect in the target cluster,
//! an event, whether the test gives back its slot, and when to look again.

use std::time::Duration;

use crds::LoadTest;
use crds::common::Time;
use crds::conditions::{LoadTestCondition as C, LoadTestConditionReason as R};
use crds::load_test::{
    LoadTestPhase, LoadTestReason, LoadTestResults, LoadTestStatus, Percentiles, RunnerRef,
};
use crds::plan::{self, Plan};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::Timestamp;

use super::observe::{Observed, Runner, RunnerNamespace};
use super::parallel::{self, Parallel};
use super::policy;
use super::queue::{self, Admission, slot_limit};
use super::runner::{self, RunnerNames, RunnerObjects};
use super::runner_state::{self, Inputs, Observation};
use crate::conditions::{self, Stamp};
use crate::context::Settings;
use crate::controllers::error::Class;
use crate::controllers::status::Note;
use crate::controllers::{Next, comparison, node_usage};
use crate::prometheus::RunPercentiles;

/// How often a test waiting for its cluster, its slot or its runner looks again.
pub const POLL: Duration = Duration::from_secs(5);
/// The first look at a runner just created.
const AFTER_CREATE: Duration = Duration::from_secs(2);
/// The look after a test finished, which schedules its TTL.
const AFTER_FINISH: Duration = Duration::from_secs(1);
/// How soon a runner whose TTL is over is tried again when its cluster cannot be used.
const TTL_RETRY: Duration = Duration::from_secs(30);

/// What to do in the target cluster.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Nothing.
    None,
    /// Create the runner: create the namespace when missing, apply the ConfigMap, check the
    /// pod against the namespace's admission (dry run), create the Job.
    CreateRunner(Box<RunnerObjects>),
    /// Delete the runner Job (and its pods) and ConfigMap; gone already is fine.
    DeleteRunner(RunnerNames),
    /// Create the starter Job that resumes a parallel test's paused runners together (one
    /// that exists already is fine).
    CreateStarter(Box<Job>),
}

impl Effect {
    /// The effect's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::None => "None",
            Self::CreateRunner(_) => "CreateRunner",
            Self::DeleteRunner(_) => "DeleteRunner",
            Self::CreateStarter(_) => "CreateStarter",
        }
    }
}

/// The next step of one LoadTest.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The status to write (nothing is written when it equals the current one).
    pub status: LoadTestStatus,
    /// The effect, carried out before the status is written (after it, when the decision
    /// ends the test by removing its runner).
    pub effect: Effect,
    /// An event besides the phase change's own.
    pub event: Option<Note>,
    /// The test gives back its slot on the cluster (and the tests waiting there wake).
    pub release_slot: bool,
    /// When to look again.
    pub next: Next,
}

impl Decision {
    /// Whether this decision ends `lt` (a finished phase where it had none).
    pub fn ends(&self, lt: &LoadTest) -> bool {
        let finished = |p: Option<LoadTestPhase>| p.is_some_and(LoadTestPhase::is_finished);
        finished(self.status.phase) && !finished(lt.status.as_ref().and_then(|s| s.phase))
    }

    fn new(status: LoadTestStatus, next: Next) -> Self {
        Self {
            status,
            effect: Effect::None,
            event: None,
            release_slot: false,
            next,
        }
    }

    fn with_effect(mut self, effect: Effect) -> Self {
        self.effect = effect;
        self
    }

    fn with_event(mut self, event: Option<Note>) -> Self {
        self.event = event;
        self
    }

    fn releasing(mut self) -> Self {
        self.release_slot = true;
        self
    }
}

/// Decides the next step of the observed test (pure); a test with spec.baseline that
/// finishes is compared with its baseline once.
pub fn decide(o: &Observed, settings: &Settings, now: Timestamp) -> Decision {
    let mut d = step(o, settings, now);
    let lt = o.test.as_ref();
    if let Some(baseline) = &lt.spec.baseline
        && let Some(selector) = baseline.selector()
        && lt.metadata.deletion_timestamp.is_none()
    {
        let s = &mut d.status;
        let facts = comparison::load_test_facts(s);
        if comparison::due(facts.finished, &s.conditions) {
            let tolerance = comparison::load_test_tolerance(&baseline.tolerance);
            let verdict = comparison::verdict(lt, &facts, selector, &o.baselines, tolerance);
            let at = Stamp {
                generation: lt.metadata.generation,
                now,
            };
            comparison::record(verdict, &mut s.comparison, &mut s.conditions, at);
        }
    }
    if lt.metadata.deletion_timestamp.is_none() {
        record_node_usage(&mut d, o.node_usage.as_ref(), settings, now);
    }
    d
}

/// Folds the cluster's node readings into status.nodeUsage once the test has started, and
/// looks again when a finished test's `after` reading is due.
fn record_node_usage(
    d: &mut Decision,
    readings: Option<&node_usage::Readings>,
    settings: &Settings,
    now: Timestamp,
) {
    let s = &mut d.status;
    let Some(started) = s.started_at.as_ref().map(|t| t.0) else {
        return;
    };
    let run = node_usage::Window {
        started,
        finished: s.finished_at.as_ref().map(|t| t.0),
    };
    let settle = settings.node_usage_settle;
    if s.node_usage.is_none()
        && (readings.is_none() || node_usage::too_late(run.finished, settle, now))
    {
        return;
    }
    let record = node_usage::fold(s.node_usage.as_ref(), readings, run, settle, now);
    if let Some(wait) = node_usage::next_look(&record, run.finished, settle, now) {
        d.next = match &d.next {
            Next::Requeue(after) if *after <= wait => Next::Requeue(*after),
            Next::Retry(why) => Next::Retry(why.clone()),
            _ => Next::Requeue(wait),
        };
    }
    s.node_usage = Some(record);
}

fn step(o: &Observed, settings: &Settings, now: Timestamp) -> Decision {
    let lt = o.test.as_ref();
    let old = lt.status.clone().unwrap_or_default();
    let at = Stamp {
        generation: lt.metadata.generation,
        now,
    };
    if lt.metadata.deletion_timestamp.is_some() {
        return deleting(o, old, settings, now);
    }
    if old.phase.is_some_and(LoadTestPhase::is_finished) {
        return expire(o, old, at);
    }
    let mut s = old.clone();
    s.observed_generation = lt.metadata.generation;
    let plan = match plan::plan_load_test(&lt.spec) {
        Ok(plan) => plan,
        Err(e) => {
            finish(
                &mut s,
                Some(LoadTestReason::InvalidSpec),
                format!("invalid spec: {e}"),
                at,
            );
            return Decision::new(s, Next::AwaitChange).releasing();
        }
    };
    s.test_type = Some(plan.test_type());
    match &o.policy {
        Some(Ok(p)) => {
            if let Err(v) = policy::check(p, lt, &plan) {
                let message = format!(
                    "cluster {}'s loadTestPolicy refused the test: {}: {}",
                    lt.spec.cluster, v.rule, v.message
                );
                finish(&mut s, Some(LoadTestReason::PolicyViolation), message, at);
                return Decision::new(s, Next::AwaitChange).releasing();
            }
        }
        Some(Err(e)) => return unavailable(o, &old, s, e.clone(), settings, at),
        None => {}
    }
    let Some(cluster) = o.cluster.as_deref() else {
        let message = format!(
            "ManagedCluster {name} is not connected; see `kubectl get managedcluster {name}`",
            name = lt.spec.cluster
        );
        return unavailable(o, &old, s, message, settings, at);
    };
    if s.runner.is_none() {
        start(o, &old, s, cluster, &plan, settings, at)
    } else {
        follow(o, &old, s, cluster, &plan, settings, at)
    }
}

/// Ends the test: Succeeded without a reason, Completed when the runner was simulated (it
/// measured nothing), else Failed.
fn finish(s: &mut LoadTestStatus, reason: Option<LoadTestReason>, message: String, at: Stamp) {
    let (phase, outcome) = match reason {
        None => (LoadTestPhase::Succeeded, R::Succeeded),
        Some(LoadTestReason::RunnerSimulated) => (LoadTestPhase::Completed, R::NotMeasured),
        Some(_) => (LoadTestPhase::Failed, R::Failed),
    };
    s.phase = Some(phase);
    s.reason = reason;
    at.set(
        &mut s.conditions,
        C::Complete,
        true,
        outcome,
        message.clone(),
    );
    s.message = Some(message);
    s.finished_at = Some(Time(at.now));
}

/// The target cluster cannot be used right now: wait, or fail once the window is over.
fn unavailable(
    o: &Observed,
    old: &LoadTestStatus,
    mut s: LoadTestStatus,
    message: String,
    settings: &Settings,
    at: Stamp,
) -> Decision {
    let cluster = o.test.spec.cluster.as_str();
    at.set(
        &mut s.conditions,
        C::ClusterReachable,
        false,
        R::ClusterUnavailable,
        message.clone(),
    );
    // A slot taken in this reconcile goes back: the runner was not created.
    let took_slot = o.admission == Some(Admission::Start);
    let window = settings.cluster_unavailable_timeout;
    if conditions::since(&s.conditions, C::ClusterReachable, at.now) >= window {
        let message = format!(
            "cluster {cluster} stayed unavailable for more than {}s: {message}",
            window.as_secs()
        );
        finish(
            &mut s,
            Some(LoadTestReason::ClusterUnavailable),
            message,
            at,
        );
        return Decision::new(s, Next::Requeue(POLL)).releasing();
    }
    if old.phase.is_none() {
        s.phase = Some(LoadTestPhase::Pending);
    }
    s.message = Some(format!("waiting for cluster {cluster}: {message}"));
    let first_time =
        conditions::get(&old.conditions, C::ClusterReachable).is_none_or(|c| c.status != "False");
    let d = Decision::new(s, Next::Requeue(POLL))
        .with_event(first_time.then(|| Note::warning(R::ClusterUnavailable.as_str(), message)));
    if took_slot { d.releasing() } else { d }
}

/// A test without a runner: wait for a slot, or create the runner (or adopt the one a
/// previous run of the operator created).
fn start(
    o: &Observed,
    old: &LoadTestStatus,
    mut s: LoadTestStatus,
    cluster: &str,
    plan: &Plan,
    settings: &Settings,
    at: Stamp,
) -> Decision {
    let lt = o.test.as_ref();
    let (position, running) = match o.admission {
        Some(Admission::Start) => (0, 0),
        Some(Admission::Queued { position, running }) => (position, running),
        None => (1, 0),
    };
    if position > 0 {
        s.phase = Some(LoadTestPhase::Pending);
        let limit = slot_limit(settings, o.policy.as_ref().and_then(|p| p.as_ref().ok()));
        let message = queued_message(position, running, cluster, limit);
        at.set(
            &mut s.conditions,
            C::Queued,
            true,
            R::WaitingForSlot,
            message.clone(),
        );
        s.message = Some(message);
        return Decision::new(s, Next::Requeue(POLL));
    }
    let names = runner::names(lt);
    let rejected = |mut s: LoadTestStatus, message: String| {
        finish(&mut s, Some(LoadTestReason::RunnerRejected), message, at);
        Decision::new(s, Next::AwaitChange).releasing()
    };
    match (&o.runner, &o.failure) {
        (Runner::Unreadable(e), _) => {
            let message = format!("cannot read the runner in cluster {cluster}: {e}");
            unavailable(o, old, s, message, settings, at)
        }
        _ if o.runner_namespace == Some(RunnerNamespace::Foreign) => {
            let (label, value) = runner::OWNER_LABEL;
            let message = format!(
                "runner namespace {ns} exists in cluster {cluster} and was not created by the operator (it lacks the label {label}={value}); the operator never uses or relabels such a namespace: set spec.runnerNamespace to one the operator creates (the default is tart-loadtest), or delete namespace {ns} if it is unused",
                ns = names.namespace
            );
            finish(&mut s, Some(LoadTestReason::PolicyViolation), message, at);
            Decision::new(s, Next::AwaitChange).releasing()
        }
        (Runner::Found { job: Some(job), .. }, _) if !runner::belongs_to(job, lt) => rejected(
            s,
            format!(
                "a Job {}/{} exists in cluster {cluster} and belongs to another LoadTest: delete it, or create this test again under another name",
                names.namespace, names.job
            ),
        ),
        // Created before the operator restarted: adopt it.
        (Runner::Found { job: Some(_), .. }, _) => created(s, names, cluster, at),
        (_, Some(f)) if f.class == Class::Permanent => rejected(
            s,
            format!("cluster {cluster} refused the runner: {}", f.message),
        ),
        (_, Some(f)) => {
            let message = format!(
                "cannot create the runner in cluster {cluster}: {}",
                f.message
            );
            unavailable(o, old, s, message, settings, at)
        }
        _ => match &o.headers {
            Err(message) => {
                finish(
                    &mut s,
                    Some(LoadTestReason::HeaderSecretInvalid),
                    message.clone(),
                    at,
                );
                Decision::new(s, Next::AwaitChange).releasing()
            }
            Ok(headers) => {
                let timeout = plan::timeout_secs(&lt.spec, plan);
                let missing = o.runner_namespace == Some(RunnerNamespace::Missing);
                let mut objects = runner::objects(
                    lt,
                    plan,
                    &names,
                    &settings.images,
                    timeout,
                    missing,
                    headers,
                );
                if let Some(url) = &settings.prometheus_remote_write_url {
                    runner::write_to_prometheus(&mut objects.job, plan, lt, url);
                }
                created(s, names, cluster, at).with_effect(Effect::CreateRunner(Box::new(objects)))
            }
        },
    }
}

/// Where a queued test is in line, as its status says it. Far back in a long line it says
/// only "further back than position N" (N of 10, 20, 50, 100, 200, 500, ...), so its
/// status, each change a write, does not change every time a test ahead of it starts
/// (pure).
pub fn queued_message(position: usize, running: usize, cluster: &str, limit: usize) -> String {
    const EXACT: usize = 10;
    if position <= EXACT {
        return format!(
            "queued: {running} test(s) running on cluster {cluster} (at most {limit} at once); position {position} in line"
        );
    }
    let ahead = [1, 2, 5]
        .into_iter()
        .cycle()
        .scan(1, |scale, m| {
            let v = m * *scale;
            if m == 5 {
                *scale *= 10;
            }
            Some(v)
        })
        .skip_while(|v| *v < EXACT)
        .take_while(|v| *v < position)
        .last()
        .unwrap_or(EXACT);
    format!(
        "queued: cluster {cluster} runs at most {limit} test(s) at once; further back than position {ahead} in line"
    )
}

/// The runner exists (or is created by this decision's effect).
fn created(mut s: LoadTestStatus, names: RunnerNames, cluster: &str, at: Stamp) -> Decision {
    s.phase = Some(LoadTestPhase::Pending);
    let message = created_message(&names, cluster);
    s.runner = Some(RunnerRef {
        cluster: cluster.to_owned(),
        namespace: names.namespace,
        job: names.job,
    });
    if conditions::get(&s.conditions, C::Queued).is_some() {
        at.set(
            &mut s.conditions,
            C::Queued,
            false,
            R::Admitted,
            "a slot is free",
        );
    }
    at.set(
        &mut s.conditions,
        C::RunnerCreated,
        true,
        R::JobCreated,
        message.clone(),
    );
    at.set(
        &mut s.conditions,
        C::ClusterReachable,
        true,
        R::Reachable,
        "",
    );
    s.message = Some(message.clone());
    Decision::new(s, Next::Requeue(AFTER_CREATE))
        .with_event(Some(Note::normal(C::RunnerCreated.as_str(), message)))
}

/// What a test whose Job has no pod yet says, from its creation until the pod appears (the
/// look after the creation then finds nothing to write).
fn created_message(names: &RunnerNames, cluster: &str) -> String {
    format!(
        "Job {}/{} created in cluster {cluster}; waiting for its pod",
        names.namespace, names.job
    )
}

/// A test with a runner: follow it into status.
fn follow(
    o: &Observed,
    old: &LoadTestStatus,
    mut s: LoadTestStatus,
    cluster: &str,
    plan: &Plan,
    settings: &Settings,
    at: Stamp,
) -> Decision {
    let lt = o.test.as_ref();
    let (job, pods) = match &o.runner {
        Runner::Found { job, pods } => (job.as_deref(), pods.as_slice()),
        Runner::Unreadable(e) => {
            let message = format!("cannot read the runner in cluster {cluster}: {e}");
            return unavailable(o, old, s, message, settings, at);
        }
        Runner::NotRead => (None, &[][..]),
    };
    at.set(
        &mut s.conditions,
        C::ClusterReachable,
        true,
        R::Reachable,
        "",
    );
    let inputs = Inputs {
        job,
        pods,
        plan,
        timeout_secs: plan::timeout_secs(&lt.spec, plan),
        unschedulable_grace: settings.unschedulable_grace,
        pod_seen: matches!(
            old.phase,
            Some(LoadTestPhase::Starting | LoadTestPhase::Running)
        ) || old.started_at.is_some(),
        now: at.now,
    };
    let names = runner::names(lt);
    let observation = match plan {
        Plan::Http(http) if http.parallelism > 1 => {
            match parallel::observe(&inputs, o.starter.as_deref(), http.parallelism) {
                Parallel::Observed(observation) => observation,
                Parallel::Start(addresses) => {
                    return start_runners(o, s, names, &addresses, settings, at);
                }
            }
        }
        _ => runner_state::observe(&inputs),
    };
    match observation {
        Observation::Gone => {
            let message = format!(
                "the runner Job {}/{} was deleted before the test finished",
                names.namespace, names.job
            );
            finish(&mut s, Some(LoadTestReason::Cancelled), message, at);
            Decision::new(s, Next::Requeue(AFTER_FINISH)).releasing()
        }
        Observation::Waiting { phase, message } => {
            s.phase = Some(phase);
            s.message = Some(match (job, pods) {
                (Some(_), []) if phase == LoadTestPhase::Pending && !names.parallel => {
                    created_message(&names, cluster)
                }
                _ => message,
            });
            Decision::new(s, Next::Requeue(POLL))
        }
        Observation::Running {
            started_at,
            progress,
        } => {
            s.phase = Some(LoadTestPhase::Running);
            s.started_at = Some(Time(started_at));
            s.progress_percent = Some(progress);
            s.message = Some(format!("running on cluster {cluster}"));
            Decision::new(s, Next::Requeue(POLL))
        }
        Observation::Finished {
            phase,
            reason,
            message,
            results,
            started_at,
            finished_at,
            delete_runner,
        } => {
            // A simulated runner leaves no result: not a failure, but nothing measured.
            let (phase, reason, message) = match (&o.simulated_node, reason) {
                (Some(node), Some(LoadTestReason::NoResults)) => {
                    let message = format!(
                        "the runner ran on simulated node {node} in cluster {cluster} (kwok): simulated pods do no work, so nothing was measured (no latency, RPS or bogo-ops numbers, no threshold verdict)"
                    );
                    at.set(
                        &mut s.conditions,
                        C::Measured,
                        false,
                        R::RunnerSimulated,
                        message.clone(),
                    );
                    let why = LoadTestReason::RunnerSimulated;
                    (LoadTestPhase::Completed, Some(why), message)
                }
                _ => (phase, reason, message),
            };
            finish(&mut s, reason, message, at);
            s.phase = Some(phase);
            s.finished_at = Some(Time(finished_at));
            s.started_at = started_at.map(Time).or(s.started_at);
            s.results = results.map(|r| *r).or(s.results);
            if let Some(note) = merge_percentiles(s.results.as_mut(), &o.merged_percentiles) {
                s.message = s.message.map(|m| format!("{m}; {note}"));
            }
            if phase == LoadTestPhase::Succeeded {
                s.progress_percent = Some(100);
            }
            // A runner stuck before it ran is removed; if that fails the test is over
            // anyway (the next decision sees the failure and only writes status).
            let effect = if delete_runner && o.failure.is_none() {
                Effect::DeleteRunner(names)
            } else {
                Effect::None
            };
            // The slot stays taken until no runner pod runs any more.
            let stopped = !delete_runner && !runner_state::alive(job, pods);
            mark_stopped(&mut s, stopped, at);
            let d = Decision::new(s, Next::Requeue(AFTER_FINISH)).with_effect(effect);
            if stopped { d.releasing() } else { d }
        }
    }
}

/// A parallel test's percentiles from Prometheus's merged histograms replace the
/// per-runner ones (`percentiles: Merged`); without them the results stay per runner, and
/// the returned note says why (for the status message).
fn merge_percentiles(
    results: Option<&mut LoadTestResults>,
    merged: &Option<Result<RunPercentiles, String>>,
) -> Option<String> {
    let results = results.filter(|r| r.percentiles == Some(Percentiles::PerRunner))?;
    match merged.as_ref()? {
        Ok(m) if m.p95.is_some() => {
            let latency = results.latency_ms.get_or_insert_with(Default::default);
            (latency.med, latency.p90, latency.p95, latency.p99) = (m.med, m.p90, m.p95, m.p99);
            results.percentiles = Some(Percentiles::Merged);
            None
        }
        Ok(_) => {
            Some("percentiles per runner: Prometheus has no duration samples of the run".into())
        }
        Err(e) => Some(format!("percentiles per runner: {e}")),
    }
}

/// Every runner of a parallel test is ready and paused: the starter resumes them together.
fn start_runners(
    o: &Observed,
    mut s: LoadTestStatus,
    names: RunnerNames,
    addresses: &[String],
    settings: &Settings,
    at: Stamp,
) -> Decision {
    let lt = o.test.as_ref();
    let starter_name = parallel::starter_name(&names);
    match &o.failure {
        Some(f) if f.class == Class::Permanent => {
            let message = format!(
                "cluster {} refused the starter Job {}/{starter_name}: {}",
                lt.spec.cluster, names.namespace, f.message
            );
            finish(&mut s, Some(LoadTestReason::RunnerRejected), message, at);
            return Decision::new(s, Next::Requeue(AFTER_FINISH))
                .with_effect(Effect::DeleteRunner(names));
        }
        Some(f) => {
            s.phase = Some(LoadTestPhase::Starting);
            s.message = Some(format!(
                "cannot create the starter Job {}/{starter_name} yet: {}",
                names.namespace, f.message
            ));
            return Decision::new(s, Next::Requeue(POLL));
        }
        None => {}
    }
    let image = lt
        .spec
        .image
        .as_ref()
        .map_or_else(|| settings.images.k6.clone(), |i| i.0.clone());
    let starter = parallel::starter(lt, &names, &image, addresses);
    let message = format!(
        "all {} runners are ready and paused; starter Job {}/{starter_name} resumes them together",
        addresses.len(),
        names.namespace,
    );
    s.phase = Some(LoadTestPhase::Starting);
    s.message = Some(message.clone());
    Decision::new(s, Next::Requeue(AFTER_CREATE))
        .with_effect(Effect::CreateStarter(Box::new(starter)))
        .with_event(Some(Note::normal("RunnersStarting", message)))
}

/// Sets RunnerStopped after the test finished.
fn mark_stopped(s: &mut LoadTestStatus, stopped: bool, at: Stamp) {
    let (reason, message) = if stopped {
        (
            R::PodsStopped,
            "no runner pod runs; the slot on the cluster is free",
        )
    } else {
        (
            R::PodsRunning,
            "a runner pod still runs; it keeps its slot on the cluster until it stops",
        )
    };
    at.set(
        &mut s.conditions,
        C::RunnerStopped,
        stopped,
        reason,
        message,
    );
}

/// The status to write when the platform refused `wanted` for good (a value past the
/// schema's range, say): the test ends Failed with reason StatusRejected and the API server's
/// words, keeping only what was accepted before and the runner's place, so it frees its
/// slot once the runner has stopped instead of retrying the refused write forever (pure).
pub fn status_rejected(
    lt: &LoadTest,
    wanted: &LoadTestStatus,
    why: &str,
    now: Timestamp,
) -> Decision {
    let old = lt.status.clone().unwrap_or_default();
    let at = Stamp {
        generation: lt.metadata.generation,
        now,
    };
    let mut s = LoadTestStatus {
        test_type: old.test_type.or(wanted.test_type),
        started_at: old.started_at.clone(),
        runner: wanted.runner.clone().or(old.runner.clone()),
        conditions: old.conditions.clone(),
        observed_generation: lt.metadata.generation,
        ..LoadTestStatus::default()
    };
    let message = format!(
        "the API server refused this test's status: {why}; the runner's report stays in its pod's termination message while the runner exists"
    );
    finish(&mut s, Some(LoadTestReason::StatusRejected), message, at);
    // The next look finds out whether the runner has stopped, and frees the slot then.
    Decision::new(s, Next::Requeue(AFTER_FINISH))
}

/// A finished test: wait until its runner has stopped (it holds its slot until then), then
/// remove the runner once ttlSecondsAfterFinished has passed.
fn expire(o: &Observed, old: LoadTestStatus, at: Stamp) -> Decision {
    let lt = o.test.as_ref();
    if queue::holds_slot(lt) {
        return match &o.runner {
            Runner::Found { job, pods } if !runner_state::alive(job.as_deref(), pods) => {
                let mut s = old;
                mark_stopped(&mut s, true, at);
                Decision::new(s, Next::Requeue(AFTER_FINISH)).releasing()
            }
            // Nothing follows this runner any more: one not already on its way out (stuck
            // pending, or left running when its result could not be written) is removed.
            Runner::Found { pods, .. } => {
                let mut s = old;
                mark_stopped(&mut s, false, at);
                let leaving = !pods.is_empty()
                    && pods.iter().all(|p| p.metadata.deletion_timestamp.is_some());
                let effect = if leaving || o.failure.is_some() {
                    Effect::None
                } else {
                    Effect::DeleteRunner(runner::names(lt))
                };
                Decision::new(s, Next::Requeue(POLL)).with_effect(effect)
            }
            // The cluster cannot be read: the runner keeps its slot until it can.
            Runner::NotRead | Runner::Unreadable(_) => Decision::new(old, Next::Requeue(TTL_RETRY)),
        };
    }
    let Some(ttl) = lt.spec.ttl_seconds_after_finished else {
        return Decision::new(old, Next::AwaitChange);
    };
    if conditions::is_true(&old.conditions, C::RunnerDeleted) || old.runner.is_none() {
        return Decision::new(old, Next::AwaitChange);
    }
    let finished_at = old.finished_at.as_ref().map_or(at.now, |t| t.0);
    let age = Duration::try_from(at.now.duration_since(finished_at)).unwrap_or_default();
    let ttl = Duration::from_secs(ttl.into());
    if age < ttl {
        return Decision::new(old, Next::Requeue(ttl - age));
    }
    if o.cluster.is_none() || o.failure.is_some() {
        return Decision::new(old, Next::Requeue(TTL_RETRY));
    }
    let mut s = old;
    let message = format!(
        "runner removed from cluster {} after ttlSecondsAfterFinished={}s; the results stay here",
        lt.spec.cluster,
        ttl.as_secs()
    );
    at.set(
        &mut s.conditions,
        C::RunnerDeleted,
        true,
        R::TTLExpired,
        message.clone(),
    );
    Decision::new(s, Next::AwaitChange)
        .with_effect(Effect::DeleteRunner(runner::names(lt)))
        .with_event(Some(Note::normal(C::RunnerDeleted.as_str(), message)))
}

/// A test being deleted: remove its runner, or give up (with a Warning event) when its
/// cluster stays unusable past the cleanup timeout.
fn deleting(o: &Observed, old: LoadTestStatus, settings: &Settings, now: Timestamp) -> Decision {
    let lt: &LoadTest = o.test.as_ref();
    let names = runner::names(lt);
    let problem = match (o.cluster.as_deref(), &o.failure, &o.runner) {
        // The runner is still there: delete it, and keep the finalizer (and the slot) until
        // its Job is gone and no pod of it runs.
        (Some(_), None, Runner::Found { job, pods })
            if job.is_some() || runner_state::alive(None, pods) =>
        {
            let message = format!(
                "waiting for the runner Job {}/{} and its pods to go",
                names.namespace, names.job
            );
            return Decision::new(old, Next::Retry(message))
                .with_effect(Effect::DeleteRunner(names));
        }
        (Some(cluster), None, Runner::Unreadable(e)) => {
            format!("cannot read the runner in cluster {cluster}: {e}")
        }
        (Some(_), None, _) => {
            return Decision::new(old, Next::AwaitChange)
                .with_effect(Effect::DeleteRunner(names))
                .releasing();
        }
        (None, _, _) if old.runner.is_none() => {
            return Decision::new(old, Next::AwaitChange).releasing();
        }
        (Some(cluster), Some(f), _) => format!(
            "cannot delete Job {}/{} in cluster {cluster}: {}",
            names.namespace, names.job, f.message
        ),
        (None, _, _) => format!("cluster {} is not connected", lt.spec.cluster),
    };
    let deleting_for = lt
        .metadata
        .deletion_timestamp
        .as_ref()
        .and_then(|t| Duration::try_from(now.duration_since(t.0)).ok())
        .unwrap_or_default();
    if deleting_for >= settings.cleanup_timeout {
        let note = Note::warning(
            "CleanupAbandoned",
            format!(
                "{problem}; gave up after {}s: delete the runner by hand",
                deleting_for.as_secs()
            ),
        );
        Decision::new(old, Next::AwaitChange)
            .with_event(Some(note))
            .releasing()
    } else {
        Decision::new(old, Next::Retry(problem)).releasing()
    }
}

#[cfg(test)]
#[path = "decide_tests/mod.rs"]
mod tests;
