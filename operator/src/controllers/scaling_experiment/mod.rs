//! The ScalingExperiment controller: samples the target HPAs for a baseline, runs the load
//! as a child LoadTest, keeps sampling through the cooldown and writes the KPIs.
//!
//! Each reconcile reads the world and takes the next step ([`phase::step`]): resolve the
//! targets to their HPAs, start the sampler ([`live`]), create the child LoadTest once the
//! baseline has enough samples, start the load clock when the child's runner runs, stop it
//! when the child finishes, complete after the cooldown. Status (KPIs from [`kpis`],
//! downsampled samples) is written on every phase change and at most every 10 s between.

pub mod kpis;
pub mod live;
pub mod phase;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crds::common::Time;
use crds::plan::{self, ExperimentPlan, TargetSelection};
use crds::scaling_experiment::{
    DeploymentResult, ExperimentPhase, ExperimentReason, MAX_STATUS_EVENTS, MAX_STATUS_SAMPLES,
    ScalingExperimentStatus,
};
use crds::{LoadTest, LoadTestSpec, ScalingExperiment};
use futures::StreamExt;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use self::kpis::{Target, Window};
use self::phase::{Child, Inputs, Step};
use crate::conditions;
use crate::context::Context;

/// The controller's name in metrics, events and logs.
pub const NAME: &str = "scalingexperiment";
/// How often status is written at most while the phase stays the same.
pub const STATUS_EVERY: Duration = Duration::from_secs(10);
/// How much longer than a target HPA's scale-down stabilization window the cooldown should
/// be for the scale-down to be seen.
pub const COOLDOWN_MARGIN_SECS: i64 = 30;
/// The scale-down stabilization window of an HPA without `behavior.scaleDown` (the
/// Kubernetes default of kube-controller-manager's
/// `--horizontal-pod-autoscaler-downscale-stabilization`).
pub const DEFAULT_SCALE_DOWN_WINDOW_SECS: i32 = 300;
/// The label on the child LoadTest naming its experiment.
pub const EXPERIMENT_LABEL: &str = "tartinfra.dev/scalingexperiment";

const POLL: Duration = Duration::from_secs(5);
const TARGETS_RESOLVED: &str = "TargetsResolved";
const COOLDOWN_SUFFICIENT: &str = "CooldownSufficient";
const CLUSTER_REACHABLE: &str = "ClusterReachable";
const COMPLETE: &str = "Complete";
const HPAS: &str = "horizontalpodautoscalers";

/// Why a reconcile failed (retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A platform API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

/// The targets of an experiment from the HPAs of its cluster (pure). Each listed deployment
/// is found through the HPA whose scaleTargetRef names it; with no list, every HPA of the
/// namespace that scales a Deployment is a target (at most 20, by name).
pub fn resolve(
    selection: &TargetSelection,
    hpas: &[Arc<HorizontalPodAutoscaler>],
    cluster: &str,
) -> Result<Vec<Target>, String> {
    let scaling = |ns: &str, deployment: Option<&str>| {
        let mut found: Vec<Target> = hpas
            .iter()
            .filter(|h| h.metadata.namespace.as_deref() == Some(ns))
            .filter_map(|h| {
                let r = &h.spec.as_ref()?.scale_target_ref;
                (r.kind == "Deployment" && deployment.is_none_or(|d| d == r.name)).then(|| Target {
                    namespace: ns.to_owned(),
                    deployment: r.name.clone(),
                    hpa: h.metadata.name.clone().unwrap_or_default(),
                })
            })
            .collect();
        found.sort_by(|a, b| (&a.deployment, &a.hpa).cmp(&(&b.deployment, &b.hpa)));
        found
    };
    match selection {
        TargetSelection::Listed(list) => {
            let mut targets = Vec::new();
            let mut missing = Vec::new();
            for t in list {
                match scaling(t.namespace.as_str(), Some(t.deployment.as_str()))
                    .into_iter()
                    .next()
                {
                    Some(found) => targets.push(found),
                    None => missing.push(format!("{}/{}", t.namespace, t.deployment)),
                }
            }
            if missing.is_empty() {
                Ok(targets)
            } else {
                Err(format!(
                    "no HPA scales Deployment {} in cluster {cluster}: create an HPA whose scaleTargetRef names it, or remove it from spec.targets",
                    missing.join(", ")
                ))
            }
        }
        TargetSelection::AllHpasIn(ns) => {
            let mut found = scaling(ns, None);
            found.dedup_by(|a, b| a.deployment == b.deployment);
            found.truncate(20);
            if found.is_empty() {
                Err(format!(
                    "namespace {ns} of cluster {cluster} has no HPA that scales a Deployment: create one, or set spec.targetNamespace or spec.targets"
                ))
            } else {
                Ok(found)
            }
        }
    }
}

