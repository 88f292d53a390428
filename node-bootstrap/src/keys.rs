//! The client's SSH key: an unencrypted ed25519 private key in OpenSSH format, loaded from a
//! file (generated on first use) or from text (a Kubernetes Secret).

use std::fmt;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use russh::keys::ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey};

/// Why the client key could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading, writing or creating something failed.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Group or others may read or write the key.
    #[error(
        "the SSH key `{path}` is accessible by other users (mode {mode:03o}); run `chmod 600 {path}`"
    )]
    InsecurePermissions { path: PathBuf, mode: u32 },
    /// The file is not an OpenSSH private key.
    #[error(
        "`{origin}` is not an OpenSSH private key ({detail}); give tart-infra an ed25519 key made with `ssh-keygen -t ed25519 -N ''`, or remove the file to have one generated"
    )]
    NotOpenSsh { origin: String, detail: String },
    /// The key is not ed25519.
    #[error(
        "`{origin}` is a {algorithm} key; tart-infra uses ed25519 keys only: make one with `ssh-keygen -t ed25519 -N ''`, or remove the file to have one generated"
    )]
    NotEd25519 { origin: String, algorithm: String },
    /// The key has a passphrase, and nobody is there to type it.
    #[error(
        "`{origin}` is protected by a passphrase, which tart-infra cannot type; use a key without one (`ssh-keygen -p -N '' -f <key>` removes it)"
    )]
    Encrypted { origin: String },
    /// Generating or encoding a key failed.
    #[error("cannot generate an ed25519 key for `{path}`: {detail}")]
    Generate { path: PathBuf, detail: String },
}

/// The client's private key, with its public half ready for `authorized_keys`.
///
/// `Debug` shows where the key came from and its fingerprint, never the key.
#[derive(Clone)]
pub struct SshKey {
    origin: String,
    private: Arc<PrivateKey>,
    public_line: String,
    fingerprint: String,
}

impl SshKey {
    /// Parses an unencrypted ed25519 private key in OpenSSH format; `origin` (a path, a
    /// Secret's name) is what errors and logs call it.
    pub fn from_openssh(text: &str, origin: &str) -> Result<Self, KeyError> {
        let private = PrivateKey::from_openssh(text).map_err(|e| KeyError::NotOpenSsh {
            origin: origin.to_owned(),
            detail: e.to_string(),
        })?;
        Self::from_private(private, origin)
    }

    /// The public key line for `authorized_keys`: `ssh-ed25519 <base64> <comment>`.
    pub fn public_key_line(&self) -> &str {
        &self.public_line
    }

    /// The public key's SHA-256 fingerprint, as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Where the key came from (its path, or the name given to [`SshKey::from_openssh`]).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub(crate) fn private_key(&self) -> Arc<PrivateKey> {
        Arc::clone(&self.private)
    }

    fn from_private(private: PrivateKey, origin: &str) -> Result<Self, KeyError> {
        if private.is_encrypted() {
            return Err(KeyError::Encrypted {
                origin: origin.to_owned(),
            });
        }
        if private.algorithm() != Algorithm::Ed25519 {
            return Err(KeyError::NotEd25519 {
                origin: origin.to_owned(),
                algorithm: private.algorithm().to_string(),
            });
        }
        let public = private.public_key();
        let public_line = public
            .to_openssh()
            .map_err(|e| KeyError::NotOpenSsh {
                origin: origin.to_owned(),
                detail: e.to_string(),
            })?
            .trim_end()
            .to_owned();
        Ok(Self {
            origin: origin.to_owned(),
            fingerprint: public.fingerprint(HashAlg::Sha256).to_string(),
            public_line,
            private: Arc::new(private),
        })
    }
}

impl fmt::Debug for SshKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshKey")
            .field("origin", &self.origin)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Loads the key at `path`, or generates one there when the file does not exist: an
