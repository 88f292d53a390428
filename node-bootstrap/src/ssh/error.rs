//! Typed SSH errors. Each message names the VM (and the address, user or key involved) and
//! says what fixes it.

use super::known_hosts::KnownHostsError;

/// Why talking to a VM over SSH failed.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// Nothing listens on the address.
    #[error(
        "cannot connect to VM `{vm}` at {address}: connection refused; is the VM running with sshd started, and is {address} its current address (`tart ip {vm}`)?"
    )]
    ConnectionRefused { vm: String, address: String },
    /// No answer (TCP connection or SSH handshake) in time.
    #[error(
        "cannot connect to VM `{vm}` at {address}: no answer within {secs} s; is the VM running, is {address} its current address (`tart ip {vm}`), and can this machine reach it (softnet VMs need `--net-softnet-allow=0.0.0.0/0`)?"
    )]
    ConnectTimeout {
        vm: String,
        address: String,
        secs: u64,
    },
    /// Another connection failure (no route, host unreachable, ...).
    #[error(
        "cannot connect to VM `{vm}` at {address}: {detail}; is {address} the VM's current address (`tart ip {vm}`)?"
    )]
    Connect {
        vm: String,
        address: String,
        detail: String,
    },
    /// The VM presented a host key that is not pinned for it.
    #[error(
        "the SSH host key of VM `{vm}` is not the pinned one (pinned {expected}, presented {presented}); if the VM was re-created, accept its new key: {accept}; otherwise something is intercepting the connection"
    )]
    HostKeyChanged {
        vm: String,
        expected: String,
        presented: String,
        /// How to accept the new key where the pins are kept.
        accept: String,
    },
    /// No host key is pinned for the VM, so its identity cannot be checked.
    #[error(
        "no SSH host key is pinned for VM `{vm}` in {place}; tart-infra pins a VM's key through the guest agent when it creates or first contacts it, and never trusts a key on first use"
    )]
    NotPinned { vm: String, place: String },
    /// The VM refused the client key.
    #[error(
        "VM `{vm}` refused SSH key {fingerprint} (`{key}`) for user `{user}`; its public key must be in `{user}`'s ~/.ssh/authorized_keys in the VM (`tart-infra up` puts it there through the guest agent), and sshd must allow public-key login for `{user}`"
    )]
    AuthRefused {
        vm: String,
        user: String,
        key: String,
        fingerprint: String,
    },
    /// The SSH session broke (protocol error, disconnect).
    #[error(
        "the SSH session with VM `{vm}` at {address} failed: {detail}; run the step again, and check that the VM is still up (`tart-infra status`)"
    )]
    Session {
        vm: String,
        address: String,
        detail: String,
    },
    /// A script ran longer than its timeout and was stopped.
    #[error(
        "script `{script}` on VM `{vm}` did not finish within {secs} s and was stopped; re-running it continues where it stopped. Last lines of its stderr:\n{stderr_tail}"
    )]
    CommandTimeout {
        vm: String,
        script: String,
        secs: u64,
        stderr_tail: String,
    },
    /// A script exited non-zero (or was killed).
    #[error("script `{script}` failed on VM `{vm}` ({status}). Last lines of its stderr:\n{stderr_tail}", status = describe_status(*.exit_code, .signal.as_deref()))]
    CommandFailed {
        vm: String,
        script: String,
        exit_code: Option<u32>,
        signal: Option<String>,
        stderr_tail: String,
    },
    /// The known hosts file could not be read.
    #[error(transparent)]
    KnownHosts(#[from] KnownHostsError),
}

impl SshError {
    /// Whether trying again later can succeed without anyone changing anything (the VM is
    /// still booting, its sshd is starting, a network blip).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::ConnectionRefused { .. }
                | Self::ConnectTimeout { .. }
                | Self::Connect { .. }
                | Self::Session { .. }
                | Self::CommandTimeout { .. }
        )
    }

    /// The VM the error is about, when it is about one.
    pub fn vm(&self) -> Option<&str> {
        match self {
            Self::ConnectionRefused { vm, .. }
            | Self::ConnectTimeout { vm, .. }
            | Self::Connect { vm, .. }
            | Self::HostKeyChanged { vm, .. }
            | Self::NotPinned { vm, .. }
            | Self::AuthRefused { vm, .. }
            | Self::Session { vm, .. }
            | Self::CommandTimeout { vm, .. }
            | Self::CommandFailed { vm, .. } => Some(vm),
            Self::KnownHosts(_) => None,
        }
    }
}

/// `exit code 3`, `killed by signal KILL`, or `no exit status` (the connection dropped).
pub fn describe_status(exit_code: Option<u32>, signal: Option<&str>) -> String {
    match (exit_code, signal) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "no exit status".to_owned(),
    }
}
