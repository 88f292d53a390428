//! What `up` observes of the host, and the small IO that observes it: `sysctl` on macOS,
//! `/proc` on Linux, `df -Pk` where Tart keeps its VMs, `tart --version` and the SSH key's
//! metadata. The outputs are read by the pure parsers of [`super::parse`].

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::parse;
use crate::config::Config;

/// The host as observed, the input of [`super::preflight`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFacts {
    /// The operating system.
    pub os: Os,
    /// The CPU architecture.
    pub arch: Arch,
    /// The first line of `tart --version`; `None` when `tart` is not on PATH.
    pub tart_version: Option<String>,
    /// Logical CPUs.
    pub cpus: u32,
    /// Physical memory in MiB.
    pub memory_mib: u64,
    /// Where Tart stores VMs (`$TART_HOME`, else `~/.tart`).
    pub vm_dir: PathBuf,
    /// Free disk at `vm_dir` in GiB (rounded down).
    pub free_disk_gib: u64,
    /// The private key of `ssh.privateKeyPath`.
    pub ssh_key: KeyState,
}

/// The operating system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Os {
    MacOs,
    Linux,
    /// Anything else, by Rust's name for it.
    Other(String),
}

/// The CPU architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arch {
    Arm64,
    X86_64,
    /// Anything else, by Rust's name for it.
    Other(String),
}

/// The state of the SSH private key file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// No file: `up` generates the key.
    Missing,
    /// A readable file with these permission bits (e.g. `0o600`).
    Present { mode: u32 },
    /// The file exists but cannot be read, or is not a file.
    Unreadable { reason: String },
}

/// A fact that could not be observed: the command or file and what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the host's {what} ({source_of}): {detail}")]
pub struct FactsError {
    /// Which fact, e.g. `memory`.
    pub what: &'static str,
    /// The command or file it comes from, e.g. `sysctl -n hw.ncpu hw.memsize`.
    pub source_of: String,
    /// What went wrong.
    pub detail: String,
}

