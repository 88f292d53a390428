//! What a LoadTest's reconcile reads, and all of its IO on the way in: the test, whether its
//! cluster is connected, the cluster's loadTestPolicy, its slot in the cluster's queue, and
//! the runner namespace, Job and pods in the target cluster.

use std::sync::Arc;

use futures::FutureExt as _;

use crds::common::{HEADER_SECRET_LABEL, HeaderSecretKeyRef};
use crds::conditions::LoadTestCondition;
use crds::managed_cluster::LoadTestPolicy;
use crds::plan;
use crds::{LoadTest, ManagedCluster};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};
use kube::runtime::reflector::{ObjectRef, Store};

use super::queue::{Admission, Slots, active, holds_slot, slot_limit};
use super::runner::{self, HeaderValues, RunnerNames};
use super::{parallel, policy};
use crate::clusters::ClusterClient;
use crate::collectors::ClusterCollector;
use crate::collectors::views::node_view;
use crate::conditions;
use crate::context::Context;
use crate::controllers::error::Failure;
use crate::controllers::{comparison, node_usage};
use crate::prometheus::{Prometheus, RunPercentiles};

/// What the runner's cluster holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Runner {
    /// Not asked: nothing to read at this step.
    #[default]
    NotRead,
    /// The runner Job (if it exists) and its pods.
    Found {
        /// The Job.
        job: Option<Box<Job>>,
        /// Its pods.
        pods: Vec<Pod>,
    },
    /// The cluster did not answer; why.
    Unreadable(String),
}

/// The runner namespace in the target cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunnerNamespace {
    /// It does not exist: the operator creates it.
    Missing,
    /// It exists and carries the operator's ownership label.
    Owned,
    /// It exists and the operator did not create it: never used, never relabelled.
    Foreign,
}

/// Everything a decision about a LoadTest is based on.
#[derive(Clone, Debug)]
pub struct Observed {
    /// The test.
    pub test: Arc<LoadTest>,
    /// The target cluster's name when the operator has a client for it.
    pub cluster: Option<String>,
    /// The cluster's loadTestPolicy (or why it could not be read); read only while the
    /// test has no runner.
    pub policy: Option<Result<LoadTestPolicy, String>>,
    /// The test's turn on its cluster; asked only while it has no runner.
    pub admission: Option<Admission>,
    /// The runner namespace, read with the runner before it is created.
    pub runner_namespace: Option<RunnerNamespace>,
    /// The runner, read while the test has one or is about to create one.
    pub runner: Runner,
    /// The whole run's percentiles from Prometheus's merged histograms, read once the
    /// runner Job of a parallel test has ended (or why they could not be read).
    pub merged_percentiles: Option<Result<RunPercentiles, String>>,
    /// A simulated (kwok) node one of the runner's pods ran on.
    pub simulated_node: Option<String>,
    /// The starter Job of a parallel test, read with its runner.
    pub starter: Option<Box<Job>>,
    /// The values of the test's `valueFrom` headers, read from the platform just before
    /// its runner is created (empty otherwise), or why they cannot be used.
    pub headers: Result<HeaderValues, String>,
    /// The other LoadTests of the test's namespace (from the controller's cache), read
    /// while it has a spec.baseline and no comparison yet: the candidate baselines.
    pub baselines: Vec<Arc<LoadTest>>,
    /// The target cluster's recent node usage readings, from its collector, while the test
    /// has started and its status.nodeUsage is not final (no API call).
    pub node_usage: Option<node_usage::Readings>,
    /// The effect of this reconcile's first decision failed (see `reconcile`).
    pub failure: Option<Failure>,
}

impl Observed {
    /// The same observation after the decided effect failed.
    pub fn failed(mut self, failure: Failure) -> Self {
        self.failure = Some(failure);
        self
    }
}

