//! The result of a stress test: stress-ng's `--yaml` metrics, written to the termination
//! message. Bogo-ops and real-time bogo-ops/s are summed over the stressors.
//!
//! stress-ng closes the document with YAML's end marker `...`. A report without it was cut
//! short, and a cut YAML document is often still valid YAML with smaller numbers (a number
//! cut in half, a stressor missing), so the marker is required.

use serde::Deserialize;

use super::{ReportError, check_size};

/// Bogo operations of a stress-ng run.
#[derive(Debug, Clone, PartialEq)]
pub struct StressResult {
    /// Bogo operations of every stressor together.
    pub bogo_ops: u64,
    /// Bogo operations per second of wall-clock time, every stressor together.
    pub bogo_ops_per_second: f64,
}

#[derive(Deserialize)]
struct Report {
    metrics: Option<Vec<Metric>>,
}

#[derive(Deserialize)]
struct Metric {
    stressor: String,
    #[serde(rename = "bogo-ops")]
    bogo_ops: f64,
    #[serde(rename = "bogo-ops-per-second-real-time")]
    per_second: f64,
}

/// The line stress-ng writes last: YAML's document end marker.
const DOCUMENT_END: &str = "...";

/// Parses stress-ng's YAML metrics output.
pub fn parse(text: &str) -> Result<StressResult, ReportError> {
    let text = check_size(text)?;
    if text.lines().next_back().map(str::trim_end) != Some(DOCUMENT_END) {
        return Err(ReportError::Truncated(
            "stress-ng's YAML does not end with its `...` line",
        ));
    }
    let report: Report =
        serde_yaml::from_str(text).map_err(|e| ReportError::Malformed(e.to_string()))?;
    let metrics = report.metrics.filter(|m| !m.is_empty()).ok_or_else(|| {
        ReportError::Malformed("no metrics section (was stress-ng run with --metrics?)".into())
    })?;
    let mut bogo_ops = 0.0_f64;
    let mut per_second = 0.0_f64;
    for m in &metrics {
        if !m.bogo_ops.is_finite()
            || m.bogo_ops < 0.0
            || !m.per_second.is_finite()
            || m.per_second < 0.0
        {
            return Err(ReportError::Malformed(format!(
                "stressor {} reports invalid numbers",
                m.stressor
            )));
        }
        bogo_ops += m.bogo_ops;
        per_second += m.per_second;
    }
    if bogo_ops > u64::MAX as f64 {
        return Err(ReportError::Malformed("bogo-ops out of range".into()));
    }
    Ok(StressResult {
        bogo_ops: bogo_ops.round() as u64,
        bogo_ops_per_second: (per_second * 1000.0).round() / 1000.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape Debian's stress-ng 0.15.06 writes with `--metrics --yaml` (system info cut).
    const CPU: &str = "---\nsystem-info:\n      stress-ng-version: 0.15.06\n      cpus: 2\n\nmetrics:\n    - stressor: cpu\n      bogo-ops: 1657\n      bogo-ops-per-second-usr-sys-time: 1655.778036\n      bogo-ops-per-second-real-time: 828.099801\n      wall-clock-time: 2.000967\n      user-time: 0.985458\n      system-time: 0.015280\n      cpu-usage-per-instance: 50.012730\n      max-rss: 6540\n\n...\n";

    #[test]
    fn a_cpu_report_parses() {
        assert_eq!(
            parse(CPU),
            Ok(StressResult {
                bogo_ops: 1657,
                bogo_ops_per_second: 828.1
            })
        );
    }

    #[test]
    fn several_stressors_are_summed() {
        let two = CPU.replace("...\n", "    - stressor: vm\n      bogo-ops: 343\n      bogo-ops-per-second-real-time: 171.5\n\n...\n");
        assert_eq!(
            parse(&two),
            Ok(StressResult {
                bogo_ops: 2000,
                bogo_ops_per_second: 999.6
            })
        );
    }

    #[test]
    fn bad_reports_are_errors() {
        assert_eq!(parse(""), Err(ReportError::Empty));
        assert!(
            matches!(parse("---\nsystem-info:\n  cpus: 2\n...\n"), Err(ReportError::Malformed(m)) if m.contains("--metrics"))
        );
        assert!(matches!(
            parse(&CPU[..CPU.len() / 2]),
            Err(ReportError::Truncated(_))
        ));
        // A log line (the kubelet's fallback when the runner wrote nothing) is no report,
        // with or without an end marker.
        let log = "stress-ng: info: [1] dispatching hogs: 1 cpu";
        assert!(matches!(parse(log), Err(ReportError::Truncated(_))));
        assert!(matches!(
            parse(&format!("{log}\n...\n")),
            Err(ReportError::Malformed(_))
        ));
        assert!(matches!(
            parse(&CPU.replace("bogo-ops: 1657", "bogo-ops: -3")),
            Err(ReportError::Malformed(_))
        ));
        assert!(matches!(
            parse(&CPU.replace("bogo-ops: 1657", "bogo-ops: .nan")),
            Err(ReportError::Malformed(_))
        ));
        // Hostile documents reach the YAML parser (they carry the end marker) and fail there.
        let deep = format!("{}1{}\n...\n", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(parse(&deep), Err(ReportError::Malformed(_))));
        let aliases = "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\nmetrics: [*d, *d, *d, *d, *d, *d, *d, *d]\n...\n";
        assert!(matches!(parse(aliases), Err(ReportError::Malformed(_))));
    }

    /// Every cut that loses more than trailing whitespace is an error, never smaller
    /// numbers: the cut may fall inside the last number, or drop a whole stressor.
    #[test]
    fn a_report_cut_at_any_byte_is_an_error() {
        let two = CPU.replace("...\n", "    - stressor: vm\n      bogo-ops: 343\n      bogo-ops-per-second-real-time: 171.5\n\n...\n");
        for report in [CPU, two.as_str()] {
            let whole = parse(report).expect("the whole report parses");
            for cut in 0..report.len() {
                let part = &report[..cut];
                let parsed = parse(part);
                if part.trim_end() == report.trim_end() {
                    assert_eq!(parsed, Ok(whole.clone()), "cut at {cut}");
                } else {
                    assert!(parsed.is_err(), "cut at {cut} gave {parsed:?}");
                }
            }
        }
    }
}
