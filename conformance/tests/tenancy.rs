//! ResourceQuotas and LimitRanges per tier (`gitops/addons/tenancy/{demo,runners}-<tier>`)
//! against a real kube-apiserver (LimitRanger, ResourceQuota and PodSecurity admission):
//! - the operator's runner pods, built by its own code for every preset, are admitted in
//!   a runner namespace made by its own code (Pod Security `restricted`) holding each tier's
//!   quota and LimitRange; the quota admits exactly as many default runners as its comment
//!   says and rejects the next one;
//! - the original's dashboard runners (50m CPU / 32Mi) and a runner above the maximum are
//!   rejected, so the check can fail;
//! - every demo workload's pod is admitted under the demo LimitRange of each tier whose shipped
//!   cluster runs the demo, and the demo at its HPAs' maximum fits dev's quota;
//! - the runner namespace's LimitRange is the demo's, tier by tier.

mod support;

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail, ensure};
use conformance::documents::{self, Document};
use conformance::repo;
use crds::LoadTestSpec;
use crds::load_test::LoadTestPreset;
use k8s_openapi::api::core::v1::{
    LimitRange, Namespace, Pod, ResourceQuota, ResourceQuotaStatus, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::Client;
use kube::api::{Api, PostParams};
use operator::controllers::load_test::runner;
use serde_json::{Value, json};

const TIERS: [&str; 3] = ["dev", "staging", "prod"];

/// The documents of `gitops/addons/tenancy/<dir>`.
fn tenancy(dir: &str) -> Result<Vec<Document>> {
    Ok(documents::addon(&format!("tenancy/{dir}"))?)
}

fn one<'a>(docs: &'a [Document], kind: &str) -> Result<&'a Document> {
    let found: Vec<&Document> = docs.iter().filter(|d| d.kind() == kind).collect();
    match found[..] {
        [doc] => Ok(doc),
        _ => bail!("expected one {kind}, found {}", found.len()),
    }
}

/// A document as a typed object.
macro_rules! typed {
    ($doc:expr) => {
        serde_json::to_value(&$doc.object).and_then(serde_json::from_value)
    };
}

/// CPU in millicores, memory in bytes: the quantities these files use.
fn amount(q: &Quantity) -> Result<i64> {
    let s = q.0.as_str();
    let (number, factor) = [
        ("Ki", 1i64 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("m", 1),
    ]
    .iter()
    .find_map(|(suffix, f)| s.strip_suffix(suffix).map(|n| (n, *f)))
    .unwrap_or((s, 1000));
    let n: f64 = number.parse().with_context(|| format!("quantity {s}"))?;
    // Plain numbers are CPUs (millicores) or counts; counts are compared as given x1000.
    Ok((n * factor as f64).round() as i64)
}

/// Applies the tier's quota and LimitRange (`dir`) into `ns`, and writes the quota's status
/// as kube-controller-manager's quota controller would (hard = spec.hard, nothing used):
/// quota admission enforces only what the status says.
async fn install_limits(
    client: &Client,
    dir: &str,
    ns: &str,
) -> Result<(ResourceQuota, LimitRange)> {
    let docs = tenancy(dir)?;
    let mut quota: ResourceQuota = typed!(one(&docs, "ResourceQuota")?)?;
    let mut limits: LimitRange = typed!(one(&docs, "LimitRange")?)?;
    quota.metadata.namespace = Some(ns.to_owned());
    limits.metadata.namespace = Some(ns.to_owned());
    let pp = PostParams::default();
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), ns);
    let mut created = quotas.create(&pp, &quota).await?;
    let hard = quota
        .spec
        .as_ref()
        .and_then(|s| s.hard.clone())
        .unwrap_or_default();
    created.status = Some(ResourceQuotaStatus {
        used: Some(
            hard.keys()
                .map(|k| (k.clone(), Quantity("0".into())))
                .collect(),
        ),
        hard: Some(hard),
    });
    let name = created.metadata.name.clone().unwrap_or_default();
    quotas.replace_status(&name, &pp, &created).await?;
    Api::<LimitRange>::namespaced(client.clone(), ns)
        .create(&pp, &limits)
        .await?;
    Ok((quota, limits))
}