/// The scale-down stabilization window of an HPA, in seconds.
pub fn scale_down_window(hpa: &HorizontalPodAutoscaler) -> i32 {
    hpa.spec
        .as_ref()
        .and_then(|s| s.behavior.as_ref())
        .and_then(|b| b.scale_down.as_ref())
        .and_then(|d| d.stabilization_window_seconds)
        .unwrap_or(DEFAULT_SCALE_DOWN_WINDOW_SECS)
}

/// Why the cooldown is too short to see the scale-down, if it is (pure).
pub fn cooldown_warning(cooldown_secs: u32, windows: &[(String, i32)]) -> Option<String> {
    let (hpa, window) = windows.iter().max_by_key(|(_, w)| *w)?;
    let needed = i64::from(*window) + COOLDOWN_MARGIN_SECS;
    (i64::from(cooldown_secs) < needed).then(|| {
        format!(
            "the cooldown of {cooldown_secs}s is shorter than HPA {hpa}'s scale-down stabilization window ({window}s) plus {COOLDOWN_MARGIN_SECS}s: the scale-down may not be seen; set spec.cooldownSeconds to at least {needed}"
        )
    })
}

/// The child LoadTest's name: `<experiment>-load`, cut to fit a resource name.
pub fn child_name(experiment: &str) -> String {
    let mut prefix: String = experiment.chars().take(253 - 5).collect();
    while prefix.ends_with(['-', '.']) {
        prefix.pop();
    }
    format!("{prefix}-load")
}

/// Fills the numbers of `s` (KPIs, deployments, events, samples) from the series `points`,
/// keeping at most `max_samples` samples and `max_events` events (pure). `rps` is the load's
/// requests per second when known; without it the stored avgRpsPerPod stays.
pub fn with_series(
    s: &mut ScalingExperimentStatus,
    points: &[kpis::Point],
    rps: Option<f64>,
    max_samples: usize,
    max_events: usize,
) {
    if points.is_empty() {
        return;
    }
    let targets = targets_of(&s.deployments);
    let window = window_of(s);
    let mut k = kpis::kpis(points, targets.len(), &window, rps);
    if k.avg_rps_per_pod.is_none() {
        k.avg_rps_per_pod = s.kpis.as_ref().and_then(|k| k.avg_rps_per_pod);
    }
    s.kpis = Some(k);
    s.deployments = kpis::deployments(points, &targets, &window);
    s.events = kpis::events(points, &targets, &window, max_events);
    s.samples = kpis::downsample(points, &window, max_samples);
}

/// When the load ran, from status.
pub fn window_of(s: &ScalingExperimentStatus) -> Window {
    Window {
        load_start: s.load_started_at.as_ref().map(|t| t.0),
        load_end: s.load_ended_at.as_ref().map(|t| t.0),
    }
}

/// The sampled targets recorded in status.deployments.
pub fn targets_of(deployments: &[DeploymentResult]) -> Vec<Target> {
    deployments
        .iter()
        .map(|d| Target {
            namespace: d.namespace.clone(),
            deployment: d.name.clone(),
            hpa: d.hpa.clone().unwrap_or_default(),
        })
        .collect()
}

fn child(se: &ScalingExperiment, plan: &ExperimentPlan) -> Option<LoadTest> {
    let name = child_name(&se.name_any());
    let mut lt = LoadTest::new(
        &name,
        LoadTestSpec {
            cluster: se.spec.cluster.clone(),
            preset: None,
            http: Some(plan.load.clone()),
            stress: None,
            runner_namespace: None,
            resources: None,
            image: None,
            timeout_seconds: None,
            ttl_seconds_after_finished: None,
        },
    );
    lt.metadata.namespace = se.namespace();
    lt.metadata.labels = Some([(EXPERIMENT_LABEL.to_owned(), se.name_any())].into());
    lt.metadata.owner_references = Some(vec![se.controller_owner_ref(&())?]);
    Some(lt)
}

