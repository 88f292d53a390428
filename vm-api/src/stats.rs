//! What the host agent measures inside a running VM over SSH (JSON, camelCase): CPU,
//! memory, the root disk, network throughput and listening TCP ports. Served by
//! `GET /v1/stats` and `GET /v1/vms/{name}/stats` ([`crate::wire`]).

use serde::{Deserialize, Serialize};

/// One collection's figures for one VM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmStats {
    /// When the figures were read (RFC 3339, UTC).
    pub collected_at: String,
    /// Busy time of all CPUs between the last two reads of `/proc/stat`, in percent
    /// (0-100); `None` on the first read, which has nothing to compare with.
    pub cpu_percent: Option<f64>,
    /// `MemTotal - MemAvailable` of `/proc/meminfo`.
    pub memory: MemoryUsage,
    /// The root file system (`df -B1 /`).
    pub disk: DiskUsage,
    /// Bytes per second over every interface but loopback, between the last two reads of
    /// `/proc/net/dev`.
    pub network: NetworkRates,
    /// Listening TCP sockets (`ss -tlnpH`), by port.
    pub listening: Vec<ListeningPort>,
}

/// Memory in use and in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryUsage {
    /// Total less available.
    pub used_bytes: u64,
    /// Total.
    pub total_bytes: u64,
}

/// One file system's use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiskUsage {
    /// Where it is mounted (`/`).
    pub mount: String,
    /// Bytes used.
    pub used_bytes: u64,
    /// Its size.
    pub total_bytes: u64,
}

/// Network throughput; `None` until two reads are compared, or after the counters went
/// back (a reboot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRates {
    /// Received.
    pub rx_bytes_per_second: Option<f64>,
    /// Sent.
    pub tx_bytes_per_second: Option<f64>,
}

/// A listening socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListeningPort {
    /// The port.
    pub port: u16,
    /// `tcp`.
    pub protocol: String,
    /// The local address it listens on (`0.0.0.0`, `::`, `127.0.0.1`, `*`, ...).
    pub address: String,
    /// The process that owns it, when `ss` could tell.
    pub process: Option<String>,
}