/// Reads what the decision needs: the queue only for a test without a runner (taking its
/// slot when admitted), the runner only for a test that has one or may create one.
pub async fn observe(
    lt: Arc<LoadTest>,
    ctx: &Context,
    slots: &Slots,
    tests: &Store<LoadTest>,
) -> Observed {
    let cluster = ctx.clusters.get(lt.spec.cluster.as_str());
    let has_runner = lt.status.as_ref().is_some_and(|s| s.runner.is_some());
    let policy = if active(&lt) && !has_runner {
        Some(read_policy(ctx, &lt).await)
    } else {
        None
    };
    let admission = match &policy {
        Some(Ok(p)) if cluster.is_some() => {
            Some(slots.admit(&lt, slot_limit(&ctx.settings, Some(p))))
        }
        _ => None,
    };
    let mut runner = Runner::NotRead;
    let mut runner_namespace = None;
    let mut simulated_node = None;
    let mut starter = None;
    // Unfinished tests with a runner (or about to create one), and any test whose runner
    // may still hold its slot or must be removed before the test goes.
    let deleting = lt.metadata.deletion_timestamp.is_some();
    let read = (active(&lt) && (has_runner || admission == Some(Admission::Start)))
        || holds_slot(&lt)
        || (has_runner && deleting);
    if let Some(cluster) = &cluster
        && read
    {
        let names = runner::names(&lt);
        if !has_runner {
            match read_namespace(cluster, &names.namespace).await {
                Ok(ns) => runner_namespace = Some(ns),
                Err(e) => runner = Runner::Unreadable(Failure::of(&e).message),
            }
        }
        // Before its runner is created a test needs no pods: there are none without a Job.
        let creating = !(has_runner || deleting || holds_slot(&lt));
        // An earlier try failed (a Job of that name may exist that the watch does not show).
        let confirm = lt.status.as_ref().is_some_and(|s| {
            conditions::get(&s.conditions, LoadTestCondition::ClusterReachable)
                .is_some_and(|c| c.status == "False")
        });
        runner = match runner {
            Runner::Unreadable(e) => Runner::Unreadable(e),
            _ => match read_runner(cluster, &names, creating, confirm).await {
                Ok((job, pods)) => {
                    starter = match read_starter(cluster, &lt, &names).await {
                        Ok(s) => s.map(Box::new),
                        Err(e) => {
                            tracing::debug!(error = %e, "cannot read the starter Job");
                            None
                        }
                    };
                    simulated_node = ctx.clusters.collector(&cluster.name).and_then(|c| {
                        pods.iter()
                            .filter_map(|p| p.spec.as_ref()?.node_name.clone())
                            .find(|node| c.simulated_node(node))
                    });
                    Runner::Found {
                        job: job.map(Box::new),
                        pods,
                    }
                }
                Err(e) => Runner::Unreadable(Failure::of(&e).message),
            },
        };
    }
    let merged_percentiles = match (&ctx.prometheus, &runner) {
        (Some(prometheus), Runner::Found { job: Some(job), .. })
            if active(&lt) && simulated_node.is_none() && ended(job) && runner::parallel(&lt) =>
        {
            Some(merged_percentiles(prometheus, &lt, job).await)
        }
        _ => None,
    };
    // The header values are read only when the runner is about to be created.
    let creating = matches!(&runner, Runner::Found { job: None, .. });
    let headers = if creating {
        header_values(&lt, &ctx.client).await
    } else {
        Ok(HeaderValues::default())
    };
    // From the oldest reading the record can still use: the started test's status says which.
    let usage_since = lt.status.as_ref().and_then(|s| {
        let started = s.started_at.as_ref()?.0;
        let record = s.node_usage.as_ref();
        (!record.is_some_and(|r| r.settled())).then(|| node_usage::needed_since(record, started))
    });
    let node_usage = cluster
        .as_ref()
        .filter(|_| !deleting)
        .zip(usage_since)
        .and_then(|(c, since)| Some((ctx.clusters.collector(&c.name)?, since)))
        .map(|(c, since)| node_readings(&c, since));
    Observed {
        node_usage,
        baselines: comparison::candidates(
            lt.as_ref(),
            lt.spec.baseline.is_some(),
            lt.status.as_ref().map_or(&[][..], |s| &s.conditions),
            tests,
        ),
        headers,
        cluster: cluster.map(|c| c.name.clone()),
        test: lt,
        policy,
        admission,
        runner_namespace,
        runner,
        simulated_node,
        merged_percentiles,
        starter,
        failure: None,
    }
}

/// A cluster's node usage polls since `since` and what its nodes are, from its collector's
/// caches.
pub fn node_readings(c: &ClusterCollector, since: Timestamp) -> node_usage::Readings {
    let nodes = c
        .nodes
        .state()
        .iter()
        .map(|n| {
            let view = node_view(n, None, 0);
            let facts = node_usage::NodeFacts {
                cpu_allocatable: view.cpu_allocatable_millis,
                memory_allocatable: view.memory_allocatable_bytes,
                simulated: c.simulated_node(&view.name),
            };
            (view.name, facts)
        })
        .collect();
    node_usage::Readings {
        samples: c.node_samples(since),
        nodes,
    }
}

