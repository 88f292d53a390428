//! Why a control plane could not start or be used.

use std::path::PathBuf;

use crate::bins::BINS_ENV;

/// Why a control plane could not start or be used. Each message names the component, file or
/// port concerned and, where there is one, the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Some binaries are not built.
    #[error(
        "control-plane binaries missing in {dir}: {missing}. Build them with `scripts/build-kube-bins.sh` \
         (a cold build takes 10-40 minutes; later runs reuse the cache), or set {BINS_ENV} to a directory that has them"
    )]
    MissingBinaries {
        /// Where they were looked for.
        dir: PathBuf,
        /// Which ones are missing.
        missing: String,
    },
    /// A script's `--print` (`scripts/build-kube-bins.sh`, `scripts/build-helm.sh`,
    /// `scripts/fetch-upstream.sh`) did not name where its output goes.
    #[error(
        "{} --print failed ({status}): {stderr}; run it by hand to see why, or set {env} to what it makes",
        .script.display()
    )]
    BuildScript {
        /// The script.
        script: PathBuf,
        /// The environment variable that overrides the script's answer.
        env: &'static str,
        /// Its exit status.
        status: String,
        /// What it wrote on stderr.
        stderr: String,
    },
    /// A tool the tests use besides the control plane (helm, the upstream charts and CRDs)
    /// is not where its script puts it.
    #[error("{what} not found at {}: {fix}, or set {env} to {wanted}", .path.display())]
    MissingTool {
        /// What is missing, e.g. `helm`.
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// How to get it, e.g. "build it with `scripts/build-helm.sh` (about 2 minutes once)".
        fix: &'static str,
        /// The environment variable that names it instead.
        env: &'static str,
        /// What that variable must name, e.g. "a helm binary".
        wanted: &'static str,
    },
    /// A component exited while starting or while being waited for.
    #[error("{component} exited ({status}); last lines of {log}:\n{tail}")]
    Exited {
        /// The component.
        component: &'static str,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The log's last lines.
        tail: String,
    },
    /// Something did not become ready in time.
    #[error("timed out after {secs}s waiting for {what}{detail}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        secs: u64,
        /// Last error and log lines.
        detail: String,
    },
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A reused state directory's `ports.json` does not parse.
    #[error("{} is not valid ({source}); delete it to choose new ports", .path.display())]
    PortsFile {
        /// The file.
        path: PathBuf,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// An object or file the harness builds could not be encoded (a bug, not bad input).
    #[error("building {what}: {source}")]
    Encode {
        /// What was being built, e.g. `node dev-worker1`.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Generating certificates failed.
    #[error("generating certificates: {0}")]
    Pki(#[from] rcgen::Error),
    /// The Kubernetes client failed.
    #[error("kubernetes client: {0}")]
    Kube(#[from] kube::Error),
    /// The generated kubeconfig was rejected.
    #[error("kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    /// A port the control plane needs is taken by another process.
    #[error(
        "{address}:{port} ({component} of control plane {name}) is in use by another process; \
         stop that process, or delete {state} to choose new ports"
    )]
    PortInUse {
        /// The address the component binds.
        address: std::net::Ipv4Addr,
        /// The control plane.
        name: String,
        /// The component that listens there.
        component: &'static str,
        /// The port.
        port: u16,
        /// The file that holds the ports.
        state: PathBuf,
    },
    /// A thread panicked while it held the table of running components.
    #[error(
        "the process table of control plane {name} is poisoned (a thread panicked while holding it); drop this control plane and start a new one"
    )]
    Poisoned {
        /// The control plane.
        name: String,
    },
}
