//! `tart-infra serve`: the Tart backend ([`crate::vm::TartCli`]) over HTTPS, for the
//! operator (in the platform cluster's VMs) and for `tart-infra up`.
//!
//! - **Where**: `0.0.0.0:7443` by default. The callers are VMs, which reach the Mac at the
//!   softnet/NAT gateway (192.168.64.1, an address that exists only once a VM runs) or, when
//!   bridged, at the Mac's LAN address; binding every address is the one choice that serves
//!   both before either exists. TLS and the token guard it; `--listen 127.0.0.1:7443`
//!   keeps it on the Mac. 7443: next to Kubernetes' 6443, free on a stock Mac.
//! - **Trust**: a self-signed certificate made on first start ([`secrets`]) that clients
//!   pin by its SHA-256 fingerprint, and a random bearer token (file mode 0600) checked in
//!   constant time on every route but `/healthz`. Both are reused across restarts.
//! - **Admission**: a create or start that would overcommit the host (the running VMs'
//!   CPUs and memory plus this VM's, beyond the host less a reserve kept for macOS) is
//!   refused with `capacityExceeded` and the numbers (HTTP 409) ([`admission`]).
//! - **VM figures**: every running VM's CPU, memory, disk, network and listening ports,
//!   read over one SSH session per VM every `--stats-interval` ([`crate::stats`]), served
//!   by `GET /v1/stats` from a cache.
//! - **Found by**: `serve.json` (URL, fingerprint, pid) in the state directory ([`record`]).
//! - **Shutdown** (SIGTERM or Ctrl-C): stops accepting, lets calls in flight finish (up to
//!   10 s), removes `serve.json`, and **leaves the VMs running**. The `tart run` children run
//!   in process groups of their own with their output going straight to their log files,
//!   so they outlive the agent: restarting or upgrading the agent does not take a
//!   cluster's nodes down. A new agent sees them running through `tart list`; what it cannot
//!   do is notice their later unexpected exit as a failure (they are not its children),
//!   only that they are stopped. To stop VMs, stop them through the API (or
//!   `tart stop`) before stopping the agent.

pub mod admission;
mod http_error;
pub mod record;
pub mod routes;
pub mod secrets;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use vm_api::VmError;

pub use admission::Reserve;
pub use record::ServeRecord;

use crate::vm::{TartCli, TartOptions};

/// The default address: every interface, port 7443 (see the module documentation).
pub const DEFAULT_LISTEN: &str = "0.0.0.0:7443";
/// How long calls in flight may take to finish on shutdown.
const GRACE: Duration = Duration::from_secs(10);

/// What `tart-infra serve` is asked to do.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Where to listen (port 0: any free port, recorded in `serve.json`).
    pub listen: SocketAddr,
    /// The token, certificate, `serve.json` and the VMs' logs.
    pub state_dir: PathBuf,
    /// The Tart backend.
    pub tart: TartOptions,
    /// What admission keeps for the host.
    pub reserve: Reserve,
    /// How often the VMs' figures are read ([`crate::stats`]).
    pub stats_interval: Duration,
    /// The login user of the VMs, for the stats sessions.
    pub stats_user: String,
}

