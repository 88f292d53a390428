//! Where the control-plane binaries are: built by `scripts/build-kube-bins.sh` into a cache
//! directory outside the repository, or a directory named by `TART_INFRA_KUBE_BINS`.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::tools::{is_executable, located};

/// Names a directory holding every binary; overrides the build script's cache directory.
pub const BINS_ENV: &str = "TART_INFRA_KUBE_BINS";

/// Every binary the harness may start.
pub const ALL: [&str; 6] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "metrics-server",
];

/// A directory with the control-plane binaries.
#[derive(Clone, Debug)]
pub struct Binaries {
    dir: PathBuf,
}

impl Binaries {
    /// Finds the binaries: `$TART_INFRA_KUBE_BINS`, else the directory the build script
    /// prints for the current `tools/kube-bins` module. Missing binaries are an error that
    /// says how to build them; the harness never falls back to anything else.
    pub fn locate() -> Result<Self, Error> {
        Self::in_dir(located(BINS_ENV, "build-kube-bins.sh")?)
    }

    /// Uses `dir`, failing (with the build command) when a binary is missing there.
    pub fn in_dir(dir: PathBuf) -> Result<Self, Error> {
        let missing: Vec<&str> = ALL
            .iter()
            .copied()
            .filter(|b| !is_executable(&dir.join(b)))
            .collect();
        if missing.is_empty() {
            Ok(Self { dir })
        } else {
            Err(Error::MissingBinaries {
                dir,
                missing: missing.join(", "),
            })
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of one binary.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// kwok's stage and metric definitions, copied from its module by the build script.
    pub fn kwok_stages(&self) -> PathBuf {
        self.dir.join("kwok-stages")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binaries_are_an_error_that_says_how_to_build_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("etcd"), "").expect("write");
        let err = Binaries::in_dir(dir.path().to_path_buf()).expect_err("must fail");
        let msg = err.to_string();
        assert!(msg.contains("scripts/build-kube-bins.sh"), "{msg}");
        // etcd exists but is not executable, so it is reported too.
        assert!(
            msg.contains("etcd, kube-apiserver, kube-controller-manager"),
            "{msg}"
        );
    }
}
