//! What each kind of request on a LoadTest's way to its Job costs the API server, measured
//! alone with the operator stopped: N of a kind, 20 in flight, the CPU seconds the API
//! server and etcd used for them (from /proc) and the rate. Summed over the requests a test
//! makes, this is what bounds the operator's pace on the same cores.

use std::future::Future;
use std::time::Instant;

use anyhow::{Context as _, Result};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, ResourceExt};
use local_control_plane::ControlPlane;

use crate::CONCURRENCY;
use crate::measure::cpu_seconds;

/// One kind of request and what it cost.
pub struct Cost {
    pub what: &'static str,
    /// API server + etcd CPU milliseconds per request.
    pub cpu_ms: f64,
    /// Requests per second at [`CONCURRENCY`] in flight.
    pub per_second: f64,
}

/// The API server's and etcd's CPU seconds so far.
fn server_cpu(plane: &ControlPlane) -> f64 {
    plane
        .pids()
        .into_iter()
        .filter(|(name, _)| matches!(*name, "kube-apiserver" | "etcd"))
        .map(|(_, pid)| cpu_seconds(pid))
        .sum()
}

async fn measure<F, Fut>(
    what: &'static str,
    plane: &ControlPlane,
    n: usize,
    request: F,
) -> Result<Cost>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), kube::Error>>,
{
    let before = server_cpu(plane);
    let began = Instant::now();
    futures::stream::iter(0..n)
        .map(request)
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await
        .with_context(|| format!("measuring {what}"))?;
    let wall = began.elapsed().as_secs_f64();
    Ok(Cost {
        what,
        cpu_ms: (server_cpu(plane) - before) * 1000.0 / n as f64,
        per_second: n as f64 / wall,
    })
}

/// What the operator made, copied as the objects of the measurement.
pub struct Templates {
    pub job: Job,
    pub config_map: ConfigMap,
    /// A LoadTest's spec and the status the operator wrote for it.
    pub spec: serde_json::Value,
    pub status: serde_json::Value,
}

fn named<K: kube::Resource + Clone>(template: &K, name: String, namespace: &str) -> K {
    let mut o = template.clone();
    let labels = o.meta().labels.clone();
    *o.meta_mut() = kube::core::ObjectMeta {
        name: Some(name),
        namespace: Some(namespace.to_owned()),
        labels,
        ..Default::default()
    };
    o
}

