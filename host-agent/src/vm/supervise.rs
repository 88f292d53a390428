//! The `tart run` children: each VM started here runs as a child process of this one
//! (Tart's `run --no-graphics` is a foreground process that owns the VM), in a process
//! group of its own so a Ctrl-C or SIGTERM meant for the agent does not reach it, with its
//! stdout and stderr appended straight to the VM's log file (so the child does not depend
//! on this process to write its output, and outlives it). A task waits for each child; an
//! exit nobody asked for is kept as the VM's failure, with the end of its log, as Orchard
//! marks a VM "exited unexpectedly".

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::process::Command;

use super::parse::tail;

/// How a run this process started is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunState {
    /// The child runs (`stopping` once a stop was asked for).
    Alive { stopping: bool },
    /// The child exited without being asked to.
    Exited(Exit),
}

/// How a child ended, and what it wrote since it was started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// The exit code, `None` when a signal ended it.
    pub code: Option<i32>,
    /// The status as text (`exit status: 1`, `signal: 9`).
    pub status: String,
    /// The log of this run.
    pub log: PathBuf,
    /// What this run wrote to its log.
    pub output: String,
}

impl Exit {
    /// How it ended and the end of its log, for [`vm_api::VmError::Exited`].
    pub fn detail(&self) -> String {
        format!(
            "{}; the end of {}: {}",
            self.status,
            self.log.display(),
            tail(&self.output, 10)
        )
    }

    /// The failure to report for the VM ([`vm_api::Vm::failure`]).
    pub fn failure(&self) -> String {
        format!("VM exited unexpectedly: {}", self.detail())
    }
}

#[derive(Debug)]
struct Run {
    /// Tells one start of a VM from the next, so a late exit of an old child cannot
    /// overwrite a new one.
    generation: u64,
    state: RunState,
}

#[derive(Debug, Default)]
struct Runs {
    next: u64,
    by_vm: HashMap<String, Run>,
}

/// The children, shared with the tasks that wait for them.
#[derive(Clone, Debug, Default)]
pub struct Supervisor {
    runs: Arc<Mutex<Runs>>,
}

impl Supervisor {
    fn lock(&self) -> MutexGuard<'_, Runs> {
        // A panic while holding the lock leaves plain data behind: still usable.
        self.runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts `command` (a `tart run`) for `vm` as a supervised child writing to `log`.
    pub fn spawn(&self, vm: &str, mut command: Command, log: &Path) -> Result<(), std::io::Error> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let offset = file.metadata()?.len();
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .process_group(0)
            .kill_on_drop(false)
            .spawn()?;
        let generation = {
            let mut runs = self.lock();
            runs.next += 1;
            let generation = runs.next;
            runs.by_vm.insert(
                vm.to_owned(),
                Run {
                    generation,
                    state: RunState::Alive { stopping: false },
                },
            );
            generation
        };
        let this = self.clone();
        let (vm, log) = (vm.to_owned(), log.to_owned());
        tokio::spawn(async move {
            let mut child = child;
            let status = child.wait().await;
            let output = read_from(&log, offset).await;
            this.exited(&vm, generation, status, log, output);
        });
        Ok(())
    }

    fn exited(
        &self,
        vm: &str,
        generation: u64,
        status: std::io::Result<ExitStatus>,
        log: PathBuf,
        output: String,
    ) {
        let mut runs = self.lock();
        let Some(run) = runs.by_vm.get_mut(vm) else {
            return;
        };
        if run.generation != generation {
            return;
        }
        match run.state {
            RunState::Alive { stopping: true } => {
                runs.by_vm.remove(vm);
            }
            _ => {
                let (code, status) = match status {
                    Ok(s) => (s.code(), s.to_string()),
                    Err(e) => (None, format!("waiting for it failed: {e}")),
                };
                tracing::warn!(vm, %status, "tart run exited unexpectedly");
                run.state = RunState::Exited(Exit {
                    code,
                    status,
                    log,
                    output,
                });
            }
        }
    }

    /// How the VM's run is doing, if this process started one.
    pub fn state(&self, vm: &str) -> Option<RunState> {
        self.lock().by_vm.get(vm).map(|r| r.state.clone())
    }

    /// Whether a child of this process runs the VM.
    pub fn alive(&self, vm: &str) -> bool {
        matches!(self.state(vm), Some(RunState::Alive { .. }))
    }

    /// How the VM's child ended, if it exited unexpectedly.
    pub fn exit(&self, vm: &str) -> Option<Exit> {
        match self.state(vm) {
            Some(RunState::Exited(exit)) => Some(exit),
            _ => None,
        }
    }

    /// Takes the exit of the VM's last run (the start that waits for it reports it).
    pub fn take_exit(&self, vm: &str) -> Option<Exit> {
        let mut runs = self.lock();
        match runs.by_vm.get(vm).map(|r| &r.state) {
            Some(RunState::Exited(_)) => match runs.by_vm.remove(vm).map(|r| r.state) {
                Some(RunState::Exited(exit)) => Some(exit),
                _ => None,
            },
            _ => None,
        }
    }

    /// Marks the VM's child as being stopped on purpose (its exit is then no failure).
    pub fn set_stopping(&self, vm: &str, stopping: bool) {
        if let Some(run) = self.lock().by_vm.get_mut(vm)
            && let RunState::Alive { .. } = run.state
        {
            run.state = RunState::Alive { stopping };
        }
    }

    /// Forgets a failure (a stop or delete acknowledges it).
    pub fn clear_failure(&self, vm: &str) {
        let _ = self.take_exit(vm);
    }

    /// Waits until no child of this process runs the VM, at most `timeout`.
    pub async fn wait_gone(&self, vm: &str, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.alive(vm) {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }
}

