//! Carries out a schedule's decision: delete the runs past the history limits (and those
//! Replace replaces), create the due run (AlreadyExists is success: the name is the due
//! time's), then write the status and event. No decisions here.

use crds::test_schedule::RunKind;
use crds::{LoadTest, ScalingExperiment, TestSchedule};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::Action;

use super::decide::{Decision, Effect};
use super::run::NewRun;
use crate::context::Context;
use crate::controllers::conclude;
use crate::controllers::error::{Error, Failure};

/// Carries out `effect` in `ts`'s namespace.
pub async fn effect(effect: &Effect, ts: &TestSchedule, ctx: &Context) -> Result<(), Failure> {
    let ns = ts.namespace().unwrap_or_default();
    for name in &effect.delete {
        let deleted = match effect.kind {
            Some(RunKind::LoadTest) => delete::<LoadTest>(ctx, &ns, name).await,
            Some(RunKind::ScalingExperiment) => delete::<ScalingExperiment>(ctx, &ns, name).await,
            None => Ok(()),
        };
        deleted.map_err(|e| Failure::of(&e))?;
    }
    let created = match &effect.create {
        None => return Ok(()),
        Some(NewRun::LoadTest(lt)) => Api::<LoadTest>::namespaced(ctx.client.clone(), &ns)
            .create(&PostParams::default(), lt)
            .await
            .map(drop),
        Some(NewRun::ScalingExperiment(se)) => {
            Api::<ScalingExperiment>::namespaced(ctx.client.clone(), &ns)
                .create(&PostParams::default(), se)
                .await
                .map(drop)
        }
    };
    match created {
        Ok(()) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(Failure::of(&e)),
    }
}

/// Deletes a run; one already gone is fine.
async fn delete<K>(ctx: &Context, ns: &str, name: &str) -> Result<(), kube::Error>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    match Api::<K>::namespaced(ctx.client.clone(), ns)
        .delete(name, &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes the decided status and event and says when to look again.
pub async fn conclude_decision(
    decision: Decision,
    ts: &TestSchedule,
    ctx: &Context,
) -> Result<Action, Error> {
    conclude(ctx, ts, &decision.status, decision.event.as_ref()).await?;
    decision.next.into_action()
}
