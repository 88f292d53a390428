//! The LoadTest controller: runs each test once as a Job in its target cluster and follows
//! the runner pod into status.
//!
//! Each reconcile reads the world and takes the next step: wait in the queue, create the
//! runner (namespace, ConfigMap, Job with a deterministic name, so a restarted operator
//! adopts what it created), observe the Job and pod, write status, and later remove the
//! runner (TTL, or deletion through the finalizer). Runner changes in the target cluster
//! wake the test through the registry's watchers; a timed requeue refreshes progress.

pub mod observe;
pub mod queue;
pub mod runner;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crds::LoadTest;
use crds::common::Time;
use crds::load_test::{LoadTestPhase, LoadTestReason, LoadTestStatus, RunnerRef};
use crds::plan::{self, Plan};
use futures::StreamExt;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use self::observe::{Inputs, Observation};
use self::queue::Admission;
use self::runner::RunnerNames;
use crate::clusters::ClusterClient;
use crate::conditions;
use crate::context::Context;

/// The controller's name in metrics, events and logs.
pub const NAME: &str = "loadtest";
/// Removes the runner from the target cluster before the LoadTest goes.
pub const FINALIZER: &str = "tartinfra.dev/loadtest-runner";
const FIELD_MANAGER: &str = "tart-operator";
const POLL: Duration = Duration::from_secs(5);

const QUEUED: &str = "Queued";
const RUNNER_CREATED: &str = "RunnerCreated";
const CLUSTER_REACHABLE: &str = "ClusterReachable";
const COMPLETE: &str = "Complete";
const RUNNER_DELETED: &str = "RunnerDeleted";
const RUNNER_SIMULATED: &str = "RunnerSimulated";

/// Why a reconcile failed (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A platform API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The runner could not be removed yet.
    #[error("{0}")]
    Cleanup(String),
    /// The finalizer helper failed.
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
}

impl Error {
    fn label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::Cleanup(_) => "cleanup",
            Self::Finalizer(_) => "finalizer",
        }
    }
}

/// The controller's state.
pub struct State {
    ctx: Arc<Context>,
    store: Store<LoadTest>,
    /// Tests admitted whose runner may not show in the store yet.
    reserved: Mutex<HashSet<String>>,
    triggers: UnboundedSender<ObjectRef<LoadTest>>,
}

fn key(lt: &LoadTest) -> String {
    format!("{}/{}", lt.namespace().unwrap_or_default(), lt.name_any())
}

fn finished(phase: Option<LoadTestPhase>) -> bool {
    matches!(
        phase,
        Some(LoadTestPhase::Succeeded | LoadTestPhase::Failed)
    )
}

fn active(lt: &LoadTest) -> bool {
    let s = lt.status.as_ref();
    !finished(s.and_then(|s| s.phase)) && lt.metadata.deletion_timestamp.is_none()
}

impl State {
    fn admit(&self, lt: &LoadTest) -> Admission {
        let me = key(lt);
        let Ok(mut reserved) = self.reserved.lock() else {
            return Admission::Queued {
                position: 1,
                running: 0,
            };
        };
        let state = self.store.state();
        reserved.retain(|k| {
            state.iter().any(|o| {
                key(o) == *k && active(o) && o.status.as_ref().is_none_or(|s| s.runner.is_none())
            })
        });
        let mut entries: Vec<queue::Entry> = state
            .iter()
            .filter(|o| o.spec.cluster == lt.spec.cluster && active(o))
            .map(|o| {
                let k = key(o);
                queue::Entry {
                    created: o.metadata.creation_timestamp.as_ref().map(|t| t.0),
                    active: o.status.as_ref().is_some_and(|s| s.runner.is_some())
                        || reserved.contains(&k),
                    key: k,
                }
            })
            .collect();
        if !entries.iter().any(|e| e.key == me) {
            entries.push(queue::Entry {
                key: me.clone(),
                created: lt.metadata.creation_timestamp.as_ref().map(|t| t.0),
                active: false,
            });
        }
        let decision = queue::admit(&entries, &me, self.ctx.settings.max_tests_per_cluster);
        if decision == Admission::Start {
            reserved.insert(me);
        }
        decision
    }