/// The runner pod of a LoadTest with `preset` (and `resources`, when given) in `namespace`,
/// from the Job the operator builds: its pod template as a Pod.
fn runner_pod(
    preset: LoadTestPreset,
    namespace: &str,
    uid: usize,
    resources: Option<ResourceRequirements>,
) -> Result<(Namespace, Pod)> {
    let (names, objects) = support::runner_objects(
        &format!("quota-{uid}"),
        LoadTestSpec {
            preset: Some(preset),
            runner_namespace: Some(namespace.into()),
            resources,
            ..LoadTestSpec::on("dev".into())
        },
        uid,
    )?;
    let job = serde_json::to_value(&objects.job)?;
    let template = &job["spec"]["template"];
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("{}-runner", names.job),
            "namespace": names.namespace,
            "labels": template["metadata"]["labels"],
            "annotations": template["metadata"]["annotations"],
        },
        "spec": template["spec"],
    }))?;
    Ok((objects.namespace.context("the runner namespace")?, pod))
}

fn dry_run() -> PostParams {
    PostParams {
        dry_run: true,
        ..PostParams::default()
    }
}

/// How many pods with `per_pod` (limits and requests of its one container) the quota
/// admits: the smallest of hard / per-pod over the resources it caps.
fn fits(quota: &ResourceQuota, per_pod: &ResourceRequirements) -> Result<i64> {
    let hard = quota
        .spec
        .as_ref()
        .and_then(|s| s.hard.clone())
        .unwrap_or_default();
    let mut n = i64::MAX;
    for (key, cap) in &hard {
        let used = match key.split_once('.') {
            Some(("limits", r)) => per_pod.limits.as_ref().and_then(|l| l.get(r)),
            Some(("requests", r)) => per_pod.requests.as_ref().and_then(|l| l.get(r)),
            _ if key == "pods" => {
                n = n.min(amount(cap)? / 1000);
                continue;
            }
            _ => continue,
        };
        let used = used.with_context(|| format!("the runner sets no {key}"))?;
        n = n.min(amount(cap)? / amount(used)?);
    }
    Ok(n)
}

#[tokio::test]
async fn every_runner_preset_is_admitted_under_each_tiers_limits_and_the_quota_caps_them()
-> Result<()> {
    let cp = local_control_plane::shared_apiserver().await?;
    let client = cp.client().await?;
    let pp = PostParams::default();
    for (t, tier) in TIERS.into_iter().enumerate() {
        // The runner namespace as the operator makes it (Pod Security restricted).
        let ns_name = format!("runners-{tier}");
        let (namespace, _) = runner_pod(LoadTestPreset::LightLoad, &ns_name, 0, None)?;
        ensure!(namespace.metadata.name.as_deref() == Some(ns_name.as_str()));
        Api::<Namespace>::all(client.clone())
            .create(&pp, &namespace)
            .await?;
        let (quota, _) = install_limits(&client, &format!("runners-{tier}"), &ns_name).await?;
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns_name);

        // Every preset's runner, HTTP and stress, passes LimitRanger, ResourceQuota and
        // Pod Security admission.
        for (i, preset) in LoadTestPreset::ALL.into_iter().enumerate() {
            let (_, pod) = runner_pod(preset, &ns_name, 100 * t + i, None)?;
            let admitted = pods
                .create(&dry_run(), &pod)
                .await
                .with_context(|| format!("{tier}: the {preset:?} runner was rejected"))?;
            let c = &admitted.spec.as_ref().context("spec")?.containers[0];
            ensure!(
                c.resources == Some(runner::default_resources()),
                "{tier}: {preset:?}: the LimitRange changed the runner's resources: {:?}",
                c.resources
            );
        }

        // The quota admits exactly the number of default runners its file says, then no more.
        let expected = fits(&quota, &runner::default_resources())?;
        let comment = std::fs::read_to_string(
            repo().join(format!("gitops/addons/tenancy/runners-{tier}/limits.yaml")),
        )?;
        ensure!(
            comment.contains(&format!("the quota admits {expected} such runners")),
            "{tier}: the file's comment does not say the quota admits {expected} runners"
        );
        ensure!(
            expected >= 2,
            "{tier}: the quota admits only {expected} runner(s)"
        );
        for i in 0..expected {
            let (_, pod) = runner_pod(
                LoadTestPreset::LightLoad,
                &ns_name,
                100 * t + 50 + i as usize,
                None,
            )?;
            pods.create(&pp, &pod)
                .await
                .with_context(|| format!("{tier}: runner {} of {expected} rejected", i + 1))?;
        }
        let (_, pod) = runner_pod(LoadTestPreset::LightLoad, &ns_name, 100 * t + 99, None)?;
        match pods.create(&pp, &pod).await {
            Err(kube::Error::Api(e)) if e.message.contains("exceeded quota") => {}
            other => bail!("{tier}: runner {} past the quota: {other:?}", expected + 1),
        }
    }
    Ok(())
}

