//! The ManagedCluster controller. For `provider: external` it [`observe`]s the cluster (loads
//! the kubeconfig Secret, connects, reads the server version and nodes), [`decide`]s its
//! status (pure: phase Ready or Degraded and a `Reachable` condition with a reason) and
//! whether its cached client stays, then writes. It rechecks periodically and whenever a
//! Secret in the kubeconfig namespace changes. `provider: tart` clusters are built by
//! [`tart`]: VMs through the host agent, kubeadm over SSH, then the addons.
//!
//! With leader election, every replica runs this controller: the API of each reads the
//! cluster clients and collectors it keeps. A follower only [`follow`]s (connects, probes,
//! drops unusable clients) and writes nothing; becoming the leader reconciles every
//! ManagedCluster at once.

pub mod decide;
pub mod observe;
pub mod tart;

use std::sync::Arc;

use crds::ManagedCluster;
use crds::managed_cluster::{ClusterPhase, ManagedClusterStatus, Provider};
use futures::{FutureExt as _, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, PartialObjectMeta};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use self::decide::Effect;
use crate::context::Context;
use crate::controllers::error::{Backoff, Error};
use crate::controllers::status::{Note, Reported, key};
use crate::controllers::{conclude, retry_after_error, with_finalizer};

/// The controller's name in metrics and logs.
pub const NAME: &str = "managedcluster";
/// Removes the cluster's cached client when the ManagedCluster is deleted.
pub const FINALIZER: &str = "tartinfra.dev/managedcluster";

/// The controller's state.
pub struct State {
    ctx: Arc<Context>,
    backoff: Backoff,
}

impl Reported for ManagedCluster {
    type Status = ManagedClusterStatus;

    fn api(&self, client: kube::Client) -> Api<Self> {
        Api::all(client)
    }

    fn current(&self) -> ManagedClusterStatus {
        self.status.clone().unwrap_or_default()
    }

    fn transition(old: &ManagedClusterStatus, new: &ManagedClusterStatus) -> Option<Note> {
        if old.phase == new.phase {
            return None;
        }
        let phase = new.phase?;
        // The first condition that is not True says why; a Ready cluster says how many nodes.
        let message = new
            .conditions
            .iter()
            .find(|c| c.status != "True")
            .map(|c| c.message.clone())
            .unwrap_or_else(|| {
                format!("{} nodes Ready", new.ready_nodes.as_deref().unwrap_or("no"))
            });
        Some(match phase {
            ClusterPhase::Degraded | ClusterPhase::Failed => {
                Note::warning(format!("{phase:?}"), message)
            }
            _ => Note::normal(format!("{phase:?}"), message),
        })
    }
}

/// One pass: observe, decide, act. A tart cluster has its own pass, also when paused if it
/// is being deleted (its VMs must go).
async fn step(mc: Arc<ManagedCluster>, ctx: &Context) -> Result<Action, Error> {
    let deleting = mc.metadata.deletion_timestamp.is_some();
    if mc.spec.provider == Provider::Tart && (deleting || !mc.spec.paused) {
        return tart::step(&mc, ctx).await;
    }
    // A cluster being deleted is not probed: its client goes whatever the probe says.
    let probe = match mc.metadata.deletion_timestamp {
        Some(_) => None,
        None => Some(observe::probe(&mc, ctx).await),
    };
    let decision = decide::decide(
        &mc,
        probe.as_ref(),
        ctx.settings.cluster_recheck,
        Timestamp::now(),
    );
    if decision.effect == Effect::Disconnect {
        ctx.clusters.remove(&mc.name_any());
    }
    conclude(ctx, mc.as_ref(), &decision.status, None).await?;
    decision.next.into_action()
}

/// A follower's pass: keeps this replica's client (and so its collectors) of the cluster
/// current for the API, as the leader's pass would, and writes nothing.
pub async fn follow(mc: &ManagedCluster, ctx: &Context) -> Action {
    let recheck = ctx.settings.cluster_recheck;
    let probe = match (&mc.metadata.deletion_timestamp, mc.spec.provider) {
        (Some(_), _) => None,
        (None, Provider::Tart) if mc.spec.paused => Some(observe::Probe::Paused),
        (None, Provider::Tart) => {
            let names = tart::names::names(mc, &ctx.settings.tart);
            let name = mc.name_any();
            Some(
                observe::probe_kubeconfig(&name, &names.kubeconfig, &mc.spec.connection, ctx).await,
            )
        }
        (None, _) => Some(observe::probe(mc, ctx).await),
    };
    let decision = decide::decide(mc, probe.as_ref(), recheck, Timestamp::now());
    if decision.effect == Effect::Disconnect {
        ctx.clusters.remove(&mc.name_any());
    }
    Action::requeue(recheck)
}

/// Reconciles one ManagedCluster (follows it on a replica that does not lead).
#[tracing::instrument(skip_all, fields(cluster = %key(mc.as_ref())))]
pub async fn reconcile(mc: Arc<ManagedCluster>, state: Arc<State>) -> Result<Action, Error> {
    if !state.ctx.leads() {
        return Ok(follow(&mc, &state.ctx).await);
    }
    let _timer = state.ctx.metrics.reconcile_timer(NAME);
    let api: Api<ManagedCluster> = Api::all(state.ctx.client.clone());
    let object = key(mc.as_ref());
    let mc = with_finalizer(&api, FINALIZER, mc).await?;
    let result = finalizer(&api, FINALIZER, mc, |event| async {
        match event {
            Finalizer::Apply(mc) | Finalizer::Cleanup(mc) => step(mc, &state.ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    if result.is_ok() {
        state.backoff.reset(&object);
    }
    result
}

fn error_policy(mc: Arc<ManagedCluster>, error: &Error, state: Arc<State>) -> Action {
    retry_after_error(NAME, mc.as_ref(), error, &state.ctx, &state.backoff)
}

/// Runs the controller until `shutdown` resolves. Secrets in `secrets_namespace` are
/// watched (their metadata only: the probe reads the one Secret it needs), so a changed
/// kubeconfig is picked up at once.
pub async fn run(
    ctx: Arc<Context>,
    secrets_namespace: &str,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let clusters: Api<ManagedCluster> = Api::all(ctx.client.clone());
    let secrets: Api<PartialObjectMeta<Secret>> =
        Api::namespaced(ctx.client.clone(), secrets_namespace);
    let controller = Controller::new(clusters, watcher::Config::default());
    let store = controller.store();
    let ready = store.clone();
    // Becoming the leader reconciles every ManagedCluster at once.
    let elected = tokio_stream::wrappers::WatchStream::from_changes(ctx.leading.clone())
        .filter(|leads| std::future::ready(*leads))
        .map(|_| ());
    let state = Arc::new(State {
        ctx,
        backoff: Backoff::default(),
    });
    let shutdown = shutdown.shared();
    let run = controller
        .watches(
            secrets,
            watcher::Config::default(),
            move |secret: PartialObjectMeta<Secret>| {
                let (ns, name) = (secret.namespace().unwrap_or_default(), secret.name_any());
                store
                    .state()
                    .into_iter()
                    .filter(|mc| {
                        mc.spec
                            .kubeconfig_secret_ref
                            .as_ref()
                            .is_some_and(|r| r.namespace.as_str() == ns && r.name.as_str() == name)
                    })
                    .map(|mc| ObjectRef::from_obj(mc.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .reconcile_all_on(elected)
        .graceful_shutdown_on(shutdown.clone())
        .run(reconcile, error_policy, state)
        .for_each(|_| async {});
    super::run_to_end(run, ready, shutdown).await;
}
