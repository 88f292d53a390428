//! The generated CRDs against a real kube-apiserver (built from the official Go module):
//! they install and become Established, every example is accepted, bad objects are rejected
//! with a message naming the field, and `kubectl get` / `kubectl explain` have what they need.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use crds::{LoadTest, ManagedCluster, ScalingExperiment};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, Resource};
use local_control_plane::{ControlPlane, apply_yaml, parse_yaml_documents};

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
            let text = std::fs::read_to_string(repo().join("manifests/crds").join(file))
                .with_context(|| format!("reading manifests/crds/{file}"))?;
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

#[tokio::test]
async fn every_example_is_accepted_and_parses_into_the_rust_types() -> Result<()> {
    let (cp, client) = setup().await?;
    let ns = cp.namespace("examples").await?;
    let mut count = 0;
    let mut entries: Vec<_> =
        std::fs::read_dir(repo().join("manifests/examples"))?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let text = std::fs::read_to_string(&path)?;
        if let Some(message) = create(&client, &ns, &text).await? {
            bail!("{} was rejected: {message}", path.display());
        }
        // The same file deserializes into the typed resource, and presets/specs plan.
        let name = path.display().to_string();
        if text.contains("kind: LoadTest") {
            let lt: LoadTest = serde_yaml_from(&text).context(name.clone())?;
            crds::plan::plan_load_test(&lt.spec).with_context(|| name.clone())?;
        } else if text.contains("kind: ScalingExperiment") {
            let se: ScalingExperiment = serde_yaml_from(&text).context(name.clone())?;
            crds::plan::plan_experiment(&se.spec).with_context(|| name.clone())?;
        } else {
            let _: ManagedCluster = serde_yaml_from(&text).context(name.clone())?;
        }
        count += 1;
    }
    assert!(
        count >= 22,
        "expected an example per preset plus custom ones, found {count}"
    );
    Ok(())
}

fn serde_yaml_from<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    let obj = parse_yaml_documents(text)?.pop().context("empty YAML")?;
    Ok(serde_json::from_value(serde_json::to_value(obj)?)?)
}

/// An invalid object and what the API server's message must contain: the field's path and
/// the words that tell the user what to fix.
struct Invalid {
    what: &'static str,
    yaml: String,
    expect: &'static [&'static str],
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

fn se(spec: &str) -> String {
    format!(
        "apiVersion: tartinfra.dev/v1alpha1\nkind: ScalingExperiment\nmetadata:\n  generateName: bad-\nspec:\n{spec}"
    )
}

const TART_NODES: &str = "  nodes:\n  - {name: cp, role: controlPlane, cpu: 2, memoryMiB: 4096}\n";
const NET: &str = "  network: {podCidr: 10.20.0.0/16, serviceCidr: 10.97.0.0/16}\n";