    fn release(&self, lt: &LoadTest) {
        if let Ok(mut r) = self.reserved.lock() {
            r.remove(&key(lt));
        }
    }

    /// Wakes the tests waiting for a slot on `cluster`.
    fn wake_queue(&self, cluster: &str) {
        for o in self.store.state() {
            if o.spec.cluster.as_str() == cluster
                && active(&o)
                && o.status.as_ref().is_none_or(|s| s.runner.is_none())
            {
                let _ = self
                    .triggers
                    .unbounded_send(ObjectRef::from_obj(o.as_ref()));
            }
        }
    }

    async fn publish(&self, lt: &LoadTest, type_: EventType, reason: &str, note: String) {
        let recorder = Recorder::new(self.ctx.client.clone(), self.ctx.reporter.clone());
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(conditions::truncate(note, 1000)),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        if let Err(e) = recorder.publish(&event, &lt.object_ref(&())).await {
            tracing::warn!(loadtest = %key(lt), error = %e, "cannot publish event");
        }
    }

    /// Writes `new` when it differs from `old`, with an event when the phase changes.
    async fn write(
        &self,
        lt: &LoadTest,
        old: &LoadTestStatus,
        new: &LoadTestStatus,
    ) -> Result<(), Error> {
        if old == new {
            return Ok(());
        }
        let api: Api<LoadTest> =
            Api::namespaced(self.ctx.client.clone(), &lt.namespace().unwrap_or_default());
        let patch = crate::status_patch::merge_patch(old, new).map_err(kube::Error::SerdeError)?;
        api.patch_status(
            &lt.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
        if old.phase != new.phase {
            let (type_, reason) = match (new.phase, new.reason) {
                (Some(LoadTestPhase::Failed), Some(r)) => (EventType::Warning, format!("{r:?}")),
                (Some(p), _) => (EventType::Normal, format!("{p:?}")),
                (None, _) => (EventType::Normal, "Updated".to_owned()),
            };
            let note = new.message.clone().unwrap_or_default();
            tracing::info!(loadtest = %key(lt), phase = ?new.phase, reason = ?new.reason, "{note}");
            self.publish(lt, type_, &reason, note).await;
        }
        Ok(())
    }
}

fn finish(
    s: &mut LoadTestStatus,
    reason: Option<LoadTestReason>,
    message: String,
    now: Timestamp,
    generation: Option<i64>,
) {
    s.phase = Some(if reason.is_some() {
        LoadTestPhase::Failed
    } else {
        LoadTestPhase::Succeeded
    });
    s.reason = reason;
    conditions::set(
        &mut s.conditions,
        COMPLETE,
        true,
        if reason.is_some() {
            "Failed"
        } else {
            "Succeeded"
        },
        message.clone(),
        generation,
        now,
    );
    s.message = Some(message);
    s.finished_at = Some(Time(now));
}

async fn fetch(
    cluster: &ClusterClient,
    names: &RunnerNames,
) -> Result<(Option<Job>, Vec<Pod>), kube::Error> {
    let job = Api::<Job>::namespaced(cluster.client.clone(), &names.namespace)
        .get_opt(&names.job)
        .await?;
    let pods = Api::<Pod>::namespaced(cluster.client.clone(), &names.namespace)
        .list(&ListParams::default().labels(&format!("job-name={}", names.job)))
        .await?
        .items;
    Ok((job, pods))
}

async fn create_runner(
    cluster: &ClusterClient,
    lt: &LoadTest,
    plan: &Plan,
    names: &RunnerNames,
    timeout: u64,
    ctx: &Context,
) -> Result<(), kube::Error> {
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    Api::<Namespace>::all(cluster.client.clone())
        .patch(
            &names.namespace,
            &apply,
            &Patch::Apply(runner::namespace(names)),
        )
        .await?;
    if let Plan::Http(http) = plan {
        Api::<ConfigMap>::namespaced(cluster.client.clone(), &names.namespace)
            .patch(
                &names.job,
                &apply,
                &Patch::Apply(runner::config_map(lt, http, names)),
            )
            .await?;
    }
    let jobs = Api::<Job>::namespaced(cluster.client.clone(), &names.namespace);
    match jobs
        .create(
            &PostParams::default(),
            &runner::job(lt, plan, names, &ctx.settings.images, timeout),
        )
        .await
    {
        Ok(_) => Ok(()),
        // Created before a restart: adopt it if it is ours.
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let existing = jobs.get(&names.job).await?;
            let uid = existing.labels().get("tartinfra.dev/loadtest-uid").cloned();
            if uid == lt.uid() {
                Ok(())
            } else {
                Err(kube::Error::Api(Box::new(kube::core::Status {
                    code: 409,
                    message: format!(
                        "a Job {}/{} exists and belongs to another LoadTest",
                        names.namespace, names.job
                    ),
                    ..kube::core::Status::default()
                })))
            }
        }
        Err(e) => Err(e),
    }
}

