//! ArgoCD managing itself: `gitops/argocd/kustomization.yaml` (the `argocd` Application of
//! gitops/root) must be ArgoCD v3.6.1's install manifest plus exactly the changes
//! `tart-infra up` makes (`host_agent::mac::argocd`), so that its first sync changes nothing
//! `up` did.
//!
//! kustomize cannot be built here (its Go module's dependencies are not all served), so the
//! kustomization is checked part by part against `up`'s code: it may use only the features
//! listed in [`KNOWN`], and for those the test computes what `kustomize build` gives
//! (namespace, a strategic-merge patch of the Service's ports by `port`, a merge into
//! argocd-cm). Then, against a real API server, the manifest is applied as `up` applies it
//! (three parts, three field managers) and that result is applied again as ArgoCD's
//! server-side sync does (`--force-conflicts`, manager `argocd-controller`): no object may
//! change but for its managed fields.

mod support;

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail, ensure};
use host_agent::mac::{argocd, handoff};
use kube::api::DynamicObject;
use serde_json::Value;

/// The kustomization's fields the test understands.
const KNOWN: [&str; 7] = [
    "apiVersion",
    "kind",
    "namespace",
    "resources",
    "patches",
    "configMapGenerator",
    "generatorOptions",
];

fn kustomization() -> Result<Value> {
    let text = std::fs::read_to_string(support::repo_file("gitops/argocd/kustomization.yaml"))?;
    let k: Value = serde_yaml::from_str(&text)?;
    for key in k.as_object().context("a map")?.keys() {
        ensure!(
            KNOWN.contains(&key.as_str()),
            "gitops/argocd/kustomization.yaml uses {key}, which this test does not check"
        );
    }
    Ok(k)
}

/// The patch of the kustomization, parsed.
fn patch(k: &Value) -> Result<Value> {
    let patches = k["patches"].as_array().context("patches")?;
    ensure!(
        patches.len() == 1,
        "one patch (the node ports): {patches:?}"
    );
    let p = &patches[0];
    ensure!(
        p.as_object().is_some_and(|m| m.len() == 1),
        "an inline patch without target: {p}"
    );
    Ok(serde_yaml::from_str(
        p["patch"].as_str().context("patch text")?,
    )?)
}

/// argocd-cm's data from the configMapGenerator (`key=file`, relative to gitops/argocd).
fn generated_data(k: &Value) -> Result<BTreeMap<String, String>> {
    let generators = k["configMapGenerator"].as_array().context("generators")?;
    ensure!(generators.len() == 1, "{generators:?}");
    let g = &generators[0];
    ensure!(g["name"] == "argocd-cm" && g["behavior"] == "merge", "{g}");
    ensure!(
        g.as_object().is_some_and(|m| m
            .keys()
            .all(|k| ["name", "behavior", "files"].contains(&k.as_str()))),
        "{g}"
    );
    ensure!(
        k["generatorOptions"] == serde_json::json!({"disableNameSuffixHash": true}),
        "argocd-cm must keep its name: {}",
        k["generatorOptions"]
    );
    let mut data = BTreeMap::new();
    for entry in g["files"].as_array().context("files")? {
        let (key, file) = entry
            .as_str()
            .and_then(|e| e.split_once('='))
            .context("key=file")?;
        let text = std::fs::read_to_string(support::repo_file("gitops/argocd").join(file))
            .with_context(|| file.to_owned())?;
        data.insert(key.to_owned(), text);
    }
    Ok(data)
}

#[test]
fn the_kustomization_is_the_release_up_installs_with_ups_changes() -> Result<()> {
    let k = kustomization()?;
    ensure!(k["namespace"] == argocd::NAMESPACE, "{}", k["namespace"]);
    ensure!(
        k["resources"] == serde_json::json!([argocd::install_url()]),
        "the release `up` installs ({}), and nothing else: {}",
        argocd::install_url(),
        k["resources"]
    );
    // The node ports: the same object `up` applies, but for the namespace kustomize sets.
    let mut ports = argocd::server_node_ports();
    ports["metadata"]
        .as_object_mut()
        .context("metadata")?
        .remove("namespace");
    ensure!(patch(&k)? == ports, "{} != {ports}", patch(&k)?);
    // The health checks: the same files, under the same keys.
    let want = crds::argocd_health::resource_customizations();
    ensure!(
        generated_data(&k)? == want,
        "argocd-cm's health checks differ from up's"
    );
    Ok(())
}