/// What a log holds from `offset` on (empty when it cannot be read).
async fn read_from(path: &Path, offset: u64) -> String {
    let bytes = tokio::fs::read(path).await.unwrap_or_default();
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    async fn until(sup: &Supervisor, vm: &str, f: impl Fn(Option<RunState>) -> bool) {
        for _ in 0..200 {
            if f(sup.state(vm)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("state of {vm} never matched: {:?}", sup.state(vm));
    }

    #[tokio::test]
    async fn an_unexpected_exit_is_the_vms_failure_with_its_own_log() {
        let dir = tempfile::tempdir().expect("dir");
        let log = dir.path().join("a.log");
        std::fs::write(&log, "an earlier run\n").expect("write");
        let sup = Supervisor::default();
        sup.spawn("a", sh("echo booting; echo kernel panic >&2; exit 3"), &log)
            .expect("spawn");
        until(&sup, "a", |s| matches!(s, Some(RunState::Exited(_)))).await;
        let failure = sup.exit("a").expect("failure").failure();
        assert!(
            failure.contains("exit status: 3")
                && failure.contains("booting | kernel panic")
                && !failure.contains("earlier"),
            "{failure}"
        );
        let exit = sup.take_exit("a").expect("exit");
        assert_eq!(exit.code, Some(3));
        assert_eq!(sup.state("a"), None);
    }

    #[tokio::test]
    async fn an_asked_for_exit_is_forgotten() {
        let dir = tempfile::tempdir().expect("dir");
        let sup = Supervisor::default();
        let pid_file = dir.path().join("b.pid");
        let script = format!("echo $$ > {}; exec sleep 30", pid_file.display());
        sup.spawn("b", sh(&script), &dir.path().join("b.log"))
            .expect("spawn");
        assert!(sup.alive("b"));
        sup.set_stopping("b", true);
        assert_eq!(sup.state("b"), Some(RunState::Alive { stopping: true }));
        // What `tart stop` does to the VM's process: signal it, by the pid it wrote.
        let mut pid = String::new();
        for _ in 0..200 {
            pid = std::fs::read_to_string(&pid_file).unwrap_or_default();
            if pid.ends_with('\n') {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let killed = std::process::Command::new("kill")
            .args(["-TERM", pid.trim()])
            .status()
            .expect("kill");
        assert!(killed.success());
        assert!(sup.wait_gone("b", Duration::from_secs(10)).await);
        assert_eq!(sup.state("b"), None);
        assert_eq!(sup.exit("b"), None);
    }
}