/// Measures `n` of each kind on the target `t` (namespace `t_ns`) and the platform `p`
/// (namespace `p_ns`).
pub async fn measure_all(
    (platform, p, p_ns): (&ControlPlane, &Client, &str),
    (target, t, t_ns): (&ControlPlane, &Client, &str),
    templates: &Templates,
    n: usize,
) -> Result<Vec<Cost>> {
    let jobs: Api<Job> = Api::namespaced(t.clone(), t_ns);
    let pods: Api<Pod> = Api::namespaced(t.clone(), t_ns);
    let cms: Api<ConfigMap> = Api::namespaced(t.clone(), t_ns);
    let gvk = GroupVersionKind::gvk("tartinfra.dev", "v1alpha1", "LoadTest");
    let lts: Api<DynamicObject> = Api::namespaced_with(
        p.clone(),
        p_ns,
        &ApiResource::from_gvk_with_plural(&gvk, "loadtests"),
    );
    let events: Api<DynamicObject> = Api::namespaced_with(
        p.clone(),
        p_ns,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("events.k8s.io", "v1", "Event"),
            "events",
        ),
    );
    let job = |i: usize| {
        let mut job = crate::direct_job(&templates.job, t_ns, i);
        job.metadata.name = Some(format!("cost-{i:04}"));
        job
    };
    let apply = PatchParams::apply("tart-operator").force();
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let mut costs = Vec::new();
    costs.push(
        measure("target POST jobs", target, n, |i| {
            let (jobs, job) = (jobs.clone(), job(i));
            async move { jobs.create(&PostParams::default(), &job).await.map(drop) }
        })
        .await?,
    );
    costs.push(
        measure("target POST pods (dry run)", target, n, |i| {
            let (pods, dry_run) = (pods.clone(), dry_run.clone());
            let pod = operator::controllers::load_test::runner::admission_probe(&job(i));
            async move { pods.create(&dry_run, &pod).await.map(drop) }
        })
        .await?,
    );
    costs.push(
        measure(
            "target PATCH configmaps (server-side apply)",
            target,
            n,
            |i| {
                let (cms, apply) = (cms.clone(), apply.clone());
                let cm = named(&templates.config_map, format!("cost-apply-{i:04}"), t_ns);
                async move {
                    cms.patch(&cm.name_any(), &apply, &Patch::Apply(&cm))
                        .await
                        .map(drop)
                }
            },
        )
        .await?,
    );
    costs.push(
        measure("target POST configmaps", target, n, |i| {
            let cms = cms.clone();
            let cm = named(&templates.config_map, format!("cost-create-{i:04}"), t_ns);
            async move { cms.create(&PostParams::default(), &cm).await.map(drop) }
        })
        .await?,
    );
    let lt_name = |i: usize| format!("cost-{i:04}");
    costs.push(
        measure("platform POST loadtests", platform, n, |i| {
            let lts = lts.clone();
            let lt: Result<DynamicObject, _> = serde_json::from_value(serde_json::json!({
                "apiVersion": "tartinfra.dev/v1alpha1", "kind": "LoadTest",
                "metadata": { "name": lt_name(i), "namespace": p_ns },
                "spec": templates.spec,
            }));
            async move {
                lts.create(
                    &PostParams::default(),
                    &lt.map_err(kube::Error::SerdeError)?,
                )
                .await
                .map(drop)
            }
        })
        .await?,
    );
    costs.push(
        measure("platform PATCH loadtests (finalizer)", platform, n, |i| {
            let lts = lts.clone();
            let patch = serde_json::json!({ "metadata": { "finalizers": ["tartinfra.dev/loadtest-runner"] } });
            async move { lts.patch(&lt_name(i), &PatchParams::default(), &Patch::Merge(&patch)).await.map(drop) }
        })
        .await?,
    );
    costs.push(
        measure("platform PATCH loadtests/status", platform, n, |i| {
            let lts = lts.clone();
            let patch = serde_json::json!({ "status": templates.status });
            async move {
                lts.patch_status(&lt_name(i), &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map(drop)
            }
        })
        .await?,
    );
    costs.push(
        measure("platform POST events", platform, n, |i| {
            let events = events.clone();
            let event: Result<DynamicObject, _> = serde_json::from_value(serde_json::json!({
                "apiVersion": "events.k8s.io/v1", "kind": "Event",
                "metadata": { "name": format!("cost-{i:04}.1"), "namespace": p_ns },
                "eventTime": "2026-01-01T00:00:00.000000Z",
                "reportingController": "tart-operator", "reportingInstance": "tart-operator-bench",
                "action": "Reconcile", "reason": "RunnerCreated", "type": "Normal",
                "note": "Job created in target-0",
                "regarding": { "apiVersion": "tartinfra.dev/v1alpha1", "kind": "LoadTest",
                               "namespace": p_ns, "name": lt_name(i) },
            }));
            async move {
                events
                    .create(
                        &PostParams::default(),
                        &event.map_err(kube::Error::SerdeError)?,
                    )
                    .await
                    .map(drop)
            }
        })
        .await?,
    );
    Ok(costs)
}

/// Prints the table, with the requests of a test's way to its Job summed.
pub fn print(costs: &[Cost]) {
    println!(
        "  API server + etcd CPU per request, each kind alone (operator stopped, {CONCURRENCY} in flight):"
    );
    println!("    {:<44} {:>9} {:>10}", "request", "CPU ms", "per second");
    for c in costs {
        println!(
            "    {:<44} {:>9.2} {:>10.0}",
            c.what, c.cpu_ms, c.per_second
        );
    }
    let of = |what: &str| {
        costs
            .iter()
            .find(|c| c.what == what)
            .map_or(0.0, |c| c.cpu_ms)
    };
    let path = [
        "platform POST loadtests",
        "platform PATCH loadtests (finalizer)",
        "target PATCH configmaps (server-side apply)",
        "target POST pods (dry run)",
        "target POST jobs",
        "platform PATCH loadtests/status",
        "platform POST events",
    ];
    let sum: f64 = path.iter().map(|w| of(w)).sum();
    println!(
        "    a test's requests (LoadTest create, finalizer, ConfigMap, dry run, Job, status, event): {sum:.2} ms, {:.1}x a Job create",
        sum / of("target POST jobs").max(f64::MIN_POSITIVE)
    );
}