/// What `kustomize build gitops/argocd` gives for the features [`KNOWN`] lists, from the
/// install manifest: every object in `argocd` (the manifest must name no other namespace),
/// the Service's ports patched by `port` (each patched port must exist, so none is
/// appended), argocd-cm's data merged.
fn kustomize_build(install: &str, k: &Value) -> Result<Vec<Value>> {
    let patch = patch(k)?;
    let data = generated_data(k)?;
    let mut objects = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(install) {
        let mut o: Value = serde::Deserialize::deserialize(doc)?;
        if o.is_null() {
            continue;
        }
        if let Some(ns) = o["metadata"]["namespace"].as_str() {
            ensure!(ns == argocd::NAMESPACE, "{} in {ns}", o["metadata"]["name"]);
        }
        for s in o["subjects"].as_array().into_iter().flatten() {
            if let Some(ns) = s["namespace"].as_str() {
                ensure!(ns == argocd::NAMESPACE, "subject {s}");
            }
        }
        let (kind, name) = (o["kind"].clone(), o["metadata"]["name"].clone());
        if kind == patch["kind"] && name == patch["metadata"]["name"] {
            o["spec"]["type"] = patch["spec"]["type"].clone();
            let live = o["spec"]["ports"].as_array_mut().context("ports")?;
            for p in patch["spec"]["ports"].as_array().context("patch ports")? {
                let Some(port) = live.iter_mut().find(|l| l["port"] == p["port"]) else {
                    bail!("the patch's port {p} is not in argocd-server's ports");
                };
                for (key, value) in p.as_object().context("port")? {
                    port[key] = value.clone();
                }
            }
        }
        if kind == "ConfigMap" && name == "argocd-cm" {
            for (key, lua) in &data {
                o["data"][key] = Value::String(lua.clone());
            }
        }
        objects.push(o);
    }
    Ok(objects)
}

fn key(o: &DynamicObject) -> String {
    format!(
        "{}/{}/{}",
        o.types.as_ref().map_or("?", |t| t.kind.as_str()),
        o.metadata.namespace.as_deref().unwrap_or(""),
        o.metadata.name.as_deref().unwrap_or("?")
    )
}

/// An object as stored, without what every write changes (and status, which controllers
/// write).
fn content(o: &DynamicObject) -> Result<Value> {
    let mut v = serde_json::to_value(o)?;
    let meta = v["metadata"].as_object_mut().context("metadata")?;
    meta.remove("managedFields");
    meta.remove("resourceVersion");
    v.as_object_mut().context("object")?.remove("status");
    Ok(v)
}

#[tokio::test]
async fn argocds_first_sync_of_itself_changes_nothing_up_did() -> Result<()> {
    let Some(upstream) = support::tool(
        "the ArgoCD self-management test",
        local_control_plane::tools::upstream(),
        "run scripts/fetch-upstream.sh (scripts/test runs it)",
    ) else {
        return Ok(());
    };
    let cache = tempfile::tempdir()?;
    // v3.6.1's install.yaml, checked against the SHA-256 `up` checks.
    let install = argocd::install_manifest(Some(&upstream), cache.path())?;
    let built = kustomize_build(&install, &kustomization()?)?;

    let cp = local_control_plane::shared_apiserver().await?;
    let client = cp.client().await?;
    // As `up` applies it: the manifest, the node ports, the health checks, each with its
    // own field manager.
    let namespace = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {}}}\n",
        argocd::NAMESPACE
    );
    local_control_plane::apply_yaml_as(&client, &namespace, "default", handoff::FIELD_MANAGER)
        .await?;
    let mut after_up: BTreeMap<String, DynamicObject> = BTreeMap::new();
    for (yaml, manager) in [
        (install.clone(), handoff::FIELD_MANAGER),
        (
            argocd::server_node_ports().to_string(),
            argocd::NODE_PORTS_MANAGER,
        ),
        (argocd::health_checks().to_string(), argocd::HEALTH_MANAGER),
    ] {
        let applied =
            local_control_plane::apply_yaml_as(&client, &yaml, argocd::NAMESPACE, manager).await?;
        for o in applied {
            after_up.insert(key(&o), o);
        }
    }
    // As ArgoCD's first sync applies the kustomization.
    let objects: Vec<DynamicObject> = built
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()?;
    let synced = local_control_plane::apply_objects_as(
        &client,
        objects,
        argocd::NAMESPACE,
        "argocd-controller",
    )
    .await?;
    ensure!(synced.len() == after_up.len(), "{} objects", synced.len());
    let mut changed = Vec::new();
    for o in &synced {
        let before = after_up
            .get(&key(o))
            .with_context(|| format!("{} was not installed by up", key(o)))?;
        if content(before)? != content(o)? {
            changed.push(key(o));
        }
        let managers: Vec<&str> = o
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .filter_map(|m| m.manager.as_deref())
            .collect();
        ensure!(
            managers.contains(&"argocd-controller"),
            "{}: {managers:?}",
            key(o)
        );
    }
    ensure!(changed.is_empty(), "ArgoCD's sync changed {changed:?}");
    // `up`'s managers keep their fields: a later `up` applies them again without conflict.
    let service = synced
        .iter()
        .find(|o| key(o) == format!("Service/{}/argocd-server", argocd::NAMESPACE))
        .context("argocd-server")?;
    ensure!(
        service
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .any(|m| m.manager.as_deref() == Some(argocd::NODE_PORTS_MANAGER)),
        "{:?}",
        service.metadata.managed_fields
    );
    ensure!(service.data["spec"]["ports"][0]["nodePort"] == argocd::NODE_PORTS.0);
    Ok(())
}
