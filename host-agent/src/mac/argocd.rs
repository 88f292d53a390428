//! The GitOps hand-off: ArgoCD on the platform cluster, the platform's own ArgoCD cluster
//! Secret (labelled like the operator labels the clusters it builds, so the same
//! ApplicationSets give the platform its addons) and the root Application: an
//! app-of-apps on `gitops/root` of the repository the cluster file names, which installs
//! the operator's chart and the addons' ApplicationSets.
//!
//! ArgoCD comes from its official install manifest (`manifests/install.yaml` of the pinned
//! release), checked against its SHA-256 whether it is downloaded or read from
//! `--upstream-dir`.

use std::path::{Path, PathBuf};

use crds::managed_cluster::Tier;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::MacError;
use crate::config::{ClusterConfig, GitopsConfig};

/// The ArgoCD release `up` installs.
pub const VERSION: &str = "3.6.1";
/// The SHA-256 of that release's `manifests/install.yaml`.
pub const INSTALL_SHA256: &str = "7be23ca7d9ca3d3074dee8332f1ca92a933b990cee7c9cf22cf3843ee8c2913e";
/// ArgoCD's namespace, as its install manifest expects.
pub const NAMESPACE: &str = "argocd";
/// The root Application's name.
pub const ROOT_APP: &str = "tart-infra";
/// The path of the root chart in the repository.
pub const ROOT_PATH: &str = "gitops/root";

/// Where the release's install manifest is published.
pub fn install_url() -> String {
    format!("https://raw.githubusercontent.com/argoproj/argo-cd/v{VERSION}/manifests/install.yaml")
}

/// The install manifest: `<upstream>/argo-cd/install.yaml` when given, else the copy kept
/// in `cache` (downloaded with curl the first time). Either must have [`INSTALL_SHA256`].
pub fn install_manifest(upstream: Option<&Path>, cache: &Path) -> Result<String, MacError> {
    let file: PathBuf = match upstream {
        Some(dir) => dir.join("argo-cd/install.yaml"),
        None => {
            let file = cache.join(format!("argo-cd-v{VERSION}-install.yaml"));
            if !file.exists() {
                download(&install_url(), &file)?;
            }
            file
        }
    };
    let bytes = std::fs::read(&file).map_err(|source| MacError::Io {
        path: file.clone(),
        source,
    })?;
    check_sha256(&bytes, &file)?;
    String::from_utf8(bytes).map_err(|e| MacError::step("argocd", "manifest", e))
}

fn check_sha256(bytes: &[u8], file: &Path) -> Result<(), MacError> {
    let found = hex(&Sha256::digest(bytes));
    if found == INSTALL_SHA256 {
        return Ok(());
    }
    Err(MacError::step(
        "argocd",
        "manifest",
        format!(
            "{} has SHA-256 {found}, not the {INSTALL_SHA256} of ArgoCD v{VERSION}'s install.yaml; delete it to download it again, or put the v{VERSION} file there",
            file.display()
        ),
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn download(url: &str, to: &Path) -> Result<(), MacError> {
    let partial = to.with_extension("part");
    let out = std::process::Command::new("curl")
        .args(["-fsSL", "--retry", "3", "-o"])
        .arg(&partial)
        .arg(url)
        .output()
        .map_err(|e| MacError::step("argocd", "download", format!("cannot run curl: {e}")))?;
    if !out.status.success() {
        return Err(MacError::step(
            "argocd",
            "download",
            format!(
                "curl {url} failed ({}): {}; without internet access pass --upstream-dir with argo-cd/install.yaml of v{VERSION}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    std::fs::rename(&partial, to).map_err(|source| MacError::Io {
        path: to.to_owned(),
        source,
    })
}

/// ArgoCD's UI and API on the platform's nodes, as the original had them: NodePort 30800
/// (HTTP, redirected to HTTPS by ArgoCD) and 30443 (HTTPS); `tart-infra status` links it.
pub const NODE_PORTS: (i32, i32) = (30800, 30443);
/// The field manager of those fields, apart from the install manifest's, so that
/// re-applying the manifest (which leaves the type unset) does not take them back.
pub const NODE_PORTS_MANAGER: &str = "tart-infra-up-argocd-ports";

/// The part of the `argocd-server` Service `up` owns: its type and node ports (pure).
pub fn server_node_ports() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "argocd-server", "namespace": NAMESPACE},
        "spec": {
            "type": "NodePort",
            "ports": [
                {"port": 80, "protocol": "TCP", "nodePort": NODE_PORTS.0},
                {"port": 443, "protocol": "TCP", "nodePort": NODE_PORTS.1},
            ],
        },
    })
}

/// The field manager of the health checks on `argocd-cm`, apart from the install manifest's.
pub const HEALTH_MANAGER: &str = "tart-infra-up-argocd-health";

/// The part of `argocd-cm` `up` owns: the Lua health checks of LoadTest, ScalingExperiment
/// and ManagedCluster (`crds::argocd_health`), so an Application that syncs them is
/// Progressing while they work, Healthy when they succeed and Degraded with the reason when
/// they fail, and ArgoCD's Application check, so sync waves order child Applications
/// (gitops/istio) (pure).
pub fn health_checks() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": NAMESPACE},
        "data": crds::argocd_health::resource_customizations(),
    })
}

