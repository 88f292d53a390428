//! What `tart` prints, read: `--version`, `list --format json`, `get --format json`, `ip`,
//! and the host keys `exec` reads. Pure functions, tested on Tart's real formats. Tart
//! encodes JSON with Swift's `JSONEncoder` (pretty-printed, key order not guaranteed), so
//! the JSON is read by key, never by position, and unknown keys are ignored.

use std::net::Ipv4Addr;

use serde::Deserialize;
use vm_api::{HostKey, VmState};

/// The oldest `tart` tart-infra works with, the one minimum of the host preflight
/// (`host::MIN_TART_VERSION` is this constant) and of [`crate::vm::TartCli::new`]: 2.27.0
/// introduced `tart exec` (tart#1074, May 2025), which `authorize_ssh` needs for first
/// contact without a password; everything else used (`--net-softnet-allow` since 2.7.1,
/// `ip --resolver`, `list`/`get --format json` with `State`) is older. The preflight once
/// asked for 2.28.0 with no feature of 2.28 behind it; one constant keeps `up` from refusing
/// a tart the backend accepts (or the other way round).
pub const MIN_VERSION: Version = Version(2, 27, 0);

/// A `tart` release number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// What `tart --version` printed: a release (`2.32.1`), or `None` for a build from source,
/// which prints `SNAPSHOT` and is taken as new enough.
pub fn version(stdout: &str) -> Result<Option<Version>, String> {
    let text = stdout.trim();
    if text == "SNAPSHOT" {
        return Ok(None);
    }
    let bad = || {
        format!(
            "`tart --version` printed `{}`, not a version",
            shorten(text, 80)
        )
    };
    let mut parts = text.trim_start_matches('v').split('.');
    let mut next = || -> Result<u32, String> {
        parts
            .next()
            .map(|p| {
                p.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|digits| digits.parse().ok())
            .ok_or_else(bad)
    };
    let (major, minor) = (next()?, next()?);
    let patch = next().unwrap_or(0);
    Ok(Some(Version(major, minor, patch)))
}

/// A VM as `tart list --format json` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub state: VmState,
}

#[derive(Deserialize)]
struct ListEntry {
    #[serde(rename = "Source")]
    source: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "State")]
    state: Option<String>,
    #[serde(rename = "Running")]
    running: Option<bool>,
}

/// The local VMs of `tart list --format json` (OCI cache entries are images, not VMs).
pub fn list(json: &str) -> Result<Vec<Listed>, String> {
    let entries: Vec<ListEntry> = serde_json::from_str(json.trim())
        .map_err(|e| format!("`tart list --format json` is not a list of VMs: {e}"))?;
    entries
        .into_iter()
        .filter(|e| e.source == "local")
        .map(|e| {
            let state = state(e.state.as_deref(), e.running)
                .map_err(|s| format!("`tart list`: VM `{}` has state `{s}`", e.name))?;
            Ok(Listed {
                name: e.name,
                state,
            })
        })
        .collect()
}

/// A VM's configuration as `tart get --format json` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Got {
    pub cpu: u32,
    /// Tart's "MB" are MiB (`set --memory` multiplies by 1024 × 1024).
    pub memory_mib: u64,
    pub disk_gib: u64,
    pub state: VmState,
}

#[derive(Deserialize)]
struct GetInfo {
    #[serde(rename = "CPU")]
    cpu: u32,
    #[serde(rename = "Memory")]
    memory: u64,
    #[serde(rename = "Disk")]
    disk: u64,
    #[serde(rename = "State")]
    state: Option<String>,
    #[serde(rename = "Running")]
    running: Option<bool>,
}

/// `tart get <vm> --format json`.
pub fn get(json: &str) -> Result<Got, String> {
    let info: GetInfo = serde_json::from_str(json.trim())
        .map_err(|e| format!("`tart get --format json` is not a VM's configuration: {e}"))?;
    let state = state(info.state.as_deref(), info.running)
        .map_err(|s| format!("`tart get`: state `{s}`"))?;
    Ok(Got {
        cpu: info.cpu,
        memory_mib: info.memory,
        disk_gib: info.disk,
        state,
    })
}

