//! Child processes with log files, and a watchdog that kills them when the owning process
//! goes away by any route (normal exit, panic, SIGKILL), so no test leaves an API server
//! behind.

use std::fs::File;
use std::io::Write;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::Error;

/// One component: how to start it and, while it runs, its process.
#[derive(Debug)]
pub struct Proc {
    /// The component's name, in errors.
    pub name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Its log file (stdout and stderr, appended).
    pub log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    /// A component that runs `program` with `args`, logging to `log`.
    pub fn new(name: &'static str, program: PathBuf, args: Vec<String>, log: PathBuf) -> Self {
        Self {
            name,
            program,
            args,
            env: Vec::new(),
            log,
            child: None,
        }
    }

    /// Adds an environment variable.
    #[must_use]
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Starts the process (appending to its log) and registers it with the watchdog.
    pub fn start(&mut self, watchdog: &Watchdog) -> Result<(), Error> {
        let io = |context: String| move |source| Error::Io { context, source };
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(io(format!("opening {}", self.log.display())))?;
        let log_err = log
            .try_clone()
            .map_err(io(format!("opening {}", self.log.display())))?;
        // A process group of its own: Ctrl-C in a terminal reaches only the owner, which
        // then stops its components in order.
        let child = Command::new(&self.program)
            .process_group(0)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(io(format!("starting {}", self.program.display())))?;
        watchdog.watch(child.id());
        self.child = Some(child);
        Ok(())
    }

    /// `Some(status)` when the process has exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(status))) => Some(status.to_string()),
            Some(Err(e)) => Some(e.to_string()),
            Some(Ok(None)) => None,
            None => Some("not running".to_owned()),
        }
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn stop(&mut self, watchdog: &Watchdog) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            watchdog.forget(child.id());
        }
    }

    /// Asks the process to stop (SIGTERM), waits up to `grace`, then kills it.
    pub fn terminate(&mut self, watchdog: &Watchdog, grace: Duration) {
        if let Some(child) = self.child.as_mut() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline {
                if !matches!(child.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.stop(watchdog);
    }

    /// The arguments it is started with.
    #[cfg(test)]
    pub(crate) fn args(&self) -> &[String] {
        &self.args
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The last `n` lines of the log, for error messages.
    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.log, n)
    }
}

/// The last `n` lines of a log file.
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A `sh` process that reads `+pid` / `-pid` lines on stdin and, when stdin closes (its
/// owner exited), SIGKILLs every pid still listed and removes the work directory.
#[derive(Debug)]
pub struct Watchdog {
    stdin: Mutex<Option<ChildStdin>>,
    child: Mutex<Child>,
}

const WATCHDOG: &str = r#"dir=$1; pids=" "
while read -r line; do
  case $line in
    +*) pids="$pids${line#+} " ;;
    -*) pids=$(printf '%s' "$pids" | sed "s/ ${line#-} / /") ;;
  esac
done
for p in $pids; do kill -KILL "$p" 2>/dev/null; done
[ -n "$dir" ] && rm -rf -- "$dir"
"#;

impl Watchdog {
    /// Starts the watchdog; `dir` is removed when it fires (None keeps everything on disk).
    pub fn start(dir: Option<&Path>) -> Result<Self, Error> {
        let mut child = Command::new("sh")
            .process_group(0)
            .arg("-c")
            .arg(WATCHDOG)
            .arg("watchdog")
            .arg(dir.map(Path::as_os_str).unwrap_or_default())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| Error::Io {
                context: "starting the watchdog (sh)".to_owned(),
                source,
            })?;
        let stdin = child.stdin.take();
        Ok(Self {
            stdin: Mutex::new(stdin),
            child: Mutex::new(child),
        })
    }

    fn send(&self, line: String) {
        if let Ok(mut guard) = self.stdin.lock()
            && let Some(stdin) = guard.as_mut()
        {
            let _ = writeln!(stdin, "{line}");
            let _ = stdin.flush();
        }
    }

    /// Adds a process to kill when the owner goes away.
    pub fn watch(&self, pid: u32) {
        self.send(format!("+{pid}"));
    }

    /// Removes a process (it has been stopped).
    pub fn forget(&self, pid: u32) {
        self.send(format!("-{pid}"));
    }

    /// Closes stdin so the watchdog acts now, and waits for it.
    pub fn fire(&self) {
        if let Ok(mut guard) = self.stdin.lock() {
            guard.take();
        }
        if let Ok(mut child) = self.child.lock() {
            let _ = child.wait();
        }
    }
}
