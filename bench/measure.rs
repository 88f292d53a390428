//! What the benchmark programs read about a process from Linux's /proc: memory and CPU
//! time. They include this file by path (`operator/examples/*.rs`,
//! `local-control-plane/examples/startup.rs`); a figure that cannot be read is 0.

// Each benchmark reads a different figure.
#![allow(dead_code)]

/// A `kB` field of `/proc/<pid>/status`, e.g. `"VmRSS:"` (resident) or `"VmHWM:"` (peak).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resident memory in MiB.
pub fn rss_mib(pid: u32) -> f64 {
    status_kib(pid, "VmRSS:") as f64 / 1024.0
}

/// CPU seconds (user + system) the process has used.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after ") ".
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name and state.
    (ticks(11) + ticks(12)) / 100.0
}

/// The figure recorded for `key` in bench/recorded.json next to `value`, as
/// bench/recorded.mjs prints it.
pub fn recorded(key: &str, value: impl ToString) -> String {
    std::process::Command::new("node")
        .args(["bench/recorded.mjs", key, &value.to_string()])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|e| format!("(node bench/recorded.mjs failed: {e})"))
}
