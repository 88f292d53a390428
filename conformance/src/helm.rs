//! Rendering a chart with `helm template`, as a cluster's install would.

use std::path::Path;
use std::process::Command;

use crate::Error;

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
