//! `gitops/root`, the app-of-apps `tart-infra up` points ArgoCD at, rendered by the real
//! helm (`local_control_plane::tools::helm`; with `CI=true` a missing helm fails the test): it points every Application back at the repository, and its Cilium
//! ApplicationSet gives each cluster the values `up` gives the platform.

mod support;

use host_agent::image::plan::CILIUM_VERSION;
use host_agent::mac::cilium;
use serde_json::Value;
use support::gitops::{self, REPO, exact, selects};

const WHO: &str = "the gitops/root test";

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
    let Some(helm) = gitops::helm(WHO) else {
        return;
    };
    let docs = gitops::render(
        &helm,
        &[&format!("repoURL={REPO}"), "targetRevision=v0.3.0"],
    );

    let operator = docs
        .iter()
        .find(|d| d["kind"] == "Application" && d["metadata"]["name"] == "tart-operator")
        .expect("the operator's Application");
    assert_eq!(operator["spec"]["source"]["repoURL"], REPO);
    assert_eq!(operator["spec"]["source"]["targetRevision"], "v0.3.0");
    assert_eq!(operator["spec"]["source"]["path"], "charts/tart-operator");

    let set = gitops::application_set(&docs, "cilium");
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

    let config = gitops::shipped();
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
        support::repo_file("charts/tart-operator/Chart.yaml").is_file(),
        "the operator's Application points at a chart that exists"
    );
}

#[test]
fn every_application_set_selects_a_shipped_cluster_by_the_labels_it_carries_and_every_path_exists()
{
    let Some(docs) = gitops::rendered(WHO) else {
        return;
    };
    let sets: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "ApplicationSet")
        .collect();
    assert!(sets.len() >= 6, "{} ApplicationSets", sets.len());
    for set in sets {
        let name = &set["metadata"]["name"];
        assert!(
            !gitops::selected(set).is_empty(),
            "{name} selects none of the shipped clusters: {}",
            set["spec"]["generators"][0]["clusters"]["selector"]
        );
        // One `source`, or several `sources` (a chart plus directories of this repository).
        let sources = gitops::sources(set);
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
            let dir = support::repo_file(path);
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
    let Some(helm) = gitops::helm(WHO) else {
        return;
    };
    let out = gitops::template(&helm, &[]);
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
    // What counts as an exact chart version.
    for ok in ["88.5.3", "1.18.1", "6.55.0", "1.0.0-rc.1"] {
        assert!(exact(ok), "{ok}");
    }
    for bad in [
        "", "latest", "*", "1.x", "^1.2.3", "~1.2", "1.2", ">=1.0.0", "1.2.*", "HEAD", "1.2.3-*",
    ] {
        assert!(!exact(bad), "{bad}");
    }
    let Some(docs) = gitops::rendered(WHO) else {
        return;
    };
    let mut charts = 0;
    let mut problems = Vec::new();
    for doc in &docs {
        let name = format!(
            "{} {}",
            doc["kind"].as_str().unwrap_or("?"),
            doc["metadata"]["name"].as_str().unwrap_or("?")
        );
        for source in gitops::sources(doc) {
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
                // ArgoCD's generator fills {{ ... }} in; any word stands in for a value here.
                // A block's `{{- if ... }}` / `{{- end }}` go (with the whitespace `{{-`
                // trims), so that what is inside every block is checked.
                let mut filled = String::new();
                let mut rest = text;
                while let Some(start) = rest.find("{{") {
                    filled.push_str(&rest[..start]);
                    let (action, after) = rest[start + 2..].split_once("}}").unwrap_or((rest, ""));
                    let trimmed = action.strip_prefix('-').unwrap_or(action);
                    if action.starts_with('-') {
                        filled.truncate(filled.trim_end().len());
                    }
                    let word = trimmed.split_whitespace().next().unwrap_or_default();
                    if !["if", "else", "end", "range", "with"].contains(&word) {
                        filled.push_str("generated");
                    }
                    rest = after;
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
    assert!(charts >= 6, "{charts} chart sources");
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
