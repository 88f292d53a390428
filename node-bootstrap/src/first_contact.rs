//! First contact with a new VM, without a password and without trusting a key on first
//! use: the VM backend authorises our key and reads the VM's host keys through a channel
//! that is not SSH (Tart's guest agent), and those keys are pinned before any SSH
//! connection is made.

use vm_api::{VmBackend, VmError};

use crate::keys::SshKey;
use crate::ssh::{KnownHostsError, KnownHostsFile};

/// Why first contact failed.
#[derive(Debug, thiserror::Error)]
pub enum FirstContactError {
    /// The backend could not authorise the key or read the host keys.
    #[error(transparent)]
    Backend(#[from] VmError),
    /// The host keys could not be pinned.
    #[error(transparent)]
    Pin(#[from] KnownHostsError),
}

/// Puts `key`'s public half in `user`'s `authorized_keys` on `vm` through `backend`, and
/// pins the host keys the backend read from the VM. Safe to repeat: the backend's
/// `authorize_ssh` adds the key once, and pinning replaces the VM's pins.
pub async fn first_contact<B: VmBackend>(
    backend: &B,
    known_hosts: &KnownHostsFile,
    vm: &str,
    user: &str,
    key: &SshKey,
) -> Result<(), FirstContactError> {
    let host_keys = backend
        .authorize_ssh(vm, user, key.public_key_line())
        .await?;
    known_hosts.pin(vm, &host_keys)?;
    tracing::info!(vm, user, host_keys = host_keys.len(), "host keys pinned");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::sync::Mutex;
    use std::time::Duration;
    use vm_api::{Capacity, HostKey, Vm, VmSpec};

    /// A backend whose only working call is `authorize_ssh`.
    struct GuestAgentOnly {
        host_keys: Vec<HostKey>,
        authorized: Mutex<Vec<(String, String, String)>>,
    }

    fn unsupported() -> VmError {
        VmError::Protocol {
            detail: "not used by this test".into(),
        }
    }

    impl VmBackend for GuestAgentOnly {
        async fn list(&self) -> Result<Vec<Vm>, VmError> {
            Err(unsupported())
        }
        async fn get(&self, _: &str) -> Result<Option<Vm>, VmError> {
            Err(unsupported())
        }
        async fn create(&self, _: &VmSpec) -> Result<Vm, VmError> {
            Err(unsupported())
        }
        async fn start(&self, _: &str) -> Result<(), VmError> {
            Err(unsupported())
        }
        async fn ip(&self, _: &str, _: Duration) -> Result<Ipv4Addr, VmError> {
            Err(unsupported())
        }
        async fn stop(&self, _: &str, _: Duration) -> Result<(), VmError> {
            Err(unsupported())
        }
        async fn delete(&self, _: &str) -> Result<(), VmError> {
            Err(unsupported())
        }
        async fn authorize_ssh(
            &self,
            name: &str,
            user: &str,
            public_key: &str,
        ) -> Result<Vec<HostKey>, VmError> {
            if name != "dev-master" {
                return Err(VmError::NotFound { vm: name.into() });
            }
            if let Ok(mut calls) = self.authorized.lock() {
                calls.push((name.into(), user.into(), public_key.into()));
            }
            Ok(self.host_keys.clone())
        }
        async fn capacity(&self) -> Result<Capacity, VmError> {
            Err(unsupported())
        }
    }

    #[tokio::test]
    async fn authorises_our_key_and_pins_what_the_guest_agent_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = crate::keys::ensure_key(&dir.path().join("id_ed25519")).expect("key");
        let known_hosts = KnownHostsFile::new(dir.path().join("known_hosts"));
        let backend = GuestAgentOnly {
            host_keys: vec![HostKey {
                algorithm: "ssh-ed25519".into(),
                key: "AAAAC3NzaC1lZDI1NTE5AAAAIFSNFr2Wh1g+EtEGXfjKeyaujk0qM6Vuya6MkC3JcSEC".into(),
            }],
            authorized: Mutex::new(Vec::new()),
        };
        first_contact(&backend, &known_hosts, "dev-master", "admin", &key)
            .await
            .expect("first contact");
        let calls = backend.authorized.lock().expect("lock").clone();
        assert_eq!(
            calls,
            vec![(
                "dev-master".to_owned(),
                "admin".to_owned(),
                key.public_key_line().to_owned()
            )]
        );
        let pins = known_hosts.load().expect("loads");
        assert_eq!(pins.pins("dev-master").count(), 1);

        let missing = first_contact(&backend, &known_hosts, "dev-worker9", "admin", &key).await;
        assert!(matches!(
            missing,
            Err(FirstContactError::Backend(VmError::NotFound { .. }))
        ));
        assert_eq!(
            known_hosts
                .load()
                .expect("loads")
                .pins("dev-worker9")
                .count(),
            0
        );
    }
}
