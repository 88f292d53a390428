//! gitops/root, the app-of-apps `tart-infra up` points ArgoCD at, rendered by the real helm
//! (`local_control_plane::tools::helm`), and what ArgoCD's cluster generators make of it for
//! the shipped clusters of `config/clusters.yaml`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// The repository URL the tests give gitops/root.
pub const REPO: &str = "https://github.com/example/tart-infra.git";

/// The helm binary, or `None` after saying why `who` cannot run (a panic when `CI=true`).
pub fn helm(who: &str) -> Option<PathBuf> {
    super::tool(
        who,
        local_control_plane::tools::helm(),
        "scripts/test sets TART_INFRA_HELM",
    )
}

/// `helm template root gitops/root --namespace argocd --set <set>...`, to its end.
pub fn template(helm: &std::path::Path, set: &[&str]) -> Output {
    let mut cmd = Command::new(helm);
    cmd.args(["template", "root"])
        .arg(super::repo_file("gitops/root"))
        .args(["--namespace", "argocd"]);
    for s in set {
        cmd.args(["--set", s]);
    }
    cmd.output().expect("helm runs")
}

/// gitops/root rendered with `set` (which must succeed), as documents.
pub fn render(helm: &std::path::Path, set: &[&str]) -> Vec<Value> {
    let out = template(helm, set);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    documents(&String::from_utf8_lossy(&out.stdout))
}

/// gitops/root rendered with the repository [`REPO`], or `None` without helm (see [`helm`]).
pub fn rendered(who: &str) -> Option<Vec<Value>> {
    let helm = helm(who)?;
    Some(render(&helm, &[&format!("repoURL={REPO}")]))
}

/// The (non-empty) documents of a YAML stream.
pub fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| serde::Deserialize::deserialize(d).expect("a YAML document"))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

/// The ApplicationSet `name` of rendered gitops/root.
pub fn application_set<'a>(docs: &'a [Value], name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == "ApplicationSet" && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no ApplicationSet {name}"))
}

/// The shipped clusters of `config/clusters.yaml`.
pub fn shipped() -> host_agent::config::Config {
    host_agent::config::parse(
        include_str!("../../../config/clusters.yaml"),
        "config/clusters.yaml",
    )
    .expect("the shipped file")
}

/// The labels the operator (and `up`, for the platform) put on each shipped cluster's ArgoCD
/// Secret, by cluster name.
pub fn cluster_labels() -> BTreeMap<String, BTreeMap<String, String>> {
    shipped()
        .clusters
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                crds::argocd::argocd_labels(&c.name, c.tier, &c.addons),
            )
        })
        .collect()
}

/// The name of the shipped platform cluster.
pub fn platform() -> String {
    shipped()
        .clusters
        .iter()
        .find(|c| c.tier == crds::managed_cluster::Tier::Platform)
        .expect("a platform")
        .name
        .clone()
}

/// Whether a cluster generator's label selector (matchLabels and matchExpressions) selects a
/// Secret with these labels; an operator or key the labels cannot answer is an error.
pub fn selects(selector: &Value, labels: &BTreeMap<String, String>) -> Result<bool, String> {
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

/// The shipped clusters ApplicationSet `set`'s cluster generator selects ([`selects`]; a
/// selector it cannot answer fails the test), by name in name order.
pub fn selected(set: &Value) -> Vec<String> {
    let name = &set["metadata"]["name"];
    let selector = &set["spec"]["generators"][0]["clusters"]["selector"];
    assert!(
        selector.is_object(),
        "{name}: no cluster generator selector"
    );
    cluster_labels()
        .into_iter()
        .filter(|(_, labels)| selects(selector, labels).unwrap_or_else(|e| panic!("{name}: {e}")))
        .map(|(cluster, _)| cluster)
        .collect()
}

/// Whether a chart version is exact (`1.2.3`, `1.2.3-rc.1`), not a range or a wildcard.
pub fn exact(version: &str) -> bool {
    let (core, pre) = version.split_once('-').unwrap_or((version, ""));
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && pre
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

/// The sources of an Application or of an ApplicationSet's template: its `source`, or its
/// `sources` (a chart plus directories of this repository); none for other kinds.
pub fn sources(doc: &Value) -> Vec<&Value> {
    let spec = match doc["kind"].as_str() {
        Some("ApplicationSet") => &doc["spec"]["template"]["spec"],
        Some("Application") => &doc["spec"],
        _ => return Vec::new(),
    };
    spec["source"]
        .as_object()
        .map(|_| &spec["source"])
        .into_iter()
        .chain(spec["sources"].as_array().into_iter().flatten())
        .collect()
}
