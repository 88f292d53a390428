//! The runners' outputs, produced for real where a real tool runs here: stress-ng from
//! Debian writes its YAML metrics, Node runs the shipped k6 summary code on k6's documented
//! summary data, and the Rust parsers read both. k6 itself (AGPL) is never run here; its
//! scripts are syntax-checked as ES modules.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};
use operator::results::{ReportError, k6, stress_ng};
use proptest::prelude::*;

fn asset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/k6")
        .join(name)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn tool(name: &str, install: &str) -> Result<()> {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()?;
    ensure!(
        found.status.success(),
        "`{name}` is not installed; {install} (scripts/install-test-deps installs it)"
    );
    Ok(())
}

fn run_stress_ng(args: &[&str]) -> Result<String> {
    tool("stress-ng", "install it with `apt-get install stress-ng`")?;
    let dir = tempfile::tempdir()?;
    let yaml = dir.path().join("metrics.yaml");
    let out = Command::new("stress-ng")
        .args(args)
        .args(["--timeout", "1s", "--metrics", "--yaml"])
        .arg(&yaml)
        .current_dir(dir.path())
        .output()?;
    ensure!(
        out.status.success(),
        "stress-ng failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(std::fs::read_to_string(yaml)?)
}

#[test]
fn real_stress_ng_cpu_metrics_parse() -> Result<()> {
    let yaml = run_stress_ng(&["--cpu", "1"])?;
    ensure!(
        yaml.len() < 4096,
        "the YAML must fit a termination message: {} bytes",
        yaml.len()
    );
    let r = stress_ng::parse(&yaml)?;
    ensure!(
        r.bogo_ops > 0 && r.bogo_ops_per_second > 0.0,
        "{r:?} from {yaml}"
    );
    Ok(())
}

#[test]
fn real_stress_ng_memory_metrics_parse() -> Result<()> {
    let yaml = run_stress_ng(&["--vm", "1", "--vm-bytes", "16M"])?;
    let r = stress_ng::parse(&yaml)?;
    ensure!(r.bogo_ops > 0, "{r:?} from {yaml}");
    Ok(())
}

/// `report[..cut]` parses to what the whole report does when the cut lost only trailing
/// whitespace, and is an error otherwise (never a smaller number).
fn cut_is_an_error<T: PartialEq + std::fmt::Debug>(
    report: &str,
    cut: usize,
    parse: impl Fn(&str) -> Result<T, ReportError>,
) -> Result<()> {
    let part = &report[..cut.min(report.len())];
    let parsed = parse(part);
    if part.trim_end() == report.trim_end() {
        ensure!(parsed == parse(report), "cut at {cut}: {parsed:?}");
    } else {
        ensure!(parsed.is_err(), "cut at {cut} parsed: {parsed:?}");
    }
    Ok(())
}

#[test]
fn real_reports_cut_at_any_byte_are_errors() -> Result<()> {
    let stress = run_stress_ng(&["--cpu", "1", "--vm", "1", "--vm-bytes", "16M"])?;
    ensure!(stress_ng::parse(&stress).is_ok(), "{stress}");
    for cut in 0..=stress.len() {
        cut_is_an_error(&stress, cut, stress_ng::parse)?;
    }
    let (k6_result, _) = summarize(&fixture("k6-summary-passed.json"))?;
    ensure!(k6::parse(&k6_result).is_ok(), "{k6_result}");
    for cut in 0..=k6_result.len() {
        cut_is_an_error(&k6_result, cut, k6::parse)?;
    }
    Ok(())
}

#[test]
fn the_k6_scripts_are_valid_es_modules() -> Result<()> {
    tool("node", "install Node.js")?;
    for file in ["loadtest.js", "summary.js", "segments.js"] {
        let out = Command::new("node")
            .args(["--input-type=module", "--check"])
            .stdin(std::fs::File::open(asset(file))?)
            .output()?;
        ensure!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Runs the shipped `summary.js` in Node on a k6 summary data file and returns the compact
/// JSON result and the text summary.
/// Runs `program` as an ES module in Node; its stdout, or why it failed.
fn node_module(program: &str) -> Result<Vec<u8>> {
    let out = Command::new("node")
        .args(["--input-type=module", "-e", program])
        .output()?;
    ensure!(
        out.status.success(),
        "node: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out.stdout)
}

fn summarize(data: &Path) -> Result<(String, String)> {
    tool("node", "install Node.js")?;
    let program = format!(
        "import {{ readFileSync }} from 'node:fs';\n\
         import {{ compactSummary, textSummary }} from {summary:?};\n\
         const result = compactSummary(JSON.parse(readFileSync({data:?}, 'utf8')));\n\
         process.stdout.write(JSON.stringify(result) + '\\n' + textSummary(result));",
        summary = format!("file://{}", asset("summary.js").display()),
        data = data.display().to_string(),
    );
    let stdout = String::from_utf8(node_module(&program)?)?;
    let (json, text) = stdout.split_once('\n').context("no text summary")?;
    Ok((json.to_owned(), text.to_owned()))
}

#[test]
fn the_summary_of_a_passing_run_parses_with_every_number() -> Result<()> {
    let (json, text) = summarize(&fixture("k6-summary-passed.json"))?;
    ensure!(
        json.len() < 4096,
        "{} bytes do not fit a termination message",
        json.len()
    );
    let r = k6::parse(&json)?;
    ensure!(r.requests == Some(16510));
    ensure!(r.rps == Some(549.996), "{:?}", r.rps);
    let l = r.latency_ms.context("latency")?;
    ensure!(
        l.p95 == Some(54.239)
            && l.p99 == Some(132.024)
            && l.p90 == Some(48.204)
            && l.med == Some(31.086)
    );
    ensure!(r.error_rate == Some(0.0));
    ensure!(r.checks.map(|c| (c.passed, c.failed)) == Some((16510, 0)));
    ensure!(r.thresholds.len() == 2 && r.thresholds.iter().all(|t| t.passed));
    ensure!(
        text.contains("http_reqs.........: 16510 (549.996/s)"),
        "{text}"
    );
    ensure!(text.contains("ok   http_req_duration p(95)<2000"), "{text}");
    Ok(())
}

#[test]
fn the_summary_of_a_breached_run_keeps_the_failed_thresholds() -> Result<()> {
    let (json, text) = summarize(&fixture("k6-summary-breached.json"))?;
    let r = k6::parse(&json)?;
    ensure!(r.error_rate == Some(0.08));
    ensure!(r.checks.map(|c| (c.passed, c.failed)) == Some((1380, 120)));
    let failed: Vec<_> = r
        .thresholds
        .iter()
        .filter(|t| !t.passed)
        .map(|t| t.expression.as_str())
        .collect();
    ensure!(
        failed.len() == 2 && failed.contains(&"p(95)<500") && failed.contains(&"rate<0.01"),
        "{failed:?}"
    );
    ensure!(text.contains("FAIL http_req_failed rate<0.01"), "{text}");
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics_either_parser(s in any::<String>()) {
        let _ = k6::parse(&s);
        let _ = stress_ng::parse(&s);
    }

    #[test]
    fn truncated_reports_are_errors_not_panics(cut in 0usize..400) {
        let k6_report = r#"{"version":1,"requests":10,"rps":1.5,"latencyMs":{"avg":1,"p95":2},"errorRate":0,"checks":{"passed":10,"failed":0},"thresholds":[]}"#;
        let k6_cut = cut_is_an_error(k6_report, cut, k6::parse);
        prop_assert!(k6_cut.is_ok(), "{:?}", k6_cut);
        let yaml = "---\nmetrics:\n    - stressor: cpu\n      bogo-ops: 1657\n      bogo-ops-per-second-real-time: 828.1\n...\n";
        let stress_cut = cut_is_an_error(yaml, cut, stress_ng::parse);
        prop_assert!(stress_cut.is_ok(), "{:?}", stress_cut);
    }

    #[test]
    fn json_values_of_any_shape_are_handled(v in arb_json()) {
        let _ = k6::parse(&v.to_string());
        let _ = stress_ng::parse(&v.to_string());
    }
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-z]{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("version".to_owned()),
                    Just("requests".to_owned()),
                    Just("metrics".to_owned()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..8
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn a_huge_report_is_rejected_by_size() {
    let huge = "a".repeat(operator::results::MAX_REPORT_BYTES + 10);
    assert!(matches!(k6::parse(&huge), Err(ReportError::TooLarge(_))));
    assert!(matches!(
        stress_ng::parse(&huge),
        Err(ReportError::TooLarge(_))
    ));
}

/// Runs the shipped `segments.js` in Node for a runner with `parallelism` and the index in
/// JOB_COMPLETION_INDEX (`None`: unset): the options it sets, or the error it throws.
fn segments(parallelism: u32, index: Option<&str>) -> Result<Result<serde_json::Value, String>> {
    tool("node", "install Node.js")?;
    let env = match index {
        Some(i) => format!("{{ JOB_COMPLETION_INDEX: {i:?} }}"),
        None => "{}".to_owned(),
    };
    let program = format!(
        "import {{ segments }} from {module:?};\n\
         try {{ process.stdout.write(JSON.stringify({{ ok: segments({{ parallelism: {parallelism} }}, {env}, (m) => {{ throw new Error(m); }}) }})); }}\n\
         catch (e) {{ process.stdout.write(JSON.stringify({{ err: e.message }})); }}",
        module = format!("file://{}", asset("segments.js").display()),
    );
    let v: serde_json::Value = serde_json::from_slice(&node_module(&program)?)?;
    Ok(match v.get("err") {
        Some(e) => Err(e.as_str().unwrap_or_default().to_owned()),
        None => Ok(v["ok"].clone()),
    })
}

/// Each of three runners gets its third of the load as k6's execution segment, over the
/// same sequence; one runner sets no segment; a parallel runner without a valid index
/// refuses to run (it would run the whole load).
#[test]
fn each_parallel_runner_gets_its_execution_segment() -> Result<()> {
    for (index, segment) in [("0", "0:1/3"), ("1", "1/3:2/3"), ("2", "2/3:1")] {
        let got = segments(3, Some(index))?;
        ensure!(
            got == Ok(
                serde_json::json!({ "executionSegment": segment, "executionSegmentSequence": "0,1/3,2/3,1" })
            ),
            "runner {index}: {got:?}"
        );
    }
    ensure!(segments(1, None)? == Ok(serde_json::json!({})));
    for index in [None, Some("3"), Some("-1"), Some("x")] {
        let got = segments(3, index)?;
        ensure!(
            got.as_ref()
                .is_err_and(|e| e.contains("JOB_COMPLETION_INDEX in 0..2")),
            "{index:?}: {got:?}"
        );
    }
    Ok(())
}
