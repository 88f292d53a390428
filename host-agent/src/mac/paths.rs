//! The state directory of the Mac lab (`--state-dir`, `TART_INFRA_STATE_DIR`, default
//! `$XDG_STATE_HOME/tart-infra/mac` or `~/.local/state/tart-infra/mac`):
//!
//! ```text
//! serve/                     the VM API's state (token, certificate, serve.json, VM logs)
//! serve.log                  the output of the `tart-infra serve` that `up` started
//! kubeconfigs/<cluster>.yaml each cluster's kubeconfig (0600, cluster-admin)
//! kubeconfig                 every cluster's context merged (0600): KUBECONFIG=<this>
//! operator_ed25519           the operator's own SSH key (0600), copied into a Secret
//! ```

use std::path::{Path, PathBuf};

/// The state directory's files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateDir {
    root: PathBuf,
}

/// The default state directory.
pub fn default_state_dir() -> PathBuf {
    crate::lab::default_state_dir()
        .parent()
        .map(|p| p.join("mac"))
        .unwrap_or_else(|| PathBuf::from("mac"))
}

impl StateDir {
    /// The layout under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The VM API's state directory (`tart-infra serve --state-dir`).
    pub fn serve_dir(&self) -> PathBuf {
        self.root.join("serve")
    }

    /// The log of the `tart-infra serve` started by `up`.
    pub fn serve_log(&self) -> PathBuf {
        self.root.join("serve.log")
    }

    /// The per-cluster kubeconfigs.
    pub fn kubeconfigs_dir(&self) -> PathBuf {
        self.root.join("kubeconfigs")
    }

    /// One cluster's kubeconfig.
    pub fn cluster_kubeconfig(&self, cluster: &str) -> PathBuf {
        self.kubeconfigs_dir().join(format!("{cluster}.yaml"))
    }

    /// Every cluster's context in one file.
    pub fn merged_kubeconfig(&self) -> PathBuf {
        self.root.join("kubeconfig")
    }

    /// The operator's SSH key.
    pub fn operator_key(&self) -> PathBuf {
        self.root.join("operator_ed25519")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_the_documented_one() {
        let s = StateDir::new("/s");
        assert_eq!(s.serve_dir(), Path::new("/s/serve"));
        assert_eq!(
            s.cluster_kubeconfig("dev"),
            Path::new("/s/kubeconfigs/dev.yaml")
        );
        assert_eq!(s.merged_kubeconfig(), Path::new("/s/kubeconfig"));
        assert_eq!(s.operator_key(), Path::new("/s/operator_ed25519"));
        assert!(default_state_dir().ends_with("tart-infra/mac"));
    }
}
