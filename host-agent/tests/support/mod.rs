//! What the lab's integration tests share: the `tart-infra` binary, repository files and
//! running `tart-infra lab ...` against a state directory.

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