fn key(se: &ScalingExperiment) -> String {
    format!("{}/{}", se.namespace().unwrap_or_default(), se.name_any())
}

fn finished(phase: Option<ExperimentPhase>) -> bool {
    matches!(
        phase,
        Some(ExperimentPhase::Completed | ExperimentPhase::Failed)
    )
}

/// The controller's state.
pub struct State {
    ctx: Arc<Context>,
    /// When each experiment's status was last written (by uid).
    written: Mutex<HashMap<String, Instant>>,
}

impl State {
    async fn publish(&self, se: &ScalingExperiment, type_: EventType, reason: &str, note: String) {
        let recorder = Recorder::new(self.ctx.client.clone(), self.ctx.reporter.clone());
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(conditions::truncate(note, 1000)),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        if let Err(e) = recorder.publish(&event, &se.object_ref(&())).await {
            tracing::warn!(experiment = %key(se), error = %e, "cannot publish event");
        }
    }

    /// How long until the experiment's status may be written again (zero: now).
    fn due_in(&self, uid: &str) -> Duration {
        self.written
            .lock()
            .ok()
            .and_then(|w| {
                w.get(uid)
                    .map(|at| STATUS_EVERY.saturating_sub(at.elapsed()))
            })
            .unwrap_or_default()
    }

