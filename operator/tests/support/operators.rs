//! The operator under test: in this process (a test can stop and restart it), or as its
//! binary in a child process.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::process::{Child, Command};
use std::time::Duration;

use anyhow::{Context as _, Result};
use local_control_plane::ControlPlane;
use operator::context::Settings;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{SECRETS_NS, WAIT};

/// The operator running in this process.
pub struct Operator {
    /// Where it serves `/metrics` (its own listener).
    pub metrics_port: u16,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), operator::Error>>,
}

impl Operator {
    /// Starts the operator against `platform`.
    pub async fn start(platform: &ControlPlane, settings: Settings) -> Result<Self> {
        Self::start_on(platform, settings, 0).await
    }

    /// Starts the operator against `platform`, serving its API on `port` (0: any).
    pub async fn start_on(platform: &ControlPlane, settings: Settings, port: u16) -> Result<Self> {
        Self::start_with(platform, settings, port, HashMap::new()).await
    }

    /// As [`Operator::start_on`], reaching Hubble Relay at the given addresses by cluster.
    pub async fn start_with(
        platform: &ControlPlane,
        settings: Settings,
        port: u16,
        hubble: HashMap<String, String>,
    ) -> Result<Self> {
        Self::start_as(platform.client().await?, settings, port, hubble).await
    }

    /// As [`Operator::start_with`], with `client`'s identity (e.g. a ServiceAccount with
    /// the chart's RBAC) instead of the platform's admin.
    pub async fn start_as(
        client: kube::Client,
        settings: Settings,
        port: u16,
        hubble: HashMap<String, String>,
    ) -> Result<Self> {
        Self::run(client, Self::config(settings, port, hubble)?).await
    }

    /// The configuration [`Operator::start_with`] uses, `/metrics` on a port of its own.
    pub fn config(
        settings: Settings,
        port: u16,
        hubble: HashMap<String, String>,
    ) -> Result<operator::Config> {
        let metrics_port = super::free_port()?;
        Ok(operator::Config {
            http_addr: format!("127.0.0.1:{port}").parse()?,
            metrics_addr: Some(format!("127.0.0.1:{metrics_port}").parse()?),
            secrets_namespace: SECRETS_NS.into(),
            settings,
            api: operator::api::ApiConfig {
                platform_name: "platform".into(),
                anonymous_read: false,
                token_audience: super::API_AUDIENCE.into(),
                metrics_on_api_port: false,
                platform_version: None,
                collectors: operator::collectors::CollectorSettings {
                    usage: Duration::from_secs(2),
                    scaling: Duration::from_secs(1),
                    hubble,
                },
                prometheus_url: None,
                node_series: Default::default(),
                kubelet_summary: true,
            },
            dashboard_dir: None,
            leader_election: None,
            transport: Default::default(),
        })
    }

    /// Starts the operator with `config`, connecting as `client`.
    pub async fn run(client: kube::Client, config: operator::Config) -> Result<Self> {
        let metrics_port = config.metrics_addr.map_or(0, |a| a.port());
        let addr = config.http_addr;
        let (stop, stopped) = oneshot::channel();
        let mut task = tokio::spawn(operator::run_until(config, client, async {
            let _ = stopped.await;
        }));
        // Serving means it started: a failure before that (a port taken, a failed preflight)
        // is this call's error, not a cluster that never gets Ready later.
        let deadline = std::time::Instant::now() + WAIT;
        while addr.port() != 0 && tokio::net::TcpStream::connect(addr).await.is_err() {
            if task.is_finished() {
                let ended = (&mut task).await;
                anyhow::bail!("the operator stopped while starting: {ended:?}");
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "the operator did not serve {addr} within {}s",
                WAIT.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self {
            metrics_port,
            stop: Some(stop),
            task,
        })
    }

    /// Stops it and waits until it has stopped.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .context("operator did not stop")???;
        Ok(())
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `tart-operator` binary at `bin` against `platform`, its API on `port`, logging at
/// `level` (as RUST_LOG) in `format` (`text` or `json`). Add `--metrics-listen` for
/// `/metrics`.
pub fn operator_command(
    bin: impl AsRef<OsStr>,
    platform: &ControlPlane,
    port: u16,
    level: &str,
    format: &str,
) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env("KUBECONFIG", platform.kubeconfig_path())
        .env("RUST_LOG", level)
        .args([
            "--http-addr",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            format,
        ]);
    cmd
}

/// The operator binary a benchmark runs: `TART_OPERATOR_BIN`, which the `bench/` scripts set
/// to a release build.
pub fn operator_bin_from_env() -> Result<String> {
    std::env::var("TART_OPERATOR_BIN").context("set TART_OPERATOR_BIN to the tart-operator binary")
}

/// A child process that is killed however the test or benchmark ends.
pub struct Running(pub Child);

impl Running {
    pub fn spawn(cmd: &mut Command) -> Result<Self> {
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
        Ok(Self(child))
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