/// `State` (`running`, `suspended`, `stopped`), or the deprecated `Running` of a tart
/// that has no `State`.
fn state(state: Option<&str>, running: Option<bool>) -> Result<VmState, String> {
    match (state, running) {
        (Some("running"), _) => Ok(VmState::Running),
        (Some("suspended"), _) => Ok(VmState::Suspended),
        (Some("stopped"), _) => Ok(VmState::Stopped),
        (Some(other), _) => Err(shorten(other, 40)),
        (None, Some(true)) => Ok(VmState::Running),
        (None, Some(false)) => Ok(VmState::Stopped),
        (None, None) => Err("(none)".to_owned()),
    }
}

/// `tart ip` prints the address alone on a line.
pub fn ip(stdout: &str) -> Result<Ipv4Addr, String> {
    let line = stdout
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    line.parse().map_err(|_| {
        format!(
            "`tart ip` printed `{}`, not an IPv4 address",
            shorten(line, 80)
        )
    })
}

/// The host keys among the lines `authorize_ssh`'s script prints (the content of
/// `/etc/ssh/ssh_host_*_key.pub`: `algorithm base64 [comment]`); other lines are skipped.
pub fn host_keys(stdout: &str) -> Vec<HostKey> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let algorithm = parts.next()?;
            let key = parts.next()?;
            let plausible = (algorithm.starts_with("ssh-") || algorithm.starts_with("ecdsa-"))
                && key.len() >= 16
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
            plausible.then(|| HostKey {
                algorithm: algorithm.to_owned(),
                key: key.to_owned(),
            })
        })
        .collect()
}

