//! `gitops/root`, the app-of-apps `tart-infra up` points ArgoCD at, rendered by the real
//! helm (`local_control_plane::tools::helm`; with `CI=true` a missing helm fails the test): it points every Application back at the repository, and its Cilium
//! ApplicationSet gives each cluster the values `up` gives the platform.

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

/// What ArgoCD's cluster generator makes of the template for one cluster Secret: the
/// cluster's name and its hubble label (the only variables the values use).
fn generate(template: &str, name: &str, hubble: &str) -> String {
    template.replace("{{ .name }}", name).replace(
        r#"{{ index .metadata.labels "addons.tartinfra.dev/hubble" }}"#,
        hubble,
    )
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
        let hubble = cluster.addons.cilium.hubble.to_string();
        let values: Value = serde_yaml::from_str(&generate(template, &cluster.name, &hubble))
            .expect("the generated values are YAML");
        assert_eq!(values, cilium::values(cluster), "cluster {}", cluster.name);
    }
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../charts/tart-operator/Chart.yaml")
            .is_file(),
        "the operator's Application points at a chart that exists"
    );
}

#[test]
fn every_application_set_selects_a_label_the_clusters_carry_and_every_path_exists() {
    let Some(helm) = helm() else { return };
    let out = template(&helm, &[&format!("repoURL={REPO}")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = documents(&String::from_utf8_lossy(&out.stdout));
    // The labels the operator (and `up`, for the platform) put on ArgoCD cluster Secrets.
    let carried: Vec<String> = crds::argocd::wanted(&Default::default())
        .iter()
        .map(|(addon, _)| format!("{}{addon}", crds::argocd::ADDON_LABEL_PREFIX))
        .collect();
    let sets: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "ApplicationSet")
        .collect();
    assert!(sets.len() >= 6, "{} ApplicationSets", sets.len());
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for set in sets {
        let name = &set["metadata"]["name"];
        let selector = set["spec"]["generators"][0]["clusters"]["selector"]["matchLabels"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}: no cluster generator selector"));
        for (label, value) in selector {
            assert!(
                carried.contains(label),
                "{name} selects {label}, which no cluster carries"
            );
            assert_eq!(value, "true", "{name}");
        }
        let source = &set["spec"]["template"]["spec"]["source"];
        if let Some(path) = source["path"].as_str() {
            assert_eq!(source["repoURL"], REPO, "{name}");
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
fn without_a_repository_the_chart_says_where_to_set_it() {
    let Some(helm) = helm() else { return };
    let out = template(&helm, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "rendered without repoURL");
    assert!(stderr.contains("gitops.repoURL"), "{stderr}");
}
