//! The ManagedCluster rules in Rust (`crds::managed_cluster::validate_spec`, which the host
//! agent's cluster file uses) and in the CRD (schema and CEL rules, applied by the API
//! server) agree: every bad spec of the table is rejected by both naming the same fields,
//! and the good ones are accepted by both.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use crds::ManagedClusterSpec;
use crds::managed_cluster::{image, validate_spec};
use kube::Client;
use local_control_plane::parse_yaml_documents;
use serde_json::{Value, json};

use super::{create_strict, setup};

/// A spec of provider tart that both accept.
fn good() -> Value {
    json!({
        "tier": "dev",
        "provider": "tart",
        "kubernetesVersion": "1.33",
        "baseImage": "ghcr.io/cirruslabs/ubuntu:24.04",
        "network": { "podCidr": "10.20.0.0/16", "serviceCidr": "10.97.0.0/16" },
        "nodes": [
            { "name": "cp", "role": "controlPlane", "cpu": 2, "memoryMiB": 4096, "diskGiB": 20 },
            { "name": "w1", "role": "worker", "cpu": 2, "memoryMiB": 8192, "diskGiB": 20 },
        ],
    })
}

/// `good()` with `value` at the JSON pointer `at` (`None` removes the field).
fn with(at: &str, value: Option<Value>) -> Value {
    let mut spec = good();
    let (parent, key) = at.rsplit_once('/').unwrap_or(("", at));
    let target = if parent.is_empty() {
        Some(&mut spec)
    } else {
        spec.pointer_mut(parent)
    };
    match (target, value) {
        (Some(Value::Object(map)), Some(v)) => {
            map.insert(key.to_owned(), v);
        }
        (Some(Value::Object(map)), None) => {
            map.remove(key);
        }
        (Some(Value::Array(items)), Some(v)) => {
            if let Some(slot) = key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                *slot = v;
            }
        }
        _ => panic!("no field at {at}"),
    }
    spec
}

fn node(name: &str, role: &str, cpu: u32, memory_mib: u32) -> Value {
    json!({ "name": name, "role": role, "cpu": cpu, "memoryMiB": memory_mib, "diskGiB": 20 })
}