/// At most `max` characters of `text`.
pub fn shorten(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

/// The last `lines` lines of `text` (at most 2000 characters), trimmed, on one line
/// joined by ` | ` so a message stays one line.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let joined = all[all.len().saturating_sub(lines)..].join(" | ");
    let count = joined.chars().count();
    if count > 2000 {
        format!("…{}", joined.chars().skip(count - 2000).collect::<String>())
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tart list --format json` as tart 2.32 prints it (notes §9, the encoder of
    /// `List.swift`): pretty-printed with ` : `, local VMs first, then OCI images.
    const LIST: &str = r#"[
  {
    "Source" : "local",
    "Name" : "dev-cp-0",
    "Disk" : 50,
    "Size" : 4,
    "Accessed" : "2026-03-20T10:15:02Z",
    "Running" : true,
    "State" : "running"
  },
  {
    "Source" : "OCI",
    "Name" : "ghcr.io/cirruslabs/ubuntu:latest",
    "Disk" : 20,
    "Size" : 2,
    "Accessed" : "2026-03-19T08:00:00Z",
    "Running" : false,
    "State" : "stopped"
  }
]
"#;

    /// `tart get --format json` (`Get.swift`): keys in another order than declared, as
    /// `JSONEncoder` may write them.
    const GET: &str = r#"{
  "State" : "stopped",
  "OS" : "linux",
  "Memory" : 4096,
  "DiskFormat" : "raw",
  "CPU" : 2,
  "Disk" : 20,
  "Size" : "1.234",
  "Display" : "1024x768",
  "Running" : false
}
"#;

    #[test]
    fn versions_of_releases_and_snapshots() {
        assert_eq!(version("2.32.1\n"), Ok(Some(Version(2, 32, 1))));
        assert_eq!(version("2.27.0"), Ok(Some(Version(2, 27, 0))));
        assert_eq!(version("2.30"), Ok(Some(Version(2, 30, 0))));
        assert_eq!(version("2.28.0-rc1"), Ok(Some(Version(2, 28, 0))));
        assert_eq!(version("SNAPSHOT\n"), Ok(None));
        for bad in ["", "tart", "x.y.z", "Error: unknown option"] {
            assert!(version(bad).is_err(), "{bad}");
        }
        assert!(Version(2, 26, 9) < MIN_VERSION && Version(2, 27, 0) >= MIN_VERSION);
        assert!(Version(3, 0, 0) > MIN_VERSION);
        assert_eq!(MIN_VERSION.to_string(), "2.27.0");
    }

    #[test]
    fn list_keeps_local_vms_and_reads_keys_in_any_order() {
        assert_eq!(
            list(LIST),
            Ok(vec![Listed {
                name: "dev-cp-0".into(),
                state: VmState::Running
            }])
        );
        let reordered = r#"[{"State":"suspended","Name":"b","Source":"local"},
            {"Running":false,"Name":"old","Source":"local"}]"#;
        assert_eq!(
            list(reordered).expect("parses"),
            [
                Listed {
                    name: "b".into(),
                    state: VmState::Suspended
                },
                Listed {
                    name: "old".into(),
                    state: VmState::Stopped
                }
            ]
        );
        assert_eq!(list("[]\n"), Ok(vec![]));
        assert!(list("").is_err());
        assert!(
            list(r#"[{"Source":"local","Name":"x","State":"paused"}]"#)
                .expect_err("unknown state")
                .contains("paused")
        );
        assert!(list(r#"{"Name":"x"}"#).is_err());
    }

    #[test]
    fn get_reads_resources_and_state() {
        assert_eq!(
            get(GET),
            Ok(Got {
                cpu: 2,
                memory_mib: 4096,
                disk_gib: 20,
                state: VmState::Stopped
            })
        );
        assert!(get(r#"{"CPU":2}"#).is_err());
        assert!(get("no IP").is_err());
    }

    #[test]
    fn ip_is_one_address() {
        assert_eq!(ip("192.168.64.5\n"), Ok(Ipv4Addr::new(192, 168, 64, 5)));
        assert_eq!(ip("\n  10.0.0.2  \n"), Ok(Ipv4Addr::new(10, 0, 0, 2)));
        assert!(ip("").is_err());
        assert!(ip("fe80::1").is_err());
    }

    #[test]
    fn host_keys_skip_what_is_not_a_key() {
        let out = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0wmN/Cr3JXqmLW7u+g9pTh+wyqDHpSQEIQczXkVx9q root@ubuntu\n\
                   ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY= root@ubuntu\n\
                   cat: /etc/ssh/ssh_host_dsa_key.pub: No such file or directory\n\
                   ssh-rsa short\n\n";
        let keys = host_keys(out);
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].algorithm, "ssh-ed25519");
        assert!(keys[0].key.starts_with("AAAAC3Nz") && !keys[0].key.contains(' '));
        assert_eq!(keys[1].algorithm, "ecdsa-sha2-nistp256");
    }

    #[test]
    fn tails_are_short_and_on_one_line() {
        assert_eq!(tail("a\n\nb\nc\n", 2), "b | c");
        assert_eq!(tail("", 5), "");
        let long = "x".repeat(5000);
        assert_eq!(tail(&long, 1).chars().count(), 2001);
        assert_eq!(shorten("abc", 2), "ab…");
    }

    #[test]
    fn no_input_panics() {
        for text in [
            "", "\u{0}", "[", "{}", "[{}]", "null", "1.", "..", "ü.ü", LIST, GET,
        ] {
            let _ = (
                version(text),
                list(text),
                get(text),
                ip(text),
                host_keys(text),
            );
            for cut in 0..text.len() {
                if let Some(prefix) = text.get(..cut) {
                    let _ = (list(prefix), get(prefix), version(prefix));
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_output_gives_a_value_or_an_error(text in ".{0,400}") {
            let _ = (version(&text), list(&text), get(&text), ip(&text), host_keys(&text));
            let _ = (tail(&text, 3), shorten(&text, 5));
            let _ = crate::vm::errors::map(crate::vm::errors::Failed {
                command: "x",
                vm: "v",
                code: None,
                stderr: &text,
                waited_secs: 0,
            });
        }

        #[test]
        fn json_shaped_noise_does_not_panic(text in r#"[\[\]{}":, a-zA-Z0-9.\-]{0,200}"#) {
            let _ = (list(&text), get(&text));
        }
    }
}
