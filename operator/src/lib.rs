//! tart-operator: runs in the platform cluster, reconciles the tartinfra.dev resources and
//! serves Prometheus metrics (and, later, the dashboard API).
//!
//! - [`controllers::managed_cluster`]: connects to external clusters from kubeconfig
//!   Secrets and keeps their status true.
//! - [`controllers::load_test`]: runs each LoadTest as a Job in its target cluster and
//!   follows the runner into status.
//! - [`controllers::scaling_experiment`]: runs a LoadTest while sampling the target HPAs
//!   and records how they scaled.
//! - [`collectors`]: watch caches and samplers per cluster.
//! - [`api`]: the dashboard's `/api/v1`, `/healthz`, `/readyz`, `/metrics`.

pub mod api;
pub mod cli;
pub mod clusters;
pub mod collectors;
pub mod conditions;
pub mod context;
pub mod controllers;

/// Hubble's Observer API (the `hubble-api` crate, shared with the lab's simulated relay).
pub use hubble_api;

pub mod metrics;
pub mod model;
pub mod preflight;
pub mod results;
pub mod status_patch;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;

use kube::Client;
use kube::runtime::events::{Recorder, Reporter};

use crate::context::{Context, Settings};

/// Settings of one operator process.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the API, `/healthz`, `/readyz` and `/metrics` are served.
    pub http_addr: SocketAddr,
    /// The namespace whose Secrets are watched for kubeconfig changes.
    pub secrets_namespace: String,
    /// Controller settings.
    pub settings: Settings,
    /// API settings.
    pub api: api::ApiConfig,
    /// The built dashboard (`dashboard/dist`), served at `/`; none: the API only.
    pub dashboard_dir: Option<std::path::PathBuf>,
}

/// Why the operator stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
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
    run_until(config, client, shutdown_signal()).await
}

/// Runs the operator until `shutdown` resolves.
pub async fn run_until(
    config: Config,
    client: Client,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Error> {
    let info = preflight::run(&client).await?;
    tracing::info!(kubernetes = %info.server_version, "preflight passed: tartinfra.dev CRDs are installed and Established");
    let metrics = Arc::new(metrics::Metrics::new());
    let (wake, triggers) = futures::channel::mpsc::unbounded();
    let ctx = Arc::new(Context {
        client: client.clone(),
        settings: config.settings.clone(),
        clusters: Arc::new(clusters::Registry::new(
            wake.clone(),
            config.api.collectors.clone(),
            metrics.clone(),
        )),
        metrics: metrics.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "tart-operator".into(),
                instance: std::env::var("POD_NAME").ok(),
            },
        ),
        samplers: Arc::default(),
    });
    let api_config = api::ApiConfig {
        platform_version: Some(info.server_version.clone()),
        ..config.api.clone()
    };
    let (state, api_tasks) = api::start(
        client.clone(),
        ctx.clusters.clone(),
        ctx.samplers.clone(),
        metrics,
        &api_config,
    );
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .map_err(|source| Error::Http {
            addr: config.http_addr,
            source,
        })?;
    let addr = listener.local_addr().unwrap_or(config.http_addr);
    tracing::info!(%addr, "serving /api/v1, /healthz, /readyz and /metrics");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let server = tokio::spawn(
        axum::serve(listener, api::app(state, config.dashboard_dir.as_deref()))
            .with_graceful_shutdown(stopped())
            .into_future(),
    );
    let clusters = tokio::spawn({
        let (ctx, ns, stop) = (ctx.clone(), config.secrets_namespace.clone(), stopped());
        async move { controllers::managed_cluster::run(ctx, &ns, stop).await }
    });
    let load_tests = tokio::spawn(controllers::load_test::run(
        ctx.clone(),
        triggers,
        wake,
        stopped(),
    ));

    let experiments = tokio::spawn(controllers::scaling_experiment::run(ctx.clone(), stopped()));

    shutdown.await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = tokio::join!(clusters, load_tests, experiments);
    drop(api_tasks);
    if let Ok(Err(source)) = server.await {
        return Err(Error::Http { addr, source });
    }
    tracing::info!("shut down");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
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