/// ed25519 key in OpenSSH format, mode 0600, in a directory created with mode 0700 (an
/// existing directory is left as it is), with the public half beside it in `<path>.pub`.
///
/// A key file that group or others may access is an error, as it is for `ssh`.
pub fn ensure_key(path: &Path) -> Result<SshKey, KeyError> {
    match fs::metadata(path) {
        Ok(_) => load_key(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => generate_key(path),
        Err(source) => Err(io_error("read", path, source)),
    }
}

/// Loads the key at `path` without ever generating one. (A key from a Kubernetes Secret:
/// read it and use [`SshKey::from_openssh`], as a mounted Secret's files are often 0644.)
pub fn load_key(path: &Path) -> Result<SshKey, KeyError> {
    let metadata = fs::metadata(path).map_err(|e| io_error("read", path, e))?;
    check_mode(path, metadata.permissions().mode())?;
    let text = fs::read_to_string(path).map_err(|e| io_error("read", path, e))?;
    SshKey::from_openssh(&text, &path.display().to_string())
}

/// Refuses a key file that group or others can read, write or execute.
pub fn check_mode(path: &Path, mode: u32) -> Result<(), KeyError> {
    if mode & 0o077 == 0 {
        Ok(())
    } else {
        Err(KeyError::InsecurePermissions {
            path: path.to_owned(),
            mode: mode & 0o7777,
        })
    }
}

fn generate_key(path: &Path) -> Result<SshKey, KeyError> {
    let missing_parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty() && !p.exists());
    if let Some(parent) = missing_parent {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| io_error("create the directory", parent, e))?;
    }
    let mut private = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).map_err(|e| {
        KeyError::Generate {
            path: path.to_owned(),
            detail: e.to_string(),
        }
    })?;
    private.set_comment("tart-infra");
    let pem = private
        .to_openssh(LineEnding::LF)
        .map_err(|e| KeyError::Generate {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;

    // Written beside the target and linked into place: the key appears complete or not at
    // all, and a key another process made in the meantime wins (and is loaded below).
    let temporary = sibling(path, &format!(".tmp-{}", std::process::id()));
    let written =
        write_new(&temporary, pem.as_bytes(), 0o600).map_err(|e| io_error("write", &temporary, e));
    let linked = written.and_then(|()| match fs::hard_link(&temporary, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_error("create", path, e)),
    });
    let _ = fs::remove_file(&temporary);
    linked?;

    let key = load_key(path)?;
    let public = sibling(path, ".pub");
    if !public.exists() {
        let line = format!("{}\n", key.public_key_line());
        write_new(&public, line.as_bytes(), 0o644).map_err(|e| io_error("write", &public, e))?;
    }
    Ok(key)
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn write_new(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> KeyError {
    KeyError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_or_other_bits_are_refused_with_the_chmod_fix() {
        let path = Path::new("/home/me/.ssh/tart-infra");
        assert!(check_mode(path, 0o100600).is_ok());
        assert!(check_mode(path, 0o100400).is_ok());
        for mode in [0o100644, 0o100640, 0o100604, 0o100610, 0o100601] {
            let err = check_mode(path, mode).expect_err("insecure");
            assert_eq!(
                err.to_string(),
                format!(
                    "the SSH key `/home/me/.ssh/tart-infra` is accessible by other users (mode {:03o}); run `chmod 600 /home/me/.ssh/tart-infra`",
                    mode & 0o7777
                )
            );
        }
    }

    #[test]
    fn generated_key_is_0600_in_a_0700_directory_and_loads_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state/ssh/id_ed25519");
        let key = ensure_key(&path).expect("generated");
        let mode = |p: &Path| fs::metadata(p).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().expect("parent")), 0o700);
        assert!(key.public_key_line().starts_with("ssh-ed25519 AAAA"));
        assert!(key.fingerprint().starts_with("SHA256:"));
        let public = fs::read_to_string(sibling(&path, ".pub")).expect("public key file");
        assert_eq!(public.trim_end(), key.public_key_line());

        let again = ensure_key(&path).expect("loaded");
        assert_eq!(again.public_key_line(), key.public_key_line());
        assert!(!format!("{again:?}").contains("PRIVATE"));
    }

    #[test]
    fn a_readable_key_file_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("id_ed25519");
        ensure_key(&path).expect("generated");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(
            ensure_key(&path),
            Err(KeyError::InsecurePermissions { mode: 0o644, .. })
        ));
    }

    #[test]
    fn garbage_is_not_a_key() {
        for text in [
            "",
            "not a key",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
        ] {
            assert!(matches!(
                SshKey::from_openssh(text, "secret/ssh"),
                Err(KeyError::NotOpenSsh { .. })
            ));
        }
    }
}
