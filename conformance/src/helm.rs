//! Rendering a chart with `helm template`, as a cluster's install would.

use std::path::Path;
use std::process::Command;

use crate::documents::{self, Document};
use crate::{Error, repo};

/// The Kubernetes version the repository's own charts are rendered for where no API
/// server's version is at hand.
pub const KUBE_VERSION: &str = "v1.33.0";

/// The repository URL the checks give gitops/root (`repoURL`, which it requires).
pub const REPO_URL: &str = "https://github.com/example/tart-infra.git";

/// A chart to render: a release of `chart` into `namespace` with `values` (YAML), for the
/// Kubernetes version `kube_version` (what `.Capabilities.KubeVersion` says).
#[derive(Clone, Copy, Debug)]
pub struct Release<'a> {
    /// The release name.
    pub name: &'a str,
    /// The chart directory.
    pub chart: &'a Path,
    /// The release namespace.
    pub namespace: &'a str,
    /// The values, as a values file holds them.
    pub values: &'a str,
    /// The cluster's version, e.g. `v1.36.3`.
    pub kube_version: &'a str,
}

/// The manifests `helm template` renders for `release` (multi-document YAML).
pub fn template(helm: &Path, release: &Release<'_>) -> Result<String, Error> {
    let dir = tempfile::tempdir().map_err(|source| Error::Read {
        path: std::env::temp_dir(),
        source,
    })?;
    let values = dir.path().join("values.yaml");
    std::fs::write(&values, release.values).map_err(|source| Error::Read {
        path: values.clone(),
        source,
    })?;
    let out = Command::new(helm)
        .arg("template")
        .arg(release.name)
        .arg(release.chart)
        .args(["--namespace", release.namespace])
        .args(["--kube-version", release.kube_version])
        .arg("--values")
        .arg(&values)
        // Keep helm's configuration and caches out of the user's home.
        .env("HELM_CONFIG_HOME", dir.path().join("config"))
        .env("HELM_CACHE_HOME", dir.path().join("cache"))
        .env("HELM_DATA_HOME", dir.path().join("data"))
        .output()
        .map_err(|source| Error::Run {
            program: helm.display().to_string(),
            source,
        })?;
    if !out.status.success() {
        return Err(Error::Helm {
            chart: release.chart.display().to_string(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    String::from_utf8(out.stdout).map_err(|e| Error::Yaml {
        file: format!("helm template {}", release.name),
        message: e.to_string(),
    })
}

/// [`template`] parsed: the documents of `release`, named `helm template <name> (<chart>)`
/// (the chart by the last two parts of its directory).
pub fn render(helm: &Path, release: &Release<'_>) -> Result<Vec<Document>, Error> {
    let text = template(helm, release)?;
    let parts: Vec<_> = release.chart.iter().collect();
    let chart = parts[parts.len().saturating_sub(2)..]
        .iter()
        .map(|p| p.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    documents::parse(&format!("helm template {} ({chart})", release.name), &text)
}

/// The chart `chart` of this repository (e.g. `charts/tart-operator`), released as `release`
/// into `namespace` with `values` (JSON) for [`KUBE_VERSION`], as documents.
pub fn ours(
    helm: &Path,
    chart: &str,
    namespace: &str,
    values: &serde_json::Value,
) -> Result<Vec<Document>, Error> {
    render(
        helm,
        &Release {
            name: "release",
            chart: &repo().join(chart),
            namespace,
            values: &values.to_string(),
            kube_version: KUBE_VERSION,
        },
    )
}

/// gitops/root as ArgoCD renders it: release `root` in `argocd`, `repoURL` [`REPO_URL`].
pub fn gitops_root(helm: &Path) -> Result<Vec<Document>, Error> {
    render(
        helm,
        &Release {
            name: "root",
            chart: &repo().join("gitops/root"),
            namespace: "argocd",
            values: &serde_json::json!({ "repoURL": REPO_URL }).to_string(),
            kube_version: KUBE_VERSION,
        },
    )
}

/// The ApplicationSet `name` of rendered gitops/root.
pub fn application_set<'a>(root: &'a [Document], name: &str) -> Result<&'a Document, Error> {
    root.iter()
        .find(|d| d.kind() == "ApplicationSet" && d.name() == name)
        .ok_or_else(|| Error::Missing(format!("gitops/root has no ApplicationSet {name}")))
}
