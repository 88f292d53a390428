//! Checks manifests against a real API server, the way `kubectl apply --server-side
//! --dry-run=server --validate=strict` would: every YAML document under `manifests/` and the
//! upstream charts rendered with our values, after the CRDs they use (ours and the upstream
//! ones from `scripts/fetch-upstream.sh`) are installed. The API server decides: built-in
//! schemas, CRD schemas and CEL rules, admission. Nothing is stored (`dryRun=All`), unknown
//! fields are errors (`fieldValidation=Strict`), and the server's warnings are kept.
//!
//! [`documents`] reads YAML into documents that remember where they came from, [`apply`]
//! sends them and collects a [`Verdict`] per document, [`helm`] renders a chart. For the demo's
//! own tests, [`policy`] models what its network policies and mesh let through and
//! [`disruption`] what a PodDisruptionBudget lets a drain evict.

pub mod apply;
pub mod disruption;
pub mod documents;
pub mod gatekeeper;
pub mod helm;
pub mod policy;

pub use apply::{Applier, Verdict};
pub use documents::Document;

use std::path::{Path, PathBuf};

/// The repository's root directory (this crate's parent).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Why a check could not be carried out (a rejected document is a [`Verdict`], not this).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read.
    #[error("reading {}: {source}", .path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid YAML, or a document is not a Kubernetes object.
    #[error("{file}: {message}")]
    Yaml {
        /// Where the text came from.
        file: String,
        /// The parser's message.
        message: String,
    },
    /// A program could not be started.
    #[error("running {program}: {source}")]
    Run {
        /// The program.
        program: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `helm template` failed.
    #[error("helm template of {chart} failed ({status}):\n{stderr}")]
    Helm {
        /// The chart directory.
        chart: String,
        /// Its exit status.
        status: String,
        /// What it wrote on stderr.
        stderr: String,
    },
    /// An object the check looks for is not there.
    #[error("{0}")]
    Missing(String),
    /// The server rejected an object that had to be created for real (a CRD, a namespace).
    #[error("the API server rejected what the check needs:\n{0}")]
    Setup(String),
    /// A CRD did not become Established.
    #[error("CRD {name} not Established after {secs}s: {detail}")]
    NotEstablished {
        /// The CRD.
        name: String,
        /// How long was waited.
        secs: u64,
        /// The watch's error, if any.
        detail: String,
    },
    /// A request to the API server failed.
    #[error("kubernetes client: {0}")]
    Kube(#[from] kube::Error),
}
