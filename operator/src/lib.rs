//! tart-operator: runs in the platform cluster, reconciles the tartinfra.dev resources and
//! serves the dashboard API and Prometheus metrics.
//!
//! This build checks its environment (Kubernetes version, CRDs installed and Established)
//! and serves `/healthz`, `/readyz` and `/metrics`. The controllers arrive with the
//! LoadTest, API and ScalingExperiment work (see the README's roadmap).

pub mod http;
pub mod metrics;
pub mod preflight;
pub mod results;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;

use kube::Client;

/// Settings of one operator process.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    pub http_addr: SocketAddr,
}

/// Why the operator stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable Kubernetes client configuration.
    #[error(
        "cannot configure a Kubernetes client (in-cluster service account or $KUBECONFIG): {0}"
    )]
    Client(#[source] kube::Error),
    /// The cluster is not ready for the operator.
    #[error(transparent)]
    Preflight(#[from] preflight::PreflightError),
    /// The HTTP listener failed.
    #[error("serving HTTP on {addr}: {source}")]
    Http {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Runs the operator against the cluster `client` talks to, until SIGTERM or Ctrl-C.
pub async fn run(config: Config, client: Client) -> Result<(), Error> {
    let state = Arc::new(http::State::new(metrics::Metrics::new()));
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .map_err(|source| Error::Http {
            addr: config.http_addr,
            source,
        })?;
    tracing::info!(addr = %config.http_addr, "serving /healthz, /readyz and /metrics");
    let server = axum::serve(listener, http::router(state.clone()))
        .with_graceful_shutdown(shutdown_signal());

    let info = preflight::run(&client).await?;
    tracing::info!(kubernetes = %info.server_version, "preflight passed: tartinfra.dev CRDs are installed and Established");
    state.set_ready();

    server.await.map_err(|source| Error::Http {
        addr: config.http_addr,
        source,
    })?;
    tracing::info!("shut down");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; stopping on Ctrl-C only");
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
