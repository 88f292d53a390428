//! Parsers of what runners report: the compact JSON the k6 script writes to the termination
//! message, and stress-ng's YAML metrics. Pure functions; malformed, truncated or huge
//! input is an error, never a panic.

pub mod k6;
pub mod stress_ng;

/// The largest report accepted. The kubelet caps termination messages at 4 KiB; logs used as
/// a fallback may be longer, but a real report never is.
pub const MAX_REPORT_BYTES: usize = 64 * 1024;

/// Why a runner's report could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReportError {
    /// Nothing was reported.
    #[error("the runner reported nothing")]
    Empty,
    /// The report is larger than any real one.
    #[error("the report is {0} bytes, more than the {MAX_REPORT_BYTES} a runner writes")]
    TooLarge(usize),
    /// The report is not in the expected format.
    #[error("the report is not valid: {0}")]
    Malformed(String),
    /// The report stops before the end its format requires: the runner was cut off while
    /// writing it, or the kubelet cut the termination message at 4 KiB.
    #[error("the report is cut short: {0}")]
    Truncated(&'static str),
}

fn check_size(text: &str) -> Result<&str, ReportError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        Err(ReportError::Empty)
    } else if trimmed.len() > MAX_REPORT_BYTES {
        Err(ReportError::TooLarge(trimmed.len()))
    } else {
        Ok(trimmed)
    }
}
