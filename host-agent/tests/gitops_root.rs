//! `gitops/root`, the app-of-apps `tart-infra up` points ArgoCD at, rendered by the real
//! helm (`local_control_plane::tools::helm`; with `CI=true` a missing helm fails the test): it points every Application back at the repository, and its Cilium
//! ApplicationSet gives each cluster the values `up` gives the platform.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use host_agent::config;
use host_agent::image::plan::CILIUM_VERSION;
use host_agent::mac::cilium;
use serde_json::Value;

const REPO: &str = "https://github.com/example/tart-infra.git";

fn helm() -> Option<PathBuf> {
    use local_control_plane::tools;
    match tools::helm() {
        Ok(helm) => Some(helm),
        Err(e) => {
            tools::met(
                "the gitops/root test",
                &[e.to_string()],
                "scripts/test sets TART_INFRA_HELM",
            );
            None
        }
    }
}

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../gitops/root")
}

fn template(helm: &Path, set: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(helm);
    cmd.args(["template", "root"])
        .arg(chart())
        .args(["--namespace", "argocd"]);
    for s in set {
        cmd.args(["--set", s]);
    }
    cmd.output().expect("helm runs")
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| serde::Deserialize::deserialize(d).expect("a YAML document"))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

/// The block of the Cilium values only clusters with Istio get.
const IF_ISTIO: &str =
    r#"{{- if eq (index .metadata.labels "addons.tartinfra.dev/istio") "true" }}"#;
const END: &str = "{{- end }}";

/// What ArgoCD's cluster generator makes of the template for one cluster Secret: the
/// cluster's name, its hubble label, and the block under its istio label (the only
/// variables the values use), with Go's `{{-` trimming the whitespace before an action.
fn generate(template: &str, name: &str, hubble: &str, istio: &str) -> String {
    let mut text = template.replace("{{ .name }}", name).replace(
        r#"{{ index .metadata.labels "addons.tartinfra.dev/hubble" }}"#,
        hubble,
    );
    while let Some(start) = text.find(IF_ISTIO) {
        let after = start + IF_ISTIO.len();
        let end = after
            + text[after..]
                .find(END)
                .expect("{{- end }} after the istio block");
        let body = if istio == "true" {
            text[after..end].trim_end()
        } else {
            ""
        };
        text = format!(
            "{}{body}{}",
            text[..start].trim_end(),
            &text[end + END.len()..]
        );
    }
    assert!(
        !text.contains("{{"),
        "an action the test does not evaluate is left: {text}"
    );
    text
}

