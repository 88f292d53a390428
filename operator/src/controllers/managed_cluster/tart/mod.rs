//! `provider: tart`: the cluster's VMs are created through the host agent's VM API, and it
//! is bootstrapped over SSH with kubeadm, registered with ArgoCD and watched until its addons
//! are Ready. [`decide`] is the pure part; [`observe`] and [`act`] its edges; [`step`] one
//! pass of the three.

pub mod act;
pub mod addons;
pub mod agent;
pub mod decide;
#[cfg(test)]
mod decide_tests;
pub mod names;
pub mod observe;

use std::time::Duration;

use crds::ManagedCluster;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action;

use self::act::{Tools, act};
use self::decide::{Step, decide, record};
use crate::conditions::Stamp;
use crate::context::Context;
use crate::controllers::conclude;
use crate::controllers::error::Error;

/// How soon a cluster in the middle of its bring-up is looked at again.
const SOON: Duration = Duration::from_secs(5);

/// One pass for a tart cluster: observe, decide, write the status, act; a failed step is
/// recorded on its condition and retried with backoff.
pub async fn step(mc: &ManagedCluster, ctx: &Context) -> Result<Action, Error> {
    let settings = &ctx.settings.tart;
    let names = names::names(mc, settings);
    let agent = agent::connect(&ctx.client, settings).await;
    let backend = agent.as_ref().map(|a| &a.client).map_err(Clone::clone);
    let platform = match &agent {
        Ok(a) => a.platform.as_ref().map_err(Clone::clone),
        Err((_, why)) => Err(format!("the host agent cannot be asked: {why}")),
    };
    // Deleting looks too: what runs is drained and reset before it goes.
    let observed = observe::observe(mc, ctx, settings, &names, backend.clone(), platform).await;
    let now = Timestamp::now();
    let decision = decide(mc, &observed, now);
    conclude(ctx, mc, &decision.status, None).await?;
    let target = ctx.clusters.get(&mc.name_any()).map(|c| c.client.clone());
    let tools = Tools {
        mc,
        client: &ctx.client,
        target: target.as_ref(),
        settings,
        names: &names,
        backend,
    };
    match act(&tools, &decision.step).await {
        Ok(()) => {
            if matches!(decision.step, Step::Teardown { .. }) {
                ctx.clusters.remove(&mc.name_any());
            }
            Ok(Action::requeue(if decision.soon {
                SOON
            } else {
                ctx.settings.cluster_recheck
            }))
        }
        Err(failure) => {
            tracing::warn!(cluster = %mc.name_any(), reason = %failure.reason, "step failed");
            let at = Stamp {
                generation: mc.metadata.generation,
                now,
            };
            let status = record(decision.status, &decision.step, &failure, at);
            conclude(ctx, mc, &status, None).await?;
            Err(Error::Retry(failure.message))
        }
    }
}
