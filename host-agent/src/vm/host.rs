//! The host's size: CPUs, memory, and the free disk where Tart keeps its VMs
//! (`$TART_HOME`, else `~/.tart`). Parsers of `sysctl`, `/proc/meminfo` and `df -Pk` are
//! pure and tested; reading them is the thin edge.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;
use vm_api::{Resources, VmError};

/// Where Tart keeps its VMs: `$TART_HOME`, else `~/.tart`.
pub fn tart_home() -> PathBuf {
    std::env::var_os("TART_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".tart")))
        .unwrap_or_else(|| PathBuf::from(".tart"))
}

/// The host's CPUs and memory, and the free disk under `home`.
pub async fn size(home: &Path) -> Result<Resources, VmError> {
    let cpu = std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        .unwrap_or(1);
    let memory_mib = memory_mib().await?;
    let disk_gib = free_disk_gib(home).await?;
    let mut size = Resources {
        cpu,
        memory_mib,
        disk_gib,
    };
    // TEST ONLY (the tart double on a small Linux machine): see `crate::host::test_override`.
    let test_override =
        crate::host::test_override::from_env().map_err(|detail| VmError::Invalid {
            field: crate::host::test_override::ENV.to_owned(),
            message: detail,
        })?;
    if let Some(o) = test_override {
        o.apply_resources(&mut size);
    }
    Ok(size)
}

fn host_error(what: &str, detail: impl std::fmt::Display) -> VmError {
    VmError::Protocol {
        detail: format!("reading the host's {what}: {detail}"),
    }
}

async fn command_output(program: &str, args: &[&str]) -> Result<String, String> {
    let run = Command::new(program).args(args).kill_on_drop(true).output();
    match tokio::time::timeout(Duration::from_secs(10), run).await {
        Ok(Ok(out)) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into()),
        Ok(Ok(out)) => Err(format!(
            "`{program}` exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(Err(e)) => Err(format!("`{program}`: {e}")),
        Err(_) => Err(format!("`{program}` did not answer within 10 s")),
    }
}

async fn memory_mib() -> Result<u64, VmError> {
    if cfg!(target_os = "macos") {
        let out = command_output("sysctl", &["-n", "hw.memsize"])
            .await
            .map_err(|e| host_error("memory", e))?;
        memsize_mib(&out)
            .ok_or_else(|| host_error("memory", format!("sysctl printed `{}`", out.trim())))
    } else {
        let text = tokio::fs::read_to_string("/proc/meminfo")
            .await
            .map_err(|e| host_error("memory", e))?;
        meminfo_mib(&text).ok_or_else(|| host_error("memory", "/proc/meminfo has no MemTotal"))
    }
}

async fn free_disk_gib(home: &Path) -> Result<u64, VmError> {
    // Before the first VM, Tart's home may not exist yet: measure the nearest ancestor.
    let existing = home
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or_else(|| Path::new("/"));
    let path = existing.to_string_lossy();
    let out = command_output("df", &["-Pk", &path])
        .await
        .map_err(|e| host_error("free disk", e))?;
    df_free_gib(&out).ok_or_else(|| host_error("free disk", format!("df printed `{}`", out.trim())))
}

/// `sysctl -n hw.memsize`: bytes.
pub fn memsize_mib(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok().map(|b| b / (1024 * 1024))
}

/// `/proc/meminfo`'s `MemTotal:  24567890 kB`.
pub fn meminfo_mib(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// `df -Pk PATH`: the POSIX format, a header and one line whose fourth column is the
/// available space in KiB.
pub fn df_free_gib(text: &str) -> Option<u64> {
    let line = text.lines().nth(1)?;
    let kib: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(kib / (1024 * 1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers_read_real_outputs() {
        // sysctl on a 24 GB MacBook Air.
        assert_eq!(memsize_mib("25769803776\n"), Some(24_576));
        assert_eq!(memsize_mib("sysctl: unknown oid"), None);
        let meminfo = "MemTotal:       24570164 kB\nMemFree:         1234567 kB\n";
        assert_eq!(meminfo_mib(meminfo), Some(23_994));
        assert_eq!(meminfo_mib("MemFree: 1 kB"), None);
        // df -Pk on macOS (APFS) and on Linux.
        let mac = "Filesystem     1024-blocks      Used Available Capacity  Mounted on\n\
                   /dev/disk3s1     971350180 612345678 345678901    64%    /System/Volumes/Data\n";
        assert_eq!(df_free_gib(mac), Some(329));
        let linux = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n\
                     overlay          103084600 51234567  47628300      52% /\n";
        assert_eq!(df_free_gib(linux), Some(45));
        assert_eq!(df_free_gib("Filesystem\n"), None);
        assert_eq!(df_free_gib(""), None);
    }

    #[tokio::test]
    async fn this_host_has_a_size() {
        let dir = tempfile::tempdir().expect("dir");
        let size = size(&dir.path().join("not/yet")).await.expect("size");
        assert!(size.cpu >= 1 && size.memory_mib >= 256, "{size:?}");
    }
}
