//! `serve.json` in the state directory: where the running agent listens and how to trust
//! it, so `tart-infra up` (and tests) find it. The token is not in it: it stays in the
//! `token` file (mode 0600) beside it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vm_api::{AgentClient, Fingerprint, VmError};

/// The record's file name.
pub const FILE: &str = "serve.json";

/// A running `tart-infra serve`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServeRecord {
    /// The URL to call from this Mac (`https://127.0.0.1:PORT` when it listens on every
    /// address).
    pub url: String,
    /// The address it listens on.
    pub listen: String,
    /// The SHA-256 fingerprint of its certificate, for pinning.
    pub fingerprint: Fingerprint,
    /// Its process id.
    pub pid: u32,
    /// The file that holds its bearer token.
    pub token_file: PathBuf,
    /// The file that holds its certificate.
    pub cert_file: PathBuf,
}

impl ServeRecord {
    /// Reads the record in `dir`; `None` when there is none or it does not parse.
    pub fn load(dir: &Path) -> Option<Self> {
        let text = std::fs::read(dir.join(FILE)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Writes the record atomically (a reader never sees half of it).
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let path = dir.join(FILE);
        let tmp = dir.join(format!("{FILE}.tmp"));
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::from)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)
    }

    /// A client of this agent, with the token read from its file (how `tart-infra up`
    /// talks to a running agent).
    pub fn client(&self) -> Result<AgentClient, VmError> {
        let token = std::fs::read_to_string(&self.token_file).map_err(|e| VmError::Invalid {
            field: "tokenFile".to_owned(),
            message: format!(
                "{}: {e}; run as the user who runs `tart-infra serve`",
                self.token_file.display()
            ),
        })?;
        AgentClient::new(&self.url, token.trim(), self.fingerprint)
    }

    /// Removes the record if it is this process's.
    pub fn remove_own(dir: &Path) {
        if Self::load(dir).is_some_and(|r| r.pid == std::process::id()) {
            let _ = std::fs::remove_file(dir.join(FILE));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_round_trips_and_only_its_owner_removes_it() {
        let dir = tempfile::tempdir().expect("dir");
        let record = ServeRecord {
            url: "https://127.0.0.1:7443".into(),
            listen: "0.0.0.0:7443".into(),
            fingerprint: Fingerprint::of_der(b"c"),
            pid: std::process::id() + 1,
            token_file: dir.path().join("token"),
            cert_file: dir.path().join("serve-cert.pem"),
        };
        record.save(dir.path()).expect("save");
        assert_eq!(ServeRecord::load(dir.path()), Some(record.clone()));
        assert!(
            matches!(record.client(), Err(VmError::Invalid { field, .. }) if field == "tokenFile")
        );
        std::fs::write(&record.token_file, "a-token\n").expect("token");
        let client = record.client().expect("client");
        assert_eq!(client.endpoint(), "https://127.0.0.1:7443");
        ServeRecord::remove_own(dir.path());
        assert!(
            ServeRecord::load(dir.path()).is_some(),
            "another pid's record stays"
        );
        ServeRecord {
            pid: std::process::id(),
            ..record
        }
        .save(dir.path())
        .expect("save");
        ServeRecord::remove_own(dir.path());
        assert_eq!(ServeRecord::load(dir.path()), None);
    }
}