async fn delete_runner(cluster: &ClusterClient, names: &RunnerNames) -> Result<(), kube::Error> {
    let ok_if_gone = |r: Result<(), kube::Error>| match r {
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        other => other,
    };
    let background = DeleteParams::background();
    ok_if_gone(
        Api::<Job>::namespaced(cluster.client.clone(), &names.namespace)
            .delete(&names.job, &background)
            .await
            .map(|_| ()),
    )?;
    ok_if_gone(
        Api::<ConfigMap>::namespaced(cluster.client.clone(), &names.namespace)
            .delete(&names.job, &DeleteParams::default())
            .await
            .map(|_| ()),
    )
}

fn since(conditions: &[crds::common::Condition], type_: &str, now: Timestamp) -> Duration {
    conditions::get(conditions, type_)
        .map(|c| now.duration_since(c.last_transition_time.0))
        .and_then(|d| Duration::try_from(d).ok())
        .unwrap_or_default()
}

impl State {
    /// The target cluster cannot be used right now: wait, or fail once the window is over.
    async fn unavailable(
        &self,
        lt: &LoadTest,
        old: &LoadTestStatus,
        mut s: LoadTestStatus,
        message: String,
        now: Timestamp,
    ) -> Result<Action, Error> {
        let generation = lt.metadata.generation;
        conditions::set(
            &mut s.conditions,
            CLUSTER_REACHABLE,
            false,
            "ClusterUnavailable",
            message.clone(),
            generation,
            now,
        );
        let window = self.ctx.settings.cluster_unavailable_timeout;
        if since(&s.conditions, CLUSTER_REACHABLE, now) >= window {
            self.release(lt);
            finish(
                &mut s,
                Some(LoadTestReason::ClusterUnavailable),
                format!(
                    "cluster {} stayed unavailable for more than {}s: {message}",
                    lt.spec.cluster,
                    window.as_secs()
                ),
                now,
                generation,
            );
            self.write(lt, old, &s).await?;
            self.wake_queue(lt.spec.cluster.as_str());
            return Ok(Action::requeue(POLL));
        }
        if old.phase.is_none() {
            s.phase = Some(LoadTestPhase::Pending);
        }
        s.message = Some(format!(
            "waiting for cluster {}: {message}",
            lt.spec.cluster
        ));
        let first_time =
            conditions::get(&old.conditions, CLUSTER_REACHABLE).is_none_or(|c| c.status != "False");
        self.write(lt, old, &s).await?;
        if first_time {
            self.publish(lt, EventType::Warning, "ClusterUnavailable", message)
                .await;
        }
        Ok(Action::requeue(POLL))
    }

