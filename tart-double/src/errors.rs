//! TEST DOUBLE, NOT SHIPPED. The double's errors, worded and exit-coded as Tart's
//! `RuntimeError` (Sources/tart/VMStorageHelper.swift): what a caller parses from stderr
//! must look the same as on a Mac.

/// A failed `tart` command. `Display` is exactly what Tart prints on stderr.
#[derive(Debug, thiserror::Error)]
pub enum TartError {
    #[error("the specified VM \"{0}\" does not exist")]
    VmDoesNotExist(String),
    #[error("VM \"{0}\" is not running")]
    VmNotRunning(String),
    #[error("VM \"{0}\" is already running!")]
    VmAlreadyRunning(String),
    #[error("{0}")]
    NoIpAddressFound(String),
    #[error("The number of VMs exceeds the system limit{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    InvalidDiskSize(String),
    #[error("Error: {0}")]
    Validation(String),
    #[error("VM \"{0}\" already exists")]
    AlreadyExists(String),
    /// Anything the double itself cannot do (files, processes); not a Tart message.
    #[error("tart (test double): {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A setup problem of the double (missing sshd, iptables, bad env var).
    #[error("tart (test double): {0}")]
    Double(String),
}

impl TartError {
    /// Tart's exit codes: 2 for a missing, not-running or already-running VM, else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::VmDoesNotExist(_) | Self::VmNotRunning(_) | Self::VmAlreadyRunning(_) => 2,
            Self::Validation(_) => 64,
            _ => 1,
        }
    }

    /// An I/O error on `path`.
    pub fn io(what: &str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self {
        let context = format!("{what} {}", path.display());
        move |source| Self::Io { context, source }
    }

    /// An I/O error while doing `what`.
    pub fn io_doing(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = what.into();
        move |source| Self::Io { context, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_exit_codes_are_tarts() {
        let e = TartError::VmDoesNotExist("a".into());
        assert_eq!(e.to_string(), "the specified VM \"a\" does not exist");
        assert_eq!(e.exit_code(), 2);
        let e = TartError::VmNotRunning("a".into());
        assert_eq!(e.to_string(), "VM \"a\" is not running");
        assert_eq!(e.exit_code(), 2);
        let e = TartError::LimitExceeded(" (other running VMs: a, b)".into());
        assert_eq!(
            e.to_string(),
            "The number of VMs exceeds the system limit (other running VMs: a, b)"
        );
        assert_eq!(e.exit_code(), 1);
        let e = TartError::NoIpAddressFound("no IP address found, is your VM running?".into());
        assert_eq!(e.to_string(), "no IP address found, is your VM running?");
    }
}
