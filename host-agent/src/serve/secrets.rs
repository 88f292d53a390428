//! The agent's secrets in its state directory, made on first start and reused after: the
//! bearer token (`token`, 32 random bytes as URL-safe base64) and the self-signed TLS
//! certificate (`serve-cert.pem`) with its key (`serve-key.pem`). Secret files are created
//! with mode 0600 (and set back to it if someone widened them); their contents are never
//! logged.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use base64::Engine as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use subtle::ConstantTimeEq as _;
use vm_api::Fingerprint;

use super::Error;

/// The token file's name in the state directory.
pub const TOKEN_FILE: &str = "token";
/// The certificate's file name.
pub const CERT_FILE: &str = "serve-cert.pem";
const KEY_FILE: &str = "serve-key.pem";

/// The bearer token every API call must carry.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// Whether `presented` is the token, in time that does not depend on where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(presented.as_bytes()))
    }

    /// A token made of `text`, for tests of the routes.
    #[cfg(test)]
    pub fn for_tests(text: &str) -> Self {
        Self(text.to_owned())
    }

    /// The token, for the caller that hands it on (the Secret `up` writes).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The certificate the agent serves, with its key.
pub struct Identity {
    pub cert: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
    pub fingerprint: Fingerprint,
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::StateFile {
        path: path.to_owned(),
        source,
    }
}

/// Writes a new file that only its owner can read; fails if it exists.
fn create_private(path: &Path, content: &[u8]) -> Result<(), Error> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io(path, e))?;
    file.write_all(content).map_err(|e| io(path, e))
}

/// Reads a secret file, narrowing its mode to 0600 if it was wider.
fn read_private(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let mode = std::fs::metadata(path)
                .map_err(|e| io(path, e))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "a secret file was readable by others; set back to 0600");
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| io(path, e))?;
            }
            Ok(Some(text))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path, e)),
    }
}

/// The token in `dir`, made on first use.
pub fn token(dir: &Path) -> Result<Token, Error> {
    let path = dir.join(TOKEN_FILE);
    if let Some(text) = read_private(&path)? {
        let token = text.trim().to_owned();
        if token.len() >= 32 && token.bytes().all(|b| b.is_ascii_graphic()) {
            return Ok(Token(token));
        }
        return Err(Error::BadStateFile {
            path,
            what: "is not a token; delete it and restart `tart-infra serve` to make a new one (clients then need the new token)",
        });
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| io(&path, std::io::Error::other(e.to_string())))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    create_private(&path, token.as_bytes())?;
    Ok(Token(token))
}

/// The certificate and key in `dir`, made on first use (valid for `localhost`, 127.0.0.1
/// and `host.tart-infra.internal`; clients pin its fingerprint, so names matter little).
pub fn identity(dir: &Path) -> Result<Identity, Error> {
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    let (cert_pem, key_pem) = match (
        read_private(&key_path)?,
        std::fs::read_to_string(&cert_path),
    ) {
        (Some(key), Ok(cert)) => (cert, key),
        (None, Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            let names = ["localhost", "127.0.0.1", "host.tart-infra.internal"].map(str::to_owned);
            let made = rcgen::generate_simple_self_signed(names.to_vec())
                .map_err(|e| Error::Certificate(e.to_string()))?;
            let (cert, key) = (made.cert.pem(), made.signing_key.serialize_pem());
            create_private(&key_path, key.as_bytes())?;
            std::fs::write(&cert_path, &cert).map_err(|e| io(&cert_path, e))?;
            (cert, key)
        }
        _ => {
            return Err(Error::BadStateFile {
                path: cert_path,
                what: "or its key serve-key.pem is missing or unreadable; delete both and restart to make a new certificate (clients then need the new fingerprint)",
            });
        }
    };
    parse_identity(&cert_pem, &key_pem).ok_or(Error::BadStateFile {
        path: cert_path,
        what: "or serve-key.pem does not parse; delete both and restart to make a new certificate (clients then need the new fingerprint)",
    })
}

fn parse_identity(cert_pem: &str, key_pem: &str) -> Option<Identity> {
    let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes()).ok()?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).ok()?;
    Some(Identity {
        fingerprint: Fingerprint::of_der(&cert),
        cert,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("meta").permissions().mode() & 0o777
    }

    #[test]
    fn the_token_is_made_once_private_and_compared_whole() {
        let dir = tempfile::tempdir().expect("dir");
        let token = token(dir.path()).expect("made");
        assert_eq!(mode(&dir.path().join(TOKEN_FILE)), 0o600);
        assert_eq!(token.expose().len(), 43);
        let again = super::token(dir.path()).expect("reused");
        assert_eq!(again.expose(), token.expose());
        assert!(token.matches(again.expose()));
        assert!(!token.matches(""));
        assert!(!token.matches(&token.expose()[..42]));
        assert!(!format!("{token:?}").contains(token.expose()));
        std::fs::set_permissions(
            dir.path().join(TOKEN_FILE),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
        super::token(dir.path()).expect("narrowed");
        assert_eq!(mode(&dir.path().join(TOKEN_FILE)), 0o600);
        std::fs::write(dir.path().join(TOKEN_FILE), "short").expect("write");
        assert!(super::token(dir.path()).is_err());
    }

    #[test]
    fn the_certificate_is_made_once_and_its_fingerprint_stays() {
        let dir = tempfile::tempdir().expect("dir");
        let first = identity(dir.path()).expect("made");
        assert_eq!(mode(&dir.path().join(KEY_FILE)), 0o600);
        let again = identity(dir.path()).expect("reused");
        assert_eq!(first.fingerprint, again.fingerprint);
        std::fs::remove_file(dir.path().join(KEY_FILE)).expect("rm");
        let err = identity(dir.path()).err().expect("half").to_string();
        assert!(err.contains("delete both"), "{err}");
    }
}