    /// A finished test: remove the runner once ttlSecondsAfterFinished has passed.
    async fn expire(
        &self,
        lt: &LoadTest,
        old: &LoadTestStatus,
        now: Timestamp,
    ) -> Result<Action, Error> {
        let Some(ttl) = lt.spec.ttl_seconds_after_finished else {
            return Ok(Action::await_change());
        };
        if conditions::is_true(&old.conditions, RUNNER_DELETED) || old.runner.is_none() {
            return Ok(Action::await_change());
        }
        let finished_at = old.finished_at.as_ref().map_or(now, |t| t.0);
        let age = Duration::try_from(now.duration_since(finished_at)).unwrap_or_default();
        let ttl = Duration::from_secs(ttl.into());
        if age < ttl {
            return Ok(Action::requeue(ttl - age));
        }
        let Some(cluster) = self.ctx.clusters.get(lt.spec.cluster.as_str()) else {
            return Ok(Action::requeue(Duration::from_secs(30)));
        };
        if let Err(e) = delete_runner(&cluster, &runner::names(lt)).await {
            tracing::warn!(loadtest = %key(lt), error = %e, "cannot remove the runner after its TTL; retrying");
            return Ok(Action::requeue(Duration::from_secs(30)));
        }
        let mut s = old.clone();
        let message = format!(
            "runner removed from cluster {} after ttlSecondsAfterFinished={}s; the results stay here",
            lt.spec.cluster,
            ttl.as_secs()
        );
        conditions::set(
            &mut s.conditions,
            RUNNER_DELETED,
            true,
            "TTLExpired",
            message.clone(),
            lt.metadata.generation,
            now,
        );
        self.write(lt, old, &s).await?;
        self.publish(lt, EventType::Normal, "RunnerDeleted", message)
            .await;
        Ok(Action::await_change())
    }

