//! What an experiment's reconcile reads, and all of its IO on the way in: whether its
//! cluster's HPA cache is current, the HPAs (while targets are unresolved), its sampler's
//! series, its child LoadTest (read fresh, not from a cache, so it is never created twice)
//! and when its status was last written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crds::{LoadTest, ScalingExperiment};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::Store;

use super::child::child_name;
use super::kpis::Point;
use crate::context::Context;
use crate::controllers::comparison;
use crate::controllers::error::{Error, Failure};

const HPAS: &str = "horizontalpodautoscalers";

/// Everything a decision about an experiment is based on.
#[derive(Clone, Debug)]
pub struct Observed {
    /// The experiment.
    pub experiment: Arc<ScalingExperiment>,
    /// Why the cluster's HPAs cannot be read, when they cannot.
    pub unusable: Option<String>,
    /// The cluster's HPAs, read while the targets are unresolved.
    pub hpas: Vec<Arc<HorizontalPodAutoscaler>>,
    /// The sampler's series; None when no sampler runs.
    pub series: Option<Vec<Point>>,
    /// How many experiments are sampling now (each keeps its series in memory).
    pub sampling: usize,
    /// The child LoadTest, if it exists.
    pub child: Option<LoadTest>,
    /// How long ago this operator last wrote the experiment's status (None: not since it
    /// started).
    pub since_written: Option<Duration>,
    /// The other experiments of its namespace (from the controller's cache), read while it
    /// has a spec.baseline and no comparison yet: the candidate baselines.
    pub baselines: Vec<Arc<ScalingExperiment>>,
    /// The effect of this reconcile's first decision failed.
    pub failure: Option<Failure>,
}

impl Observed {
    /// The same observation after the decided effect failed.
    pub fn failed(mut self, failure: Failure) -> Self {
        self.failure = Some(failure);
        self
    }
}

/// When each experiment's status was last written, by uid.
#[derive(Debug, Default)]
pub struct Written(Mutex<HashMap<String, Instant>>);

impl Written {
    /// Time since the last write of `uid`.
    pub fn since(&self, uid: &str) -> Option<Duration> {
        self.0.lock().ok()?.get(uid).map(Instant::elapsed)
    }

    /// Records a write of `uid` now.
    pub fn record(&self, uid: &str) {
        if let Ok(mut w) = self.0.lock() {
            w.insert(uid.to_owned(), Instant::now());
        }
    }

    /// Forgets every experiment but those `keep` names.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        if let Ok(mut w) = self.0.lock() {
            w.retain(|uid, _| keep(uid));
        }
    }
}

/// Reads what the decision needs; a finished experiment needs nothing but its sampler.
pub async fn observe(
    se: Arc<ScalingExperiment>,
    ctx: &Context,
    written: &Written,
    experiments: &Store<ScalingExperiment>,
) -> Result<Observed, Error> {
    let uid = se.uid().unwrap_or_default();
    let mut o = Observed {
        unusable: None,
        hpas: Vec::new(),
        series: ctx.samplers.get(&uid).map(|run| run.points()),
        sampling: ctx.samplers.len(),
        child: None,
        since_written: written.since(&uid),
        failure: None,
        baselines: comparison::candidates(
            se.as_ref(),
            se.spec.baseline.is_some(),
            se.status.as_ref().map_or(&[][..], |s| &s.conditions),
            experiments,
        ),
        experiment: se.clone(),
    };
    let status = se.status.as_ref();
    if status
        .and_then(|s| s.phase)
        .is_some_and(|p| p.is_finished())
    {
        return Ok(o);
    }
    let cluster = se.spec.cluster.as_str();
    let collector = match ctx.clusters.collector(cluster) {
        None => Err(format!(
            "ManagedCluster {cluster} is not connected; see `kubectl get managedcluster {cluster}`"
        )),
        // The HPA cache must be current, or the samples would be stale.
        Some(c) => c
            .source_ready(HPAS)
            .map(|()| c)
            .map_err(|e| format!("cannot watch the HPAs of cluster {cluster}: {e}")),
    };
    let collector = match collector {
        Ok(c) => c,
        Err(message) => {
            o.unusable = Some(message);
            return Ok(o);
        }
    };
    if status.is_none_or(|s| s.deployments.is_empty()) {
        o.hpas = collector.hpas.state();
    }
    let tests: Api<LoadTest> =
        Api::namespaced(ctx.client.clone(), &se.namespace().unwrap_or_default());
    o.child = tests.get_opt(&child_name(&se.name_any())).await?;
    Ok(o)
}
