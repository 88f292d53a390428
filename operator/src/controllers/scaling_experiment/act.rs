//! Carries out an experiment's decision: the effect (create the child LoadTest), then the
//! status and event, then the sampler. No decisions here: what a failed effect means is
//! decided again.

use crds::{LoadTest, ScalingExperiment};
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kube::runtime::controller::Action;

use super::decide::{Decision, Effect, Sampler};
use super::observe::Written;
use crate::context::Context;
use crate::controllers::conclude;
use crate::controllers::error::{Error, Failure};

/// Carries out `effect`; creating a child that already exists is fine (idempotent create).
pub async fn effect(effect: &Effect, ctx: &Context) -> Result<(), Failure> {
    match effect {
        Effect::None => Ok(()),
        Effect::CreateChild(lt) => {
            let tests: Api<LoadTest> =
                Api::namespaced(ctx.client.clone(), &lt.namespace().unwrap_or_default());
            match tests.create(&PostParams::default(), lt).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
                Err(e) => Err(Failure::of(&e)),
            }
        }
    }
}

/// Writes the decided status and event, records the write, and starts or stops the
/// sampler.
pub async fn conclude_decision(
    decision: Decision,
    se: &ScalingExperiment,
    ctx: &Context,
    written: &Written,
) -> Result<Action, Error> {
    let uid = se.uid().unwrap_or_default();
    if conclude(ctx, se, &decision.status, decision.event.as_ref()).await? {
        written.record(&uid);
    }
    match decision.sampler {
        Sampler::Keep => {}
        Sampler::Start {
            targets,
            every,
            seed,
        } => {
            ctx.samplers.ensure(
                &uid,
                se.spec.cluster.as_str(),
                targets,
                every,
                ctx.clusters.clone(),
                seed,
            );
        }
        Sampler::Stop => ctx.samplers.stop(&uid),
    }
    decision.next.into_action()
}
