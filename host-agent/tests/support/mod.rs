//! What the integration tests share: the `tart-infra` binary, repository files, running
//! `tart-infra lab ...` against a state directory, the missing-tool rule, and ([`gitops`])
//! gitops/root rendered and its cluster generators evaluated.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod gitops;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `tart-infra` binary cargo built for these tests.
pub fn tart_infra() -> &'static str {
    env!("CARGO_BIN_EXE_tart-infra")
}

/// A file of the repository, e.g. `config/clusters.yaml`.
pub fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// `tart-infra lab <args> --state-dir <state>`, to its end.
pub fn cli(args: &[&str], state: &Path) -> Output {
    Command::new(tart_infra())
        .args(["lab"])
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .output()
        .expect("run tart-infra")
}

/// The tool `found` locates, or `None` after saying why `who` cannot run (a panic when
/// `CI=true`, see `local_control_plane::tools::met`).
pub fn tool(
    who: &str,
    found: Result<PathBuf, local_control_plane::Error>,
    fix: &str,
) -> Option<PathBuf> {
    match found {
        Ok(path) => Some(path),
        Err(e) => {
            local_control_plane::tools::met(who, &[e.to_string()], fix);
            None
        }
    }
}
