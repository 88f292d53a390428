//! One broken rule of a spec, as the Rust checks report it: the field, what is wrong and
//! what to change. The API server reports the same rules through the CRD's schema and CEL
//! rules; these are for the callers that check a spec without it (the host agent's cluster
//! file, the operator's guard against objects that bypassed the schema).

use std::fmt;

/// A broken rule of one field. Display is one line: `path: problem; fix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path relative to the spec, in the API server's notation:
    /// `nodes[1].cpu`, `network.podCidr`; empty for the spec as a whole.
    pub path: String,
    /// What is wrong, e.g. `0 is out of range`.
    pub problem: String,
    /// What to change, e.g. `set 1 to 32 virtual CPUs`.
    pub fix: String,
}

impl FieldError {
    /// The error of the field at `path`.
    pub fn new(
        path: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    /// The same error with its path under `prefix`: `spec` + `nodes[0].cpu` gives
    /// `spec.nodes[0].cpu`, `clusters[2]` + `nodes` gives `clusters[2].nodes`.
    #[must_use]
    pub fn under(mut self, prefix: &str) -> Self {
        self.path = join_path(prefix, &self.path);
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}; {}", self.problem, self.fix)
    }
}

impl std::error::Error for FieldError {}

/// `prefix.path`, leaving out an empty side.
pub fn join_path(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix}.{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_one_line_with_its_path_and_fix() {
        let e = FieldError::new(
            "nodes[0].cpu",
            "0 is out of range",
            "set 1 to 32 virtual CPUs",
        );
        assert_eq!(
            e.to_string(),
            "nodes[0].cpu: 0 is out of range; set 1 to 32 virtual CPUs"
        );
        assert_eq!(e.clone().under("spec").path, "spec.nodes[0].cpu");
        let whole = FieldError::new("", "is wrong", "fix it");
        assert_eq!(whole.to_string(), "is wrong; fix it");
        assert_eq!(whole.under("clusters[2]").path, "clusters[2]");
        assert_eq!(join_path("", "nodes"), "nodes");
    }
}