/// The Job has ended (complete, or failed as a whole).
fn ended(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        })
}

/// The run's percentiles over every runner, from Prometheus (the runners' remote-write
/// series carry the Job's name as `testid`), from the test's start to the Job's end.
async fn merged_percentiles(
    prometheus: &Prometheus,
    lt: &LoadTest,
    job: &Job,
) -> Result<RunPercentiles, String> {
    let started = lt
        .status
        .as_ref()
        .and_then(|s| s.started_at.as_ref())
        .ok_or("the test has no start time")?
        .0
        .as_second();
    let end = job
        .status
        .as_ref()
        .and_then(|s| s.completion_time.as_ref())
        .map_or_else(
            || k8s_openapi::jiff::Timestamp::now().as_second(),
            |t| t.0.as_second(),
        );
    let testid = job.metadata.name.clone().unwrap_or_default();
    prometheus
        .run_percentiles(&testid, started, end)
        .await
        .map_err(|e| e.to_string())
}

/// The cluster's policy, from the ManagedCluster cache once it has listed them all (a
/// queued test asks every few seconds, so that costs the API server nothing); a
/// ManagedCluster that does not exist (yet) has the defaults. A refusal ends the test for
/// good, so one is confirmed with a read from the API server: a policy widened a moment ago
/// is not judged by a cache a moment behind.
async fn read_policy(ctx: &Context, lt: &LoadTest) -> Result<LoadTestPolicy, String> {
    let cluster = lt.spec.cluster.as_str();
    ctx.managed_clusters
        .wait_until_ready()
        .await
        .map_err(|_| format!("cannot read ManagedCluster {cluster}: its cache stopped"))?;
    let cached = ctx
        .managed_clusters
        .get(&ObjectRef::new(cluster))
        .map(|mc| mc.spec.load_test_policy.clone())
        .unwrap_or_default();
    let refused =
        plan::plan_load_test(&lt.spec).is_ok_and(|plan| policy::check(&cached, lt, &plan).is_err());
    if !refused {
        return Ok(cached);
    }
    Api::<ManagedCluster>::all(ctx.client.clone())
        .get_opt(cluster)
        .await
        .map(|mc| mc.map(|mc| mc.spec.load_test_policy).unwrap_or_default())
        .map_err(|e| {
            format!(
                "cannot read ManagedCluster {cluster}: {}",
                Failure::of(&e).message
            )
        })
}

/// The runner namespace: owned without a request once the operator has seen it so (it
/// forgets that when creating a runner there fails), else read from the API server.
async fn read_namespace(
    cluster: &ClusterClient,
    name: &str,
) -> Result<RunnerNamespace, kube::Error> {
    if cluster.runners.owns_namespace(name) {
        return Ok(RunnerNamespace::Owned);
    }
    let ns = Api::<Namespace>::all(cluster.client.clone())
        .get_opt(name)
        .await?;
    let ns = match ns {
        None => RunnerNamespace::Missing,
        Some(ns) if runner::owns_namespace(&ns) => RunnerNamespace::Owned,
        Some(_) => RunnerNamespace::Foreign,
    };
    cluster
        .runners
        .set_namespace_owned(name, ns == RunnerNamespace::Owned);
    Ok(ns)
}