fn invalid_objects() -> Vec<Invalid> {
    let case = |what, yaml, expect| Invalid { what, yaml, expect };
    vec![
        case(
            "unknown preset",
            lt("  cluster: dev\n  preset: super-load\n"),
            &["spec.preset", "Unsupported value", "light-load"],
        ),
        case(
            "negative VUs",
            lt("  cluster: dev\n  http: {vus: -5}\n"),
            &["spec.http.vus", "greater than or equal to 1"],
        ),
        case(
            "huge VUs",
            lt("  cluster: dev\n  http: {vus: 100000}\n"),
            &["spec.http.vus", "less than or equal to 1000"],
        ),
        case(
            "bad duration",
            lt("  cluster: dev\n  http: {duration: 10x}\n"),
            &["spec.http.duration", "must be a duration such as 30s"],
        ),
        case(
            "duration too long",
            lt("  cluster: dev\n  http: {duration: 25h}\n"),
            &["spec.http.duration", "between 1s and 24h"],
        ),
        case(
            "zero duration",
            lt("  cluster: dev\n  http: {duration: 0s}\n"),
            &["spec.http.duration", "between 1s and 24h"],
        ),
        case(
            "non-http URL",
            lt("  cluster: dev\n  http: {targetUrl: 'ftp://files.example'}\n"),
            &["spec.http.targetUrl", "absolute http:// or https:// URL"],
        ),
        case(
            "URL without host",
            lt("  cluster: dev\n  http: {targetUrl: 'http://'}\n"),
            &["spec.http.targetUrl", "with a host"],
        ),
        case(
            "bad URL in targets",
            lt("  cluster: dev\n  http: {targets: ['http://ok.example', 'not a url']}\n"),
            &["spec.http.targets[1]", "absolute http"],
        ),
        case(
            "preset and http",
            lt("  cluster: dev\n  preset: light-load\n  http: {vus: 5}\n"),
            &["spec", "exactly one of preset, http or stress"],
        ),
        case(
            "none of preset/http/stress",
            lt("  cluster: dev\n"),
            &["spec", "exactly one of preset, http or stress"],
        ),
        case(
            "targetUrl and targets",
            lt(
                "  cluster: dev\n  http: {targetUrl: 'http://a.example', targets: ['http://b.example']}\n",
            ),
            &["spec.http", "not both"],
        ),
        case(
            "stages with vus",
            lt("  cluster: dev\n  http: {vus: 5, stages: [{duration: 10s, target: 5}]}\n"),
            &["spec.http", "stages replace vus"],
        ),
        case(
            "vmBytes on a CPU stress",
            lt("  cluster: dev\n  stress: {kind: cpu, vmBytes: 64M}\n"),
            &["spec.stress.vmBytes", "memory only"],
        ),
        case(
            "malformed vmBytes",
            lt("  cluster: dev\n  stress: {kind: memory, vmBytes: 64MB}\n"),
            &["spec.stress.vmBytes", "such as 64M"],
        ),
        case(
            "unknown stress kind",
            lt("  cluster: dev\n  stress: {kind: disk}\n"),
            &["spec.stress.kind", "Unsupported value"],
        ),
        case(
            "image on latest",
            lt("  cluster: dev\n  preset: light-load\n  image: grafana/k6:latest\n"),
            &["spec.image", "pinned image"],
        ),
        case(
            "untagged image",
            lt("  cluster: dev\n  preset: light-load\n  image: grafana/k6\n"),
            &["spec.image", "pinned image"],
        ),
        case(
            "error rate above 1",
            lt("  cluster: dev\n  http: {thresholds: {errorRate: 1.5}}\n"),
            &["spec.http.thresholds.errorRate", "less than or equal to 1"],
        ),
        case(
            "runner namespace not a DNS label",
            lt("  cluster: dev\n  preset: light-load\n  runnerNamespace: Load_Tests\n"),
            &["spec.runnerNamespace", "DNS label"],
        ),
        case(
            "header value with a line break",
            lt(
                "  cluster: dev\n  http: {headers: [{name: x-a, value: \"1\\r\\nInjected: yes\"}]}\n",
            ),
            &["spec.http.headers[0].value", "line breaks"],
        ),
        case(
            "header name with a colon",
            lt("  cluster: dev\n  http: {headers: [{name: 'x:a', value: b}]}\n"),
            &["spec.http.headers[0].name", "header names"],
        ),
        case(
            "missing cluster",
            lt("  preset: light-load\n"),
            &["spec.cluster", "Required value"],
        ),
        case(
            "bad cluster name",
            lt("  cluster: Dev_Cluster\n  preset: light-load\n"),
            &["spec.cluster", "object name"],
        ),
        case(
            "timeout too short",
            lt("  cluster: dev\n  preset: light-load\n  timeoutSeconds: 1\n"),
            &["spec.timeoutSeconds", "greater than or equal to 10"],
        ),
        case(
            "misspelt field",
            lt("  cluster: dev\n  http: {vuz: 5}\n"),
            &["spec.http.vuz", "unknown field"],
        ),
        case(
            "unknown tier",
            mc(
                "bad-tier",
                "  tier: qa\n  provider: external\n  kubeconfigSecretRef: {namespace: tart-system, name: qa}\n",
            ),
            &["spec.tier", "Unsupported value"],
        ),
        case(
            "external without kubeconfig",
            mc("no-kubeconfig", "  tier: dev\n  provider: external\n"),
            &[
                "spec.kubeconfigSecretRef",
                "required when provider is external",
            ],
        ),
        case(
            "tart without network",
            mc(
                "no-network",
                &format!("  tier: dev\n  provider: tart\n{TART_NODES}"),
            ),
            &["spec.network", "required when provider is tart"],
        ),
        case(
            "tart without nodes",
            mc("no-nodes", &format!("  tier: dev\n  provider: tart\n{NET}")),
            &["spec.nodes", "must list the cluster's VMs"],
        ),
        case(
            "overlapping CIDRs",
            mc(
                "overlap",
                &format!(
                    "  tier: dev\n  provider: tart\n  network: {{podCidr: 10.96.0.0/12, serviceCidr: 10.97.0.0/16}}\n{TART_NODES}"
                ),
            ),
            &["spec.network.serviceCidr", "must not overlap"],
        ),
        case(
            "CIDR with host bits",
            mc(
                "host-bits",
                &format!(
                    "  tier: dev\n  provider: tart\n  network: {{podCidr: 10.20.0.5/16, serviceCidr: 10.97.0.0/16}}\n{TART_NODES}"
                ),
            ),
            &["spec.network.podCidr", "host bits zero"],
        ),
        case(
            "not a CIDR",
            mc(
                "not-cidr",
                &format!(
                    "  tier: dev\n  provider: tart\n  network: {{podCidr: 10.20.0.0/33, serviceCidr: 10.97.0.0/16}}\n{TART_NODES}"
                ),
            ),
            &["spec.network.podCidr", "CIDR network address"],
        ),
        case(
            "two control-plane nodes",
            mc(
                "two-cp",
                &format!(
                    "  tier: dev\n  provider: tart\n{NET}  nodes:\n  - {{name: a, role: controlPlane, cpu: 2, memoryMiB: 4096}}\n  - {{name: b, role: controlPlane, cpu: 2, memoryMiB: 4096}}\n"
                ),
            ),
            &["spec.nodes", "exactly one node with role controlPlane"],
        ),
        case(
            "no control-plane node",
            mc(
                "no-cp",
                &format!(
                    "  tier: dev\n  provider: tart\n{NET}  nodes:\n  - {{name: a, role: worker, cpu: 2, memoryMiB: 4096}}\n"
                ),
            ),
            &["spec.nodes", "exactly one node with role controlPlane"],
        ),
        case(
            "control plane with 1 CPU",
            mc(
                "small-cp",
                &format!(
                    "  tier: dev\n  provider: tart\n{NET}  nodes:\n  - {{name: a, role: controlPlane, cpu: 1, memoryMiB: 4096}}\n"
                ),
            ),
            &["spec.nodes[0]", "at least 2 CPUs and 2048 MiB"],
        ),
        case(
            "control plane with 1 GiB",
            mc(
                "small-cp-mem",
                &format!(
                    "  tier: dev\n  provider: tart\n{NET}  nodes:\n  - {{name: a, role: controlPlane, cpu: 2, memoryMiB: 1024}}\n"
                ),
            ),
            &["spec.nodes[0]", "at least 2 CPUs and 2048 MiB"],
        ),
        case(
            "duplicate node names",
            mc(
                "dup-nodes",
                &format!(
                    "  tier: dev\n  provider: tart\n{NET}  nodes:\n  - {{name: a, role: controlPlane, cpu: 2, memoryMiB: 4096}}\n  - {{name: a, role: worker, cpu: 2, memoryMiB: 4096}}\n"
                ),
            ),
            &["spec.nodes[1]", "Duplicate value"],
        ),
        case(
            "node name not a DNS label",
            mc(
                "bad-node",
                &format!(
                    "  tier: dev\n  provider: tart\n{NET}  nodes:\n  - {{name: Master_1, role: controlPlane, cpu: 2, memoryMiB: 4096}}\n"
                ),
            ),
            &["spec.nodes[0].name", "DNS label"],
        ),
        case(
            "Kubernetes too old",
            mc(
                "old-k8s",
                &format!(
                    "  tier: dev\n  provider: tart\n  kubernetesVersion: '1.20'\n{NET}{TART_NODES}"
                ),
            ),
            &["spec.kubernetesVersion", "1.33 or newer"],
        ),
        case(
            "experiment with preset and http",
            se("  cluster: dev\n  load: {preset: scale-light, http: {vus: 5}}\n"),
            &["spec.load", "exactly one of load.preset or load.http"],
        ),
        case(
            "experiment without load",
            se("  cluster: dev\n  load: {}\n"),
            &["spec.load", "exactly one of load.preset or load.http"],
        ),
        case(
            "unknown experiment preset",
            se("  cluster: dev\n  load: {preset: cascade-mega}\n"),
            &["spec.load.preset", "Unsupported value"],
        ),
        case(
            "sample interval 0",
            se("  cluster: dev\n  load: {preset: scale-light}\n  sampleIntervalSeconds: 0\n"),
            &["spec.sampleIntervalSeconds", "greater than or equal to 1"],
        ),
        case(
            "cooldown too long",
            se("  cluster: dev\n  load: {preset: scale-light}\n  cooldownSeconds: 99999\n"),
            &["spec.cooldownSeconds", "less than or equal to 3600"],
        ),
        case(
            "duplicate experiment targets",
            se(
                "  cluster: dev\n  load: {preset: scale-light}\n  targets:\n  - {namespace: demo, deployment: web}\n  - {namespace: demo, deployment: web}\n",
            ),
            &["spec.targets[1]", "Duplicate value"],
        ),
    ]
}

