//! The committed CRDs against a real kube-apiserver: spec.baseline of a LoadTest and a
//! ScalingExperiment (run comparison) is accepted when it names one run one way, and
//! refused otherwise with a message naming the field and the fix.

mod support;

use anyhow::{Context, Result, ensure};
use conformance::documents;
use conformance::{Applier, repo};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use local_control_plane::{ControlPlane, Options};
use serde_json::{Value, json};

/// Creates `object` in `default` with a dry run: the API server's refusal, or `None`.
async fn refusal(client: &Client, resource: &ApiResource, object: Value) -> Result<Option<String>> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", resource);
    let pp = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    match api.create(&pp, &serde_json::from_value(object)?).await {
        Ok(_) => Ok(None),
        Err(kube::Error::Api(s)) => Ok(Some(s.message)),
        Err(e) => Err(e.into()),
    }
}

#[tokio::test]
async fn a_baseline_names_one_run_one_way_within_sane_tolerances() -> Result<()> {
    let cp = ControlPlane::start(Options::apiserver("baseline")).await?;
    let client = cp.client().await?;
    let mut crds = Vec::new();
    for (file, _) in crds::all() {
        let path = repo().join(crds::CRD_DIR).join(file);
        crds.extend(documents::parse(file, &std::fs::read_to_string(&path)?)?);
    }
    Applier::new(client.clone())
        .install_crds(&crds, support::ESTABLISHED)
        .await?;
    let loadtest = |baseline: Value| {
        json!({ "apiVersion": "tartinfra.dev/v1alpha1", "kind": "LoadTest",
            "metadata": { "generateName": "lt-" },
            "spec": { "cluster": "dev", "preset": "light-load", "baseline": baseline } })
    };
    let experiment = |baseline: Value| {
        json!({ "apiVersion": "tartinfra.dev/v1alpha1", "kind": "ScalingExperiment",
            "metadata": { "generateName": "se-" },
            "spec": { "cluster": "dev", "load": { "preset": "scale-light" }, "baseline": baseline } })
    };
    let lt = ApiResource::erase::<crds::LoadTest>(&());
    let se = ApiResource::erase::<crds::ScalingExperiment>(&());
    // (what, the object, None: accepted; Some(words): refused with all these words)
    let cases: Vec<(&str, &ApiResource, Value, Option<&[&str]>)> = vec![
        (
            "by name",
            &lt,
            loadtest(json!({ "name": "nightly-1" })),
            None,
        ),
        (
            "by labels with tolerances",
            &lt,
            loadtest(
                json!({ "latestWithLabels": { "matchLabels": { "suite": "nightly" } },
                "tolerance": { "p95Percent": 5, "p99Percent": 20, "rpsPercent": 10, "errorRatePoints": 0.5 } }),
            ),
            None,
        ),
        (
            "both ways",
            &lt,
            loadtest(json!({ "name": "a", "latestWithLabels": { "matchLabels": { "a": "b" } } })),
            Some(&[
                "spec.baseline: Invalid value",
                "set exactly one of baseline.name",
            ]),
        ),
        (
            "neither way",
            &lt,
            loadtest(json!({ "tolerance": { "p95Percent": 5 } })),
            Some(&[
                "spec.baseline: Invalid value",
                "set exactly one of baseline.name",
            ]),
        ),
        (
            "no labels",
            &lt,
            loadtest(json!({ "latestWithLabels": { "matchLabels": {} } })),
            Some(&[
                "spec.baseline.latestWithLabels.matchLabels: Invalid value",
                "latestWithLabels.matchLabels must hold 1 to 20 labels",
            ]),
        ),
        (
            "a negative tolerance",
            &lt,
            loadtest(json!({ "name": "a", "tolerance": { "rpsPercent": -1 } })),
            Some(&[
                "spec.baseline.tolerance.rpsPercent",
                "should be greater than or equal to 0",
            ]),
        ),
        (
            "RPS cannot fall by more than all of it",
            &lt,
            loadtest(json!({ "name": "a", "tolerance": { "rpsPercent": 101 } })),
            Some(&[
                "spec.baseline.tolerance.rpsPercent",
                "should be less than or equal to 100",
            ]),
        ),
        (
            "a stress test's bogo-ops tolerance",
            &lt,
            loadtest(json!({ "name": "a", "tolerance": { "bogoOpsPercent": 25 } })),
            None,
        ),
        (
            "bogo-ops cannot fall by more than all of them",
            &lt,
            loadtest(json!({ "name": "a", "tolerance": { "bogoOpsPercent": 101 } })),
            Some(&[
                "spec.baseline.tolerance.bogoOpsPercent",
                "should be less than or equal to 100",
            ]),
        ),
        (
            "a negative bogo-ops tolerance",
            &lt,
            loadtest(json!({ "name": "a", "tolerance": { "bogoOpsPercent": -5 } })),
            Some(&[
                "spec.baseline.tolerance.bogoOpsPercent",
                "should be greater than or equal to 0",
            ]),
        ),
        (
            "a bad run name",
            &lt,
            loadtest(json!({ "name": "Not_A_Name" })),
            Some(&[
                "spec.baseline.name: Invalid value",
                "must be a Kubernetes object name",
            ]),
        ),
        (
            "an experiment by name",
            &se,
            experiment(json!({ "name": "scale-1", "tolerance": { "peakReplicas": 0 } })),
            None,
        ),
        (
            "an experiment both ways",
            &se,
            experiment(json!({ "name": "a", "latestWithLabels": { "matchLabels": { "a": "b" } } })),
            Some(&[
                "spec.baseline: Invalid value",
                "set exactly one of baseline.name",
            ]),
        ),
        (
            "a negative replica tolerance",
            &se,
            experiment(json!({ "name": "a", "tolerance": { "peakReplicas": -1 } })),
            Some(&[
                "spec.baseline.tolerance.peakReplicas",
                "should be greater than or equal to 0",
            ]),
        ),
    ];
    for (what, resource, object, refused) in cases {
        let got = refusal(&client, resource, object).await?;
        match (refused, got) {
            (None, None) => {}
            (Some(words), Some(message)) => {
                ensure!(
                    words.iter().all(|w| message.contains(w)),
                    "{what}: {message}"
                );
            }
            (None, Some(message)) => anyhow::bail!("{what}: refused: {message}"),
            (Some(words), None) => anyhow::bail!("{what}: accepted, expected {words:?}"),
        }
    }
    // Defaults: an unset tolerance is filled in by the API server.
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &lt);
    let pp = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let created = api
        .create(
            &pp,
            &serde_json::from_value(loadtest(json!({ "name": "a", "tolerance": {} })))?,
        )
        .await?;
    let tolerance = created
        .data
        .pointer("/spec/baseline/tolerance")
        .context("tolerance")?;
    for (field, default) in [
        ("p95Percent", 10.0),
        ("p99Percent", 10.0),
        ("rpsPercent", 10.0),
        ("errorRatePoints", 1.0),
        ("bogoOpsPercent", 10.0),
    ] {
        ensure!(
            tolerance[field].as_f64() == Some(default),
            "{field}: {tolerance}"
        );
    }
    Ok(())
}
