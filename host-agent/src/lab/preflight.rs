//! What `lab up` checks before it starts anything, in this order: the cluster file and the
//! selected clusters, the state directory and any lab already running from it, the
//! operator's address, the operator binary, and the Kubernetes binaries (built on a fresh
//! machine). A failure here leaves no process and no record behind.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use local_control_plane::Binaries;

use super::record::{Component, Record};
use super::{Error, Progress, UpOptions};
use crate::config::{self, ClusterConfig, Config};

/// Everything `lab up` needs to start, checked.
pub(super) struct Checked {
    /// The cluster file.
    pub config: Config,
    /// The clusters to start, platform first.
    pub selected: Vec<ClusterConfig>,
    /// The tart-operator binary.
    pub operator_bin: PathBuf,
    /// The Kubernetes binaries.
    pub bins: Binaries,
}

/// Runs the checks; the first that fails is the error.
pub(super) fn check(opts: &UpOptions, progress: &Progress) -> Result<Checked, Error> {
    let config = config::load(&opts.config)?;
    let selected: Vec<ClusterConfig> = config
        .select(&opts.clusters)?
        .into_iter()
        .cloned()
        .collect();
    std::fs::create_dir_all(&opts.state_dir).map_err(Error::io(format!(
        "creating the state directory {}",
        opts.state_dir.display()
    )))?;
    if let Some(running) = Record::load(&opts.state_dir)?
        && let Some(supervisor) = running.supervisor.filter(Component::alive)
    {
        return Err(Error::AlreadyRunning {
            state_dir: opts.state_dir.clone(),
            pid: supervisor.pid,
        });
    }
    ensure_free(opts.http_addr)?;
    let operator_bin = operator_binary(opts.operator_bin.as_deref())?;
    let bins = binaries(progress)?;
    Ok(Checked {
        config,
        selected,
        operator_bin,
        bins,
    })
}

fn ensure_free(addr: SocketAddr) -> Result<(), Error> {
    TcpListener::bind(addr)
        .map(drop)
        .map_err(|source| Error::AddressInUse { addr, source })
}

/// The given operator binary, else `tart-operator` next to this program.
fn operator_binary(given: Option<&Path>) -> Result<PathBuf, Error> {
    let path = match given {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()
            .map_err(Error::io("locating tart-infra's own binary"))?
            .with_file_name("tart-operator"),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::OperatorMissing { path })
    }
}

fn workspace_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-kube-bins.sh")
}

/// The cached control-plane binaries; on a fresh machine, builds them first through the
/// same script the tests use (its progress goes to stderr).
fn binaries(progress: &Progress) -> Result<Binaries, Error> {
    match Binaries::locate() {
        Ok(b) => Ok(b),
        Err(local_control_plane::Error::MissingBinaries { .. }) if workspace_script().is_file() => {
            progress.step(
                "building the Kubernetes binaries from their Go modules (first run only, about 7 minutes)",
            );
            let out = std::process::Command::new("bash")
                .arg(workspace_script())
                .stderr(std::process::Stdio::inherit())
                .output()
                .map_err(Error::BuildScript)?;
            if !out.status.success() {
                return Err(Error::BuildFailed {
                    status: out.status.to_string(),
                });
            }
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            Ok(Binaries::in_dir(PathBuf::from(dir))?)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_address_is_named_with_the_flag_that_changes_it() {
        let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("addr");
        let err = ensure_free(addr).expect_err("in use").to_string();
        assert!(
            err.starts_with(&format!("{addr} is in use")) && err.contains("--http-addr"),
            "{err}"
        );
        drop(taken);
        // A freed port is free again, unless another test's listener took it in between:
        // try a few freshly freed ports (a check that always refuses fails every time).
        let free = (0..10).any(|_| {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port");
            ensure_free(port).is_ok()
        });
        assert!(free, "a freed port is reported as in use");
    }

    #[test]
    fn a_missing_operator_binary_says_how_to_build_it() {
        let err = operator_binary(Some(Path::new("/nonexistent/tart-operator")))
            .expect_err("missing")
            .to_string();
        assert!(
            err.contains("/nonexistent/tart-operator")
                && err.contains("cargo build --release -p operator")
                && err.contains("--operator-bin"),
            "{err}"
        );
        let dir = tempfile::tempdir().expect("dir");
        let bin = dir.path().join("tart-operator");
        std::fs::write(&bin, "").expect("write");
        assert_eq!(operator_binary(Some(&bin)).expect("there"), bin);
    }
}
