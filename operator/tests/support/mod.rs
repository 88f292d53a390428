//! Shared set-up for the operator's tests against real control planes, and for the
//! benchmarks in `examples/` (which include this module by path): a platform control plane
//! with the CRDs, target clusters registered as external ManagedClusters, the operator
//! running in-process (so a test can stop and restart it) or as its binary, and waits that
//! watch with a timeout instead of sleeping.

// Each test binary and benchmark uses a different part of this module.
#![allow(dead_code, unused_imports)]

mod cluster;
mod http;
mod kubelet;
mod load;
mod loadtests;
mod operators;
mod prometheus;
mod wait;

use std::time::Duration;

pub use cluster::*;
pub use http::*;
pub use kubelet::*;
pub use load::*;
pub use loadtests::*;
pub use operators::*;
pub use prometheus::*;
pub use wait::*;

use operator::context::Settings;

/// How long a wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(60);
/// Where kubeconfig Secrets live on the platform.
pub const SECRETS_NS: &str = "tart-system";

/// Settings that make the tests quick: fast rechecks and short grace periods.
pub fn fast_settings() -> Settings {
    Settings {
        cluster_recheck: Duration::from_secs(1),
        unschedulable_grace: Duration::from_secs(2),
        cleanup_timeout: Duration::from_secs(10),
        ..Settings::default()
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