#[tokio::test]
async fn invalid_objects_are_rejected_with_the_field_named() -> Result<()> {
    let (cp, client) = setup().await?;
    let ns = cp.namespace("invalid").await?;
    let cases = invalid_objects();
    assert!(cases.len() >= 15);
    let mut failures = Vec::new();
    for case in &cases {
        match create(&client, &ns, &case.yaml).await? {
            None => failures.push(format!("{}: accepted", case.what)),
            Some(message) => {
                eprintln!("{}: {message}", case.what);
                let missing: Vec<_> = case
                    .expect
                    .iter()
                    .filter(|e| !message.contains(**e))
                    .collect();
                if !missing.is_empty() {
                    failures.push(format!(
                        "{}: message lacks {missing:?}: {message}",
                        case.what
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    Ok(())
}

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
                "Name", "Cluster", "Type", "Phase", "P95(ms)", "RPS", "Errors", "Age",
            ],
        ),
        (
            "scalingexperiments",
            vec!["Name", "Cluster", "Phase", "ScaleUp(s)", "Peak", "Age"],
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
    // Short names and the category resolve through discovery, as `kubectl get mc,lt,se` needs.
    let discovery = kube::Discovery::new(client).run().await?;
    let group = discovery
        .get("tartinfra.dev")
        .context("group tartinfra.dev not discovered")?;
    let kinds: Vec<String> = group
        .recommended_resources()
        .into_iter()
        .map(|(ar, _)| ar.kind)
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
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
