//! The local lab: the whole multi-cluster system on one machine without Tart. Every cluster
//! of `config/clusters.yaml` becomes a simulated control plane (etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler, kwok nodes and, where the addons ask, metrics-server)
//! from the cached binaries; the operator runs as a child process against platform. Inside
//! this process the lab plays what simulated pods cannot: the load of k6 runners
//! ([`simulator`]) and, for clusters whose addons ask for Hubble, a simulated Hubble Relay
//! ([`hubble`]) the operator reads flows from.
//!
//! `lab up` ([`up`]) checks everything it can before it starts anything ([`preflight`]), then
//! runs in the foreground and owns every process it starts (a watchdog kills them if it dies
//! by any route); `lab down` signals it from another shell by the pid in `lab.json`
//! ([`record`]); `lab status` reads the same record ([`control`]).

mod control;
pub mod demo_credentials;
mod error;
pub mod https;
mod hubble;
pub mod load_model;
pub mod platform;
mod preflight;
mod record;
mod running;
mod simulator;
mod summary;
mod traffic_model;
mod up;

use std::path::PathBuf;
use std::time::Instant;

pub use control::{down, status};
pub use error::Error;
pub use up::{UpOptions, up};

/// The default state directory: `$XDG_STATE_HOME/tart-infra/lab`, else
/// `~/.local/state/tart-infra/lab`.
pub fn default_state_dir() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("tart-infra/lab")
}

/// Prints a line on stdout; a closed stdout (`| head`) is not an error worth a panic.
fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Progress lines on stderr, with the time since `lab up` began.
struct Progress {
    start: Instant,
}

impl Progress {
    fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }

    fn step(&self, what: &str) {
        eprintln!("[{:>5.1}s] {what}", self.start.elapsed().as_secs_f64());
    }
}