fn resources(requests: (&str, &str), limits: (&str, &str)) -> ResourceRequirements {
    let map = |(cpu, memory): (&str, &str)| {
        Some(BTreeMap::from([
            ("cpu".to_owned(), Quantity(cpu.into())),
            ("memory".to_owned(), Quantity(memory.into())),
        ]))
    };
    ResourceRequirements {
        requests: map(requests),
        limits: map(limits),
        ..ResourceRequirements::default()
    }
}

#[tokio::test]
async fn runners_outside_the_limit_range_are_rejected() -> Result<()> {
    let cp = local_control_plane::shared_apiserver().await?;
    let client = cp.client().await?;
    for (t, tier) in TIERS.into_iter().enumerate() {
        let ns = cp.namespace(&format!("limits-{tier}")).await?;
        let (_, limits) = install_limits(&client, &format!("runners-{tier}"), &ns).await?;
        let container = limits.spec.as_ref().context("spec")?.limits[0].clone();
        let min_memory = container.min.as_ref().context("min")?["memory"].0.clone();
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        // The original's dashboard stress Jobs: 50m / 32Mi requested, below every minimum.
        let original = resources(("50m", "32Mi"), ("500m", "256Mi"));
        let (_, pod) = runner_pod(LoadTestPreset::CpuStressLight, &ns, 300 + t, Some(original))?;
        match pods.create(&dry_run(), &pod).await {
            Err(kube::Error::Api(e))
                if e.message.contains(&format!(
                    "minimum memory usage per Container is {min_memory}"
                )) => {}
            other => bail!("{tier}: the original's 32Mi runner: {other:?}"),
        }
        // Above the largest container.
        let max_cpu = container.max.as_ref().context("max")?["cpu"].0.clone();
        let big = resources(("250m", "256Mi"), ("3", "512Mi"));
        let (_, pod) = runner_pod(LoadTestPreset::LightLoad, &ns, 310 + t, Some(big))?;
        match pods.create(&dry_run(), &pod).await {
            Err(kube::Error::Api(e))
                if e.message
                    .contains(&format!("maximum cpu usage per Container is {max_cpu}")) => {}
            other => bail!("{tier}: a 3-CPU runner: {other:?}"),
        }
    }
    Ok(())
}

