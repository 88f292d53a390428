//! The chart's ValidatingAdmissionPolicy for LoadTests
//! (`charts/tart-operator/templates/loadtest-policy.yaml`, rendered by helm) against a real
//! kube-apiserver with the committed CRDs: a LoadTest breaking the spec.loadTestPolicy of the
//! ManagedCluster it targets is refused at create with the rule in the message; one within
//! it is accepted; only the target cluster's policy applies; a ManagedCluster without a
//! policy gets the safe defaults (filled in by the API server).

mod support;

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use conformance::documents::{self, Document};
use conformance::helm::{self, Release};
use conformance::{Applier, repo};
use k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy;
use kube::Client;
use kube::api::{Api, PostParams};
use local_control_plane::{ControlPlane, Options, apply_yaml};
use serde_json::{Value, json};

/// The control plane's kube-apiserver version, for helm's `--kube-version`.
const KUBE_VERSION: &str = "v1.36.0";

fn loadtest(cluster: &str, spec: Value) -> Result<Value> {
    let mut full = json!({ "cluster": cluster });
    for (k, v) in spec.as_object().context("spec")? {
        full[k] = v.clone();
    }
    Ok(json!({
        "apiVersion": "tartinfra.dev/v1alpha1", "kind": "LoadTest",
        "metadata": { "generateName": "vap-" },
        "spec": full,
    }))
}

/// Creates `lt` in `ns` with a dry run (admission runs, nothing is stored): the API
/// server's refusal message, or `None` when it was accepted.
async fn refusal(client: &Client, ns: &str, lt: &Value) -> Result<Option<String>> {
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &kube::api::ApiResource::erase::<crds::LoadTest>(&()),
    );
    let obj = serde_json::from_value(lt.clone())?;
    let pp = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    match api.create(&pp, &obj).await {
        Ok(_) => Ok(None),
        Err(kube::Error::Api(s)) => Ok(Some(s.message)),
        Err(e) => Err(e.into()),
    }
}

