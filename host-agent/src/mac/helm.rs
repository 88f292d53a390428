//! Installs a Helm chart the way a platform engineer would: `helm upgrade --install` with a
//! values file, against one cluster's kubeconfig. The arguments are built by a pure function;
//! running helm is the only IO. A re-run upgrades the release to the same values (a no-op
//! for the cluster).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::MacError;

/// The oldest helm `up` runs: Helm's version skew policy pairs 3.18 with Kubernetes 1.33,
/// the oldest version the lab installs.
pub const MIN_HELM_VERSION: (u32, u32, u32) = (3, 18, 0);

/// Where a chart comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chart {
    /// A chart repository, at a pinned version.
    Repo {
        repo: String,
        name: String,
        version: String,
    },
    /// A chart directory on disk (`--upstream-dir`, air-gapped installs and CI).
    Dir(PathBuf),
}

/// One release to install or upgrade.
#[derive(Clone, Debug)]
pub struct Release<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub chart: &'a Chart,
    /// The values, written to a file next to the kubeconfig (helm reads JSON as YAML).
    pub values: &'a serde_json::Value,
    /// The cluster's kubeconfig file.
    pub kubeconfig: &'a Path,
}

/// How long helm may take to apply a release (it does not wait for readiness: `up` waits
/// for what it needs itself, with its own progress).
pub const TIMEOUT: Duration = Duration::from_secs(300);

/// The arguments of `helm upgrade --install` for `release` with values in `values_file`
/// (pure).
pub fn upgrade_install_args(release: &Release<'_>, values_file: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["upgrade", "--install", release.name]
        .iter()
        .map(OsString::from)
        .collect();
    match release.chart {
        Chart::Repo {
            repo,
            name,
            version,
        } => {
            for a in [name.as_str(), "--repo", repo, "--version", version] {
                args.push(a.into());
            }
        }
        Chart::Dir(dir) => args.push(dir.into()),
    }
    for a in [
        "--namespace",
        release.namespace,
        "--create-namespace",
        "--timeout",
    ] {
        args.push(a.into());
    }
    args.push(format!("{}s", TIMEOUT.as_secs()).into());
    args.push("--kubeconfig".into());
    args.push(release.kubeconfig.into());
    args.push("--values".into());
    args.push(values_file.into());
    args
}

/// Runs `helm upgrade --install`; a failure carries helm's last lines of stderr.
pub async fn upgrade_install(
    helm: &Path,
    release: &Release<'_>,
    subject: &str,
) -> Result<(), MacError> {
    let step = format!("helm {}", release.name);
    let values_file = release
        .kubeconfig
        .with_file_name(format!("{subject}.{}.values.json", release.name));
    let text = serde_json::to_string_pretty(release.values)
        .map_err(|e| MacError::step(subject, &step, e))?;
    std::fs::write(&values_file, text).map_err(|source| MacError::Io {
        path: values_file.clone(),
        source,
    })?;
    let out = tokio::process::Command::new(helm)
        .args(upgrade_install_args(release, &values_file))
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| {
            MacError::step(
                subject,
                &step,
                format!(
                    "cannot run {}: {e}; install helm {}.{}.{} or newer (`brew install helm`) or pass --helm-bin",
                    helm.display(),
                    MIN_HELM_VERSION.0,
                    MIN_HELM_VERSION.1,
                    MIN_HELM_VERSION.2
                ),
            )
        })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(MacError::step(
        subject,
        &step,
        format!(
            "`helm upgrade --install {}` failed ({}): {}",
            release.name,
            out.status,
            tail.join("\n")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(chart: &Chart) -> Vec<String> {
        let values = serde_json::json!({});
        let release = Release {
            name: "cilium",
            namespace: "kube-system",
            chart,
            values: &values,
            kubeconfig: Path::new("/state/kubeconfigs/platform.yaml"),
        };
        upgrade_install_args(&release, Path::new("/state/kubeconfigs/v.json"))
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_repository_chart_is_pinned_to_its_version() {
        let chart = Chart::Repo {
            repo: "https://helm.cilium.io".into(),
            name: "cilium".into(),
            version: "1.18.1".into(),
        };
        assert_eq!(
            args(&chart).join(" "),
            "upgrade --install cilium cilium --repo https://helm.cilium.io --version 1.18.1 \
             --namespace kube-system --create-namespace --timeout 300s \
             --kubeconfig /state/kubeconfigs/platform.yaml --values /state/kubeconfigs/v.json"
        );
    }

    #[test]
    fn a_chart_directory_is_used_as_it_is() {
        let a = args(&Chart::Dir("/upstream/cilium/chart".into()));
        assert_eq!(
            a[..4],
            ["upgrade", "--install", "cilium", "/upstream/cilium/chart"]
        );
        assert!(!a.contains(&"--repo".to_owned()));
    }
}
