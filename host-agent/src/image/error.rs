//! Why an image build failed. Each message names the image or VM and the step; the cause
//! follows (`cli::report` prints the chain on one line).

use std::path::PathBuf;

use node_bootstrap::first_contact::FirstContactError;
use node_bootstrap::keys::KeyError;
use node_bootstrap::script::ScriptError;
use node_bootstrap::ssh::{KnownHostsError, SshError};
use vm_api::VmError;

use super::plan::PlanError;
use crate::config::ConfigError;

/// Why `tart-infra image build` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The cluster file.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The versions or names.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A Tart step.
    #[error("building {image}: {step} failed")]
    Vm {
        image: String,
        step: &'static str,
        #[source]
        source: VmError,
    },
    /// The SSH key.
    #[error("building {image}: the SSH key")]
    Key {
        image: String,
        #[source]
        source: KeyError,
    },
    /// Authorising the key and pinning the host key through the guest agent.
    #[error("building {image}: first contact with {vm}")]
    FirstContact {
        image: String,
        vm: String,
        #[source]
        source: FirstContactError,
    },
    /// Connecting, or the provisioning script (its stderr tail in the cause).
    #[error("building {image}: {step} on {vm}")]
    Ssh {
        image: String,
        vm: String,
        step: &'static str,
        #[source]
        source: SshError,
    },
    /// The script's inputs.
    #[error("building {image}: the provisioning script")]
    Script {
        image: String,
        #[source]
        source: ScriptError,
    },
    /// The build's known hosts file.
    #[error("building {image}: the known hosts file")]
    KnownHosts {
        image: String,
        #[source]
        source: KnownHostsError,
    },
    /// The state directory or the image's record.
    #[error("building {image}: writing {}", .path.display())]
    State {
        image: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Ctrl-C or SIGTERM.
    #[error("building {image}: interrupted; the build VM {vm} was removed and no image was made")]
    Interrupted { image: String, vm: String },
}
