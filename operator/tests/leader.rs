//! Leader election with `tart-operator` binaries against a real API server: of two
//! replicas exactly one holds the Lease and reconciles while both serve the API; when the
//! leader is killed the other takes over and reconciles; a leader stopped with SIGTERM
//! hands the Lease over; a leader that finds its Lease taken stops with an error.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use crds::{LoadTest, ManagedCluster};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use local_control_plane::{ControlPlane, Options};
use support::*;

const LEASE: &str = "tart-operator";

/// One operator process in the election as `identity`, logging to a file.
struct Replica {
    identity: &'static str,
    port: u16,
    metrics_port: u16,
    log: PathBuf,
    process: Running,
}

impl Replica {
    fn start(
        platform: &ControlPlane,
        identity: &'static str,
        dir: &std::path::Path,
    ) -> Result<Self> {
        let (port, metrics_port) = (free_port()?, free_port()?);
        let log = dir.join(format!("{identity}.log"));
        let mut cmd = operator_command(
            env!("CARGO_BIN_EXE_tart-operator"),
            platform,
            port,
            "info",
            "text",
        );
        cmd.args([
            "--metrics-listen",
            &format!("127.0.0.1:{metrics_port}"),
            "--secrets-namespace",
            SECRETS_NS,
            "--cluster-recheck-seconds",
            "1",
            "--leader-elect",
            "--leader-elect-identity",
            identity,
            "--leader-elect-lease-seconds",
            "2",
        ])
        .env_remove("POD_NAME")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?);
        Ok(Self {
            identity,
            port,
            metrics_port,
            log,
            process: Running::spawn(&mut cmd)?,
        })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The value of an unlabelled series, or the sum of a labelled one's matching series,
    /// from `/metrics` (0 when absent).
    async fn metric(&self, series: &str) -> Result<f64> {
        let (status, body) = Http::new(self.metrics_port).get("/metrics", None).await?;
        ensure!(status == 200, "/metrics answered {status}");
        let text = body.as_str().unwrap_or_default().to_owned();
        Ok(text
            .lines()
            .filter(|l| l.starts_with(series))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }

    /// Waits until `/metrics` answers `series` with `want`.
    async fn wait_metric(&mut self, series: &str, want: f64) -> Result<()> {
        self.wait_metric_that(series, &format!("{want}"), |v| v == want)
            .await
    }

    /// Waits until `/metrics` answers `series` with a value that is `what` (`ok`).
    async fn wait_metric_that(
        &mut self,
        series: &str,
        what: &str,
        ok: impl Fn(f64) -> bool,
    ) -> Result<()> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(v) = self.metric(series).await
                && ok(v)
            {
                return Ok(());
            }
            if let Some(status) = self.process.0.try_wait()? {
                bail!("{} exited ({status}):\n{}", self.identity, self.log());
            }
            ensure!(
                Instant::now() < deadline,
                "{}: {series} never became {what}:\n{}",
                self.identity,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn signal(&self, signal: &str) -> Result<()> {
        ensure!(
            Command::new("kill")
                .args([signal, &self.process.pid().to_string()])
                .status()?
                .success()
        );
        Ok(())
    }

    /// Waits for the process to exit.
    async fn exit(mut self) -> Result<(std::process::ExitStatus, String)> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.process.0.try_wait()? {
                return Ok((status, self.log()));
            }
            ensure!(
                Instant::now() < deadline,
                "{} did not exit:\n{}",
                self.identity,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn holder(leases: &Api<Lease>) -> Result<Option<String>> {
    Ok(leases
        .get_opt(LEASE)
        .await?
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity))
}

/// Waits until the Lease's holder is one of `wanted`; returns it.
async fn wait_holder(leases: &Api<Lease>, wanted: &[&str]) -> Result<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = holder(leases).await?;
        if let Some(h) = now.as_deref()
            && wanted.contains(&h)
        {
            return Ok(h.to_owned());
        }
        ensure!(
            Instant::now() < deadline,
            "the Lease never went to one of {wanted:?}; holder {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates a LoadTest on dev and waits until a controller has written its status.
async fn reconciled_loadtest(p: &kube::Client, ns: &str, name: &str) -> Result<()> {
    create_loadtest(p, ns, &preset_loadtest(name, "dev", "light-load")).await?;
    let lts: Api<LoadTest> = Api::namespaced(p.clone(), ns);
    wait_for(&lts, name, "a status", |lt: &LoadTest| phase(lt).is_some()).await?;
    Ok(())
}

const LOADTEST_RUNS: &str = "tart_operator_reconciliations_total{controller=\"loadtest\"}";
const CLUSTER_RUNS: &str = "tart_operator_reconciliations_total{controller=\"managedcluster\"}";

#[tokio::test]
async fn one_replica_leads_and_another_takes_over_when_it_stops() -> Result<()> {
    let (platform, dev) = tokio::join!(platform(), ControlPlane::start(Options::apiserver("dev")));
    let (platform, dev) = (platform?, dev?);
    let p = platform.client().await?;
    register_kubeconfig(&p, "dev", dev.kubeconfig()).await?;
    let leases: Api<Lease> = Api::namespaced(p.clone(), SECRETS_NS);
    let dir = tempfile::tempdir()?;

    let a = Replica::start(&platform, "a", dir.path())?;
    let b = Replica::start(&platform, "b", dir.path())?;
    let first = wait_holder(&leases, &["a", "b"]).await?;
    let (mut leader, mut follower) = if first == "a" { (a, b) } else { (b, a) };
    leader.wait_metric("tart_operator_leader ", 1.0).await?;
    follower.wait_metric("tart_operator_leader ", 0.0).await?;

    // The leader reconciles: dev's status says it answered, and a LoadTest gets a status.
    wait_for(
        &Api::<ManagedCluster>::all(p.clone()),
        "dev",
        "Reachable",
        |mc: &ManagedCluster| {
            mc.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Reachable" && c.status == "True")
            })
        },
    )
    .await?;
    let ns = platform.namespace("leader").await?;
    reconciled_loadtest(&p, &ns, "first").await?;
    // A test's status is written within its first reconcile, which is counted as it ends.
    leader
        .wait_metric_that(LOADTEST_RUNS, "above 0", |v| v > 0.0)
        .await?;
    leader
        .wait_metric_that(CLUSTER_RUNS, "above 0", |v| v > 0.0)
        .await?;
    // The follower reconciled nothing, yet its API serves dev from its own client.
    let token = api_admin_token(&p).await?;
    Http::new(follower.port)
        .eventually(
            "/api/v1/clusters/dev/pods",
            &token,
            "dev's pods on the follower",
            |_| true,
        )
        .await?;
    ensure!(
        follower.metric(LOADTEST_RUNS).await? == 0.0 && follower.metric(CLUSTER_RUNS).await? == 0.0,
        "the follower reconciled:\n{}",
        follower.log()
    );
    ensure!(holder(&leases).await?.as_deref() == Some(leader.identity));

    // The leader dies without giving the Lease up: the follower takes it once it expires,
    // and reconciles.
    leader.signal("-KILL")?;
    let _ = leader.exit().await?;
    let (old, mut new) = (first, follower);
    ensure!(wait_holder(&leases, &[new.identity]).await? != old);
    new.wait_metric("tart_operator_leader ", 1.0).await?;
    reconciled_loadtest(&p, &ns, "second").await?;
    new.wait_metric_that(LOADTEST_RUNS, "above 0", |v| v > 0.0)
        .await?;

    // A leader stopped with SIGTERM hands the Lease over and exits cleanly.
    let mut c = Replica::start(&platform, "c", dir.path())?;
    c.wait_metric("tart_operator_leader ", 0.0).await?;
    new.signal("-TERM")?;
    let (status, log) = new.exit().await?;
    ensure!(status.success(), "SIGTERM: {status}\n{log}");
    ensure!(log.contains("released leadership"), "{log}");
    wait_holder(&leases, &["c"]).await?;
    c.wait_metric("tart_operator_leader ", 1.0).await?;

    // A leader that finds its Lease taken steps down: it stops with an error.
    let mut lease = leases.get(LEASE).await?;
    let spec = lease.spec.as_mut().context("spec")?;
    spec.holder_identity = Some("intruder".into());
    spec.lease_duration_seconds = Some(3600);
    leases
        .replace(LEASE, &PostParams::default(), &lease)
        .await?;
    let (status, log) = c.exit().await?;
    ensure!(
        !status.success(),
        "a replica that lost the Lease must fail:\n{log}"
    );
    ensure!(
        log.contains("lost leadership of Lease tart-system/tart-operator: intruder holds it now"),
        "{log}"
    );
    Ok(())
}
