//! TEST DOUBLE, NOT SHIPPED. `systemctl` inside a VM: units are files in the VM's
//! `/etc/systemd/system`, enabled ones linked from `multi-user.target.wants/` as systemd
//! does; a started unit runs its `ExecStart=` detached, its pid in
//! `/var/lib/tart-double/systemd/<unit>.pid` and its output in `.../log/<unit>.log`.
//! `tart run` starts the enabled units on boot ([`boot`]).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{record, state_path};

const UNITS: &str = "/etc/systemd/system";

/// `kubelet` → `kubelet.service`.
pub fn unit_name(name: &str) -> String {
    if name.contains('.') {
        name.to_owned()
    } else {
        format!("{name}.service")
    }
}

/// The command of a unit file's first `ExecStart=` (prefixes `-@:+!` dropped), split on
/// whitespace; `None` when there is none.
pub fn exec_start(unit_file: &str) -> Option<Vec<String>> {
    let line = unit_file
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("ExecStart="))?;
    let cmd = line.trim_start_matches(['-', '@', ':', '+', '!']);
    let words: Vec<String> = cmd.split_whitespace().map(str::to_owned).collect();
    (!words.is_empty()).then_some(words)
}

fn unit_file(unit: &str) -> PathBuf {
    PathBuf::from(UNITS).join(unit)
}

fn wants_link(unit: &str) -> PathBuf {
    PathBuf::from(UNITS)
        .join("multi-user.target.wants")
        .join(unit)
}

fn pid_file(unit: &str) -> PathBuf {
    state_path("systemd").join(format!("{unit}.pid"))
}

/// The unit's main pid while it runs.
pub fn main_pid(unit: &str) -> Option<u32> {
    let pid = std::fs::read_to_string(pid_file(unit))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    crate::home::alive(pid).then_some(pid)
}

fn not_found(verb: &str, unit: &str) -> String {
    format!("Failed to {verb} {unit}: Unit {unit} not found.")
}

/// Starts the unit (nothing when it runs).
pub fn start(unit: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(unit_file(unit)).map_err(|_| not_found("start", unit))?;
    if main_pid(unit).is_some() {
        return Ok(());
    }
    let Some(cmd) = exec_start(&text) else {
        return Ok(());
    };
    let dir = state_path("systemd");
    let logs = state_path("log");
    for d in [&dir, &logs] {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let log_path = logs.join(format!("{unit}.log"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    use std::os::unix::process::CommandExt as _;
    let mut command = Command::new(&cmd[0]);
    command
        .args(&cmd[1..])
        .process_group(0)
        .current_dir("/")
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    if let Ok(info) = super::info()
        && let Some(bins) = info.kube_bins
    {
        command.env(local_control_plane::BINS_ENV, bins);
    }
    let child = command
        .spawn()
        .map_err(|e| format!("Failed to start {unit}: {}: {e}", cmd[0]))?;
    std::fs::write(pid_file(unit), child.id().to_string()).map_err(|e| e.to_string())?;
    Ok(())
}

/// Stops the unit: SIGTERM, up to 20 s, then SIGKILL.
pub fn stop(unit: &str) -> Result<(), String> {
    if let Some(pid) = main_pid(unit) {
        let kill = |sig: &str| {
            let _ = Command::new("kill")
                .args(["-s", sig, &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        };
        kill("TERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && crate::home::alive(pid) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if crate::home::alive(pid) {
            kill("KILL");
        }
    }
    let _ = std::fs::remove_file(pid_file(unit));
    Ok(())
}

/// Links the unit into `multi-user.target.wants`.
pub fn enable(unit: &str) -> Result<(), String> {
    if !unit_file(unit).is_file() {
        return Err(format!(
            "Failed to enable unit: Unit file {unit} does not exist."
        ));
    }
    let link = wants_link(unit);
    if let Some(parent) = link.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    if !link.exists() {
        std::os::unix::fs::symlink(unit_file(unit), &link).map_err(|e| e.to_string())?;
        eprintln!(
            "Created symlink {} → {}.",
            link.display(),
            unit_file(unit).display()
        );
    }
    Ok(())
}

/// Whether the unit is enabled.
pub fn is_enabled(unit: &str) -> bool {
    wants_link(unit).exists()
}

/// Starts every enabled unit (on boot). Stale pid files of the last boot are dropped.
pub fn boot() -> Result<(), String> {
    let _ = std::fs::remove_dir_all(state_path("systemd"));
    let wants = PathBuf::from(UNITS).join("multi-user.target.wants");
    let Ok(entries) = std::fs::read_dir(&wants) else {
        return Ok(());
    };
    let mut units: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    units.sort();
    for unit in units {
        if let Err(e) = start(&unit) {
            eprintln!("{e}");
        }
    }
    Ok(())
}

/// The `systemctl` command line. Returns the exit code.
pub fn main(args: &[String]) -> i32 {
    record("systemctl", args);
    let words: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let now = args.iter().any(|a| a == "--now");
    let quiet = args.iter().any(|a| a == "--quiet" || a == "-q");
    let Some((verb, names)) = words.split_first() else {
        return 0;
    };
    let units: Vec<String> = names.iter().map(|n| unit_name(n)).collect();
    let each = |f: &dyn Fn(&str) -> Result<(), String>| {
        for u in &units {
            if let Err(e) = f(u) {
                eprintln!("{e}");
                return 5;
            }
        }
        0
    };
    match *verb {
        "daemon-reload" | "daemon-reexec" | "mask" | "unmask" | "reset-failed" => 0,
        "start" => each(&start),
        "stop" => each(&stop),
        "restart" | "try-restart" | "reload-or-restart" => each(&|u| {
            if !unit_file(u).is_file() {
                return Err(not_found("restart", u));
            }
            stop(u)?;
            start(u)
        }),
        "enable" => each(&|u| {
            enable(u)?;
            if now { start(u) } else { Ok(()) }
        }),
        "disable" => each(&|u| {
            let _ = std::fs::remove_file(wants_link(u));
            if now { stop(u) } else { Ok(()) }
        }),
        "is-active" => {
            let mut code = 0;
            for u in &units {
                let active = main_pid(u).is_some();
                if !quiet {
                    println!("{}", if active { "active" } else { "inactive" });
                }
                if !active {
                    code = 3;
                }
            }
            code
        }
        "is-enabled" => {
            let mut code = 0;
            for u in &units {
                let on = is_enabled(u);
                if !quiet {
                    println!("{}", if on { "enabled" } else { "disabled" });
                }
                if !on {
                    code = 1;
                }
            }
            code
        }
        "status" => {
            let mut code = 0;
            for u in &units {
                match main_pid(u) {
                    Some(pid) => {
                        println!("● {u}\n     Active: active (running)\n   Main PID: {pid}")
                    }
                    None => {
                        println!("○ {u}\n     Active: inactive (dead)");
                        code = 3;
                    }
                }
            }
            code
        }
        other => {
            eprintln!("Unknown command verb '{other}'.");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_files_and_names() {
        assert_eq!(unit_name("kubelet"), "kubelet.service");
        assert_eq!(unit_name("k.socket"), "k.socket");
        let unit = "[Service]\nEnvironment=A=1\nExecStart=-/usr/bin/kubelet $KUBELET_ARGS --v=2\nExecStart=/other\n";
        assert_eq!(
            exec_start(unit),
            Some(vec![
                "/usr/bin/kubelet".to_owned(),
                "$KUBELET_ARGS".to_owned(),
                "--v=2".to_owned()
            ])
        );
        assert_eq!(exec_start("[Service]\nExecStart=\n"), None);
        assert_eq!(exec_start(""), None);
    }
}
