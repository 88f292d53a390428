//! The Mac lab's lifecycle: `tart-infra up | status | down | boot | destroy | ssh forget`.
//!
//! `up` checks the host ([`crate::host`]) before it creates anything, makes sure the VM API
//! (`tart-infra serve`, [`agent`]) runs, builds the platform cluster over SSH
//! ([`bringup`], with `node_bootstrap`), writes the kubeconfigs ([`kubeconfigs`]) and hands
//! the other clusters over to the operator ([`handoff`]: CRDs, RBAC, the Secrets the
//! operator needs, one `ManagedCluster` per cluster). Every step checks before it acts, so a
//! re-run after a failure or a kill continues. The other commands are in [`status`],
//! [`lifecycle`] (down, boot) and [`destroy`]. The state directory is described in
//! [`paths`]; progress in [`progress`].

pub mod agent;
pub mod argocd;
pub mod bringup;
pub mod cilium;
pub mod destroy;
pub mod handoff;
pub mod helm;
pub mod kubeconfigs;
pub mod lifecycle;
pub mod paths;
pub mod progress;
pub mod status;
pub mod up;
pub mod vms;

use std::path::PathBuf;

use node_bootstrap::keys::SshKey;
use node_bootstrap::ssh::KnownHostsFile;
use vm_api::AgentClient;

pub use paths::{StateDir, default_state_dir};

use crate::config::Config;
use crate::host::expand_home_path;
use progress::Reporter;

/// Why a Mac command failed. Each message names the VM, cluster or file and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MacError {
    /// The cluster file.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The host cannot run the file's VMs (each problem was printed on its own line).
    #[error("{count} preflight problem(s); nothing was created")]
    Preflight { count: usize },
    /// The host's facts could not be read.
    #[error(transparent)]
    Facts(#[from] crate::host::FactsError),
    /// A file of the state directory.
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The VM API.
    #[error("the VM API (tart-infra serve): {message}")]
    Agent { message: String },
    /// A step of one VM or cluster.
    #[error("{subject}: {step}: {message}")]
    Step {
        subject: String,
        step: String,
        message: String,
    },
    /// The user said no, or cannot be asked.
    #[error("{0}")]
    Refused(String),
}

impl MacError {
    /// A step's error, on one line (a script's stderr tail is joined with ` | `).
    pub fn step(subject: &str, step: &str, message: impl std::fmt::Display) -> Self {
        let text = message.to_string();
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .collect();
        Self::Step {
            subject: subject.to_owned(),
            step: step.to_owned(),
            message: lines.join(" | "),
        }
    }
}

/// What every Mac command is given.
#[derive(Clone, Debug)]
pub struct MacOptions {
    /// The cluster file.
    pub config: PathBuf,
    /// The state directory.
    pub state_dir: PathBuf,
    /// The `tart` binary.
    pub tart_bin: PathBuf,
    /// Where a `serve` started by these commands listens.
    pub listen: std::net::SocketAddr,
    /// JSON output.
    pub json: bool,
}

/// What the steps share: the file, the state directory, the VM API, the SSH identity.
#[derive(Debug)]
pub struct Ctx {
    pub config: Config,
    pub state: StateDir,
    pub client: AgentClient,
    pub key: SshKey,
    pub known_hosts: KnownHostsFile,
    pub report: Reporter,
}

impl Ctx {
    /// The login user of the VMs.
    pub fn user(&self) -> &str {
        &self.config.ssh.user
    }
}

/// The file's known_hosts, `~/` expanded.
pub fn known_hosts(config: &Config) -> KnownHostsFile {
    KnownHostsFile::new(expand_home_path(&config.ssh.known_hosts_path))
}

/// Ends a command: on success the summary; on failure the failed step (one progress line)
/// and the summary, then the error for the final `error:` line.
pub fn finish(
    ctx: &Ctx,
    command: &str,
    result: Result<(), MacError>,
    extra: serde_json::Value,
) -> Result<bool, MacError> {
    match result {
        Ok(()) => {
            ctx.report.summary(command, true, extra);
            Ok(true)
        }
        Err(e) => {
            if let MacError::Step {
                subject,
                step,
                message,
            } = &e
            {
                ctx.report
                    .step(subject, step, progress::Status::Failed, message.clone());
            }
            ctx.report.summary(command, false, serde_json::json!({}));
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_error_is_one_line_naming_the_vm_and_the_step() {
        let e = MacError::step(
            "platform-worker1",
            "kubeadm-join",
            "script `kubeadm-join` failed (exit code 1). Last lines of its stderr:\nerror one\n\nerror two\n",
        );
        assert_eq!(
            e.to_string(),
            "platform-worker1: kubeadm-join: script `kubeadm-join` failed (exit code 1). Last lines of its stderr: | error one | error two"
        );
    }
}