/// The platform's ArgoCD cluster Secret: the in-cluster API, labelled with the platform's
/// tier and addons (pure).
pub fn platform_secret(platform: &ClusterConfig) -> Value {
    let labels = crds::argocd::argocd_labels(&platform.name, Tier::Platform, &platform.addons);
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": format!("cluster-{}", platform.name),
            "namespace": NAMESPACE,
            "labels": labels,
        },
        "type": "Opaque",
        "stringData": {
            "name": platform.name,
            "server": "https://kubernetes.default.svc",
            "config": "{\"tlsClientConfig\":{\"insecure\":false}}",
        },
    })
}

/// The root Application: `gitops/root` of the repository, rendered with the repository's
/// URL and revision so the Applications it creates point back at the same place (pure).
pub fn root_application(gitops: &GitopsConfig) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": ROOT_APP,
            "namespace": NAMESPACE,
            "finalizers": ["resources-finalizer.argocd.argoproj.io/background"],
        },
        "spec": {
            "project": "default",
            "source": {
                "repoURL": gitops.repo_url,
                "targetRevision": gitops.target_revision,
                "path": ROOT_PATH,
                "helm": {
                    "valuesObject": {
                        "repoURL": gitops.repo_url,
                        "targetRevision": gitops.target_revision,
                    },
                },
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": NAMESPACE},
            "syncPolicy": {
                "automated": {"prune": true, "selfHeal": true},
                "syncOptions": ["ServerSideApply=true"],
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixtures::shipped;

    #[test]
    fn the_health_checks_go_on_argocd_cm() {
        let cm = health_checks();
        assert_eq!(cm["metadata"]["name"], "argocd-cm");
        let data = cm["data"].as_object().expect("data");
        assert_eq!(data.len(), 5);
        assert!(data.contains_key("resource.customizations.health.argoproj.io_Application"));
        assert!(data.contains_key("resource.customizations.health.tartinfra.dev_TestSchedule"));
        assert!(
            data["resource.customizations.health.tartinfra.dev_LoadTest"]
                .as_str()
                .is_some_and(|lua| lua.contains("hs.status"))
        );
    }

    #[test]
    fn the_platform_secret_selects_its_addons() {
        let config = shipped();
        let s = platform_secret(config.cluster("platform").expect("platform"));
        let labels = &s["metadata"]["labels"];
        assert_eq!(labels["argocd.argoproj.io/secret-type"], "cluster");
        assert_eq!(labels["tartinfra.dev/tier"], "platform");
        assert_eq!(labels["addons.tartinfra.dev/cilium"], "true");
        assert_eq!(labels["addons.tartinfra.dev/monitoring"], "true");
        assert_eq!(s["stringData"]["server"], "https://kubernetes.default.svc");
    }

    #[test]
    fn the_root_application_points_back_at_the_repository() {
        let app = root_application(&GitopsConfig {
            repo_url: "https://github.com/you/tart-infra.git".into(),
            target_revision: "v0.3.0".into(),
        });
        assert_eq!(app["spec"]["source"]["path"], "gitops/root");
        assert_eq!(app["spec"]["source"]["targetRevision"], "v0.3.0");
        assert_eq!(
            app["spec"]["source"]["helm"]["valuesObject"]["repoURL"],
            "https://github.com/you/tart-infra.git"
        );
    }

    #[test]
    fn a_manifest_with_another_digest_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(dir.path().join("argo-cd")).expect("mkdir");
        std::fs::write(dir.path().join("argo-cd/install.yaml"), "kind: Tampered\n").expect("write");
        let err = install_manifest(Some(dir.path()), dir.path())
            .expect_err("digest")
            .to_string();
        assert!(
            err.contains(INSTALL_SHA256) && err.contains("install.yaml"),
            "{err}"
        );
    }
}