/// Bad specs and the fields (relative to spec) both must name.
fn bad_specs() -> Vec<(&'static str, Value, &'static [&'static str])> {
    let s = |v: &str| Some(json!(v));
    let seventeen: Vec<Value> = (0..17)
        .map(|i| {
            node(
                &format!("n{i}"),
                if i == 0 { "controlPlane" } else { "worker" },
                2,
                4096,
            )
        })
        .collect();
    vec![
        (
            "image on latest",
            with("/baseImage", s("ghcr.io/cirruslabs/ubuntu:latest")),
            &["baseImage"],
        ),
        (
            "untagged image",
            with("/baseImage", s("ghcr.io/cirruslabs/ubuntu")),
            &["baseImage"],
        ),
        (
            "untagged image with a port",
            with("/baseImage", s("localhost:5000/ubuntu")),
            &["baseImage"],
        ),
        (
            "tag without a repository",
            with("/baseImage", s("ubuntu:24.04")),
            &["baseImage"],
        ),
        ("empty image", with("/baseImage", s("")), &["baseImage"]),
        (
            "Kubernetes too old",
            with("/kubernetesVersion", s("1.32")),
            &["kubernetesVersion"],
        ),
        (
            "Kubernetes with a v",
            with("/kubernetesVersion", s("v1.33")),
            &["kubernetesVersion"],
        ),
        ("tart without network", with("/network", None), &["network"]),
        (
            "tart without nodes",
            with("/nodes", Some(json!([]))),
            &["nodes"],
        ),
        (
            "external without kubeconfig",
            with("/provider", s("external")),
            &["kubeconfigSecretRef"],
        ),
        (
            "IPv6 pod CIDR",
            with("/network/podCidr", s("fd00::/64")),
            &["network.podCidr"],
        ),
        (
            "pod CIDR with host bits",
            with("/network/podCidr", s("10.20.0.5/16")),
            &["network.podCidr"],
        ),
        (
            "prefix 33",
            with("/network/serviceCidr", s("10.97.0.0/33")),
            &["network.serviceCidr"],
        ),
        (
            "leading zero",
            with("/network/podCidr", s("010.20.0.0/16")),
            &["network.podCidr"],
        ),
        (
            "service inside pods",
            with("/network/serviceCidr", s("10.20.128.0/17")),
            &["network.serviceCidr"],
        ),
        (
            "node name not a DNS label",
            with("/nodes/1", Some(node("Worker_1", "worker", 2, 4096))),
            &["nodes[1].name"],
        ),
        (
            "duplicate node name",
            with("/nodes/1", Some(node("cp", "worker", 2, 4096))),
            &["nodes[1]"],
        ),
        (
            "zero CPUs",
            with("/nodes/1", Some(node("w1", "worker", 0, 4096))),
            &["nodes[1].cpu"],
        ),
        (
            "33 CPUs",
            with("/nodes/1", Some(node("w1", "worker", 33, 4096))),
            &["nodes[1].cpu"],
        ),
        (
            "256 MiB",
            with("/nodes/1", Some(node("w1", "worker", 2, 256))),
            &["nodes[1].memoryMiB"],
        ),
        (
            "5 GiB disk",
            with("/nodes/1/diskGiB", Some(json!(5))),
            &["nodes[1].diskGiB"],
        ),
        (
            "control plane with 1 CPU",
            with("/nodes/0", Some(node("cp", "controlPlane", 1, 4096))),
            &["nodes[0].cpu"],
        ),
        (
            "control plane with 1 GiB",
            with("/nodes/0", Some(node("cp", "controlPlane", 2, 1024))),
            &["nodes[0].memoryMiB"],
        ),
        (
            "two control planes",
            with("/nodes/1", Some(node("w1", "controlPlane", 2, 4096))),
            &["nodes"],
        ),
        (
            "no control plane",
            with("/nodes/0", Some(node("cp", "worker", 2, 4096))),
            &["nodes"],
        ),
        (
            "17 nodes",
            with("/nodes", Some(Value::Array(seventeen))),
            &["nodes"],
        ),
        (
            "bad kubeconfig namespace",
            with(
                "/kubeconfigSecretRef",
                Some(json!({ "namespace": "Tart", "name": "dev" })),
            ),
            &["kubeconfigSecretRef.namespace"],
        ),
    ]
}

/// What the API server says of `spec`: `None` when it accepts it, else the fields its
/// status causes name, relative to spec.
async fn server_fields(
    client: &Client,
    name: &str,
    spec: &Value,
) -> Result<Option<BTreeSet<String>>> {
    let yaml = serde_json::to_string(&json!({
        "apiVersion": "tartinfra.dev/v1alpha1",
        "kind": "ManagedCluster",
        "metadata": { "name": name },
        "spec": spec,
    }))?;
    let obj = parse_yaml_documents(&yaml)?.pop().context("object")?;
    match create_strict(client, "default", &obj).await {
        Ok(_) => Ok(None),
        Err(kube::Error::Api(status)) => {
            eprintln!("{name}: {}", status.message);
            let causes = status.details.map(|d| d.causes).unwrap_or_default();
            if causes.is_empty() {
                bail!("{name}: rejected without field causes: {}", status.message);
            }
            // A cause without a field is the API server's note that it skipped the CEL
            // rules after a schema error (`<nil>: ... some validation rules were not
            // checked`), not a rule of its own.
            Ok(Some(
                causes
                    .iter()
                    .filter(|c| !c.field.is_empty() && c.field != "<nil>")
                    .map(|c| c.field.strip_prefix("spec.").unwrap_or(&c.field).to_owned())
                    .collect(),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// What the Rust rules say of `spec`, in the same form.
fn rust_fields(spec: &Value) -> Result<Option<BTreeSet<String>>> {
    let typed: ManagedClusterSpec = serde_json::from_value(spec.clone())?;
    let fields: BTreeSet<String> = validate_spec(&typed).into_iter().map(|e| e.path).collect();
    Ok((!fields.is_empty()).then_some(fields))
}

#[tokio::test]
async fn the_rust_rules_and_the_crd_reject_the_same_specs_at_the_same_fields() -> Result<()> {
    let (_, client) = setup().await?;
    let mut failures = Vec::new();
    let mut cases = bad_specs();
    cases.push(("the good spec", good(), &[]));
    for (i, (what, spec, fields)) in cases.iter().enumerate() {
        let want: Option<BTreeSet<String>> =
            (!fields.is_empty()).then(|| fields.iter().map(|f| (*f).to_owned()).collect());
        let server = server_fields(&client, &format!("agree-{i}"), spec).await?;
        let rust = rust_fields(spec)?;
        if server != want || rust != want {
            failures.push(format!(
                "{what}: want {want:?}, API server {server:?}, Rust {rust:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "disagreements:\n{}",
        failures.join("\n")
    );
    Ok(())
}

#[tokio::test]
async fn base_images_and_cidrs_are_judged_alike() -> Result<()> {
    let (_, client) = setup().await?;
    let digest = format!("ghcr.io/cirruslabs/ubuntu@sha256:{}", "0a".repeat(32));
    let images = [
        "ghcr.io/cirruslabs/ubuntu:24.04",
        "ghcr.io/cirruslabs/ubuntu:latest",
        "ghcr.io/cirruslabs/ubuntu",
        "localhost:5000/ubuntu:24.04",
        "tart-infra-k8s-1.33",
        "ubuntu",
        "ubuntu:24.04",
        "ubuntu:latest",
        "ghcr.io/cirruslabs/Ubuntu:24.04",
        "ghcr.io/cirruslabs/ubuntu:24.04 ",
        " tart-infra-k8s-1.33",
        "ghcr.io/cirruslabs/ubuntu:latest-arm64",
        &digest,
        &digest.replace('@', ":latest@"),
        &digest[..digest.len() - 2],
    ];
    let cidrs = [
        "10.20.0.0/16",
        "10.20.0.5/16",
        "10.20.0.0/33",
        "010.20.0.0/16",
        "10.20.0.0/016",
        "10.20.0.0",
        "fd00::/64",
        "::ffff:10.20.0.0/112",
        " 10.20.0.0/16",
        "0.0.0.0/0",
    ];
    let mut specs: Vec<(String, Value)> = images
        .iter()
        .map(|img| {
            (
                format!("baseImage {img:?}"),
                with("/baseImage", Some(json!(img))),
            )
        })
        .collect();
    for cidr in cidrs {
        let mut spec = with("/network/serviceCidr", Some(json!(cidr)));
        spec["network"]["podCidr"] = json!("192.168.0.0/24");
        specs.push((format!("serviceCidr {cidr:?}"), spec));
    }
    let mut failures = Vec::new();
    for (i, (what, spec)) in specs.iter().enumerate() {
        let server = server_fields(&client, &format!("agree-value-{i}"), spec).await?;
        let rust = rust_fields(spec)?;
        if server != rust {
            failures.push(format!("{what}: API server {server:?}, Rust {rust:?}"));
        }
    }
    // The pinned images of the table are the ones the Rust rule calls pinned.
    let accepted = images.iter().filter(|i| image::is_pinned(i)).count();
    assert_eq!(
        accepted, 7,
        "the table keeps its mix of good and bad images"
    );
    assert!(
        failures.is_empty(),
        "disagreements:\n{}",
        failures.join("\n")
    );
    Ok(())
}
