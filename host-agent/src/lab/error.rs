//! Why the lab could not start, run or stop: one line (a component's log tail aside) that
//! names the file, port, cluster or process concerned and what to do.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::ConfigError;

use super::platform::PlatformError;
use super::record::RecordError;

/// Why `lab up`, `lab down` or `lab status` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The cluster file is missing or broken, or names no such cluster.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `lab.json` could not be read or written.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// A file or directory of the state directory could not be made.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, e.g. `creating the state directory /x`.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The lab's CA cannot be read or used.
    #[error("the lab's CA {}: {reason}; run `tart-infra lab up` again to regenerate it", .path.display())]
    LabCa {
        /// The CA file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Another `lab up` runs from the same state directory.
    #[error(
        "a lab is already running from {} (pid {pid}); stop it with `tart-infra lab down`",
        .state_dir.display()
    )]
    AlreadyRunning {
        /// The state directory.
        state_dir: PathBuf,
        /// The running `lab up`.
        pid: u32,
    },
    /// The operator's address is taken.
    #[error(
        "{addr} is in use by another process ({source}); stop it or choose another address with --http-addr"
    )]
    AddressInUse {
        /// The address.
        addr: SocketAddr,
        /// What binding it said.
        #[source]
        source: std::io::Error,
    },
    /// The tart-operator binary is not there.
    #[error(
        "the operator binary {} is missing; build it with `cargo build --release -p operator` (scripts/lab does), or pass --operator-bin",
        .path.display()
    )]
    OperatorMissing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// `scripts/build-kube-bins.sh` could not be run.
    #[error("running scripts/build-kube-bins.sh: {0}")]
    BuildScript(#[source] std::io::Error),
    /// `scripts/build-kube-bins.sh` failed.
    #[error("scripts/build-kube-bins.sh failed ({status}); see the lines above")]
    BuildFailed {
        /// Its exit status.
        status: String,
    },
    /// The control-plane binaries, or a control plane's process or client.
    #[error(transparent)]
    ControlPlane(#[from] local_control_plane::Error),
    /// A cluster's control plane did not start.
    #[error("cluster {cluster}: {source}")]
    Cluster {
        /// The cluster.
        cluster: String,
        /// Why.
        #[source]
        source: local_control_plane::Error,
    },
    /// The selected clusters include no platform cluster (the config's rules prevent this).
    #[error(
        "the configuration has no platform cluster; set `tier: platform` on one cluster of the cluster file"
    )]
    NoPlatform,
    /// Installing the CRDs, RBAC, ManagedClusters or demo workloads failed.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// A cluster's simulated Hubble Relay could not listen.
    #[error("starting the simulated Hubble Relay of {cluster}: {source}")]
    Relay {
        /// The cluster.
        cluster: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The operator exited while the lab ran.
    #[error("tart-operator exited ({status}); last lines of {}:\n{tail}", .log.display())]
    OperatorExited {
        /// Its exit status.
        status: String,
        /// Its log.
        log: PathBuf,
        /// The log's last lines.
        tail: String,
    },
    /// A simulated Hubble Relay stopped while the lab ran.
    #[error("cluster {cluster}: the simulated Hubble Relay ({component}) on {addr} stopped")]
    RelayStopped {
        /// The cluster.
        cluster: String,
        /// The component's name (`hubble-sim`).
        component: &'static str,
        /// Where it listened.
        addr: SocketAddr,
    },
    /// The operator did not report every cluster Ready in time.
    #[error(
        "the clusters were not all Ready after {secs} s ({last}); see operator.log in the state directory"
    )]
    NotReady {
        /// How long `lab up` waited.
        secs: u64,
        /// The last answer or error of the operator's API.
        last: String,
    },
    /// The SIGTERM handler (`lab down`) could not be installed.
    #[error("installing the SIGTERM handler: {0}")]
    Signal(#[source] std::io::Error),
    /// `lab down` asked `lab up` to stop and it still runs.
    #[error(
        "lab up (pid {pid}) did not stop within 60 s; stop it with `kill {pid}` and run `tart-infra lab down` again"
    )]
    StillRunning {
        /// The `lab up` process.
        pid: u32,
    },
}

impl Error {
    /// An IO error with what was being done.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}