impl Os {
    /// The running system's.
    pub fn current() -> Self {
        match std::env::consts::OS {
            "macos" => Self::MacOs,
            "linux" => Self::Linux,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl Arch {
    /// The running system's.
    pub fn current() -> Self {
        match std::env::consts::ARCH {
            "aarch64" => Self::Arm64,
            "x86_64" => Self::X86_64,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// Observes the host for `config`. Read-only: runs `sysctl` (macOS), `df` and
/// `tart --version`, and reads `/proc` (Linux) and the SSH key's metadata.
pub fn gather(config: &Config) -> Result<HostFacts, FactsError> {
    let os = Os::current();
    let (cpus, memory_mib) = cpus_and_memory(&os)?;
    let vm_dir = tart_home();
    Ok(HostFacts {
        arch: Arch::current(),
        tart_version: tart_version(Path::new("tart")),
        cpus,
        memory_mib,
        free_disk_gib: free_disk_gib(&vm_dir)?,
        vm_dir,
        ssh_key: key_state(&expand_home(&config.ssh.private_key_path)),
        os,
    })
}

fn cpus_and_memory(os: &Os) -> Result<(u32, u64), FactsError> {
    match os {
        Os::MacOs => {
            let cmd = "sysctl -n hw.ncpu hw.memsize";
            let out = run("sysctl", &["-n", "hw.ncpu", "hw.memsize"])
                .map_err(|detail| facts_error("CPUs and memory", cmd, detail))?;
            parse::sysctl_cpus_memory(&out).ok_or_else(|| {
                facts_error("CPUs and memory", cmd, format!("unexpected output {out:?}"))
            })
        }
        _ => {
            let read = |file: &str, what| {
                std::fs::read_to_string(file).map_err(|e| facts_error(what, file, e.to_string()))
            };
            let cpuinfo = read("/proc/cpuinfo", "CPUs")?;
            let meminfo = read("/proc/meminfo", "memory")?;
            let cpus = parse::proc_cpuinfo_cpus(&cpuinfo)
                .ok_or_else(|| facts_error("CPUs", "/proc/cpuinfo", "no processor lines"))?;
            let memory = parse::proc_meminfo_mib(&meminfo)
                .ok_or_else(|| facts_error("memory", "/proc/meminfo", "no MemTotal line"))?;
            Ok((cpus, memory))
        }
    }
}

fn facts_error(what: &'static str, source_of: &str, detail: impl Into<String>) -> FactsError {
    FactsError {
        what,
        source_of: source_of.to_owned(),
        detail: detail.into(),
    }
}

/// Runs a command and returns its stdout, or a one-line reason.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!("{}: {}", out.status, stderr.trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The first line of `<tart> --version` (`tart` is a path or a name looked up on PATH),
/// `None` when tart cannot be run. A tart that runs but fails gives its error text, which
/// the preflight reports as an unknown version.
pub fn tart_version(tart: &Path) -> Option<String> {
    first_line(tart, &["--version"])
}

/// The first line of `<helm> version --template {{.Version}}` (`v3.18.4`), as
/// [`tart_version`].
pub fn helm_version(helm: &Path) -> Option<String> {
    first_line(helm, &["version", "--template", "{{.Version}}"])
}

fn first_line(program: &Path, args: &[&str]) -> Option<String> {
    match Command::new(program).args(args).output() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => Some(e.to_string()),
        Ok(out) => {
            let text = if out.status.success() {
                out.stdout
            } else {
                out.stderr
            };
            Some(
                String::from_utf8_lossy(&text)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            )
        }
    }
}

/// Where Tart keeps VMs and images: `$TART_HOME`, else `~/.tart`.
fn tart_home() -> PathBuf {
    std::env::var_os("TART_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| expand_home(Path::new("~/.tart")))
}

/// Free disk of the file system that holds `dir` (its nearest existing ancestor when it
/// does not exist yet), from `df -Pk`.
fn free_disk_gib(dir: &Path) -> Result<u64, FactsError> {
    let existing = dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    let shown = existing.display().to_string();
    let cmd = format!("df -Pk {shown}");
    let out = run("df", &["-Pk", &shown]).map_err(|d| facts_error("free disk", &cmd, d))?;
    parse::df_available_kib(&out)
        .map(|kib| kib / (1024 * 1024))
        .ok_or_else(|| facts_error("free disk", &cmd, format!("unexpected output {out:?}")))
}

/// `path` with a leading `~/` replaced by `$HOME/`.
pub fn expand_home(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}

/// The key file's state, from its metadata and a test open.
pub fn key_state(path: &Path) -> KeyState {
    let meta = match std::fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return KeyState::Missing,
        Err(e) => {
            return KeyState::Unreadable {
                reason: e.to_string(),
            };
        }
        Ok(meta) => meta,
    };
    if !meta.is_file() {
        return KeyState::Unreadable {
            reason: "it is not a regular file".to_owned(),
        };
    }
    if let Err(e) = std::fs::File::open(path) {
        return KeyState::Unreadable {
            reason: e.to_string(),
        };
    }
    KeyState::Present {
        mode: permission_bits(&meta),
    }
}

#[cfg(unix)]
fn permission_bits(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o777
}

#[cfg(not(unix))]
fn permission_bits(_: &std::fs::Metadata) -> u32 {
    0o600
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_home_path_is_expanded() {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        assert_eq!(expand_home(Path::new("~/.ssh/k")), home.join(".ssh/k"));
        assert_eq!(expand_home(Path::new("/etc/k")), PathBuf::from("/etc/k"));
        assert_eq!(expand_home(Path::new("~user/k")), PathBuf::from("~user/k"));
    }

    #[cfg(unix)]
    #[test]
    fn the_key_state_comes_from_the_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let key = dir.path().join("id");
        assert_eq!(key_state(&key), KeyState::Missing);
        std::fs::write(&key, "key").expect("write");
        for mode in [0o600, 0o644, 0o400] {
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).expect("chmod");
            assert_eq!(key_state(&key), KeyState::Present { mode });
        }
        assert!(matches!(key_state(dir.path()), KeyState::Unreadable { .. }));
    }

    #[test]
    fn this_host_can_be_observed() {
        // Reads the real machine: sysctl or /proc and df must work wherever tests run.
        let os = Os::current();
        let (cpus, memory) = cpus_and_memory(&os).expect("cpus and memory");
        assert!(cpus >= 1 && memory >= 256, "{cpus} CPUs, {memory} MiB");
        let free = free_disk_gib(Path::new("/nonexistent/tart-home/vms"));
        assert!(free.is_ok(), "{free:?}");
    }
}
