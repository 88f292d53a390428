//! SSH to tart-infra's VMs: key authentication only, host keys pinned by VM name, scripts
//! run as `bash -s` with typed errors that say what to do.

mod client;
mod error;
mod known_hosts;
mod output;

pub use client::{ClientConfig, DEFAULT_PORT, Session, SshClient, SshTarget, remote_command};
pub use error::SshError;
pub use known_hosts::{
    KnownHosts, KnownHostsError, KnownHostsFile, PinOrigin, PinnedKey, fingerprint,
};
pub use output::{Output, TAIL_BYTES, TAIL_LINES, tail};