#[test]
fn every_application_points_back_at_the_repository_and_cilium_gets_the_values_of_up() {
    let Some(helm) = helm() else { return };
    let out = template(
        &helm,
        &[&format!("repoURL={REPO}"), "targetRevision=v0.3.0"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = documents(&String::from_utf8_lossy(&out.stdout));

    let operator = docs
        .iter()
        .find(|d| d["kind"] == "Application" && d["metadata"]["name"] == "tart-operator")
        .expect("the operator's Application");
    assert_eq!(operator["spec"]["source"]["repoURL"], REPO);
    assert_eq!(operator["spec"]["source"]["targetRevision"], "v0.3.0");
    assert_eq!(operator["spec"]["source"]["path"], "charts/tart-operator");

    let set = docs
        .iter()
        .find(|d| d["kind"] == "ApplicationSet" && d["metadata"]["name"] == "cilium")
        .expect("the Cilium ApplicationSet");
    assert_eq!(
        set["spec"]["generators"][0]["clusters"]["selector"]["matchLabels"]["addons.tartinfra.dev/cilium"],
        "true"
    );
    let source = &set["spec"]["template"]["spec"]["source"];
    assert_eq!(source["repoURL"], cilium::REPO);
    assert_eq!(
        source["targetRevision"], CILIUM_VERSION,
        "the pinned Cilium"
    );
    let template = source["helm"]["values"].as_str().expect("values");

    let config = config::parse(
        include_str!("../../config/clusters.yaml"),
        "config/clusters.yaml",
    )
    .expect("the shipped file");
    for cluster in &config.clusters {
        // The labels the operator (and `up`, for the platform) writes on the cluster's
        // ArgoCD Secret.
        let labels = crds::argocd::argocd_labels(&cluster.name, cluster.tier, &cluster.addons);
        let label = |addon: &str| labels[&format!("addons.tartinfra.dev/{addon}")].clone();
        let generated = generate(template, &cluster.name, &label("hubble"), &label("istio"));
        let values: Value =
            serde_yaml::from_str(&generated).expect("the generated values are YAML");
        assert_eq!(values, cilium::values(cluster), "cluster {}", cluster.name);
    }
    // Both branches of the istio block are compared (dev has Istio, the others not).
    assert!(config.clusters.iter().any(|c| c.addons.istio));
    assert!(config.clusters.iter().any(|c| !c.addons.istio));
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../charts/tart-operator/Chart.yaml")
            .is_file(),
        "the operator's Application points at a chart that exists"
    );
}

/// Whether a cluster generator's label selector (matchLabels and matchExpressions) selects a
/// Secret with these labels; an operator or key the labels cannot answer is an error.
fn selects(selector: &Value, labels: &BTreeMap<String, String>) -> Result<bool, String> {
    let known = |key: &str| {
        labels
            .contains_key(key)
            .then_some(())
            .ok_or(format!("{key} is no label the clusters carry"))
    };
    for (key, value) in selector["matchLabels"].as_object().into_iter().flatten() {
        known(key)?;
        if labels.get(key).map(String::as_str) != value.as_str() {
            return Ok(false);
        }
    }
    for expr in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let key = expr["key"].as_str().ok_or("matchExpressions without key")?;
        known(key)?;
        let values: Vec<&str> = expr["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let value = labels.get(key).map(String::as_str);
        let hit = match expr["operator"].as_str() {
            Some("In") => value.is_some_and(|v| values.contains(&v)),
            Some("NotIn") => value.is_none_or(|v| !values.contains(&v)),
            Some("Exists") => value.is_some(),
            Some("DoesNotExist") => value.is_none(),
            other => return Err(format!("operator {other:?}")),
        };
        if !hit {
            return Ok(false);
        }
    }
    Ok(true)
}

#[test]
fn every_application_set_selects_a_shipped_cluster_by_the_labels_it_carries_and_every_path_exists()
{
    let Some(helm) = helm() else { return };
    let out = template(&helm, &[&format!("repoURL={REPO}")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = documents(&String::from_utf8_lossy(&out.stdout));
    // The labels the operator (and `up`, for the platform) put on each shipped cluster's
    // ArgoCD Secret.
    let config = config::parse(
        include_str!("../../config/clusters.yaml"),
        "config/clusters.yaml",
    )
    .expect("the shipped file");
    let clusters: Vec<(&str, BTreeMap<String, String>)> = config
        .clusters
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                crds::argocd::argocd_labels(&c.name, c.tier, &c.addons),
            )
        })
        .collect();
    let sets: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "ApplicationSet")
        .collect();
    assert!(sets.len() >= 6, "{} ApplicationSets", sets.len());
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for set in sets {
        let name = &set["metadata"]["name"];
        let selector = &set["spec"]["generators"][0]["clusters"]["selector"];
        assert!(
            selector.is_object(),
            "{name}: no cluster generator selector"
        );
        let selected: Vec<&str> = clusters
            .iter()
            .filter(|(_, labels)| {
                selects(selector, labels).unwrap_or_else(|e| panic!("{name}: {e}"))
            })
            .map(|(cluster, _)| *cluster)
            .collect();
        assert!(
            !selected.is_empty(),
            "{name} selects none of the shipped clusters: {selector}"
        );
        // One `source`, or several `sources` (a chart plus directories of this repository).
        let spec = &set["spec"]["template"]["spec"];
        let sources: Vec<&Value> = if spec["source"].is_object() {
            vec![&spec["source"]]
        } else {
            spec["sources"].as_array().into_iter().flatten().collect()
        };
        assert!(!sources.is_empty(), "{name}: no source");
        for source in sources {
            // A path in another repository (local-path-provisioner's chart) is that
            // repository's; the chart test checks it.
            let Some(path) = source["path"].as_str() else {
                continue;
            };
            if source["repoURL"] != REPO {
                assert!(
                    source["chart"].is_null() && source["targetRevision"].is_string(),
                    "{name}"
                );
                continue;
            }
            let dir = repo.join(path);
            let yaml = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{name}: {}: {e}", dir.display()))
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
                .count();
            assert!(yaml > 0, "{name}: {path} has no YAML for ArgoCD to apply");
        }
    }
}

#[test]
fn the_istio_block_is_kept_or_dropped_with_the_whitespace_go_trims() {
    let template = format!("a: 1\n{IF_ISTIO}\nb: 2\n{END}\nc: 3\n");
    assert_eq!(
        generate(&template, "x", "true", "true"),
        "a: 1\nb: 2\nc: 3\n"
    );
    assert_eq!(generate(&template, "x", "true", "false"), "a: 1\nc: 3\n");
}

#[test]
fn a_selector_names_only_labels_the_clusters_carry() {
    let labels =
        crds::argocd::argocd_labels("dev", crds::managed_cluster::Tier::Dev, &Default::default());
    let by_tier: Value = serde_json::json!({"matchExpressions": [
        {"key": "tartinfra.dev/tier", "operator": "NotIn", "values": ["platform"]}]});
    assert_eq!(selects(&by_tier, &labels), Ok(true));
    let platform: Value = serde_json::json!({"matchLabels": {"tartinfra.dev/tier": "platform"}});
    assert_eq!(selects(&platform, &labels), Ok(false));
    let typo: Value = serde_json::json!({"matchLabels": {"addons.tartinfra.dev/istoi": "true"}});
    assert!(selects(&typo, &labels).is_err_and(|e| e.contains("istoi")));
}

