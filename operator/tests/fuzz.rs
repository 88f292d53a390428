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
    // schemathesis keeps a cache in its working directory; not in the repository.
    let workdir = tempfile::tempdir()?;
    let cwd = workdir.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&bin)
            .current_dir(cwd)
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
    let ran = Summary::of(&stdout)
        .with_context(|| format!("cannot read schemathesis's summary:\n{stdout}"))?;
    ensure!(
        ran.selected > 0 && ran.tested == ran.selected && ran.generated > 0 && ran.passed > 0,
        "schemathesis must test every operation with some cases, ran {ran:?}:\n{stdout}"
    );
    ensure!(
        !stdout.contains("Authentication failed"),
        "the token was refused, so only 401s were tested:\n{stdout}"
    );
    Ok(())
}

/// What schemathesis's summary says it ran.
#[derive(Debug, PartialEq)]
struct Summary {
    /// Operations selected by the filters.
    selected: u64,
    /// Operations tested.
    tested: u64,
    /// Test cases generated.
    generated: u64,
    /// Test cases that passed.
    passed: u64,
}

impl Summary {
    /// Reads `Selected: 18/19`, `Tested: 18` and `928 generated, 928 passed`.
    fn of(stdout: &str) -> Option<Self> {
        let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
        let after = |label: &str| lines.iter().find_map(|l| l.strip_prefix(label));
        let count = |s: &str| s.trim().parse::<u64>().ok();
        let cases = lines.iter().find(|l| l.contains(" generated, "))?;
        let (generated, rest) = cases.split_once(" generated, ")?;
        Some(Self {
            selected: count(after("Selected:")?.split_once('/')?.0)?,
            tested: count(after("Tested:")?)?,
            generated: count(generated)?,
            passed: rest
                .split(", ")
                .find_map(|part| part.strip_suffix(" passed"))
                .map_or(Some(0), count)?,
        })
    }
}

#[test]
fn the_summary_counts_what_ran() {
    let full = "API Operations:\n  Selected: 18/19\n  Tested: 18\n\nTest cases:\n  928 generated, 928 passed\n";
    assert_eq!(
        Summary::of(full),
        Some(Summary {
            selected: 18,
            tested: 18,
            generated: 928,
            passed: 928
        })
    );
    let none = "API Operations:\n  Selected: 0/19\n  Tested: 0\n\nTest cases:\n  No test cases were generated\n";
    assert_eq!(Summary::of(none), None, "nothing ran: no summary to accept");
    let zero = "  Selected: 18/19\n  Tested: 0\n  0 generated, 0 passed\n";
    assert_eq!(
        Summary::of(zero).map(|s| (s.tested, s.generated, s.passed)),
        Some((0, 0, 0))
    );
    let failed = "  Selected: 18/19\n  Tested: 18\n  111 generated, 14 found 14 unique failures\n";
    assert_eq!(Summary::of(failed).map(|s| s.passed), Some(0));
}
