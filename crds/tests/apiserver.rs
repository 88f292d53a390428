//! The generated CRDs against a real kube-apiserver (built from the official Go module):
//! they install and become Established, every example is accepted, bad objects are rejected
//! with a message naming the field, and `kubectl get` / `kubectl explain` have what they need.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use crds::{LoadTest, ManagedCluster, ScalingExperiment, TestSchedule};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, Resource};
use local_control_plane::{ControlPlane, apply_yaml, parse_yaml_documents};

#[path = "apiserver/agreement.rs"]
mod agreement;
#[path = "apiserver/invalid.rs"]
mod invalid;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

static CRDS: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// The shared control plane with the committed CRD manifests installed and Established.
async fn setup() -> Result<(&'static ControlPlane, Client)> {
    let cp = local_control_plane::shared_apiserver().await?;
    let client = cp.client().await?;
    CRDS.get_or_try_init(|| async {
        let install = cp.client().await?;
        for (file, crd) in crds::all() {
            let text = std::fs::read_to_string(repo().join(crds::CRD_DIR).join(file))
                .with_context(|| format!("reading {}/{file}", crds::CRD_DIR))?;
            apply_yaml(&install, &text, "default").await?;
            let name = crd.metadata.name.unwrap_or_default();
            let crds: Api<CustomResourceDefinition> = Api::all(install.clone());
            tokio::time::timeout(
                Duration::from_secs(30),
                await_condition(crds, &name, conditions::is_crd_established()),
            )
            .await
            .with_context(|| format!("CRD {name} not Established within 30s"))??;
        }
        anyhow::Ok(())
    })
    .await?;
    Ok((cp, client))
}

fn api_for(client: &Client, kind: &str, ns: &str) -> Result<Api<DynamicObject>> {
    let ar = match kind {
        "ManagedCluster" => ApiResource::erase::<ManagedCluster>(&()),
        "LoadTest" => ApiResource::erase::<LoadTest>(&()),
        "ScalingExperiment" => ApiResource::erase::<ScalingExperiment>(&()),
        "TestSchedule" => ApiResource::erase::<TestSchedule>(&()),
        other => bail!("unexpected kind {other}"),
    };
    Ok(if kind == "ManagedCluster" {
        Api::all_with(client.clone(), &ar)
    } else {
        Api::namespaced_with(client.clone(), ns, &ar)
    })
}

/// Creates `obj` the way `kubectl create` does: with strict field validation, so unknown
/// fields are errors rather than silently dropped.
async fn create_strict(
    client: &Client,
    ns: &str,
    obj: &DynamicObject,
) -> Result<DynamicObject, kube::Error> {
    let kind = obj
        .types
        .as_ref()
        .map(|t| t.kind.clone())
        .unwrap_or_default();
    let url = match kind.as_str() {
        "ManagedCluster" => "/apis/tartinfra.dev/v1alpha1/managedclusters".to_owned(),
        "LoadTest" => format!("/apis/tartinfra.dev/v1alpha1/namespaces/{ns}/loadtests"),
        "TestSchedule" => format!("/apis/tartinfra.dev/v1alpha1/namespaces/{ns}/testschedules"),
        _ => format!("/apis/tartinfra.dev/v1alpha1/namespaces/{ns}/scalingexperiments"),
    };
    let body = serde_json::to_vec(obj).map_err(kube::Error::SerdeError)?;
    let req = http::Request::post(format!("{url}?fieldValidation=Strict"))
        .header("Content-Type", "application/json")
        .body(body)
        .map_err(kube::Error::HttpError)?;
    client.request(req).await
}

/// Creates the object in `yaml` and returns the API server's error message, or None when
/// it was accepted.
/// `create`'s answer for an object that must be accepted.
fn ensure_created(refused: Option<String>) -> Result<()> {
    match refused {
        None => Ok(()),
        Some(message) => bail!("refused: {message}"),
    }
}