/// Each pod template of the demo apps with how many replicas it may reach (the HPA's
/// maximum, else the workload's replicas, else 1 for a Job).
fn demo_pods() -> Result<Vec<(String, Value, i64)>> {
    let docs = documents::addon("demo-apps")?;
    let mut max: BTreeMap<String, i64> = BTreeMap::new();
    for hpa in docs
        .iter()
        .filter(|d| d.kind() == "HorizontalPodAutoscaler")
    {
        let spec = &hpa.object.data["spec"];
        max.insert(
            spec["scaleTargetRef"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            spec["maxReplicas"].as_i64().unwrap_or_default(),
        );
    }
    let mut pods = Vec::new();
    for d in docs
        .iter()
        .filter(|d| matches!(d.kind(), "Deployment" | "StatefulSet" | "Job"))
    {
        let spec = &d.object.data["spec"];
        let replicas = max
            .get(d.name())
            .copied()
            .or(spec["replicas"].as_i64())
            .unwrap_or(1);
        pods.push((d.name().to_owned(), spec["template"].clone(), replicas));
    }
    ensure!(pods.len() >= 8, "{} demo workloads", pods.len());
    Ok(pods)
}

/// The sum over a pod's containers of `limits`/`requests` `resource` (init containers run
/// before them, one at a time: the pod counts the larger of the two).
fn pod_total(spec: &Value, kind: &str, resource: &str) -> Result<i64> {
    let sum_of = |field: &str| -> Result<Vec<i64>> {
        spec[field]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let q = c["resources"][kind][resource]
                    .as_str()
                    .with_context(|| format!("container {} has no {kind}.{resource}", c["name"]))?;
                amount(&Quantity(q.to_owned()))
            })
            .collect()
    };
    let main: i64 = sum_of("containers")?.iter().sum();
    let init = sum_of("initContainers")?.into_iter().max().unwrap_or(0);
    Ok(main.max(init))
}

/// The resources of the Istio sidecar (istiod's `global.proxy.resources` in
/// gitops/root/values.yaml) when the shipped dev cluster has Istio, whose injector adds it to
/// every demo pod not opted out.
fn dev_sidecar(config: &host_agent::config::Config) -> Result<Option<Value>> {
    let dev = config.cluster("dev").context("no dev cluster")?;
    if !dev.addons.istio {
        return Ok(None);
    }
    let values: Value = serde_yaml::from_str(&std::fs::read_to_string(
        repo().join("gitops/root/values.yaml"),
    )?)?;
    let istiod = values["istio"]["components"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == "istiod")
        .context("no istiod component in gitops/root/values.yaml")?;
    let resources = istiod["values"]["global"]["proxy"]["resources"].clone();
    ensure!(
        resources.is_object(),
        "istiod sets no global.proxy.resources"
    );
    Ok(Some(resources))
}

#[tokio::test]
async fn the_demo_apps_are_admitted_under_each_tiers_limits_and_fit_devs_quota_at_full_scale()
-> Result<()> {
    let cp = local_control_plane::shared_apiserver().await?;
    let client = cp.client().await?;
    let templates = demo_pods()?;
    // The tiers whose shipped cluster runs the demo (config/clusters.yaml demoApps). Prod's
    // LimitRange keeps the original's minimum of 100m / 128Mi, which the demo's 50m / 64Mi
    // containers are below: turning the demo on for prod makes this test fail until they
    // are resized.
    let config = host_agent::config::parse(
        include_str!("../../config/clusters.yaml"),
        "config/clusters.yaml",
    )?;
    let demo_tiers: Vec<String> = config
        .clusters
        .iter()
        .filter(|c| c.addons.demo_apps)
        .map(|c| serde_json::to_value(c.tier).map(|v| v.as_str().unwrap_or_default().to_owned()))
        .collect::<Result<_, _>>()?;
    ensure!(demo_tiers.iter().any(|t| t == "dev"), "{demo_tiers:?}");
    for tier in TIERS
        .into_iter()
        .filter(|t| demo_tiers.iter().any(|d| d == t))
    {
        let ns = cp.namespace(&format!("demo-{tier}")).await?;
        let (quota, _) = install_limits(&client, &format!("demo-{tier}"), &ns).await?;
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        for (name, template, _) in &templates {
            let pod: Pod = serde_json::from_value(json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": format!("{name}-pod"), "labels": template["metadata"]["labels"]},
                "spec": template["spec"],
            }))?;
            if let Err(e) = pods.create(&dry_run(), &pod).await {
                bail!("{tier}: {name}'s pod was rejected: {e}");
            }
        }
        if tier != "dev" {
            continue;
        }
        // The demo runs on dev: at every HPA's maximum it stays within dev's quota, with the
        // Istio sidecar each injected pod gets where the shipped dev cluster has Istio.
        let sidecar = dev_sidecar(&config)?;
        let hard = quota.spec.and_then(|s| s.hard).unwrap_or_default();
        for key in [
            "requests.cpu",
            "requests.memory",
            "limits.cpu",
            "limits.memory",
        ] {
            let (kind, resource) = key.split_once('.').unwrap_or_default();
            let mut total = 0;
            for (_, template, replicas) in &templates {
                let injected =
                    template["metadata"]["annotations"]["sidecar.istio.io/inject"] != "false";
                let proxy = match &sidecar {
                    Some(resources) if injected => amount(&Quantity(
                        resources[kind][resource]
                            .as_str()
                            .with_context(|| format!("the sidecar has no {kind}.{resource}"))?
                            .to_owned(),
                    ))?,
                    _ => 0,
                };
                total += replicas * (pod_total(&template["spec"], kind, resource)? + proxy);
            }
            let cap = amount(&hard[key])?;
            ensure!(
                total <= cap,
                "dev: the demo at full scale needs {key} {total}, the quota has {cap}"
            );
        }
        let pods_at_max: i64 = templates.iter().map(|(_, _, n)| n).sum();
        let cap = amount(&hard["pods"])? / 1000;
        ensure!(
            pods_at_max <= cap,
            "dev: {pods_at_max} demo pods at full scale, quota {cap}"
        );
    }
    Ok(())
}

