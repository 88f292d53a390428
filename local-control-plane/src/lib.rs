//! A real Kubernetes control plane on loopback, for the local lab and the tests.
//!
//! [`ControlPlane::start`] runs etcd and kube-apiserver from the binaries that
//! `scripts/build-kube-bins.sh` builds from the official Go modules, on free 127.0.0.1 ports
//! in a temporary directory (or a kept state directory, as the lab's), with a fresh CA,
//! serving certificate, service-account key and a static admin token. On request it adds
//! kube-controller-manager, kube-scheduler, kwok with simulated nodes and metrics-server
//! ([`Options`]), so Deployments and Jobs get pods that reach Running.
//!
//! Several control planes can run at once (a platform cluster and target clusters). Every
//! process is killed, and a temporary directory removed, when the `ControlPlane` is dropped
//! or when the owning process exits by any route, including a panic or SIGKILL ([`Watchdog`]).
//!
//! Missing binaries are an error naming the build command: tests that need a control plane
//! fail, they never skip.
//!
//! [`tools`] finds the other tools tests use (helm, the upstream charts and CRDs) and holds the
//! rule for tests whose prerequisites are missing: fail under `CI=true`, skip elsewhere.

mod bins;
mod components;
mod control_plane;
pub mod egress;
mod error;
mod files;
mod manifests;
mod options;
mod pki;
mod process;
mod state;
pub mod tools;

pub use bins::{BINS_ENV, Binaries};
pub use control_plane::ControlPlane;
pub use error::Error;
pub use files::{kubeconfig_yaml, write_private};
pub use manifests::{
    apply_objects, apply_objects_as, apply_yaml, apply_yaml_as, node as node_object,
    parse_yaml_documents,
};
pub use options::{OnAddress, Options, PodLifecycle, SimNode};
pub use pki::{ServingFiles, write_serving};
pub use process::{Proc, Watchdog, log_tail};

/// The user the operator is in every control plane's token file besides the admin: in no
/// group, so it may do only what RBAC grants it (the lab binds the operator's target-cluster
/// roles to it).
pub const OPERATOR_USER: &str = "tart-operator";

static SHARED_APISERVER: tokio::sync::OnceCell<ControlPlane> = tokio::sync::OnceCell::const_new();
static SHARED_CLUSTER: tokio::sync::OnceCell<ControlPlane> = tokio::sync::OnceCell::const_new();

/// The etcd + kube-apiserver control plane shared by the tests of one test binary. Give
/// each test its own namespace ([`ControlPlane::namespace`]) and its own client.
pub async fn shared_apiserver() -> Result<&'static ControlPlane, Error> {
    SHARED_APISERVER
        .get_or_try_init(|| ControlPlane::start(Options::apiserver("shared")))
        .await
}

/// A working cluster (controller-manager, scheduler, one simulated worker) shared by the
/// tests of one test binary.
pub async fn shared_cluster() -> Result<&'static ControlPlane, Error> {
    SHARED_CLUSTER
        .get_or_try_init(|| ControlPlane::start(Options::cluster("shared-cluster")))
        .await
}