async fn create(client: &Client, ns: &str, yaml: &str) -> Result<Option<String>> {
    let obj = parse_yaml_documents(yaml)?
        .pop()
        .context("no object in YAML")?;
    match create_strict(client, ns, &obj).await {
        Ok(_) => Ok(None),
        Err(kube::Error::Api(status)) => Ok(Some(status.message)),
        Err(e) => Err(e.into()),
    }
}

#[tokio::test]
async fn crds_install_and_become_established() -> Result<()> {
    let (_, client) = setup().await?;
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    for (_, crd) in crds::all() {
        let name = crd.metadata.name.unwrap_or_default();
        let live = crds.get(&name).await?;
        let established = live
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        assert!(established, "{name} is not Established");
    }
    Ok(())
}

/// Creates `crd` under API group `group` (so it does not collide with the installed one)
/// and returns the API server's warnings (the `Warning` response headers).
async fn create_crd_warnings(
    client: &Client,
    crd: &CustomResourceDefinition,
    group: &str,
) -> Result<Vec<String>> {
    let mut crd = crd.clone();
    crd.metadata.name = Some(format!("{}.{group}", crd.spec.names.plural));
    crd.spec.group = group.to_owned();
    let req = http::Request::post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        .header("Content-Type", "application/json")
        .body(kube::client::Body::from(serde_json::to_vec(&crd)?))?;
    let res = client.send(req).await?;
    let (status, warnings) = (
        res.status(),
        res.headers()
            .get_all("warning")
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect(),
    );
    let body = res.into_body().collect_bytes().await?;
    if !status.is_success() {
        bail!(
            "creating CRD {:?}: {status} {}",
            crd.metadata.name,
            String::from_utf8_lossy(&body)
        );
    }
    Ok(warnings)
}

#[tokio::test]
async fn the_committed_crds_install_without_warnings() -> Result<()> {
    let (_, client) = setup().await?;
    for (i, (file, crd)) in crds::all().into_iter().enumerate() {
        let committed: CustomResourceDefinition = serde_yaml_from(&std::fs::read_to_string(
            repo().join(crds::CRD_DIR).join(file),
        )?)?;
        assert_eq!(committed.spec, crd.spec, "{file} is stale: run crdgen");
        let warnings =
            create_crd_warnings(&client, &committed, &format!("c{i}.formats.test")).await?;
        assert_eq!(warnings, Vec::<String>::new(), "{file}");
    }
    // The check can see a warning: the schema as schemars emits it gets one per Rust-typed
    // format (`unrecognized format "uint32"`), which crds::formats::normalize removes.
    let raw = <LoadTest as kube::CustomResourceExt>::crd();
    let warnings = create_crd_warnings(&client, &raw, "raw.formats.test").await?;
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(r#"unrecognized format \"uint32\""#)
                || w.contains(r#"unrecognized format "uint32""#)),
        "{warnings:?}"
    );
    Ok(())
}

/// The `.yaml` files under `dir` and its subdirectories (e.g. `examples/gitops/`), sorted.
fn yaml_files(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files.extend(yaml_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

#[tokio::test]
async fn every_example_is_accepted_and_parses_into_the_rust_types() -> Result<()> {
    let (cp, client) = setup().await?;
    let ns = cp.namespace("examples").await?;
    let mut count = 0;
    for path in yaml_files(&repo().join("manifests/examples"))? {
        let text = std::fs::read_to_string(&path)?;
        // Examples of other projects' kinds (examples/sealed-secrets/) need their CRDs:
        // conformance/tests/dry_run.rs checks them with the upstream CRDs installed.
        if !text.contains("apiVersion: tartinfra.dev/") {
            continue;
        }
        if let Some(message) = create(&client, &ns, &text).await? {
            bail!("{} was rejected: {message}", path.display());
        }
        // The same file deserializes into the typed resource, and presets/specs plan.
        let name = path.display().to_string();
        if text.contains("kind: LoadTest") {
            let lt: LoadTest = serde_yaml_from(&text).context(name.clone())?;
            crds::plan::plan_load_test(&lt.spec).with_context(|| name.clone())?;
        } else if text.contains("kind: TestSchedule") {
            let ts: TestSchedule = serde_yaml_from(&text).context(name.clone())?;
            if let Some(t) = &ts.spec.load_test {
                crds::plan::plan_load_test(&t.spec).with_context(|| name.clone())?;
            }
            if let Some(t) = &ts.spec.scaling_experiment {
                crds::plan::plan_experiment(&t.spec).with_context(|| name.clone())?;
            }
        } else if text.contains("kind: ScalingExperiment") {
            let se: ScalingExperiment = serde_yaml_from(&text).context(name.clone())?;
            crds::plan::plan_experiment(&se.spec).with_context(|| name.clone())?;
        } else {
            let _: ManagedCluster = serde_yaml_from(&text).context(name.clone())?;
        }
        count += 1;
    }
    assert!(
        count >= 23,
        "expected an example per preset plus custom ones and the GitOps gate, found {count}"
    );
    Ok(())
}

fn serde_yaml_from<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    let obj = parse_yaml_documents(text)?.pop().context("empty YAML")?;
    Ok(serde_json::from_value(serde_json::to_value(obj)?)?)
}

fn lt(spec: &str) -> String {
    format!(
        "apiVersion: tartinfra.dev/v1alpha1\nkind: LoadTest\nmetadata:\n  generateName: bad-\nspec:\n{spec}"
    )
}

fn mc(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: tartinfra.dev/v1alpha1\nkind: ManagedCluster\nmetadata:\n  name: {name}\nspec:\n{spec}"
    )
}

fn ts(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: tartinfra.dev/v1alpha1\nkind: TestSchedule\nmetadata:\n  name: {name}\nspec:\n{spec}"
    )
}

