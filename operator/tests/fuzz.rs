//! The API fuzzed by schemathesis (from PyPI) against its own OpenAPI document: generated
//! and mutated requests to every operation (but the event stream) must never get a 5xx.

mod support;

use std::process::Command;

use anyhow::{Context, Result, ensure};
use support::*;

/// Where `.ci/run` installs schemathesis; `SCHEMATHESIS` overrides.
fn schemathesis() -> String {
    std::env::var("SCHEMATHESIS").unwrap_or_else(|_| {
        let cache = std::env::var("TART_INFRA_CACHE").unwrap_or_else(|_| {
            format!(
                "{}/.cache/tart-infra",
                std::env::var("HOME").unwrap_or_default()
            )
        });
        format!("{cache}/venv/bin/schemathesis")
    })
}

#[tokio::test]
async fn schemathesis_finds_no_server_errors() -> Result<()> {
    let env = Env::start(fast_settings()).await?;
    let (port, token) = (env.port, env.token().to_owned());
    let bin = schemathesis();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&bin)
            .args([
                "run",
                &format!("http://127.0.0.1:{port}/api/v1/openapi.json"),
                "--checks",
                "not_a_server_error",
                "--header",
                &format!("Authorization: Bearer {token}"),
                "--max-examples",
                "30",
                "--workers",
                "1",
                "--seed",
                "20261128",
                "--request-timeout",
                "10",
                "--exclude-path",
                "/api/v1/events",
                "--generation-database",
                "none",
            ])
            .output()
            .with_context(|| format!("cannot run {bin}; install it with `python3 -m venv $TART_INFRA_CACHE/venv && $TART_INFRA_CACHE/venv/bin/pip install schemathesis` (.ci/run does)"))
    })
    .await??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        stdout.contains("passed") || stdout.contains("Passed"),
        "no test cases ran:\n{stdout}"
    );
    Ok(())
}