#[test]
fn the_runner_namespace_has_the_demo_limit_range_of_its_tier_and_every_file_its_tier() -> Result<()>
{
    for tier in TIERS {
        let demo: LimitRange = typed!(one(&tenancy(&format!("demo-{tier}"))?, "LimitRange")?)?;
        let runners: LimitRange =
            typed!(one(&tenancy(&format!("runners-{tier}"))?, "LimitRange")?)?;
        ensure!(
            demo.spec == runners.spec,
            "{tier}: the two LimitRanges differ"
        );
        for dir in [format!("demo-{tier}"), format!("runners-{tier}")] {
            for doc in tenancy(&dir)?.iter().filter(|d| d.kind() != "RoleBinding") {
                let labels = doc.object.metadata.labels.clone().unwrap_or_default();
                ensure!(
                    labels.get("tartinfra.dev/tier").map(String::as_str) == Some(tier),
                    "{doc}"
                );
            }
        }
    }
    // The runner files and their Applications name the namespace the operator runs in by
    // default.
    let values: Value = serde_yaml::from_str(&std::fs::read_to_string(
        repo().join("gitops/root/values.yaml"),
    )?)?;
    let default = crds::load_test::DEFAULT_RUNNER_NAMESPACE;
    ensure!(
        values["runnerLimits"]["namespace"] == default,
        "{}",
        values["runnerLimits"]
    );
    ensure!(
        values["runnerLimits"]["tiers"] == json!(TIERS),
        "{}",
        values["runnerLimits"]
    );
    for tier in TIERS {
        for doc in tenancy(&format!("runners-{tier}"))? {
            ensure!(
                doc.object.metadata.namespace.as_deref() == Some(default),
                "{doc}"
            );
        }
    }
    // The original's values (seed inventory 5.10), spot-checked where the tiers differ.
    let q = |tier: &str| -> Result<ResourceQuota> {
        Ok(typed!(one(
            &tenancy(&format!("demo-{tier}"))?,
            "ResourceQuota"
        )?)?)
    };
    let hard = |tier: &str, key: &str| -> Result<String> {
        Ok(q(tier)?.spec.and_then(|s| s.hard).unwrap_or_default()[key]
            .0
            .clone())
    };
    ensure!(
        hard("dev", "limits.memory")? == "16Gi" && hard("dev", "replicationcontrollers")? == "10"
    );
    ensure!(hard("staging", "pods")? == "20" && hard("staging", "services.nodeports")? == "5");
    ensure!(
        hard("prod", "requests.cpu")? == "6" && hard("prod", "persistentvolumeclaims")? == "15"
    );
    Ok(())
}