fn se(spec: &str) -> String {
    format!(
        "apiVersion: tartinfra.dev/v1alpha1\nkind: ScalingExperiment\nmetadata:\n  generateName: bad-\nspec:\n{spec}"
    )
}

const TART_NODES: &str = "  nodes:\n  - {name: cp, role: controlPlane, cpu: 2, memoryMiB: 4096}\n";
const NET: &str = "  network: {podCidr: 10.20.0.0/16, serviceCidr: 10.97.0.0/16}\n";

#[tokio::test]
async fn specs_of_tests_and_experiments_are_immutable() -> Result<()> {
    let (cp, client) = setup().await?;
    let ns = cp.namespace("immutable").await?;
    let lts = api_for(&client, "LoadTest", &ns)?;
    let obj = parse_yaml_documents(&lt("  cluster: dev\n  preset: light-load\n"))?
        .pop()
        .context("object")?;
    let mut obj = create_strict(&client, &ns, &obj).await?;
    let name = obj.metadata.name.clone().unwrap_or_default();
    obj.data["spec"]["preset"] = "heavy-load".into();
    match lts.replace(&name, &PostParams::default(), &obj).await {
        Err(kube::Error::Api(s)) => {
            assert!(s.message.contains("spec is immutable"), "{}", s.message)
        }
        other => bail!("changing a LoadTest spec should fail, got {other:?}"),
    }

    let mcs = api_for(&client, "ManagedCluster", &ns)?;
    let text = mc(
        "immutable-provider",
        "  tier: dev\n  provider: external\n  kubeconfigSecretRef: {namespace: tart-system, name: dev}\n",
    );
    create_strict(
        &client,
        &ns,
        &parse_yaml_documents(&text)?.pop().context("object")?,
    )
    .await?;
    let patch = serde_json::json!({ "spec": { "provider": "tart", "network": { "podCidr": "10.20.0.0/16", "serviceCidr": "10.97.0.0/16" },
        "nodes": [{ "name": "cp", "role": "controlPlane", "cpu": 2, "memoryMiB": 4096 }] } });
    match mcs
        .patch(
            "immutable-provider",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Err(kube::Error::Api(s)) => assert!(
            s.message.contains("provider cannot change"),
            "{}",
            s.message
        ),
        other => bail!("changing the provider should fail, got {other:?}"),
    }
    // Other ManagedCluster fields may change (e.g. pausing it).
    let pause = serde_json::json!({ "spec": { "paused": true } });
    mcs.patch(
        "immutable-provider",
        &PatchParams::default(),
        &Patch::Merge(&pause),
    )
    .await?;
    // A schedule's run template is not a run: it may change (the run kinds' immutability
    // rule is dropped from it), and the schema fills in CronJob's defaults.
    let text = ts(
        "mutable-template",
        "  schedule: '0 2 * * *'\n  loadTest: {spec: {cluster: dev, preset: light-load}}\n",
    );
    ensure_created(create(&client, &ns, &text).await?)?;
    let schedules = Api::<TestSchedule>::namespaced(client.clone(), &ns);
    let patch =
        serde_json::json!({ "spec": { "loadTest": { "spec": { "preset": "heavy-load" } } } });
    let changed = schedules
        .patch(
            "mutable-template",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    let template = changed.spec.load_test.context("loadTest")?;
    assert_eq!(template.spec.preset, Some(crds::LoadTestPreset::HeavyLoad));
    assert_eq!(changed.spec.time_zone.as_str(), "UTC");
    assert_eq!(changed.spec.successful_runs_history_limit, 3);
    Ok(())
}

#[tokio::test]
async fn schema_defaults_are_applied_by_the_api_server() -> Result<()> {
    let (cp, client) = setup().await?;
    let ns = cp.namespace("defaults").await?;
    let ses: Api<ScalingExperiment> = Api::namespaced(client.clone(), &ns);
    let obj = parse_yaml_documents(&se("  cluster: dev\n  load: {preset: scale-light}\n"))?
        .pop()
        .context("object")?;
    let created = create_strict(&client, &ns, &obj).await?;
    let typed = ses.get(&created.metadata.name.unwrap_or_default()).await?;
    assert_eq!(typed.spec.sample_interval_seconds, 5);
    assert_eq!(typed.spec.target_namespace.as_str(), "demo");
    assert!(!typed.spec.end_cooldown_when_baseline_restored);

    let mcs: Api<ManagedCluster> = Api::all(client.clone());
    let text = mc(
        "defaults",
        &format!("  tier: staging\n  provider: tart\n{NET}{TART_NODES}"),
    );
    create_strict(
        &client,
        &ns,
        &parse_yaml_documents(&text)?.pop().context("object")?,
    )
    .await?;
    let typed = mcs.get("defaults").await?;
    let nodes = typed.spec.nodes.unwrap_or_default();
    assert_eq!(nodes.first().map(|n| n.disk_gib), Some(50));
    assert!(typed.spec.addons.cilium.hubble, "hubble defaults to on");
    assert!(!typed.spec.paused);
    // The API server itself fills in the LoadTest policy (what admission reads), not only
    // the Rust types: the stored object has it.
    let raw = api_for(&client, "ManagedCluster", &ns)?
        .get("defaults")
        .await?;
    let policy = &raw.data["spec"]["loadTestPolicy"];
    assert_eq!(policy["maxVUs"], 200, "{policy}");
    assert_eq!(policy["maxDuration"], "10m", "{policy}");
    assert_eq!(
        policy["runnerNamespaces"],
        serde_json::json!(["tart-loadtest"])
    );
    assert_eq!(policy["allowedImages"], serde_json::json!([]));
    let partial = mc(
        "partial-policy",
        &format!(
            "  tier: staging\n  provider: tart\n{NET}{TART_NODES}  loadTestPolicy: {{maxVUs: 20}}\n"
        ),
    );
    create_strict(
        &client,
        &ns,
        &parse_yaml_documents(&partial)?.pop().context("object")?,
    )
    .await?;
    let raw = api_for(&client, "ManagedCluster", &ns)?
        .get("partial-policy")
        .await?;
    let policy = &raw.data["spec"]["loadTestPolicy"];
    assert_eq!(policy["maxVUs"], 20, "{policy}");
    assert_eq!(
        policy["maxWorkers"], 4,
        "the fields left out keep their defaults: {policy}"
    );
    assert_eq!(policy["maxParallelism"], 4, "{policy}");
    Ok(())
}

#[tokio::test]
async fn kubectl_get_shows_the_printer_columns() -> Result<()> {
    let (_, client) = setup().await?;
    for (plural, expected) in [
        (
            "managedclusters",
            vec![
                "Name", "Tier", "Provider", "Phase", "Nodes", "Version", "Age",
            ],
        ),
        (
            "loadtests",
            vec![
                "Name",
                "Cluster",
                "Type",
                "Phase",
                "Reason",
                "P95(ms)",
                "RPS",
                "Errors",
                "Regression",
                "Age",
            ],
        ),
        (
            "scalingexperiments",
            vec![
                "Name",
                "Cluster",
                "Phase",
                "ScaleUp(s)",
                "Peak",
                "Regression",
                "Age",
            ],
        ),
        (
            "testschedules",
            vec![
                "Name", "Schedule", "TimeZone", "Suspend", "Active", "Last", "Next", "Age",
            ],
        ),
    ] {
        let req = http::Request::get(format!("/apis/tartinfra.dev/v1alpha1/{plural}"))
            .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
            .body(Vec::new())?;
        let table: serde_json::Value = serde_json::from_str(&client.request_text(req).await?)?;
        let names: Vec<&str> = table["columnDefinitions"]
            .as_array()
            .context("columnDefinitions")?
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(names, expected, "columns of {plural}");
    }
    // The Regression column reads the RegressionDetected condition out of the list.
    let (cp, _) = setup().await?;
    let ns = cp.namespace("regression-column").await?;
    let lt = "apiVersion: tartinfra.dev/v1alpha1\nkind: LoadTest\nmetadata: {name: v2}\nspec: {cluster: dev, preset: light-load, baseline: {name: v1}}\n";
    ensure_created(create(&client, &ns, lt).await?)?;
    let status = serde_json::json!({ "status": { "phase": "Succeeded", "conditions": [
        { "type": "Complete", "status": "True", "reason": "Succeeded", "message": "", "lastTransitionTime": "2026-12-05T10:00:00Z" },
        { "type": "RegressionDetected", "status": "True", "reason": "Regressed", "message": "p95Ms 100 → 130", "lastTransitionTime": "2026-12-05T10:00:00Z" },
    ] } });
    Api::<LoadTest>::namespaced(client.clone(), &ns)
        .patch_status("v2", &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    let req = http::Request::get(format!(
        "/apis/tartinfra.dev/v1alpha1/namespaces/{ns}/loadtests/v2"
    ))
    .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
    .body(Vec::new())?;
    let table: serde_json::Value = serde_json::from_str(&client.request_text(req).await?)?;
    assert_eq!(table["rows"][0]["cells"][8], "True", "{table}");
    // Short names and the category resolve through discovery, as `kubectl get mc,lt,se` and
    // `kubectl get tartinfra` need.
    let discovery = kube::Discovery::new(client.clone()).run().await?;
    let group = discovery
        .get("tartinfra.dev")
        .context("group tartinfra.dev not discovered")?;
    let kinds: Vec<String> = group
        .recommended_resources()
        .into_iter()
        .map(|(ar, _)| ar.kind)
        .collect();
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    let req = http::Request::get("/apis/tartinfra.dev/v1alpha1").body(Vec::new())?;
    let served: APIResourceList = serde_json::from_str(&client.request_text(req).await?)?;
    for (plural, short_name) in [
        ("managedclusters", "mc"),
        ("loadtests", "lt"),
        ("scalingexperiments", "se"),
        ("testschedules", "tsched"),
    ] {
        let resource = served
            .resources
            .iter()
            .find(|r| r.name == plural)
            .with_context(|| format!("{plural} is not served"))?;
        assert_eq!(
            resource.short_names,
            Some(vec![short_name.to_owned()]),
            "short names of {plural}"
        );
        assert_eq!(
            resource.categories,
            Some(vec!["tartinfra".to_owned()]),
            "categories of {plural}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn kubectl_explain_gets_field_descriptions_from_openapi() -> Result<()> {
    let (_, client) = setup().await?;
    // The OpenAPI controller publishes new CRDs asynchronously; poll briefly.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let doc: serde_json::Value = loop {
        let req = http::Request::get("/openapi/v3/apis/tartinfra.dev/v1alpha1").body(Vec::new())?;
        if let Ok(text) = client.request_text(req).await {
            let doc: serde_json::Value = serde_json::from_str(&text)?;
            if doc["components"]["schemas"]["dev.tartinfra.v1alpha1.ScalingExperiment"].is_object()
            {
                break doc;
            }
        }
        if std::time::Instant::now() > deadline {
            bail!("the tartinfra.dev OpenAPI document was not published within 60s");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let spec = |kind: &str| {
        doc["components"]["schemas"][format!("dev.tartinfra.v1alpha1.{kind}")]["properties"]["spec"]
            .clone()
    };
    let vus = spec("LoadTest")["properties"]["http"]["properties"]["vus"]["description"].clone();
    assert!(
        vus.as_str()
            .is_some_and(|d| d.contains("Concurrent virtual users")),
        "{vus}"
    );
    let cidr =
        spec("ManagedCluster")["properties"]["network"]["properties"]["podCidr"]["description"]
            .clone();
    assert!(
        cidr.as_str().is_some_and(|d| d.contains("pod network")),
        "{cidr}"
    );
    let cooldown =
        spec("ScalingExperiment")["properties"]["cooldownSeconds"]["description"].clone();
    assert!(
        cooldown.as_str().is_some_and(|d| d.contains("scale-down")),
        "{cooldown}"
    );
    Ok(())
}

#[tokio::test]
async fn status_is_a_subresource_that_the_schema_bounds() -> Result<()> {
    let (cp, client) = setup().await?;
    let ns = cp.namespace("status").await?;
    let obj = parse_yaml_documents(&lt("  cluster: dev\n  preset: light-load\n"))?
        .pop()
        .context("object")?;
    let created = create_strict(&client, &ns, &obj).await?;
    let name = created.metadata.name.unwrap_or_default();
    let lts: Api<LoadTest> = Api::namespaced(client, &ns);
    let status = serde_json::json!({ "status": { "phase": "Running", "progressPercent": 40, "testType": "http" } });
    let patched = lts
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    assert_eq!(patched.status.and_then(|s| s.progress_percent), Some(40));
    let bad = serde_json::json!({ "status": { "progressPercent": 140 } });
    match lts
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&bad))
        .await
    {
        Err(kube::Error::Api(s)) => assert!(
            s.message.contains("status.progressPercent"),
            "{}",
            s.message
        ),
        other => bail!("progressPercent 140 should be rejected, got {other:?}"),
    }
    // Writing status through the main resource does not change it.
    let mut obj = lts.get(&name).await?;
    obj.status = None;
    let after = lts.replace(&name, &PostParams::default(), &obj).await?;
    assert!(
        after.status.is_some(),
        "status must survive a spec-side replace"
    );
    assert_eq!(LoadTest::kind(&()), "LoadTest");
    Ok(())
}
