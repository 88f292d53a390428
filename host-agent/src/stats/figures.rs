//! A VM's figures from its last two samples (pure): CPU busy percent from the change of
//! the `/proc/stat` times, bytes per second from the change of the `/proc/net/dev`
//! counters over the time between the reads.

use std::time::Duration;

use vm_api::{NetworkRates, VmStats};

use super::parse::{CpuTimes, Sample};

/// The figures of `now`, read `elapsed` after `before` (`None`: the first read).
pub fn figures(before: Option<(&Sample, Duration)>, now: &Sample, collected_at: String) -> VmStats {
    let cpu_percent = before.and_then(|(b, _)| cpu_percent(b, now));
    let network = before
        .map(|(b, elapsed)| NetworkRates {
            rx_bytes_per_second: rate(b.network.rx_bytes, now.network.rx_bytes, elapsed),
            tx_bytes_per_second: rate(b.network.tx_bytes, now.network.tx_bytes, elapsed),
        })
        .unwrap_or_default();
    VmStats {
        collected_at,
        cpu_percent,
        memory: now.memory,
        disk: now.disk.clone(),
        network,
        listening: now.listening.clone(),
    }
}

/// Busy over all time between the reads, from each field's change. A field that went
/// back counts as unchanged: the kernel documents that iowait can decrease
/// (Documentation/filesystems/proc.rst). `None` when no tick passed, or every field went
/// back (a reboot).
fn cpu_percent(before: &Sample, now: &Sample) -> Option<f64> {
    let (mut idle, mut total) = (0u64, 0u64);
    for (i, (b, n)) in before.cpu.0.iter().zip(now.cpu.0).enumerate() {
        let delta = n.saturating_sub(*b);
        total = total.saturating_add(delta);
        if CpuTimes::IDLE.contains(&i) {
            idle = idle.saturating_add(delta);
        }
    }
    if total == 0 {
        return None;
    }
    #[allow(clippy::cast_precision_loss)] // ticks between two reads: far below 2^52
    Some(100.0 * (total - idle) as f64 / total as f64)
}

fn rate(before: u64, now: u64, elapsed: Duration) -> Option<f64> {
    let secs = elapsed.as_secs_f64();
    let bytes = now.checked_sub(before)?;
    #[allow(clippy::cast_precision_loss)] // bytes between two reads: far below 2^52
    (secs > 0.0).then(|| bytes as f64 / secs)
}