    /// Writes `new` when it differs from `old`, with an event when the phase changes.
    async fn write(
        &self,
        se: &ScalingExperiment,
        old: &ScalingExperimentStatus,
        new: &ScalingExperimentStatus,
    ) -> Result<(), Error> {
        if old == new {
            return Ok(());
        }
        let uid = se.uid().unwrap_or_default();
        let api: Api<ScalingExperiment> =
            Api::namespaced(self.ctx.client.clone(), &se.namespace().unwrap_or_default());
        let patch = crate::status_patch::merge_patch(old, new).map_err(kube::Error::SerdeError)?;
        api.patch_status(
            &se.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
        if let Ok(mut w) = self.written.lock() {
            w.insert(uid, Instant::now());
        }
        if old.phase != new.phase {
            let (type_, reason) = match (new.phase, new.reason) {
                (Some(ExperimentPhase::Failed), Some(r)) => (EventType::Warning, format!("{r:?}")),
                (Some(p), _) => (EventType::Normal, format!("{p:?}")),
                (None, _) => (EventType::Normal, "Updated".to_owned()),
            };
            let note = new.message.clone().unwrap_or_default();
            tracing::info!(experiment = %key(se), phase = ?new.phase, reason = ?new.reason, "{note}");
            self.publish(se, type_, &reason, note).await;
        }
        Ok(())
    }

    /// Ends the experiment: final numbers, phase, Complete condition; sampling stops.
    fn finish(
        &self,
        se: &ScalingExperiment,
        s: &mut ScalingExperimentStatus,
        failure: Option<ExperimentReason>,
        message: String,
        now: Timestamp,
    ) {
        s.phase = Some(if failure.is_some() {
            ExperimentPhase::Failed
        } else {
            ExperimentPhase::Completed
        });
        s.reason = failure;
        conditions::set(
            &mut s.conditions,
            COMPLETE,
            true,
            failure
                .map_or("Completed".to_owned(), |r| format!("{r:?}"))
                .as_str(),
            message.clone(),
            se.metadata.generation,
            now,
        );
        s.message = Some(message);
        s.finished_at = Some(Time(now));
        let uid = se.uid().unwrap_or_default();
        self.ctx.samplers.stop(&uid);
        if let Ok(mut w) = self.written.lock() {
            w.remove(&uid);
        }
    }

    async fn apply(&self, se: Arc<ScalingExperiment>) -> Result<Action, Error> {
        let now = Timestamp::now();
        let old = se.status.clone().unwrap_or_default();
        let uid = se.uid().unwrap_or_default();
        if finished(old.phase) {
            self.ctx.samplers.stop(&uid);
            return Ok(Action::await_change());
        }
        let generation = se.metadata.generation;
        let cluster = se.spec.cluster.as_str();
        let mut s = old.clone();
        s.observed_generation = generation;
        if s.phase.is_none() {
            s.phase = Some(ExperimentPhase::Pending);
        }
        let plan = match plan::plan_experiment(&se.spec) {
            Ok(p) => p,
            Err(e) => {
                self.finish(
                    &se,
                    &mut s,
                    Some(ExperimentReason::InvalidSpec),
                    format!("invalid spec: {e}"),
                    now,
                );
                self.write(&se, &old, &s).await?;
                return Ok(Action::await_change());
            }
        };

        // The cluster: its HPA cache must be current, or the samples would be stale.
        let collector = match self.ctx.clusters.collector(cluster) {
            None => Err(format!(
                "ManagedCluster {cluster} is not connected; see `kubectl get managedcluster {cluster}`"
            )),
            Some(c) => c
                .source_ready(HPAS)
                .map(|()| c)
                .map_err(|e| format!("cannot watch the HPAs of cluster {cluster}: {e}")),
        };
        let collector = match collector {
            Ok(c) => {
                conditions::set(
                    &mut s.conditions,
                    CLUSTER_REACHABLE,
                    true,
                    "Reachable",
                    "",
                    generation,
                    now,
                );
                c
            }
            Err(message) => return self.unavailable(&se, &old, s, message, now).await,
        };
        if s.deployments.is_empty() {
            match resolve(&plan.targets, &collector.hpas.state(), cluster) {
                Ok(targets) => {
                    let hpas = collector.hpas.state();
                    let windows: Vec<(String, i32)> = targets
                        .iter()
                        .filter_map(|t| {
                            let h = hpas.iter().find(|h| {
                                h.metadata.namespace.as_deref() == Some(t.namespace.as_str())
                                    && h.metadata.name.as_deref() == Some(t.hpa.as_str())
                            })?;
                            Some((format!("{}/{}", t.namespace, t.hpa), scale_down_window(h)))
                        })
                        .collect();
                    let list: Vec<String> = targets
                        .iter()
                        .map(|t| format!("{}/{} (HPA {})", t.namespace, t.deployment, t.hpa))
                        .collect();
                    conditions::set(
                        &mut s.conditions,
                        TARGETS_RESOLVED,
                        true,
                        "Resolved",
                        list.join(", "),
                        generation,
                        now,
                    );
                    match cooldown_warning(plan.cooldown_secs, &windows) {
                        Some(warning) => {
                            conditions::set(
                                &mut s.conditions,
                                COOLDOWN_SUFFICIENT,
                                false,
                                "ShorterThanStabilizationWindow",
                                warning.clone(),
                                generation,
                                now,
                            );
                            self.publish(&se, EventType::Warning, "CooldownTooShort", warning)
                                .await;
                        }
                        None => conditions::set(
                            &mut s.conditions,
                            COOLDOWN_SUFFICIENT,
                            true,
                            "ExceedsStabilizationWindow",
                            format!(
                                "the cooldown of {}s exceeds every target HPA's scale-down stabilization window plus {COOLDOWN_MARGIN_SECS}s",
                                plan.cooldown_secs
                            ),
                            generation,
                            now,
                        ),
                    }
                    s.deployments = kpis::deployments(&[], &targets, &Window::default());
                }
                Err(message) => {
                    conditions::set(
                        &mut s.conditions,
                        TARGETS_RESOLVED,
                        false,
                        "NoHpa",
                        message.clone(),
                        generation,
                        now,
                    );
                    self.finish(&se, &mut s, Some(ExperimentReason::NoHpa), message, now);
                    self.write(&se, &old, &s).await?;
                    return Ok(Action::await_change());
                }
            }
        }
        let targets = targets_of(&s.deployments);
        let every = Duration::from_secs(plan.sample_interval_secs.into());
        let run = self.ctx.samplers.ensure(
            &uid,
            cluster,
            targets.clone(),
            every,
            self.ctx.clusters.clone(),
            kpis::from_samples(&old.samples),
        );

        // The child LoadTest, read fresh (not from a cache) so it is never created twice.
        let namespace = se.namespace().unwrap_or_default();
        let tests: Api<LoadTest> = Api::namespaced(self.ctx.client.clone(), &namespace);
        let name = child_name(&se.name_any());
        let existing = tests.get_opt(&name).await?;
        if let Some(lt) = &existing
            && !lt.owner_references().iter().any(|o| o.uid == uid)
        {
            let message = format!(
                "LoadTest {namespace}/{name} exists and does not belong to this experiment: delete it, or give the experiment another name"
            );
            self.finish(
                &se,
                &mut s,
                Some(ExperimentReason::LoadTestFailed),
                message,
                now,
            );
            self.write(&se, &old, &s).await?;
            return Ok(Action::await_change());
        }
        let points = run.points();
        let window = window_of(&s);
        let inputs = Inputs {
            phase: s.phase,
            child: Child::of(existing.as_ref(), s.load_test.is_some()),
            // Status times have whole seconds, so the runner's start can read up to a second
            // early: only samples from before the current second surely precede the load.
            samples: points
                .iter()
                .filter(|p| p.at.as_second() < now.as_second())
                .count(),
            load_ended: window.load_end,
            cooldown: Duration::from_secs(plan.cooldown_secs.into()),
            ends_at_baseline: se.spec.end_cooldown_when_baseline_restored,
            restored: se.spec.end_cooldown_when_baseline_restored
                && kpis::restored(&points, targets.len(), &window),
            now,
        };
        let mut next = STATUS_EVERY;
        match phase::step(&inputs, every, STATUS_EVERY) {
            Step::Baseline => {
                s.phase = Some(ExperimentPhase::Baseline);
                s.started_at = Some(Time(now));
                s.message = Some(format!(
                    "sampling {} target(s) every {}s for a baseline",
                    targets.len(),
                    plan.sample_interval_secs
                ));
            }
            Step::Stay(after) => next = after.min(STATUS_EVERY),
            Step::CreateLoad => {
                let Some(lt) = child(&se, &plan) else {
                    return Ok(Action::requeue(POLL));
                };
                match tests.create(&PostParams::default(), &lt).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 409 => {}
                    Err(kube::Error::Api(e)) if e.code == 422 || e.code == 400 => {
                        let message =
                            format!("cannot create LoadTest {namespace}/{name}: {}", e.message);
                        self.finish(
                            &se,
                            &mut s,
                            Some(ExperimentReason::LoadTestFailed),
                            message,
                            now,
                        );
                        self.write(&se, &old, &s).await?;
                        return Ok(Action::await_change());
                    }
                    Err(e) => return Err(e.into()),
                }
                s.load_test = Some(name.clone());
                s.message = Some(format!(
                    "baseline taken; LoadTest {name} created, waiting for its runner to run"
                ));
            }
            Step::Loading(started) => {
                s.phase = Some(ExperimentPhase::Loading);
                s.load_started_at = Some(Time(started));
                s.message = Some(format!("load running since {started} (LoadTest {name})"));
            }
            Step::CoolingDown(ended, failure) => {
                s.phase = Some(ExperimentPhase::CoolingDown);
                s.load_ended_at = Some(Time(ended));
                let how =
                    failure.map_or_else(String::new, |f| format!(" (the LoadTest failed: {f})"));
                s.message = Some(format!(
                    "load ended{how}; sampling for up to {}s of cooldown{}",
                    plan.cooldown_secs,
                    if se.spec.end_cooldown_when_baseline_restored {
                        ", or until every target is back at its baseline"
                    } else {
                        ""
                    }
                ));
            }
            Step::Completed(message) => self.finish(&se, &mut s, None, message, now),
            Step::Failed(reason, message) => self.finish(&se, &mut s, Some(reason), message, now),
        }

        // The numbers, from every sample so far (the phase change above moved the window),
        // written at once on a change of phase or condition, else at most every STATUS_EVERY.
        let urgent = s.phase != old.phase
            || s.conditions != old.conditions
            || s.load_test != old.load_test
            || s.message != old.message;
        let due_in = self.due_in(&uid);
        if urgent || due_in.is_zero() {
            let rps = existing
                .as_ref()
                .and_then(|lt| lt.status.as_ref()?.results.as_ref()?.rps);
            with_series(
                &mut s,
                &run.points(),
                rps,
                MAX_STATUS_SAMPLES,
                MAX_STATUS_EVENTS,
            );
            self.write(&se, &old, &s).await?;
        } else {
            next = next.min(due_in);
        }
        Ok(if finished(s.phase) {
            Action::await_change()
        } else {
            Action::requeue(next)
        })
    }

