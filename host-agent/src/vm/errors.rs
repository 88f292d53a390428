//! What a failed `tart` command means: its exit code and stderr mapped to a typed
//! [`VmError`]. Tart prints its `RuntimeError`s bare on stderr (`VMStorageHelper.swift`),
//! so the texts below are Tart's own; anything unrecognised keeps the command, the exit code
//! and the end of stderr.

use vm_api::VmError;

use super::parse::tail;

/// How many stderr lines an error keeps.
const TAIL_LINES: usize = 8;

/// What was asked of `tart` when it failed: enough to build the typed error.
#[derive(Clone, Copy, Debug)]
pub struct Failed<'a> {
    /// The command line after `tart` (e.g. `ip --wait 60 dev-cp-0`).
    pub command: &'a str,
    /// The VM it concerned.
    pub vm: &'a str,
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// What it printed on stderr (for `run`, its log).
    pub stderr: &'a str,
    /// For `ip`: how long it waited.
    pub waited_secs: u64,
}

/// The typed error of a failed `tart` command.
pub fn map(failed: Failed<'_>) -> VmError {
    let text = failed.stderr;
    let vm = failed.vm.to_owned();
    if text.contains("The number of VMs exceeds the system limit") {
        let detail = text
            .lines()
            .find(|l| l.contains("exceeds the system limit"))
            .unwrap_or("")
            .trim()
            .to_owned();
        return VmError::LimitReached { vm, detail };
    }
    if text.contains("no IP address found") {
        return VmError::NoIp {
            vm,
            waited_secs: failed.waited_secs,
        };
    }
    if text.contains("does not exist") {
        return VmError::NotFound { vm };
    }
    if text.contains("is not running") || text.contains("VMNotRunning") {
        return VmError::NotRunning { vm };
    }
    if failed.command.starts_with("exec")
        && (text.contains("Tart Guest Agent") || text.contains("control socket"))
    {
        return VmError::NoGuestAgent {
            vm,
            detail: tail(text, 2),
        };
    }
    VmError::Tart {
        command: failed.command.to_owned(),
        code: failed.code.unwrap_or(-1),
        stderr_tail: tail(text, TAIL_LINES),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed<'a>(command: &'a str, code: i32, stderr: &'a str) -> VmError {
        map(Failed {
            command,
            vm: "dev-cp-0",
            code: Some(code),
            stderr,
            waited_secs: 60,
        })
    }

    #[test]
    fn tarts_own_messages_become_typed_errors() {
        // IP.swift: NoIPAddressFound, exit 1.
        assert_eq!(
            failed(
                "ip --wait 60 dev-cp-0",
                1,
                "no IP address found, is your VM running?\n"
            ),
            VmError::NoIp {
                vm: "dev-cp-0".into(),
                waited_secs: 60
            }
        );
        assert!(matches!(
            failed(
                "ip --wait 5 --resolver arp dev-cp-0",
                1,
                "no IP address found (not all Linux distributions are compatible with the ARP resolver)\n"
            ),
            VmError::NoIp { .. }
        ));
        // Stop.swift / Exec.swift: VMNotRunning, exit 2.
        assert_eq!(
            failed(
                "stop --timeout 5 dev-cp-0",
                2,
                "VM \"dev-cp-0\" is not running\n"
            ),
            VmError::NotRunning {
                vm: "dev-cp-0".into()
            }
        );
        // VMStorageHelper.swift: VMDoesNotExist, exit 2.
        assert_eq!(
            failed(
                "get dev-cp-0 --format json",
                2,
                "the specified VM \"dev-cp-0\" does not exist\n"
            ),
            VmError::NotFound {
                vm: "dev-cp-0".into()
            }
        );
        // Run.swift: VirtualMachineLimitExceeded with its hint.
        let limit = "The number of VMs exceeds the system limit (other running VMs: a, b)\n";
        assert_eq!(
            failed("run --no-graphics dev-cp-0", 1, limit),
            VmError::LimitReached {
                vm: "dev-cp-0".into(),
                detail: "The number of VMs exceeds the system limit (other running VMs: a, b)"
                    .into()
            }
        );
        // Exec.swift: no guest agent.
        let agent = "Failed to connect to the VM using its control socket: connection refused, is the Tart Guest Agent running?\n";
        assert!(matches!(
            failed("exec -i dev-cp-0 sh -c …", 1, agent),
            VmError::NoGuestAgent { .. }
        ));
    }

    #[test]
    fn anything_else_keeps_command_code_and_tail() {
        let stderr = (1..=20).map(|i| format!("line {i}\n")).collect::<String>();
        let VmError::Tart {
            command,
            code,
            stderr_tail,
        } = failed("clone img dev-cp-0", 1, &stderr)
        else {
            panic!("not Tart");
        };
        assert_eq!((command.as_str(), code), ("clone img dev-cp-0", 1));
        assert!(stderr_tail.starts_with("line 13") && stderr_tail.ends_with("line 20"));
        let killed = map(Failed {
            command: "run x",
            vm: "x",
            code: None,
            stderr: "",
            waited_secs: 0,
        });
        assert!(matches!(killed, VmError::Tart { code: -1, .. }));
    }
}
