//! The shipped cluster file and helpers the config tests share.

use super::{ClusterConfig, Config, ConfigError, parse};

/// The repository's `config/clusters.yaml`.
pub const SHIPPED: &str = include_str!("../../../config/clusters.yaml");

/// The shipped file with `from` (which must occur exactly once) replaced by `to`.
pub fn shipped_with(from: &str, to: &str) -> String {
    assert_eq!(
        SHIPPED.matches(from).count(),
        1,
        "fixture text {from:?} must occur once"
    );
    SHIPPED.replacen(from, to, 1)
}

pub fn parse_err(text: &str) -> ConfigError {
    match parse(text, "config/clusters.yaml") {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

/// The error names the file and the field, and fits on one line.
pub fn assert_error(err: &ConfigError, path: &str, words: &[&str]) {
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("config/clusters.yaml: {path}")),
        "{msg:?} should start with the file and {path}"
    );
    assert!(!msg.contains('\n'), "{msg:?} should be one line");
    if !path.is_empty() {
        assert_eq!(
            msg.matches(path).count(),
            1,
            "{msg:?} should name {path} once"
        );
    }
    for word in words {
        assert!(msg.contains(word), "{msg:?} should contain {word:?}");
    }
}

pub fn shipped() -> Config {
    match parse(SHIPPED, "config/clusters.yaml") {
        Ok(c) => c,
        Err(e) => panic!("the shipped file must be valid: {e}"),
    }
}

pub fn names(clusters: &[&ClusterConfig]) -> Vec<String> {
    clusters.iter().map(|c| c.name.clone()).collect()
}