    /// The cluster cannot be read: wait, or fail once the unavailability window is over.
    async fn unavailable(
        &self,
        se: &ScalingExperiment,
        old: &ScalingExperimentStatus,
        mut s: ScalingExperimentStatus,
        message: String,
        now: Timestamp,
    ) -> Result<Action, Error> {
        conditions::set(
            &mut s.conditions,
            CLUSTER_REACHABLE,
            false,
            "ClusterUnavailable",
            message.clone(),
            se.metadata.generation,
            now,
        );
        let since = conditions::get(&s.conditions, CLUSTER_REACHABLE)
            .map(|c| now.duration_since(c.last_transition_time.0))
            .and_then(|d| Duration::try_from(d).ok())
            .unwrap_or_default();
        let window = self.ctx.settings.cluster_unavailable_timeout;
        if since >= window {
            let message = format!(
                "cluster {} stayed unavailable for more than {}s: {message}",
                se.spec.cluster,
                window.as_secs()
            );
            self.finish(
                se,
                &mut s,
                Some(ExperimentReason::ClusterUnavailable),
                message,
                now,
            );
            self.write(se, old, &s).await?;
            return Ok(Action::await_change());
        }
        s.message = Some(format!(
            "waiting for cluster {}: {message}",
            se.spec.cluster
        ));
        self.write(se, old, &s).await?;
        Ok(Action::requeue(POLL))
    }
}

