//! tart-operator: runs in the platform cluster, reconciles the tartinfra.dev resources and
//! serves Prometheus metrics (and, later, the dashboard API).
//!
//! - [`controllers::managed_cluster`]: connects to external clusters from kubeconfig
//!   Secrets and keeps their status true.
//! - [`controllers::load_test`]: runs each LoadTest as a Job in its target cluster and
//!   follows the runner into status.
//! - [`controllers::scaling_experiment`]: runs a LoadTest while sampling the target HPAs
//!   and records how they scaled.
//! - [`controllers::test_schedule`]: creates LoadTests or ScalingExperiments on a cron
//!   schedule, as a CronJob creates Jobs.
//! - [`collectors`]: watch caches and samplers per cluster.
//! - [`api`]: the dashboard's `/api/v1`, `/healthz`, `/readyz`; `/metrics` on its own
//!   listener.

pub mod api;
pub mod cli;
pub mod clusters;
pub mod collectors;
pub mod conditions;
pub mod context;
pub mod controllers;
pub mod leader;

/// Hubble's Observer API (the `hubble-api` crate, shared with the lab's simulated relay).
pub use hubble_api;

pub mod metrics;
pub mod model;
pub mod preflight;
pub mod prometheus;
pub mod results;
pub mod status_patch;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;

use futures::StreamExt;
use kube::Client;
use kube::runtime::events::{Recorder, Reporter};

use crate::context::{Context, Settings};

/// Settings of one operator process.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the API, `/healthz` and `/readyz` are served.
    pub http_addr: SocketAddr,
    /// Where `/metrics` alone is served; none: nowhere (unless on the API's port).
    pub metrics_addr: Option<SocketAddr>,
    /// The namespace whose Secrets are watched for kubeconfig changes.
    pub secrets_namespace: String,
    /// Controller settings.
    pub settings: Settings,
    /// API settings.
    pub api: api::ApiConfig,
    /// The built dashboard (`dashboard/dist`), served at `/`; none: the API only.
    pub dashboard_dir: Option<std::path::PathBuf>,
    /// Leader election; none: this replica always leads (a single replica).
    pub leader_election: Option<leader::LeaderConfig>,
    /// TLS and the server's limits.
    pub transport: api::server::Transport,
}

