//! The helm binary for the chart's tests (`local_control_plane::tools::helm`). Without it
//! the tests fail under `CI=true` (naming the script that builds it) and are skipped
//! elsewhere.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The helm binary, or `None` after saying why (a panic when `CI=true`).
pub fn helm() -> Option<Helm> {
    use local_control_plane::tools;
    match tools::helm() {
        Ok(path) => Some(Helm::new(path)),
        Err(e) => {
            tools::met(
                "the chart tests",
                &[e.to_string()],
                "scripts/test sets TART_INFRA_HELM",
            );
            None
        }
    }
}

/// A helm binary with its own cache, config and data directories (nothing of the user's
/// is read or written).
pub struct Helm {
    binary: PathBuf,
    home: tempfile::TempDir,
}

impl Helm {
    fn new(binary: PathBuf) -> Self {
        assert!(
            binary.is_file(),
            "TART_INFRA_HELM={} is not a file: build it with scripts/build-helm.sh",
            binary.display()
        );
        Self {
            binary,
            home: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// `helm <args>`, to its end.
    pub fn run(&self, args: &[&str], kubeconfig: Option<&Path>) -> Output {
        let mut cmd = Command::new(&self.binary);
        cmd.args(args)
            .env("HELM_CACHE_HOME", self.home.path().join("cache"))
            .env("HELM_CONFIG_HOME", self.home.path().join("config"))
            .env("HELM_DATA_HOME", self.home.path().join("data"))
            .env_remove("KUBECONFIG");
        if let Some(kubeconfig) = kubeconfig {
            cmd.env("KUBECONFIG", kubeconfig);
        }
        cmd.output()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.binary.display()))
    }

    /// `helm <args>` that must succeed; its stdout.
    pub fn ok(&self, args: &[&str], kubeconfig: Option<&Path>) -> String {
        let out = self.run(args, kubeconfig);
        assert!(
            out.status.success(),
            "helm {} failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `helm <args>` that must fail; its stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(
            !out.status.success(),
            "helm {} succeeded but should fail:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}