    async fn apply(&self, lt: Arc<LoadTest>) -> Result<Action, Error> {
        let now = Timestamp::now();
        let generation = lt.metadata.generation;
        let old = lt.status.clone().unwrap_or_default();
        if finished(old.phase) {
            return self.expire(&lt, &old, now).await;
        }
        let mut s = old.clone();
        s.observed_generation = generation;
        let plan = match plan::plan_load_test(&lt.spec) {
            Ok(p) => p,
            Err(e) => {
                finish(
                    &mut s,
                    Some(LoadTestReason::PodFailed),
                    format!("invalid spec: {e}"),
                    now,
                    generation,
                );
                self.write(&lt, &old, &s).await?;
                return Ok(Action::await_change());
            }
        };
        s.test_type = Some(plan.test_type());
        let timeout = plan::timeout_secs(&lt.spec, &plan);
        let names = runner::names(&lt);
        let Some(cluster) = self.ctx.clusters.get(lt.spec.cluster.as_str()) else {
            let message = format!(
                "ManagedCluster {} is not connected; see `kubectl get managedcluster {}`",
                lt.spec.cluster, lt.spec.cluster
            );
            return self.unavailable(&lt, &old, s, message, now).await;
        };

        if s.runner.is_none() {
            if let Admission::Queued { position, running } = self.admit(&lt) {
                s.phase = Some(LoadTestPhase::Pending);
                let message = format!(
                    "queued: {running} test(s) running on cluster {} (at most {} at once); position {position} in line",
                    lt.spec.cluster, self.ctx.settings.max_tests_per_cluster
                );
                conditions::set(
                    &mut s.conditions,
                    QUEUED,
                    true,
                    "WaitingForSlot",
                    message.clone(),
                    generation,
                    now,
                );
                s.message = Some(message);
                self.write(&lt, &old, &s).await?;
                return Ok(Action::requeue(POLL));
            }
            if let Err(e) = create_runner(&cluster, &lt, &plan, &names, timeout, &self.ctx).await {
                self.release(&lt);
                let message = format!("cannot create the runner in cluster {}: {e}", cluster.name);
                return self.unavailable(&lt, &old, s, message, now).await;
            }
            s.phase = Some(LoadTestPhase::Pending);
            s.runner = Some(RunnerRef {
                cluster: cluster.name.clone(),
                namespace: names.namespace.clone(),
                job: names.job.clone(),
            });
            let message = format!(
                "Job {}/{} created in cluster {}",
                names.namespace, names.job, cluster.name
            );
            if conditions::get(&s.conditions, QUEUED).is_some() {
                conditions::set(
                    &mut s.conditions,
                    QUEUED,
                    false,
                    "Admitted",
                    "a slot is free",
                    generation,
                    now,
                );
            }
            conditions::set(
                &mut s.conditions,
                RUNNER_CREATED,
                true,
                "JobCreated",
                message.clone(),
                generation,
                now,
            );
            conditions::set(
                &mut s.conditions,
                CLUSTER_REACHABLE,
                true,
                "Reachable",
                "",
                generation,
                now,
            );
            s.message = Some(message.clone());
            self.write(&lt, &old, &s).await?;
            self.publish(&lt, EventType::Normal, "RunnerCreated", message)
                .await;
            return Ok(Action::requeue(Duration::from_secs(2)));
        }

        let (job, pods) = match fetch(&cluster, &names).await {
            Ok(x) => x,
            Err(e) => {
                let message = format!("cannot read the runner in cluster {}: {e}", cluster.name);
                return self.unavailable(&lt, &old, s, message, now).await;
            }
        };
        conditions::set(
            &mut s.conditions,
            CLUSTER_REACHABLE,
            true,
            "Reachable",
            "",
            generation,
            now,
        );
        let observation = observe::observe(&Inputs {
            job: job.as_ref(),
            pods: &pods,
            plan: &plan,
            timeout_secs: timeout,
            unschedulable_grace: self.ctx.settings.unschedulable_grace,
            now,
        });
        let requeue = match observation {
            Observation::Gone => {
                finish(
                    &mut s,
                    Some(LoadTestReason::Cancelled),
                    format!(
                        "the runner Job {}/{} was deleted before the test finished",
                        names.namespace, names.job
                    ),
                    now,
                    generation,
                );
                None
            }
            Observation::Waiting { phase, message } => {
                s.phase = Some(phase);
                s.message = Some(message);
                Some(POLL)
            }
            Observation::Running {
                started_at,
                progress,
            } => {
                s.phase = Some(LoadTestPhase::Running);
                s.started_at = Some(Time(started_at));
                s.progress_percent = Some(progress);
                s.message = Some(format!("running on cluster {}", cluster.name));
                Some(POLL)
            }
            Observation::Finished {
                phase,
                reason,
                message,
                results,
                started_at,
                finished_at,
                delete_runner: stuck,
            } => {
                if stuck && let Err(e) = delete_runner(&cluster, &names).await {
                    tracing::warn!(loadtest = %key(&lt), error = %e, "cannot delete a stuck runner");
                }
                let simulated_on = (reason == Some(LoadTestReason::NoResults))
                    .then(|| self.simulated_node(&cluster.name, &pods))
                    .flatten();
                let message = match &simulated_on {
                    Some(node) => {
                        let message = format!(
                            "the runner ran on simulated node {node} in cluster {} (kwok): simulated pods do no work, so there are no latency, RPS or bogo-ops numbers",
                            cluster.name
                        );
                        conditions::set(
                            &mut s.conditions,
                            RUNNER_SIMULATED,
                            true,
                            "SimulatedNode",
                            message.clone(),
                            generation,
                            now,
                        );
                        message
                    }
                    None => message,
                };
                finish(&mut s, reason, message, now, generation);
                s.phase = Some(phase);
                s.finished_at = Some(Time(finished_at));
                s.started_at = started_at.map(Time).or(s.started_at);
                s.results = results.map(|r| *r).or(s.results);
                if phase == LoadTestPhase::Succeeded {
                    s.progress_percent = Some(100);
                }
                None
            }
        };
        self.write(&lt, &old, &s).await?;
        match requeue {
            Some(after) => Ok(Action::requeue(after)),
            None => {
                self.release(&lt);
                self.wake_queue(lt.spec.cluster.as_str());
                // Schedules the TTL, if any.
                Ok(Action::requeue(Duration::from_secs(1)))
            }
        }
    }

