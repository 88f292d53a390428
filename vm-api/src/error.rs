//! Typed errors of a VM backend. Each message names the VM and says what fixes it.

use serde::{Deserialize, Serialize};

use crate::Resources;

/// Why a VM operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "reason"
)]
pub enum VmError {
    /// The VM does not exist.
    #[error(
        "VM `{vm}` does not exist; create it first (tart-infra up creates every VM of the config)"
    )]
    NotFound { vm: String },
    /// The VM is not running when the operation needs it running.
    #[error(
        "VM `{vm}` is not running; start it with `tart-infra boot` (or `tart run --no-graphics {vm}`)"
    )]
    NotRunning { vm: String },
    /// The guest got no IP address in time.
    #[error(
        "VM `{vm}` has no IP address after {waited_secs} s; is it running? An Ubuntu image needs `dhcp-identifier: mac` in its netplan (tart#912), and a full DHCP lease table needs a shorter lease time (see the README's On a Mac section)"
    )]
    NoIp { vm: String, waited_secs: u64 },
    /// The hypervisor refused to start another VM.
    #[error(
        "VM `{vm}` cannot start: the host's VM limit is reached ({detail}); stop another VM, or reboot the Mac if no VM runs (tart#445)"
    )]
    LimitReached { vm: String, detail: String },
    /// Starting the VM would take more than the host has.
    #[error(
        "VM `{vm}` would overcommit the host: it needs {need_cpu} CPUs and {need_memory_mib} MiB, and {free_cpu} CPUs and {free_memory_mib} MiB are left of the host's {host_cpu} CPUs and {host_memory_mib} MiB; make the VMs smaller in config/clusters.yaml or delete VMs you no longer need"
    )]
    CapacityExceeded {
        vm: String,
        need_cpu: u32,
        need_memory_mib: u64,
        free_cpu: u32,
        free_memory_mib: u64,
        host_cpu: u32,
        host_memory_mib: u64,
    },
    /// The VM's hypervisor process (`tart run`) exited without being asked to stop.
    #[error(
        "VM `{vm}` exited unexpectedly ({detail}); start it again (`tart-infra boot`), and if it exits again read its log"
    )]
    Exited { vm: String, detail: String },
    /// The VM exists with other resources than asked.
    #[error(
        "VM `{vm}` exists with {have_cpu} CPUs, {have_memory_mib} MiB and {have_disk_gib} GiB, not the {want_cpu} CPUs, {want_memory_mib} MiB and {want_disk_gib} GiB asked; delete it (`tart-infra destroy`) or change the config back"
    )]
    SpecMismatch {
        vm: String,
        have_cpu: u32,
        have_memory_mib: u64,
        have_disk_gib: u64,
        want_cpu: u32,
        want_memory_mib: u64,
        want_disk_gib: u64,
    },
    /// The VM has no guest agent, so no first contact without a password is possible.
    #[error(
        "VM `{vm}` has no guest agent (`tart exec` failed: {detail}); use an image that ships tart-guest-agent, such as the golden image `tart-infra image build` makes"
    )]
    NoGuestAgent { vm: String, detail: String },
    /// The `tart` binary is missing.
    #[error(
        "`tart` is not installed or not on PATH; install it with `brew install cirruslabs/cli/tart`"
    )]
    TartMissing,
    /// The installed `tart` is older than the backend needs.
    #[error(
        "tart {found} is too old; tart-infra needs {required} or newer: `brew upgrade cirruslabs/cli/tart`"
    )]
    TartTooOld { found: String, required: String },
    /// Any other failure of a `tart` command, with the end of its stderr.
    #[error("`tart {command}` failed (exit {code}): {stderr_tail}")]
    Tart {
        command: String,
        code: i32,
        stderr_tail: String,
    },
    /// The backend could not be reached (host agent API down, connection refused, TLS).
    #[error(
        "the VM backend at {endpoint} is unreachable: {detail}; is `tart-infra serve` running on the Mac?"
    )]
    Unreachable { endpoint: String, detail: String },
    /// The backend refused the credentials.
    #[error(
        "the VM backend at {endpoint} refused the token; use the token of the Secret tart-infra wrote (tart-system/host-agent)"
    )]
    Unauthorized { endpoint: String },
    /// The request was malformed (a bad VM name, an image not pinned, ...).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The backend answered something this client does not understand.
    #[error("unexpected answer from the VM backend: {detail}")]
    Protocol { detail: String },
}

impl VmError {
    /// Whether retrying the same call later can succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::NoIp { .. } | Self::Unreachable { .. } | Self::LimitReached { .. }
        )
    }

    /// The capacity error for `vm` needing `need` when `capacity` is what the host has.
    pub fn capacity_exceeded(vm: &str, need: Resources, free: (u32, u64), host: Resources) -> Self {
        Self::CapacityExceeded {
            vm: vm.to_owned(),
            need_cpu: need.cpu,
            need_memory_mib: need.memory_mib,
            free_cpu: free.0,
            free_memory_mib: free.1,
            host_cpu: host.cpu,
            host_memory_mib: host.memory_mib,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_form_is_tagged_by_reason_with_camel_case_fields() {
        let error = VmError::NoIp {
            vm: "a".into(),
            waited_secs: 5,
        };
        let json = serde_json::to_value(&error).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"reason": "noIp", "vm": "a", "waitedSecs": 5})
        );
        assert_eq!(
            serde_json::from_value::<VmError>(json).expect("back"),
            error
        );
        assert_eq!(
            serde_json::to_value(VmError::TartMissing).expect("json"),
            serde_json::json!({"reason": "tartMissing"})
        );
    }
}