/// The values of the test's `valueFrom` headers, from Secrets of its namespace that carry
/// the label [`HEADER_SECRET_LABEL`]; the error names the Secret and the fix (never a value).
async fn header_values(lt: &LoadTest, client: &kube::Client) -> Result<HeaderValues, String> {
    let refs: Vec<(String, HeaderSecretKeyRef)> = lt
        .spec
        .http
        .iter()
        .flat_map(|h| h.headers.iter().flatten())
        .filter_map(|h| Some((h.name.clone(), h.value_from.clone()?.secret_key_ref)))
        .collect();
    let ns = lt.metadata.namespace.clone().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let mut values = HeaderValues::default();
    for (header, r) in refs {
        let name = r.name.as_str();
        let secret = match secrets.get_opt(name).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                return Err(format!(
                    "header {header}: Secret {ns}/{name} does not exist"
                ));
            }
            Err(e) => {
                return Err(format!(
                    "header {header}: cannot read Secret {ns}/{name}: {}; the operator needs `get` on it (a Role in {ns} with resourceNames: [{name}])",
                    Failure::of(&e).message
                ));
            }
        };
        if secret
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(HEADER_SECRET_LABEL))
            .map(String::as_str)
            != Some("true")
        {
            return Err(format!(
                "header {header}: Secret {ns}/{name} is not labelled {HEADER_SECRET_LABEL}: \"true\"; label it to allow LoadTests to send its values (`kubectl -n {ns} label secret {name} {HEADER_SECRET_LABEL}=true`)"
            ));
        }
        let Some(value) = secret.data.as_ref().and_then(|d| d.get(&r.key)) else {
            return Err(format!(
                "header {header}: Secret {ns}/{name} has no key {:?}",
                r.key
            ));
        };
        let Ok(value) = String::from_utf8(value.0.clone()) else {
            return Err(format!(
                "header {header}: key {:?} of Secret {ns}/{name} is not UTF-8 text",
                r.key
            ));
        };
        if value.contains(['\n', '\r']) {
            return Err(format!(
                "header {header}: key {:?} of Secret {ns}/{name} contains a line break",
                r.key
            ));
        }
        values.0.insert(header, value);
    }
    Ok(values)
}

/// The runner Job and its pods: from the cluster's runner watch while it answers, holds the
/// Job and the Job has not ended (no request); from the API server otherwise: a Job the watch has
/// not seen (yet) or that went is confirmed there, and an ended Job's pods are read fresh,
/// as its verdict comes from them. A test `creating` its runner needs no pods, and trusts a
/// listed watch that it has no Job yet (a restarted operator's watch lists every runner
/// before it answers) unless told to `confirm` it.
async fn read_runner(
    cluster: &ClusterClient,
    names: &RunnerNames,
    creating: bool,
    confirm: bool,
) -> Result<(Option<Job>, Vec<Pod>), kube::Error> {
    let (jobs, pods) = (&cluster.runners.jobs, &cluster.runners.pods);
    // While a watch fails or lists the stores may be behind, and the cluster may be gone: ask
    // it. Both stores must have listed: a Job from one with no pods from the other would read
    // as a runner whose pod vanished.
    let listed = cluster.runners.watching()
        && jobs
            .wait_until_ready()
            .now_or_never()
            .is_some_and(|r| r.is_ok())
        && pods
            .wait_until_ready()
            .now_or_never()
            .is_some_and(|r| r.is_ok());
    let watched = jobs
        .get(&ObjectRef::new(&names.job).within(&names.namespace))
        .filter(|_| listed);
    if creating && !confirm && listed && watched.is_none() {
        return Ok((None, Vec::new()));
    }
    if let Some(job) = watched.filter(|j| !ended(j)) {
        let pods = pods
            .state()
            .iter()
            .filter(|p| {
                p.metadata.namespace.as_deref() == Some(names.namespace.as_str())
                    && p.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get("job-name"))
                        .is_some_and(|j| *j == names.job)
            })
            .map(|p| Pod::clone(p))
            .collect();
        return Ok((Some(Job::clone(&job)), pods));
    }
    let job = Api::<Job>::namespaced(cluster.client.clone(), &names.namespace)
        .get_opt(&names.job)
        .await?;
    if job.is_none() && creating {
        return Ok((None, Vec::new()));
    }
    let pods = Api::<Pod>::namespaced(cluster.client.clone(), &names.namespace)
        .list(&ListParams::default().labels(&format!("job-name={}", names.job)))
        .await?
        .items;
    Ok((job, pods))
}

/// The starter Job of a parallel HTTP test (none for other tests).
async fn read_starter(
    cluster: &ClusterClient,
    lt: &LoadTest,
    names: &RunnerNames,
) -> Result<Option<Job>, kube::Error> {
    let parallel =
        matches!(plan::plan_load_test(&lt.spec), Ok(plan::Plan::Http(h)) if h.parallelism > 1);
    if !parallel {
        return Ok(None);
    }
    Api::<Job>::namespaced(cluster.client.clone(), &names.namespace)
        .get_opt(&parallel::starter_name(names))
        .await
}
