//! The VM API for the Mac commands: reuse the `tart-infra serve` recorded in the state
//! directory when it answers, else start one detached (its own process group, so a Ctrl-C
//! of `up` does not stop it; output to `serve.log`) and wait for its `serve.json`.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vm_api::{AgentClient, VmBackend as _};

use super::MacError;
use super::paths::StateDir;
use crate::serve::ServeRecord;

/// How long a started agent has to write `serve.json`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How to start the agent.
#[derive(Clone, Debug)]
pub struct AgentOptions {
    /// The `tart` binary it uses.
    pub tart_bin: PathBuf,
    /// Where it listens.
    pub listen: SocketAddr,
    /// The VMs' login user, for its stats sessions (the clusters file's `ssh.user`).
    pub stats_user: String,
}

/// A running agent and a client of it.
#[derive(Debug)]
pub struct Agent {
    /// Its record (URL, fingerprint, pid, token and certificate files).
    pub record: ServeRecord,
    /// The client.
    pub client: AgentClient,
    /// Whether this command started it.
    pub started: bool,
}

/// The agent of `state` if one answers.
pub async fn running(state: &StateDir) -> Option<Agent> {
    let record = ServeRecord::load(&state.serve_dir())?;
    let client = record.client().ok()?;
    match tokio::time::timeout(Duration::from_secs(10), client.capacity()).await {
        Ok(Ok(_)) => Some(Agent {
            record,
            client,
            started: false,
        }),
        _ => None,
    }
}

/// The running agent, or a new one.
pub async fn ensure(state: &StateDir, options: &AgentOptions) -> Result<Agent, MacError> {
    if let Some(agent) = running(state).await {
        return Ok(agent);
    }
    let serve_dir = state.serve_dir();
    let log_path = state.serve_log();
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| MacError::Io { path, source }
    };
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(io(&log_path))?;
    let log2 = log.try_clone().map_err(io(&log_path))?;
    let exe = std::env::current_exe().map_err(io(Path::new("tart-infra")))?;
    let mut command = Command::new(&exe);
    command
        .arg("serve")
        .arg("--state-dir")
        .arg(&serve_dir)
        .arg("--listen")
        .arg(options.listen.to_string())
        .arg("--tart-bin")
        .arg(&options.tart_bin)
        .arg("--stats-user")
        .arg(&options.stats_user)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .process_group(0);
    let mut child = command.spawn().map_err(io(&exe))?;
    let pid = child.id();
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(record) = ServeRecord::load(&serve_dir).filter(|r| r.pid == pid) {
            let client = record.client().map_err(|e| MacError::Agent {
                message: e.to_string(),
            })?;
            return Ok(Agent {
                record,
                client,
                started: true,
            });
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(MacError::Agent {
                message: format!(
                    "`tart-infra serve` exited ({status}) before it served: {}; see {}",
                    last_line(&log_path),
                    log_path.display()
                ),
            });
        }
        if Instant::now() >= deadline {
            return Err(MacError::Agent {
                message: format!(
                    "`tart-infra serve` did not write serve.json within {}s; see {}",
                    START_TIMEOUT.as_secs(),
                    log_path.display()
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The last non-empty line of a log file.
fn last_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| {
            t.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

/// Stops the agent recorded in `state` (SIGTERM to its pid) and waits for its record to go.
/// Returns whether one was running.
pub async fn stop(state: &StateDir) -> Result<bool, MacError> {
    let dir = state.serve_dir();
    let Some(record) = ServeRecord::load(&dir) else {
        return Ok(false);
    };
    let sent = Command::new("kill")
        .arg("-TERM")
        .arg(record.pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !sent {
        // Not running any more: the record is stale.
        let _ = std::fs::remove_file(dir.join(crate::serve::record::FILE));
        return Ok(false);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while ServeRecord::load(&dir).is_some_and(|r| r.pid == record.pid) {
        if Instant::now() >= deadline {
            return Err(MacError::Agent {
                message: format!(
                    "`tart-infra serve` (pid {}) did not stop within 20s; stop it with `kill {}`",
                    record.pid, record.pid
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(true)
}