/// Why the operator stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cluster is not ready for the operator.
    #[error(transparent)]
    Preflight(#[from] preflight::PreflightError),
    /// This replica lost leadership and stopped.
    #[error(transparent)]
    Leadership(#[from] leader::LeaderError),
    /// The TLS certificate or key does not load.
    #[error("TLS for the API: {0}")]
    Tls(#[from] api::tls::TlsError),
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

/// Runs the operator until `shutdown` resolves, or until it loses leadership (with leader
/// election on): every replica serves the API and keeps its cluster clients current, only
/// the leader reconciles.
pub async fn run_until(
    config: Config,
    client: Client,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Error> {
    let info = preflight::run_when_reachable(&client).await?;
    tracing::info!(kubernetes = %info.server_version, "preflight passed: tartinfra.dev CRDs are installed and Established");
    let metrics = Arc::new(metrics::Metrics::new());
    let (wake, triggers) = futures::channel::mpsc::unbounded();
    let (leading_tx, leading) = tokio::sync::watch::channel(config.leader_election.is_none());
    let clusters = Arc::new(clusters::Registry::new(
        wake.clone(),
        config.api.collectors.clone(),
        metrics.clone(),
    ));
    let samplers: Arc<controllers::scaling_experiment::live::Live> = Arc::default();
    let api_config = api::ApiConfig {
        platform_version: Some(info.server_version.clone()),
        ..config.api.clone()
    };
    let (state, api_tasks) = api::start(
        client.clone(),
        clusters.clone(),
        samplers.clone(),
        metrics.clone(),
        &api_config,
    );
    // Tart VMs' figures from the host agent, polled at the scaling pace for the snapshot.
    let vm_poller = tokio::spawn(collectors::vms::poll(
        client.clone(),
        config.settings.tart.clone(),
        state.managed.clone(),
        state.vms.clone(),
        config.api.collectors.scaling,
    ));
    let ctx = Arc::new(Context {
        client: client.clone(),
        settings: config.settings.clone(),
        clusters,
        managed_clusters: state.managed.clone(),
        prometheus: config
            .api
            .prometheus_url
            .clone()
            .map(prometheus::Prometheus::new),
        metrics: metrics.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "tart-operator".into(),
                instance: std::env::var("POD_NAME").ok(),
            },
        ),
        samplers,
        leading: leading.clone(),
    });
    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .map_err(|source| Error::Http {
            addr: config.http_addr,
            source,
        })?;
    let server = api::server::Server::new(listener, &config.transport)?;
    let addr = server.local_addr().unwrap_or(config.http_addr);
    let scheme = if config.transport.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(%addr, scheme, "serving /api/v1, /healthz and /readyz");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let metrics_server = match config.metrics_addr {
        Some(addr) => Some(serve_metrics(addr, metrics.clone(), stopped()).await?),
        None => None,
    };
    let server =
        tokio::spawn(server.serve(api::app(state, config.dashboard_dir.as_deref()), stopped()));
    let clusters = tokio::spawn({
        let (ctx, ns, stop) = (ctx.clone(), config.secrets_namespace.clone(), stopped());
        async move { controllers::managed_cluster::run(ctx, &ns, stop).await }
    });
    // The LoadTest, ScalingExperiment and TestSchedule controllers run on the leader only.
    let leader_only = tokio::spawn({
        let (ctx, stop, mut leading) = (ctx.clone(), stopped(), leading.clone());
        let mut triggers = triggers;
        async move {
            {
                // Runner changes seen while following are dropped: a new leader lists
                // every LoadTest anyway.
                let drain = async {
                    while triggers.next().await.is_some() {}
                    std::future::pending::<()>().await
                };
                tokio::select! {
                    led = leading.wait_for(|l| *l) => if led.is_err() { return },
                    () = stop => return,
                    () = drain => {}
                }
            }
            tokio::join!(
                controllers::load_test::run(ctx.clone(), triggers, wake, stopped()),
                controllers::scaling_experiment::run(ctx.clone(), stopped()),
                controllers::test_schedule::run(ctx.clone(), stopped()),
            );
        }
    });
    // A leader gives its Lease up only once its controllers have stopped, so the next one
    // never overlaps with them.
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let mut election = match config.leader_election.clone() {
        Some(leader) => {
            metrics.set_leader(false);
            let client = client.clone();
            tokio::spawn(async move {
                leader::run(client, leader, leading_tx, async {
                    let _ = released.await;
                })
                .await
            })
        }
        None => {
            metrics.set_leader(true);
            // Keeps the sender, so `leading` stays true.
            tokio::spawn(async move {
                let _ = released.await;
                drop(leading_tx);
                Ok(())
            })
        }
    };
    let leader_metric = tokio::spawn({
        let (metrics, mut leading) = (metrics.clone(), leading.clone());
        async move {
            while leading.changed().await.is_ok() {
                metrics.set_leader(*leading.borrow());
            }
        }
    });

    let ended_early = tokio::select! {
        () = shutdown => None,
        ended = &mut election => Some(ended),
    };
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = tokio::join!(clusters, leader_only);
    let _ = release.send(());
    let ended = match ended_early {
        Some(ended) => ended,
        None => election.await,
    };
    leader_metric.abort();
    vm_poller.abort();
    metrics.set_leader(false);
    drop(api_tasks);
    let _ = server.await;
    if let Some((addr, server)) = metrics_server
        && let Ok(Err(source)) = server.await
    {
        return Err(Error::Http { addr, source });
    }
    if let Ok(Err(lost)) = ended {
        return Err(lost.into());
    }
    tracing::info!("shut down");
    Ok(())
}

/// Serves `/metrics` alone on `addr` until `stop` resolves: its own listener, so the API's
/// port need not expose it and a NetworkPolicy can open it to Prometheus only.
async fn serve_metrics(
    addr: SocketAddr,
    metrics: Arc<metrics::Metrics>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>), Error> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Http { addr, source })?;
    let addr = listener.local_addr().unwrap_or(addr);
    tracing::info!(%addr, "serving /metrics");
    let server = axum::serve(listener, api::metrics_router(metrics))
        .with_graceful_shutdown(stop)
        .into_future();
    Ok((addr, tokio::spawn(server)))
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