/// Reconciles one ScalingExperiment.
pub async fn reconcile(se: Arc<ScalingExperiment>, state: Arc<State>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = state.apply(se).await;
    state.ctx.metrics.reconciled(NAME, started.elapsed());
    result
}

fn error_policy(se: Arc<ScalingExperiment>, error: &Error, state: Arc<State>) -> Action {
    tracing::warn!(experiment = %key(&se), %error, "reconcile failed; retrying");
    state.ctx.metrics.reconcile_failed(NAME, "kube");
    Action::requeue(POLL)
}

/// Stops the samplers of experiments that are gone or over (deleted experiments get no
/// reconcile, so this sweeps).
fn sweep(store: &Store<ScalingExperiment>, ctx: &Context) {
    let running: std::collections::HashSet<String> = store
        .state()
        .iter()
        .filter(|se| !finished(se.status.as_ref().and_then(|s| s.phase)))
        .filter_map(|se| se.uid())
        .collect();
    ctx.samplers.retain(|uid| running.contains(uid));
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<ScalingExperiment> = Api::all(ctx.client.clone());
    let controller = Controller::new(api, watcher::Config::default()).owns(
        Api::<LoadTest>::all(ctx.client.clone()),
        watcher::Config::default(),
    );
    let store = controller.store();
    let sweeper = tokio::spawn({
        let ctx = ctx.clone();
        async move {
            let mut tick = tokio::time::interval(STATUS_EVERY);
            loop {
                tick.tick().await;
                sweep(&store, &ctx);
            }
        }
    });
    let state = Arc::new(State {
        ctx,
        written: Mutex::new(HashMap::new()),
    });
    controller
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, state)
        .for_each(|_| async {})
        .await;
    sweeper.abort();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::scaling_experiment::ScalingTarget;

    fn hpa(
        ns: &str,
        name: &str,
        kind: &str,
        target: &str,
        window: Option<i32>,
    ) -> Arc<HorizontalPodAutoscaler> {
        let behavior =
            window.map(|w| serde_json::json!({ "scaleDown": { "stabilizationWindowSeconds": w } }));
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": { "name": name, "namespace": ns },
                "spec": {
                    "scaleTargetRef": { "apiVersion": "apps/v1", "kind": kind, "name": target },
                    "maxReplicas": 10,
                    "behavior": behavior,
                }
            }))
            .expect("hpa"),
        )
    }

    fn listed(targets: &[(&str, &str)]) -> TargetSelection {
        TargetSelection::Listed(
            targets
                .iter()
                .map(|(ns, d)| ScalingTarget {
                    namespace: (*ns).into(),
                    deployment: (*d).into(),
                })
                .collect(),
        )
    }

    #[test]
    fn listed_deployments_resolve_through_their_hpas_scale_target_ref() {
        let hpas = [
            hpa("demo", "web-hpa", "Deployment", "nginx-web", None),
            hpa("demo", "bin", "Deployment", "httpbin", None),
        ];
        let t = resolve(&listed(&[("demo", "nginx-web")]), &hpas, "dev").expect("resolved");
        assert_eq!(
            t,
            vec![Target {
                namespace: "demo".into(),
                deployment: "nginx-web".into(),
                hpa: "web-hpa".into()
            }]
        );
    }

    #[test]
    fn a_deployment_without_hpa_is_named_with_the_fix() {
        let hpas = [
            hpa("demo", "web", "Deployment", "nginx-web", None),
            hpa("demo", "db", "StatefulSet", "postgres", None),
        ];
        let e = resolve(
            &listed(&[
                ("demo", "nginx-web"),
                ("demo", "postgres"),
                ("other", "nginx-web"),
            ]),
            &hpas,
            "dev",
        )
        .expect_err("missing");
        assert!(
            e.contains("demo/postgres, other/nginx-web")
                && e.contains("cluster dev")
                && e.contains("spec.targets"),
            "{e}"
        );
    }

    #[test]
    fn an_empty_list_takes_every_deployment_hpa_of_the_namespace() {
        let hpas = [
            hpa("demo", "b", "Deployment", "zeta", None),
            hpa("demo", "a", "Deployment", "alpha", None),
            hpa("demo", "s", "StatefulSet", "db", None),
            hpa("other", "c", "Deployment", "x", None),
        ];
        let t =
            resolve(&TargetSelection::AllHpasIn("demo".into()), &hpas, "dev").expect("resolved");
        let names: Vec<&str> = t.iter().map(|t| t.deployment.as_str()).collect();
        assert_eq!(names, ["alpha", "zeta"]);
        let e =
            resolve(&TargetSelection::AllHpasIn("empty".into()), &hpas, "dev").expect_err("none");
        assert!(
            e.contains("namespace empty") && e.contains("spec.targetNamespace"),
            "{e}"
        );
    }

    #[test]
    fn the_cooldown_must_exceed_the_longest_scale_down_window_plus_a_margin() {
        assert_eq!(
            scale_down_window(&hpa("d", "a", "Deployment", "x", None)),
            300
        );
        assert_eq!(
            scale_down_window(&hpa("d", "a", "Deployment", "x", Some(120))),
            120
        );
        let windows = [("demo/web".to_owned(), 120), ("demo/bin".to_owned(), 300)];
        let w = cooldown_warning(180, &windows).expect("too short");
        assert!(
            w.contains("demo/bin") && w.contains("300s") && w.contains("at least 330"),
            "{w}"
        );
        assert_eq!(cooldown_warning(330, &windows), None);
        assert_eq!(
            cooldown_warning(10, &[]),
            None,
            "no HPA, nothing to warn about"
        );
    }

    #[test]
    fn child_names_fit_and_stay_valid() {
        assert_eq!(child_name("web"), "web-load");
        let long = child_name(&format!("{}.-x", "a".repeat(247)));
        assert!(long.len() <= 253 && long.ends_with("a-load"), "{long}");
    }

    #[test]
    fn the_series_fills_the_numbers_and_keeps_a_known_rps_figure() {
        let t = |s: i64| Timestamp::from_second(1_800_000_000 + s).expect("time");
        let mut s = ScalingExperimentStatus {
            deployments: vec![DeploymentResult {
                namespace: "demo".into(),
                name: "web".into(),
                hpa: Some("web".into()),
                ..DeploymentResult::default()
            }],
            load_started_at: Some(Time(t(10))),
            load_ended_at: Some(Time(t(20))),
            kpis: Some(crds::scaling_experiment::Kpis {
                avg_rps_per_pod: Some(12.5),
                ..Default::default()
            }),
            ..ScalingExperimentStatus::default()
        };
        let points: Vec<kpis::Point> = [(0, 3), (10, 3), (15, 5), (25, 3)]
            .iter()
            .map(|(at, r)| kpis::Point {
                at: t(*at),
                readings: vec![kpis::Reading {
                    replicas: Some(*r),
                    cpu: Some(40),
                }],
            })
            .collect();
        with_series(&mut s, &points, None, 240, 200);
        let k = s.kpis.clone().expect("kpis");
        assert_eq!(
            (
                k.scale_up_latency_seconds,
                k.peak_replicas,
                k.avg_rps_per_pod
            ),
            (Some(5.0), Some(5), Some(12.5))
        );
        assert_eq!(s.samples.len(), 4);
        assert_eq!(s.events.len(), 2);
        assert_eq!(s.deployments[0].peak_replicas, Some(5));
        assert_eq!(
            kpis::from_samples(&s.samples),
            points,
            "status samples resume the series after a restart"
        );
    }
}