    /// The simulated (kwok) node one of the runner's pods ran on, if any.
    fn simulated_node(&self, cluster: &str, pods: &[Pod]) -> Option<String> {
        let collector = self.ctx.clusters.collector(cluster)?;
        pods.iter()
            .filter_map(|p| p.spec.as_ref()?.node_name.clone())
            .find(|node| collector.simulated_node(node))
    }

    /// Removes the runner before the LoadTest goes; gives up (with a Warning event) when
    /// the cluster stays unreachable past the cleanup timeout.
    async fn cleanup(&self, lt: Arc<LoadTest>) -> Result<Action, Error> {
        self.release(&lt);
        self.wake_queue(lt.spec.cluster.as_str());
        let names = runner::names(&lt);
        let had_runner = lt.status.as_ref().is_some_and(|s| s.runner.is_some());
        let result = match self.ctx.clusters.get(lt.spec.cluster.as_str()) {
            Some(cluster) => delete_runner(&cluster, &names).await.map_err(|e| {
                format!(
                    "cannot delete Job {}/{} in cluster {}: {e}",
                    names.namespace, names.job, cluster.name
                )
            }),
            None if !had_runner => Ok(()),
            None => Err(format!("cluster {} is not connected", lt.spec.cluster)),
        };
        match result {
            Ok(()) => Ok(Action::await_change()),
            Err(message) => {
                let deleting_for = lt
                    .metadata
                    .deletion_timestamp
                    .as_ref()
                    .and_then(|t| Duration::try_from(Timestamp::now().duration_since(t.0)).ok())
                    .unwrap_or_default();
                if deleting_for >= self.ctx.settings.cleanup_timeout {
                    self.publish(
                        &lt,
                        EventType::Warning,
                        "CleanupAbandoned",
                        format!(
                            "{message}; gave up after {}s: delete the runner by hand",
                            deleting_for.as_secs()
                        ),
                    )
                    .await;
                    Ok(Action::await_change())
                } else {
                    Err(Error::Cleanup(message))
                }
            }
        }
    }
}

/// Reconciles one LoadTest.
pub async fn reconcile(lt: Arc<LoadTest>, state: Arc<State>) -> Result<Action, Error> {
    let started = Instant::now();
    let api: Api<LoadTest> = Api::namespaced(
        state.ctx.client.clone(),
        &lt.namespace().unwrap_or_default(),
    );
    let result = finalizer(&api, FINALIZER, lt, |event| async {
        match event {
            Finalizer::Apply(lt) => state.apply(lt).await,
            Finalizer::Cleanup(lt) => state.cleanup(lt).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    state.ctx.metrics.reconciled(NAME, started.elapsed());
    result
}

fn error_policy(lt: Arc<LoadTest>, error: &Error, state: Arc<State>) -> Action {
    tracing::warn!(loadtest = %key(&lt), %error, "reconcile failed; retrying");
    state.ctx.metrics.reconcile_failed(NAME, error.label());
    Action::requeue(POLL)
}

/// Runs the controller until `shutdown` resolves. `triggers` carries LoadTests whose runner
/// changed in a target cluster (and queued tests to wake); `wake` sends into it.
pub async fn run(
    ctx: Arc<Context>,
    triggers: UnboundedReceiver<ObjectRef<LoadTest>>,
    wake: UnboundedSender<ObjectRef<LoadTest>>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<LoadTest> = Api::all(ctx.client.clone());
    let controller = Controller::new(api, watcher::Config::default());
    let state = Arc::new(State {
        store: controller.store(),
        ctx,
        reserved: Mutex::new(HashSet::new()),
        triggers: wake,
    });
    controller
        .reconcile_on(triggers)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, state)
        .for_each(|_| async {})
        .await;
}
