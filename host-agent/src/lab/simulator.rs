//! Plays the parts of a lab cluster that simulated pods cannot: the load a running k6
//! runner puts on the Services it targets (see [`load_model`]) and the runner's exit when
//! its duration is over (written as a kubelet would). Every couple of seconds, per cluster.
//! What it saw in each round (pods, Services, running k6 runners with their parameters) is
//! published as an [`Observed`] for the simulated Hubble Relay ([`super::hubble`]), so the
//! flows it shows follow the very runners and parameters the CPU load follows.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use super::load_model::{self, RunnerParams};

/// The annotation kwok's usage simulation reads a pod's CPU usage from.
pub const USAGE_CPU: &str = "kwok.x-k8s.io/usage-cpu";
const RUNNER_SELECTOR: &str = "app.kubernetes.io/component=loadtest-runner";
/// The pods of a parallel test's starter, which resumes its paused runners (`k6 resume`)
/// and exits at once.
const STARTER_SELECTOR: &str = "app.kubernetes.io/component=loadtest-starter";

/// What a runner does in the model.
#[derive(Clone, Debug)]
enum Runner {
    /// k6: load on Services.
    Http(RunnerParams),
    /// stress-ng: works in its own pod for this long.
    Stress { secs: u64 },
}

impl Runner {
    fn duration_secs(&self) -> u64 {
        match self {
            Self::Http(p) => p.duration_secs(),
            Self::Stress { secs } => *secs,
        }
    }
}

/// A k6 runner running now.
#[derive(Clone, Debug)]
pub struct RunningRunner {
    /// Its pod.
    pub pod: Pod,
    /// Its parameters (`params.json`).
    pub params: RunnerParams,
    /// When its container started.
    pub started: Timestamp,
}

/// What the simulator saw in one cluster in its last round.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// Every pod.
    pub pods: Vec<Pod>,
    /// Every Service outside kube-system.
    pub services: Vec<Service>,
    /// The k6 runners whose time is not up.
    pub runners: Vec<RunningRunner>,
}

/// One cluster's simulator state: runner parameters already read, by pod uid, and what the
/// last round saw.
pub struct Simulator {
    runners: HashMap<String, Runner>,
    observed: tokio::sync::watch::Sender<Arc<Observed>>,
}

impl Default for Simulator {
    fn default() -> Self {
        Self {
            runners: HashMap::new(),
            observed: tokio::sync::watch::Sender::new(Arc::default()),
        }
    }
}

fn started_at(pod: &Pod) -> Option<Timestamp> {
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() != Some("Running") {
        return None;
    }
    let state = status
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?;
    state.running.as_ref()?.started_at.as_ref().map(|t| t.0)
}