/// Why the agent cannot serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend cannot work (tart missing or too old).
    #[error(transparent)]
    Backend(#[from] VmError),
    /// A state file cannot be read or written.
    #[error("{}: {source}", .path.display())]
    StateFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A state file holds something else than expected.
    #[error("{} {what}", .path.display())]
    BadStateFile { path: PathBuf, what: &'static str },
    /// The certificate could not be made or loaded.
    #[error("the TLS certificate: {0}")]
    Certificate(String),
    /// The address cannot be listened on.
    #[error(
        "cannot listen on {addr}: {source}; is another `tart-infra serve` running? (see serve.json in the state directory) Or pass --listen with another port"
    )]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The agent's SSH key for the stats sessions cannot be made or read.
    #[error("the stats SSH key: {0}")]
    StatsKey(#[from] node_bootstrap::keys::KeyError),
    /// The server stopped with an error.
    #[error("serving: {0}")]
    Serve(#[source] std::io::Error),
}

/// The default state directory: `$XDG_STATE_HOME/tart-infra/serve`, else
/// `~/.local/state/tart-infra/serve`.
pub fn default_state_dir() -> PathBuf {
    crate::lab::default_state_dir()
        .parent()
        .map(|p| p.join("serve"))
        .unwrap_or_else(|| PathBuf::from("serve"))
}

/// Serves until SIGTERM or Ctrl-C.
pub async fn run(options: ServeOptions) -> Result<(), Error> {
    serve(options, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}

/// Serves the Tart backend until `shutdown` completes.
pub async fn serve(
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let dir = options.state_dir.clone();
    std::fs::create_dir_all(&dir).map_err(|source| Error::StateFile {
        path: dir.clone(),
        source,
    })?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(|source| {
        Error::StateFile {
            path: dir.clone(),
            source,
        }
    })?;
    if let Ok(Some(_)) = crate::host::test_override::from_env() {
        tracing::warn!("{}", crate::host::test_override::warning());
    }
    let token = secrets::token(&dir)?;
    let identity = secrets::identity(&dir)?;
    let access = crate::stats::SshAccess::in_state_dir(&dir, options.stats_user.clone())?;
    let backend = TartCli::new(options.tart.clone()).await?;

    let listener = std::net::TcpListener::bind(options.listen).map_err(|source| Error::Listen {
        addr: options.listen,
        source,
    })?;
    let local = listener.local_addr().map_err(Error::Serve)?;
    listener.set_nonblocking(true).map_err(Error::Serve)?;
    let url = format!("https://{}", reachable(local));

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_no_client_auth()
                .with_single_cert(vec![identity.cert], identity.key)
        })
        .map_err(|e| Error::Certificate(e.to_string()))?;
    let tls = RustlsConfig::from_config(Arc::new(tls));

    let state = Arc::new(routes::AppState::new(
        backend,
        token,
        options.reserve,
        url.clone(),
    ));
    let collector = tokio::spawn(crate::stats::run(
        state.backend.clone(),
        state.stats.clone(),
        access,
        options.stats_interval,
    ));
    let app = routes::router(state);

    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, tls)
        .map_err(Error::Serve)?
        .handle(handle.clone());

    let record = ServeRecord {
        url: url.clone(),
        listen: local.to_string(),
        fingerprint: identity.fingerprint,
        pid: std::process::id(),
        token_file: dir.join(secrets::TOKEN_FILE),
        cert_file: dir.join(secrets::CERT_FILE),
    };
    record.save(&dir).map_err(|source| Error::StateFile {
        path: dir.join(record::FILE),
        source,
    })?;
    tracing::info!(%url, listen = %local, fingerprint = %identity.fingerprint, "serving the VM API");

    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down; VMs keep running");
        stopper.graceful_shutdown(Some(GRACE));
    });
    let served = server.serve(app.into_make_service()).await;
    collector.abort();
    ServeRecord::remove_own(&dir);
    served.map_err(Error::Serve)
}

/// The address to reach a listener at from this machine.
fn reachable(local: SocketAddr) -> SocketAddr {
    match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), local.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), local.port())
        }
        _ => local,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_address_is_reached_at_loopback() {
        let any: SocketAddr = "0.0.0.0:7443".parse().expect("addr");
        assert_eq!(reachable(any).to_string(), "127.0.0.1:7443");
        let one: SocketAddr = "192.168.64.1:7443".parse().expect("addr");
        assert_eq!(reachable(one), one);
        let v6: SocketAddr = "[::]:1".parse().expect("addr");
        assert_eq!(reachable(v6).to_string(), "[::1]:1");
        assert!(default_state_dir().ends_with("tart-infra/serve"));
    }
}
