//! What the Tart backend keeps per VM in its state directory: the `tart run` log
//! (`vms/<name>.log`, appended to by every start) and the networking the VM was created
//! with (`vms/<name>.networking.json`; Tart does not store it, and `start` needs it).

use std::path::{Path, PathBuf};

use vm_api::{Networking, VmError};

/// The per-VM files under one state directory.
#[derive(Clone, Debug)]
pub struct VmFiles {
    dir: PathBuf,
}

fn io_error(path: &Path, e: &std::io::Error) -> VmError {
    VmError::Protocol {
        detail: format!("{}: {e}", path.display()),
    }
}

impl VmFiles {
    /// Files under `state_dir/vms`.
    pub fn new(state_dir: &Path) -> Self {
        Self {
            dir: state_dir.join("vms"),
        }
    }

    /// The directory, created when missing.
    pub fn ensure_dir(&self) -> Result<&Path, VmError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io_error(&self.dir, &e))?;
        Ok(&self.dir)
    }

    /// The VM's `tart run` log.
    pub fn log(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    fn networking_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.networking.json"))
    }

    /// Remembers how the VM is networked.
    pub fn save_networking(&self, name: &str, networking: &Networking) -> Result<(), VmError> {
        self.ensure_dir()?;
        let path = self.networking_path(name);
        let text = serde_json::to_vec(networking).map_err(|e| VmError::Protocol {
            detail: e.to_string(),
        })?;
        std::fs::write(&path, text).map_err(|e| io_error(&path, &e))
    }

    /// How the VM is networked; softnet for a VM this backend did not create.
    pub fn networking(&self, name: &str) -> Networking {
        std::fs::read(self.networking_path(name))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Forgets a deleted VM (its log stays, for a post-mortem).
    pub fn forget(&self, name: &str) {
        let _ = std::fs::remove_file(self.networking_path(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networking_round_trips_and_defaults_to_softnet() {
        let dir = tempfile::tempdir().expect("dir");
        let files = VmFiles::new(dir.path());
        assert_eq!(files.networking("a"), Networking::Softnet);
        let bridged = Networking::Bridged {
            interface: "en0".into(),
        };
        files.save_networking("a", &bridged).expect("save");
        assert_eq!(files.networking("a"), bridged);
        files.forget("a");
        assert_eq!(files.networking("a"), Networking::Softnet);
        assert!(files.log("a").ends_with("vms/a.log"));
    }
}
