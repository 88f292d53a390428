//! The result of an HTTP test: the compact JSON that `assets/k6/summary.js` builds from
//! k6's end-of-test summary data and writes to the termination message.

use crds::load_test::{Checks, LatencyMs, LoadTestResults, ThresholdResult};
use serde::Deserialize;

use super::{ReportError, check_size};

/// The version of the compact result this operator reads.
pub const RESULT_VERSION: u32 = 1;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Compact {
    version: u32,
    requests: u64,
    rps: Option<f64>,
    #[serde(default)]
    latency_ms: LatencyMs,
    error_rate: Option<f64>,
    checks: Checks,
    #[serde(default)]
    thresholds: Vec<ThresholdResult>,
}

fn finite_non_negative(name: &str, v: Option<f64>) -> Result<Option<f64>, ReportError> {
    match v {
        Some(x) if !x.is_finite() || x < 0.0 => {
            Err(ReportError::Malformed(format!("{name} is {x}")))
        }
        other => Ok(other),
    }
}

/// Parses the k6 script's compact result.
pub fn parse(text: &str) -> Result<LoadTestResults, ReportError> {
    let text = check_size(text)?;
    let c: Compact =
        serde_json::from_str(text).map_err(|e| ReportError::Malformed(e.to_string()))?;
    if c.version != RESULT_VERSION {
        return Err(ReportError::Malformed(format!(
            "result version {} (this operator reads version {RESULT_VERSION})",
            c.version
        )));
    }
    let l = &c.latency_ms;
    for (name, v) in [
        ("latencyMs.avg", l.avg),
        ("latencyMs.min", l.min),
        ("latencyMs.med", l.med),
        ("latencyMs.p90", l.p90),
        ("latencyMs.p95", l.p95),
        ("latencyMs.p99", l.p99),
        ("latencyMs.max", l.max),
    ] {
        finite_non_negative(name, v)?;
    }
    let error_rate = finite_non_negative("errorRate", c.error_rate)?;
    if error_rate.is_some_and(|r| r > 1.0) {
        return Err(ReportError::Malformed("errorRate is above 1".into()));
    }
    Ok(LoadTestResults {
        requests: Some(c.requests),
        rps: finite_non_negative("rps", c.rps)?,
        latency_ms: Some(c.latency_ms),
        error_rate,
        checks: Some(c.checks),
        thresholds: c.thresholds,
        ..LoadTestResults::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSED: &str = r#"{"version":1,"requests":16510,"rps":549.996,"latencyMs":{"avg":36.107,"min":0.06,"med":31.086,"p90":48.2,"p95":54.239,"p99":132.024,"max":1339.349},"errorRate":0,"checks":{"passed":16510,"failed":0},"thresholds":[{"metric":"http_req_duration","expression":"p(95)<2000","passed":true},{"metric":"http_req_failed","expression":"rate<0.5","passed":true}],"durationSeconds":30.018}"#;

    #[test]
    fn a_passing_result_parses_every_field() {
        let r = parse(PASSED).expect("parses");
        assert_eq!(r.requests, Some(16510));
        assert_eq!(r.rps, Some(549.996));
        assert_eq!(r.latency_ms.as_ref().and_then(|l| l.p95), Some(54.239));
        assert_eq!(r.latency_ms.as_ref().and_then(|l| l.p90), Some(48.2));
        assert_eq!(r.error_rate, Some(0.0));
        assert_eq!(
            r.checks,
            Some(Checks {
                passed: 16510,
                failed: 0
            })
        );
        assert_eq!(r.thresholds.len(), 2);
        assert!(r.thresholds.iter().all(|t| t.passed));
    }

    #[test]
    fn an_empty_run_has_no_latency_but_still_parses() {
        let r = parse(r#"{"version":1,"requests":0,"rps":0,"latencyMs":{},"errorRate":null,"checks":{"passed":0,"failed":0},"thresholds":[],"durationSeconds":1}"#)
            .expect("parses");
        assert_eq!(r.requests, Some(0));
        assert_eq!(r.latency_ms, Some(LatencyMs::default()));
        assert_eq!(r.error_rate, None);
    }

    #[test]
    fn bad_reports_are_errors() {
        assert_eq!(parse(""), Err(ReportError::Empty));
        assert_eq!(parse("  \n"), Err(ReportError::Empty));
        assert!(matches!(
            parse(&PASSED[..PASSED.len() / 2]),
            Err(ReportError::Malformed(_))
        ));
        assert!(
            matches!(parse(&PASSED.replace("\"version\":1", "\"version\":2")), Err(ReportError::Malformed(m)) if m.contains("version 2"))
        );
        assert!(matches!(
            parse(&PASSED.replace("\"rps\":549.996", "\"rps\":-1")),
            Err(ReportError::Malformed(_))
        ));
        assert!(matches!(
            parse(&PASSED.replace("\"errorRate\":0", "\"errorRate\":1.5")),
            Err(ReportError::Malformed(_))
        ));
        assert!(matches!(
            parse("running (0m30.0s), 00/50 VUs, 1234 complete"),
            Err(ReportError::Malformed(_))
        ));
        let huge = format!(
            "{}{}",
            " ".repeat(10),
            "x".repeat(super::super::MAX_REPORT_BYTES + 1)
        );
        assert!(matches!(parse(&huge), Err(ReportError::TooLarge(_))));
    }

    /// A cut inside the last number (`"rps":12` of `"rps":123.4}`) must not read as a
    /// smaller value: the compact result is one JSON object, and every prefix of an object
    /// misses its closing brace, which serde_json refuses.
    #[test]
    fn a_result_cut_at_any_byte_is_an_error() {
        for cut in 0..PASSED.len() {
            let parsed = parse(&PASSED[..cut]);
            assert!(parsed.is_err(), "cut at {cut} gave {parsed:?}");
        }
    }
}