#[test]
fn without_a_repository_the_chart_says_where_to_set_it() {
    let Some(helm) = helm() else { return };
    let out = template(&helm, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "rendered without repoURL");
    assert!(stderr.contains("gitops.repoURL"), "{stderr}");
}

/// Every value of a Helm values tree with the key that holds it ("" for list items), depth
/// first.
fn leaves<'a>(key: &'a str, value: &'a Value, out: &mut Vec<(&'a str, &'a str)>) {
    match value {
        Value::String(s) => out.push((key, s)),
        Value::Array(items) => items.iter().for_each(|v| leaves(key, v, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| leaves(k, v, out)),
        _ => {}
    }
}

/// What is wrong with one Helm value: a mutable image (`latest`, or an image without a tag
/// or digest) or a literal credential. Keys that name a Secret, or a key inside one, are
/// references and fine.
fn unpinned_or_secret(key: &str, value: &str) -> Option<String> {
    let lower = key.to_ascii_lowercase();
    let reference = lower.starts_with("existing")
        || lower.ends_with("secretname")
        || lower.ends_with("key")
        || lower.ends_with("ref")
        || lower.ends_with("secret") && !lower.contains("password");
    if ["password", "passwd", "token", "apikey", "secretkey"]
        .iter()
        .any(|w| lower.contains(w))
        && !reference
        && !value.is_empty()
    {
        return Some(format!(
            "{key} holds a literal credential; use a Secret reference"
        ));
    }
    if value.ends_with(":latest") || key == "tag" && value == "latest" {
        return Some(format!("{key}: {value} is not pinned"));
    }
    if key == "image" && !value.contains('@') && !value.rsplit('/').next()?.contains(':') {
        return Some(format!("image {value} has no tag or digest"));
    }
    None
}

#[test]
fn every_chart_is_pinned_to_a_version_and_no_values_hold_a_credential_or_a_mutable_image() {
    let Some(helm) = helm() else { return };
    let out = template(&helm, &[&format!("repoURL={REPO}")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = documents(&String::from_utf8_lossy(&out.stdout));
    let exact = |v: &str| {
        let core = v.split_once('-').map_or(v, |(core, _)| core);
        let parts: Vec<&str> = core.split('.').collect();
        parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let mut charts = 0;
    let mut problems = Vec::new();
    for doc in &docs {
        let name = doc["metadata"]["name"].as_str().unwrap_or("?");
        let spec = if doc["kind"] == "ApplicationSet" {
            &doc["spec"]["template"]["spec"]
        } else {
            &doc["spec"]
        };
        let sources: Vec<&Value> = spec["source"]
            .as_object()
            .map(|_| &spec["source"])
            .into_iter()
            .chain(spec["sources"].as_array().into_iter().flatten())
            .collect();
        for source in sources {
            if let Some(chart) = source["chart"].as_str() {
                charts += 1;
                let version = source["targetRevision"].as_str().unwrap_or("");
                if !exact(version) {
                    problems.push(format!(
                        "{name}: chart {chart} at '{version}', not an exact version"
                    ));
                }
            }
            let helm = &source["helm"];
            let mut values = helm["valuesObject"].clone();
            if let Some(text) = helm["values"].as_str() {
                // ArgoCD's generator fills {{ ... }} in; any word stands in for it here.
                let mut filled = String::new();
                let mut rest = text;
                while let Some(start) = rest.find("{{") {
                    filled.push_str(&rest[..start]);
                    filled.push_str("generated");
                    rest = rest[start..]
                        .split_once("}}")
                        .map_or("", |(_, after)| after);
                }
                filled.push_str(rest);
                values = serde_yaml::from_str(&filled)
                    .unwrap_or_else(|e| panic!("{name}: helm.values is not YAML: {e}"));
            }
            let mut found = Vec::new();
            leaves("", &values, &mut found);
            problems.extend(
                found
                    .into_iter()
                    .filter_map(|(k, v)| unpinned_or_secret(k, v))
                    .map(|p| format!("{name}: {p}")),
            );
        }
    }
    assert!(charts >= 2, "{charts} chart sources");
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_value_check_catches_what_it_must() {
    assert!(unpinned_or_secret("adminPassword", "admin").is_some());
    assert!(unpinned_or_secret("harborAdminPassword", "Harbor12345").is_some());
    assert!(unpinned_or_secret("existingSecret", "grafana-admin").is_none());
    assert!(unpinned_or_secret("passwordKey", "admin-password").is_none());
    assert!(unpinned_or_secret("tag", "latest").is_some());
    assert!(unpinned_or_secret("image", "mendhak/http-https-echo:latest").is_some());
    assert!(unpinned_or_secret("image", "registry.k8s.io/etcd").is_some());
    assert!(unpinned_or_secret("image", "localhost:5000/etcd").is_some());
    assert!(unpinned_or_secret("image", "registry.k8s.io/etcd:3.6.4-0").is_none());
    assert!(unpinned_or_secret("", "blueocean:latest").is_some());
}