#[tokio::test]
async fn loadtests_breaking_their_clusters_policy_are_refused_at_create() -> Result<()> {
    let Some(helm) = support::helm("the LoadTest admission policy test") else {
        return Ok(());
    };
    let cp = ControlPlane::start(Options::apiserver("vap")).await?;
    let client = cp.client().await?;
    let mut applier = Applier::new(client.clone());
    let mut crds = Vec::new();
    for (file, _) in crds::all() {
        let path = repo().join(crds::CRD_DIR).join(file);
        crds.extend(documents::parse(file, &std::fs::read_to_string(&path)?)?);
    }
    applier.install_crds(&crds, support::ESTABLISHED).await?;
    let rendered = helm::template(
        &helm,
        &Release {
            name: "tart-operator",
            chart: &repo().join("charts/tart-operator"),
            namespace: "tart-system",
            values: "{}",
            kube_version: KUBE_VERSION,
        },
    )?;
    let policy: Vec<Document> = documents::parse("helm template tart-operator", &rendered)?
        .into_iter()
        .filter(|d| d.kind().starts_with("ValidatingAdmissionPolicy"))
        .collect();
    ensure!(
        policy.len() == 2,
        "the chart renders the policy and its binding"
    );
    for doc in &policy {
        let verdict = applier.apply(doc, "default").await;
        ensure!(verdict.rejected.is_none(), "{verdict}");
    }
    // prod: no policy, so the defaults. dev: its owner allows more, from team-a only.
    let clusters = "apiVersion: tartinfra.dev/v1alpha1\nkind: ManagedCluster\nmetadata: {name: prod}\n\
        spec: {tier: prod, provider: external, kubeconfigSecretRef: {namespace: tart-system, name: prod}}\n---\n\
        apiVersion: tartinfra.dev/v1alpha1\nkind: ManagedCluster\nmetadata: {name: dev}\n\
        spec:\n  tier: dev\n  provider: external\n  kubeconfigSecretRef: {namespace: tart-system, name: dev}\n  \
        loadTestPolicy: {allowedNamespaces: [team-a], maxVUs: 1000, maxParallelism: 10, allowedImages: [registry.example.com/loadtest/]}\n";
    apply_yaml(&client, clusters, "default").await?;
    for ns in ["team-a", "team-b"] {
        apply_yaml(
            &client,
            &format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"),
            "default",
        )
        .await?;
    }

    // The API server type-checks the policy: no expression may be ill-typed.
    let vap = Api::<ValidatingAdmissionPolicy>::all(client.clone())
        .get(policy[0].name())
        .await?;
    let warnings = vap
        .status
        .as_ref()
        .and_then(|s| s.type_checking.as_ref())
        .and_then(|t| t.expression_warnings.clone())
        .unwrap_or_default();
    ensure!(warnings.is_empty(), "{warnings:#?}");

    // The policy takes effect once the API server has loaded it and its params.
    let too_many = loadtest("prod", json!({ "http": { "vus": 500 } }))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while refusal(&client, "team-b", &too_many).await?.is_none() {
        if tokio::time::Instant::now() > deadline {
            bail!("the admission policy did not take effect within 30s");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let cases = [
        ("prod", "team-b", json!({ "preset": "heavy-load" }), None),
        (
            "prod",
            "team-b",
            json!({ "http": { "vus": 200, "duration": "9m" } }),
            None,
        ),
        (
            "prod",
            "team-b",
            json!({ "http": { "vus": 500 } }),
            Some("maxVUs of cluster prod: at most 200 VUs"),
        ),
        (
            "prod",
            "team-b",
            json!({ "http": { "stages": [{ "duration": "10s", "target": 300 }] } }),
            Some("maxVUs"),
        ),
        (
            "prod",
            "team-b",
            json!({ "http": { "vus": 200, "parallelism": 4 } }),
            None,
        ),
        (
            "prod",
            "team-b",
            json!({ "http": { "vus": 200, "parallelism": 5 } }),
            Some(
                "maxParallelism of cluster prod: spec.http.parallelism 5 asked, at most 4 runner pods",
            ),
        ),
        (
            "prod",
            "team-b",
            json!({ "http": { "vus": 300, "parallelism": 2 } }),
            Some("maxVUs of cluster prod: at most 200 VUs"),
        ),
        (
            "prod",
            "team-b",
            json!({ "http": { "duration": "9m", "rampUp": "1m" } }),
            Some(
                "maxDuration of cluster prod: the load (duration plus the ramps up and down) may last at most 10m",
            ),
        ),
        (
            "prod",
            "team-b",
            json!({ "preset": "light-load", "image": "grafana/k6:1.0.0" }),
            Some(
                "allowedImages of cluster prod: spec.image grafana/k6:1.0.0 is not allowed (none: leave spec.image unset",
            ),
        ),
        (
            "prod",
            "team-b",
            json!({ "preset": "light-load", "runnerNamespace": "kube-public" }),
            Some(
                "runnerNamespaces of cluster prod: runner namespace kube-public is not allowed (allowed: tart-loadtest)",
            ),
        ),
        (
            "prod",
            "team-b",
            json!({ "stress": { "kind": "cpu", "workers": 8 } }),
            Some("at most 4 workers"),
        ),
        (
            "prod",
            "team-b",
            json!({ "preset": "light-load", "resources": { "limits": { "cpu": "2", "memory": "512Mi" } } }),
            Some("at most 1 CPU (maxCpuPerRunner) and 1Gi memory"),
        ),
        (
            "prod",
            "team-b",
            json!({ "preset": "light-load", "resources": { "requests": { "memory": "2Gi" }, "limits": { "cpu": "500m", "memory": "2Gi" } } }),
            Some("maxMemoryPerRunner"),
        ),
        (
            "prod",
            "team-b",
            json!({ "preset": "light-load", "resources": { "limits": { "cpu": "1", "memory": "1Gi" } } }),
            None,
        ),
        // dev's own policy: more VUs and an image registry, from team-a only.
        ("dev", "team-a", json!({ "http": { "vus": 500 } }), None),
        (
            "dev",
            "team-a",
            json!({ "http": { "vus": 500, "parallelism": 10 } }),
            None,
        ),
        // The schema itself: each runner needs a virtual user.
        (
            "dev",
            "team-a",
            json!({ "http": { "vus": 3, "parallelism": 4 } }),
            Some("parallelism may not exceed the virtual users"),
        ),
        (
            "dev",
            "team-a",
            json!({ "preset": "light-load", "image": "registry.example.com/loadtest/k6:1.0" }),
            None,
        ),
        (
            "dev",
            "team-a",
            json!({ "preset": "light-load", "image": "registry.example.com/other/k6:1.0" }),
            Some("allowed: registry.example.com/loadtest/"),
        ),
        (
            "dev",
            "team-b",
            json!({ "preset": "light-load" }),
            Some(
                "allowedNamespaces of cluster dev: LoadTests from namespace team-b may not target it (allowed: team-a)",
            ),
        ),
        // A cluster without a ManagedCluster: nothing to check here (the operator waits).
        ("staging", "team-b", json!({ "http": { "vus": 900 } }), None),
    ];
    let mut wrong = Vec::new();
    for (cluster, ns, spec, want) in cases {
        let got = refusal(&client, ns, &loadtest(cluster, spec.clone())?).await?;
        let ok = match (&got, want) {
            (None, None) => true,
            (Some(m), Some(w)) => m.contains(w),
            _ => false,
        };
        if !ok {
            wrong.push(format!("{cluster} {ns} {spec}: want {want:?}, got {got:?}"));
        }
    }
    ensure!(wrong.is_empty(), "{}", wrong.join("\n"));
    Ok(())
}
