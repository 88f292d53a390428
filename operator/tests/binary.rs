//! The `tart-operator` binary against a real API server: it refuses to start without the
//! CRDs (saying how to install them), becomes ready with them, waits for an API server that
//! is down when it starts, and stops cleanly on SIGTERM, also in its first moments.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use local_control_plane::{ControlPlane, Options};
use support::{free_port, install_crds, operator_command};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn operator(cp: &ControlPlane, port: u16) -> Command {
    operator_command(
        env!("CARGO_BIN_EXE_tart-operator"),
        cp,
        port,
        "info",
        "text",
    )
}

/// A minimal HTTP/1.0 GET on loopback; returns the status line and body.
async fn get(port: u16, path: &str) -> Result<(String, String)> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    Ok((
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    ))
}

#[tokio::test]
async fn without_crds_it_exits_with_the_install_command() -> Result<()> {
    let cp = ControlPlane::start(Options::apiserver("no-crds")).await?;
    let out = tokio::task::spawn_blocking({
        let mut cmd = operator(&cp, free_port()?);
        move || cmd.output()
    })
    .await??;
    ensure!(!out.status.success(), "the operator must fail without CRDs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for name in [
        "managedclusters.tartinfra.dev",
        "loadtests.tartinfra.dev",
        "scalingexperiments.tartinfra.dev",
    ] {
        ensure!(
            stderr.contains(name),
            "stderr does not name {name}: {stderr}"
        );
    }
    ensure!(
        stderr.contains("kubectl apply -f charts/tart-operator/crds/"),
        "{stderr}"
    );
    Ok(())
}

fn sigterm(child: &std::process::Child) -> Result<()> {
    let pid = child.id().to_string();
    ensure!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()?
            .success()
    );
    Ok(())
}

/// Waits until the operator's /readyz answers 200; fails if it exits first.
async fn answers_ready(child: &mut std::process::Child, port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait()? {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                std::io::Read::read_to_string(&mut e, &mut stderr)?;
            }
            bail!("operator exited early ({status}): {stderr}");
        }
        if let Ok((status, body)) = get(port, "/readyz").await
            && status.contains(" 200 ")
        {
            ensure!(body == "ok");
            break;
        }
        ensure!(Instant::now() < deadline, "/readyz never answered 200");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

#[tokio::test]
async fn with_crds_it_becomes_ready_and_stops_on_sigterm() -> Result<()> {
    let cp = ControlPlane::start(Options::apiserver("with-crds")).await?;
    install_crds(&cp.client().await?).await?;
    let (port, metrics_port) = (free_port()?, free_port()?);
    let mut child = operator(&cp, port)
        .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    answers_ready(&mut child, port).await?;
    let (status, body) = get(metrics_port, "/metrics").await?;
    ensure!(
        status.contains(" 200 ") && body.contains("tart_operator_build_info"),
        "{status}: {body}"
    );
    // The API's port does not serve it without --metrics-on-api-port.
    let (status, body) = get(port, "/metrics").await?;
    ensure!(
        status.contains(" 404 "),
        "/metrics on the API port: {status}: {body}"
    );

    sigterm(&child)?;
    let status = tokio::task::spawn_blocking(move || child.wait()).await??;
    ensure!(
        status.success(),
        "SIGTERM should stop the operator cleanly, got {status}"
    );
    Ok(())
}

#[tokio::test]
async fn started_while_the_api_server_is_down_it_waits_for_it() -> Result<()> {
    let cp = ControlPlane::start(Options::apiserver("down-at-start")).await?;
    install_crds(&cp.client().await?).await?;
    cp.stop_apiserver()?;
    let port = free_port()?;
    let mut child = operator(&cp, port)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    // A Deployment would restart an operator that exits, with growing CrashLoopBackOff
    // delays; it keeps trying by itself instead.
    tokio::time::sleep(Duration::from_secs(4)).await;
    if let Some(status) = child.try_wait()? {
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            std::io::Read::read_to_string(&mut e, &mut stderr)?;
        }
        bail!("the operator gave up while the API server was down ({status}): {stderr}");
    }
    cp.start_apiserver().await?;
    answers_ready(&mut child, port).await?;
    child.kill()?;
    child.wait()?;
    Ok(())
}

/// SIGTERM at any moment of the start (preflight, caches, leader election, the
/// controllers' first lists) stops the operator promptly and cleanly.
#[tokio::test]
async fn sigterm_early_in_the_start_stops_it_promptly() -> Result<()> {
    let cp = ControlPlane::start(Options::apiserver("early-term")).await?;
    install_crds(&cp.client().await?).await?;
    for delay_ms in [0u64, 50, 100, 150, 200, 300, 500, 800] {
        let mut child = operator(&cp, free_port()?)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        sigterm(&child)?;
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                child.kill()?;
                let mut stderr = String::new();
                if let Some(mut e) = child.stderr.take() {
                    std::io::Read::read_to_string(&mut e, &mut stderr)?;
                }
                bail!("SIGTERM {delay_ms} ms after the start: still running after 15 s: {stderr}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // Before the handler is installed, SIGTERM's default action ends the process.
        ensure!(
            status.success() || status.code().is_none(),
            "SIGTERM {delay_ms} ms after the start: {status}"
        );
    }
    Ok(())
}
