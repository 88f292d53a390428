//! Carries out a LoadTest decision: the effect in the target cluster, then the status, the
//! event and the slot. No decisions here: what a failed effect means is decided again.

use crds::LoadTest;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::decide::{self, Decision, Effect};
use super::parallel;
use super::queue::Slots;
use super::runner::{self, RunnerNames, RunnerObjects};
use crate::clusters::ClusterClient;
use crate::context::Context;
use crate::controllers::conclude;
use crate::controllers::error::{Class, Error, Failure, classify};

/// The field manager of everything the controller applies in target clusters.
const FIELD_MANAGER: &str = "tart-operator";

/// Carries out `effect` for `lt`.
pub async fn effect(effect: &Effect, lt: &LoadTest, ctx: &Context) -> Result<(), Failure> {
    let cluster = || {
        ctx.clusters
            .get(lt.spec.cluster.as_str())
            .ok_or_else(|| Failure {
                class: Class::Transient,
                message: format!("cluster {} is not connected", lt.spec.cluster),
            })
    };
    let result = match effect {
        Effect::None => return Ok(()),
        Effect::CreateRunner(objects) => {
            let cluster = cluster()?;
            let created = create_runner(&cluster, objects).await;
            // A namespace that takes a runner is the operator's; after a failure it is read
            // again (someone may have deleted or relabelled it).
            let namespace = objects.job.namespace().unwrap_or_default();
            cluster
                .runners
                .set_namespace_owned(&namespace, created.is_ok());
            created
        }
        Effect::DeleteRunner(names) => delete_runner(&cluster()?, names).await,
        Effect::CreateStarter(job) => create_starter(&cluster()?, job).await,
    };
    result.map_err(|e| Failure::of(&e))
}

/// Writes the decided status, publishes the decided event and gives back the slot. A
/// status the platform refuses for good is replaced by the minimal failed one of
/// [`decide::status_rejected`].
pub async fn conclude_decision(
    decision: Decision,
    lt: &LoadTest,
    ctx: &Context,
    slots: &Slots,
) -> Result<Action, Error> {
    let mut decision = decision;
    let mut written = conclude(ctx, lt, &decision.status, decision.event.as_ref()).await;
    if let Err(Error::Kube(e)) = &written
        && classify(e) == Class::Permanent
    {
        let why = Failure::of(e).message;
        tracing::warn!(error = %why, "status refused; ending the test with a minimal status");
        decision = decide::status_rejected(lt, &decision.status, &why, Timestamp::now());
        written = conclude(ctx, lt, &decision.status, decision.event.as_ref()).await;
    }
    if decision.release_slot {
        slots.release(lt);
    }
    written?;
    decision.next.into_action()
}

/// Creates the runner. A namespace is created, never applied: one that exists is not
/// patched (an AlreadyExists from a race is retried, and the next observation sees who owns
/// it). The pod is checked against the namespace's admission (quota, LimitRange, Pod
/// Security) by a dry run first, because a Job whose pods are refused never fails by itself.
/// The ConfigMap, Secret, NetworkPolicy and the dry run do not depend on each other and go
/// together; the Job only after all of them (a runner's k6 API is never open).
async fn create_runner(cluster: &ClusterClient, o: &RunnerObjects) -> Result<(), kube::Error> {
    if let Some(ns) = &o.namespace {
        Api::<Namespace>::all(cluster.client.clone())
            .create(&PostParams::default(), ns)
            .await?;
    }
    let namespace = o.job.namespace().unwrap_or_default();
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let admission = async {
        Api::<Pod>::namespaced(cluster.client.clone(), &namespace)
            .create(&dry_run, &runner::admission_probe(&o.job))
            .await
            .map(drop)
    };
    let client = &cluster.client;
    futures::try_join!(
        create_or_apply(client, &namespace, o.config_map.as_ref()),
        create_or_apply(client, &namespace, o.secret.as_ref()),
        create_or_apply(client, &namespace, o.network_policy.as_ref()),
        admission
    )?;
    Api::<Job>::namespaced(cluster.client.clone(), &namespace)
        .create(&PostParams::default(), &o.job)
        .await?;
    Ok(())
}

/// Creates `obj` (when the runner has one) in `namespace`; one that exists (left by an earlier
/// try for the same test: the names are the test's own) is applied over, so it holds what this
/// try decided. A create costs the API server about half of a server-side apply
/// (`bench/loadtest-fanout.sh`'s cost table).
async fn create_or_apply<K>(
    client: &kube::Client,
    namespace: &str,
    obj: Option<&K>,
) -> Result<(), kube::Error>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let Some(obj) = obj else {
        return Ok(());
    };
    let api = Api::<K>::namespaced(client.clone(), namespace);
    let create = PostParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PostParams::default()
    };
    match api.create(&create, obj).await {
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let apply = PatchParams::apply(FIELD_MANAGER).force();
            api.patch(&obj.name_any(), &apply, &Patch::Apply(obj))
                .await
                .map(drop)
        }
        other => other.map(drop),
    }
}

/// Creates the starter Job of a parallel test; one created by an earlier pass is fine.
async fn create_starter(cluster: &ClusterClient, job: &Job) -> Result<(), kube::Error> {
    let namespace = job.namespace().unwrap_or_default();
    match Api::<Job>::namespaced(cluster.client.clone(), &namespace)
        .create(&PostParams::default(), job)
        .await
    {
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        other => other.map(|_| ()),
    }
}

async fn delete_runner(cluster: &ClusterClient, names: &RunnerNames) -> Result<(), kube::Error> {
    let ok_if_gone = |r: Result<(), kube::Error>| match r {
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        other => other,
    };
    if names.parallel {
        ok_if_gone(
            Api::<Job>::namespaced(cluster.client.clone(), &names.namespace)
                .delete(&parallel::starter_name(names), &DeleteParams::background())
                .await
                .map(|_| ()),
        )?;
    }
    ok_if_gone(
        Api::<Job>::namespaced(cluster.client.clone(), &names.namespace)
            .delete(&names.job, &DeleteParams::background())
            .await
            .map(|_| ()),
    )?;
    if names.parallel {
        ok_if_gone(
            Api::<NetworkPolicy>::namespaced(cluster.client.clone(), &names.namespace)
                .delete(&names.job, &DeleteParams::default())
                .await
                .map(|_| ()),
        )?;
    }
    ok_if_gone(
        Api::<ConfigMap>::namespaced(cluster.client.clone(), &names.namespace)
            .delete(&names.job, &DeleteParams::default())
            .await
            .map(|_| ()),
    )?;
    // Tests without valueFrom headers have no Secret: 404.
    ok_if_gone(
        Api::<Secret>::namespaced(cluster.client.clone(), &names.namespace)
            .delete(&names.job, &DeleteParams::default())
            .await
            .map(|_| ()),
    )
}