/// Running, Ready and not being deleted: a Service's endpoint.
pub fn ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod.status.as_ref().is_some_and(|s| {
            s.phase.as_deref() == Some("Running")
                && s.conditions
                    .as_ref()
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
}

fn cpu_limit(pod: &Pod) -> Option<u64> {
    let containers = &pod.spec.as_ref()?.containers;
    let limits: Option<Vec<u64>> = containers
        .iter()
        .map(|c| {
            let q = c.resources.as_ref()?.limits.as_ref()?.get("cpu")?;
            load_model::millicores(&q.0)
        })
        .collect();
    limits.map(|l| l.iter().sum())
}

/// `--timeout Ns` from stress-ng's arguments.
fn stress_secs(pod: &Pod) -> Option<u64> {
    let args = pod.spec.as_ref()?.containers.first()?.args.as_ref()?;
    let i = args.iter().position(|a| a == "--timeout")?;
    args.get(i + 1)?.trim_end_matches('s').parse().ok()
}

/// Whether a Service's selector selects the pod (an empty selector selects nothing).
pub fn selects(selector: &BTreeMap<String, String>, pod: &Pod) -> bool {
    let labels = pod.labels();
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

impl Simulator {
    /// What each round sees, from the next round on.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Arc<Observed>> {
        self.observed.subscribe()
    }

    async fn runner(&mut self, client: &Client, pod: &Pod) -> Option<Runner> {
        let uid = pod.uid()?;
        if let Some(r) = self.runners.get(&uid) {
            return Some(r.clone());
        }
        let ns = pod.namespace()?;
        let job = pod.labels().get("job-name")?.clone();
        let cm = Api::<ConfigMap>::namespaced(client.clone(), &ns)
            .get_opt(&job)
            .await
            .ok()?;
        let runner = match cm.and_then(|cm| cm.data?.get("params.json").cloned()) {
            Some(text) => Runner::Http(RunnerParams::parse(&text).ok()?),
            None => Runner::Stress {
                secs: stress_secs(pod)?,
            },
        };
        self.runners.insert(uid, runner.clone());
        Some(runner)
    }

    /// One round on one cluster: ends runners whose time is up, and sets the simulated
    /// CPU usage of every pod behind a Service.
    pub async fn step(&mut self, client: &Client) -> Result<(), kube::Error> {
        let now = Timestamp::now();
        let pods = Api::<Pod>::all(client.clone())
            .list(&ListParams::default())
            .await?
            .items;
        let runner_pods = Api::<Pod>::all(client.clone())
            .list(&ListParams::default().labels(RUNNER_SELECTOR))
            .await?
            .items;
        let mut running = Vec::new();
        for pod in &runner_pods {
            let Some(start) = started_at(pod) else {
                continue;
            };
            let Some(runner) = self.runner(client, pod).await else {
                continue;
            };
            let elapsed = now.duration_since(start).as_secs_f64();
            if elapsed >= runner.duration_secs() as f64 {
                exit(client, pod, start).await?;
            } else if let Runner::Http(params) = runner {
                running.push(RunningRunner {
                    pod: pod.clone(),
                    params,
                    started: start,
                });
            }
        }
        // A starter's resumes return at once: it exits as soon as it runs.
        let starters = Api::<Pod>::all(client.clone())
            .list(&ListParams::default().labels(STARTER_SELECTOR))
            .await?
            .items;
        for pod in &starters {
            if let Some(start) = started_at(pod) {
                exit(client, pod, start).await?;
            }
        }
        let live: Vec<String> = runner_pods.iter().filter_map(|p| p.uid()).collect();
        self.runners.retain(|uid, _| live.contains(uid));

        let load = load_model::service_load(
            running
                .iter()
                .map(|r| (&r.params, now.duration_since(r.started).as_secs_f64())),
        );
        let services: Vec<Service> = Api::<Service>::all(client.clone())
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter(|s| s.namespace().as_deref() != Some("kube-system"))
            .collect();
        let mut desired: BTreeMap<(String, String), u64> = BTreeMap::new();
        for svc in &services {
            let ns = svc.namespace().unwrap_or_default();
            let Some(selector) = svc.spec.as_ref().and_then(|s| s.selector.clone()) else {
                continue;
            };
            let vus = load
                .get(&(ns.clone(), svc.name_any()))
                .copied()
                .unwrap_or(0.0);
            let behind: Vec<&Pod> = pods
                .iter()
                .filter(|p| p.namespace().as_deref() == Some(ns.as_str()))
                .filter(|p| selects(&selector, p) && ready(p))
                .collect();
            for pod in &behind {
                let m = load_model::pod_millicores(vus, behind.len(), cpu_limit(pod));
                let slot = desired.entry((ns.clone(), pod.name_any())).or_insert(0);
                // A pod behind two loaded Services carries both.
                *slot = (*slot).max(m);
            }
        }
        for pod in &pods {
            let key = (pod.namespace().unwrap_or_default(), pod.name_any());
            let Some(m) = desired.get(&key) else {
                continue;
            };
            let value = format!("{m}m");
            if pod.annotations().get(USAGE_CPU) == Some(&value) {
                continue;
            }
            Api::<Pod>::namespaced(client.clone(), &key.0)
                .patch(
                    &key.1,
                    &PatchParams::default(),
                    &Patch::Merge(&json!({ "metadata": { "annotations": { USAGE_CPU: value } } })),
                )
                .await?;
        }
        self.observed.send_replace(Arc::new(Observed {
            pods,
            services,
            runners: running,
        }));
        Ok(())
    }
}

/// Ends a runner (or a starter) as a kubelet would when its containers exit 0 without a
/// result.
async fn exit(client: &Client, pod: &Pod, started: Timestamp) -> Result<(), kube::Error> {
    let now = Timestamp::now().to_string();
    let containers: Vec<serde_json::Value> = pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .map(|c| json!({ "name": c.name, "image": c.image.clone().unwrap_or_default(), "imageID": "", "ready": false,
            "restartCount": 0, "started": false,
            "state": { "terminated": { "exitCode": 0, "reason": "Completed",
                "startedAt": started.to_string(), "finishedAt": now } } }))
        .collect();
    let status = json!({ "status": {
        "phase": "Succeeded",
        "conditions": [{ "type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": now }],
        "containerStatuses": containers,
    }});
    Api::<Pod>::namespaced(client.clone(), &pod.namespace().unwrap_or_default())
        .patch_status(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await
        .map(|_| ())
}

/// Runs the simulators of every cluster until the task is dropped; errors are reported
/// through `report` once per distinct message.
pub async fn run(
    clusters: Vec<(String, Client, Simulator)>,
    every: Duration,
    report: impl Fn(&str, &str),
) {
    let mut sims: Vec<(String, Client, Simulator, Option<String>)> = clusters
        .into_iter()
        .map(|(name, client, sim)| (name, client, sim, None))
        .collect();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for (name, client, sim, last_error) in &mut sims {
            match sim.step(client).await {
                Ok(()) => *last_error = None,
                Err(e) => {
                    let message = e.to_string();
                    if last_error.as_deref() != Some(message.as_str()) {
                        report(name, &message);
                        *last_error = Some(message);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "simulator_tests.rs"]
mod tests;
