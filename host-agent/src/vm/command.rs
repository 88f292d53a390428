//! Running one `tart` command to its end: through `tokio::process`, with a timeout (the
//! child is killed when it runs over), stdin optionally fed, stdout and stderr collected.
//! The only place that starts short-lived `tart` processes.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;
use vm_api::VmError;

use super::errors::{self, Failed};

/// The `tart` binary and the environment its commands run in.
#[derive(Clone, Debug)]
pub struct Tart {
    bin: PathBuf,
}

/// A finished command.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// One call: its arguments, optional stdin, how long it may take, and for error messages
/// the VM it is about and how long it waits on purpose (`ip --wait`).
pub struct Call<'a> {
    pub args: Vec<String>,
    pub stdin: Option<&'a str>,
    pub timeout: Duration,
    pub vm: &'a str,
    pub waited_secs: u64,
}

impl<'a> Call<'a> {
    /// A call about `vm` with `args`, no stdin, taking at most `timeout`.
    pub fn new(vm: &'a str, args: &[&str], timeout: Duration) -> Self {
        Self {
            args: args.iter().map(|&a| a.to_owned()).collect(),
            stdin: None,
            timeout,
            vm,
            waited_secs: 0,
        }
    }

    /// The command line after `tart`, for messages.
    pub fn line(&self) -> String {
        self.args.join(" ")
    }
}

impl Tart {
    /// `bin` is a path, or a name looked up on PATH.
    pub fn new(bin: PathBuf) -> Self {
        Self { bin }
    }

    /// A command for a long-lived `tart` process (`run`), for the supervisor to spawn.
    pub fn command(&self) -> Command {
        Command::new(&self.bin)
    }

    /// Runs the call to its end, whatever its exit code.
    pub async fn output(&self, call: &Call<'_>) -> Result<Output, VmError> {
        let mut child = self
            .command()
            .args(&call.args)
            .stdin(if call.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| self.spawn_error(&call.line(), &e))?;
        if let (Some(input), Some(mut pipe)) = (call.stdin, child.stdin.take()) {
            // A command that exits without reading its input is not an error here: its
            // exit code says what happened.
            let _ = pipe.write_all(input.as_bytes()).await;
            drop(pipe);
        }
        match tokio::time::timeout(call.timeout, child.wait_with_output()).await {
            Ok(Ok(out)) => Ok(Output {
                code: out.status.code(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }),
            Ok(Err(e)) => Err(VmError::Tart {
                command: call.line(),
                code: -1,
                stderr_tail: format!("reading its output: {e}"),
            }),
            // Dropping the future drops the child, which kills it (kill_on_drop).
            Err(_) => Err(VmError::Tart {
                command: call.line(),
                code: -1,
                stderr_tail: format!(
                    "did not finish within {} s and was killed",
                    call.timeout.as_secs()
                ),
            }),
        }
    }

    /// Runs the call; its stdout when it exits 0, else the typed error of its stderr.
    pub async fn ok(&self, call: &Call<'_>) -> Result<String, VmError> {
        let out = self.output(call).await?;
        if out.code == Some(0) {
            return Ok(out.stdout);
        }
        let line = call.line();
        Err(errors::map(Failed {
            command: &line,
            vm: call.vm,
            code: out.code,
            stderr: &out.stderr,
            waited_secs: call.waited_secs,
        }))
    }

    /// Why `tart` could not be started: missing, or something else about the binary.
    pub fn spawn_error(&self, line: &str, e: &std::io::Error) -> VmError {
        if e.kind() == std::io::ErrorKind::NotFound {
            VmError::TartMissing
        } else {
            VmError::Tart {
                command: line.to_owned(),
                code: -1,
                stderr_tail: format!("cannot start {}: {e}", self.bin.display()),
            }
        }
    }
}
