//! Why the cluster file cannot be used, as one line that names the file and the field.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why the cluster file cannot be used. Display is one line: the file, the field path, what is
/// wrong and how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error(
        "cannot read the cluster file {}: {error}; copy config/clusters.yaml from the repository to that path and edit it",
        .path.display()
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said (also shown in the message).
        error: io::Error,
    },
    /// The file is not YAML, or a field is missing, unknown or of the wrong type.
    #[error(
        "{}{message}; see the comments in the repository's config/clusters.yaml for the format",
        Location(.file, .path)
    )]
    Format {
        /// The file's name as given to [`parse`].
        file: String,
        /// The field path, e.g. `clusters[1].nodes[0].cpu`; empty for the whole file.
        path: String,
        /// What is wrong, with the line and column when the YAML parser knows them.
        message: String,
    },
    /// The file parses but breaks a rule.
    #[error("{}{problem}; {fix}", Location(.file, .path))]
    Invalid {
        /// The file's name as given to [`parse`]; empty when the error comes from [`validate`].
        file: String,
        /// The field path, e.g. `clusters[1].nodes`.
        path: String,
        /// What is wrong.
        problem: String,
        /// What to change.
        fix: String,
    },
    /// Clusters were asked for that the file does not list.
    #[error(
        "unknown cluster {}: the cluster file lists {}; name one of those or add the cluster to config/clusters.yaml",
        quoted(.names),
        quoted(.known)
    )]
    UnknownCluster {
        /// The names that are not in the file.
        names: Vec<String>,
        /// The clusters the file lists, in its order.
        known: Vec<String>,
    },
}

impl ConfigError {
    /// The field path the error is about, e.g. `clusters[1].nodes`, if it is about one.
    #[cfg(test)]
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::Format { path, .. } | Self::Invalid { path, .. } if !path.is_empty() => {
                Some(path)
            }
            _ => None,
        }
    }

    pub(super) fn in_file(mut self, name: &str) -> Self {
        if let Self::Format { file, .. } | Self::Invalid { file, .. } = &mut self {
            name.clone_into(file);
        }
        self
    }
}

/// Formats `file: path: `, leaving out the empty parts.
struct Location<'a>(&'a str, &'a str);

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in [self.0, self.1] {
            if !part.is_empty() {
                write!(f, "{part}: ")?;
            }
        }
        Ok(())
    }
}

fn quoted(names: &[String]) -> String {
    if names.is_empty() {
        return "no clusters".to_owned();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn invalid(
    path: impl Into<String>,
    problem: impl Into<String>,
    fix: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        file: String::new(),
        path: path.into(),
        problem: problem.into(),
        fix: fix.into(),
    }
}

pub(super) fn format_error(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    let mut message = message.into();
    for (needle, hint) in MIGRATION_HINTS {
        if message.contains(needle) {
            message.push_str(" (");
            message.push_str(hint);
            message.push(')');
        }
    }
    ConfigError::Format {
        file: String::new(),
        path: path.into(),
        message,
    }
}

/// Hints for the field names and values of the original `config/clusters.json`.
const MIGRATION_HINTS: [(&str, &str); 4] = [
    (
        "unknown variant `master`",
        "the role `master` is called `controlPlane`",
    ),
    ("unknown field `memory`", "memory is `memoryMiB`"),
    ("unknown field `disk`", "the disk size is `diskGiB`"),
    (
        "_cidr`",
        "the CIDRs are `network: {podCidr: ..., serviceCidr: ...}`",
    ),
];
