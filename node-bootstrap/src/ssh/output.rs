//! What a script left behind: its exit status and output, and the short tail of its stderr
//! that goes into errors and Kubernetes conditions.

use super::error::{SshError, describe_status};

/// How many lines of stderr an error carries.
pub const TAIL_LINES: usize = 20;

/// At most this many bytes of stderr in an error (a condition message must stay small).
pub const TAIL_BYTES: usize = 4096;

/// A finished script.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// The exit code; `None` when the script was killed by a signal or the connection
    /// dropped before it reported one.
    pub exit_code: Option<u32>,
    /// The signal that killed the script, if one did (`KILL`, `TERM`, ...).
    pub signal: Option<String>,
    /// Standard output (invalid UTF-8 replaced).
    pub stdout: String,
    /// Standard error (invalid UTF-8 replaced).
    pub stderr: String,
}

impl Output {
    /// Whether the script exited 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// `exit code 3`, `killed by signal KILL` or `no exit status`.
    pub fn status(&self) -> String {
        describe_status(self.exit_code, self.signal.as_deref())
    }

    /// The last [`TAIL_LINES`] lines of stderr. Never stdout: the scripts write progress
    /// and errors to stderr, and stdout can hold a credential (admin.conf, a join token)
    /// that must not end up in an error or a Kubernetes condition.
    pub fn tail(&self) -> String {
        tail(&self.stderr, TAIL_LINES, TAIL_BYTES)
    }

    /// This output when the script exited 0, else [`SshError::CommandFailed`] with the tail
    /// of its stderr.
    pub fn check(self, vm: &str, script: &str) -> Result<Self, SshError> {
        if self.success() {
            Ok(self)
        } else {
            Err(SshError::CommandFailed {
                vm: vm.to_owned(),
                script: script.to_owned(),
                exit_code: self.exit_code,
                signal: self.signal.clone(),
                stderr_tail: self.tail(),
            })
        }
    }
}

/// The last `lines` non-empty-trailing lines of `text`, cut to at most `max_bytes` (from
/// the start, at a character boundary, marked with `…`).
pub fn tail(text: &str, lines: usize, max_bytes: usize) -> String {
    let trimmed = text.trim_end();
    let all: Vec<&str> = trimmed.lines().collect();
    let start = all.len().saturating_sub(lines);
    let joined = all[start..].join("\n");
    if joined.len() <= max_bytes {
        return joined;
    }
    let mut cut = joined.len() - max_bytes;
    while !joined.is_char_boundary(cut) {
        cut += 1;
    }
    format!("…{}", &joined[cut..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let text: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let got = tail(&text, 20, 4096);
        assert_eq!(got.lines().count(), 20);
        assert!(got.starts_with("line 11\n"));
        assert!(got.ends_with("line 30"));
        assert_eq!(tail("one\ntwo\n\n\n", 20, 4096), "one\ntwo");
        assert_eq!(tail("", 20, 4096), "");
    }

    #[test]
    fn tail_is_cut_to_the_byte_limit_at_a_char_boundary() {
        let text = "é".repeat(100);
        let got = tail(&text, 20, 11);
        assert!(got.starts_with('…'));
        assert!(got.len() <= 11 + '…'.len_utf8() + 1, "{got}");
        let long = "x".repeat(10_000);
        assert_eq!(tail(&long, 20, 4096).len(), 4096 + '…'.len_utf8());
    }

    #[test]
    fn check_turns_a_failure_into_an_error_with_the_tail() {
        let ok = Output {
            exit_code: Some(0),
            ..Output::default()
        };
        assert!(ok.check("vm", "s").is_ok());
        let failed = Output {
            exit_code: Some(3),
            stderr: "preflight\n[ERROR FileContent--proc-sys-net-ipv4-ip_forward]: not 1\n".into(),
            ..Output::default()
        };
        let err = failed
            .check("dev-master", "kubeadm-init")
            .expect_err("failed");
        assert_eq!(
            err.to_string(),
            "script `kubeadm-init` failed on VM `dev-master` (exit code 3). Last lines of its stderr:\npreflight\n[ERROR FileContent--proc-sys-net-ipv4-ip_forward]: not 1"
        );
        let killed = Output {
            signal: Some("KILL".into()),
            stdout: "apiVersion: v1\nkind: Config\n# a credential\n".into(),
            ..Output::default()
        };
        let err = killed.check("vm", "s").expect_err("killed");
        assert!(err.to_string().contains("(killed by signal KILL)"), "{err}");
        assert!(
            !err.to_string().contains("credential"),
            "stdout leaked: {err}"
        );
    }
}
