//! TLS for the API: a certificate and key from PEM files (a Secret mounted as files, e.g.
//! by cert-manager), re-read when their content changes. New connections get the new pair;
//! a pair that does not load keeps the previous one and logs why.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

/// Where the certificate (chain) and its key are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, the server's certificate first (`tls.crt`).
    pub cert: PathBuf,
    /// PEM private key: PKCS#8, PKCS#1 or SEC1 (`tls.key`).
    pub key: PathBuf,
    /// How often the files are checked for a change.
    pub reload_every: Duration,
}

/// Why a certificate and key do not load.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file is not what it should hold.
    #[error("{}: {what}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and the fix.
        what: String,
    },
}

/// The certificate served to new connections; [`watch`] replaces it.
#[derive(Debug)]
pub struct ReloadingCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current().clone())
    }
}

impl ReloadingCert {
    fn current(&self) -> Arc<CertifiedKey> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, key: CertifiedKey) {
        let key = Arc::new(key);
        match self.current.write() {
            Ok(mut c) => *c = key,
            Err(poisoned) => *poisoned.into_inner() = key,
        }
    }
}

/// Loads the pair once (an error here stops start-up) and returns the acceptor's
/// configuration and the resolver [`watch`] keeps current.
pub fn load(files: &TlsFiles) -> Result<(Arc<rustls::ServerConfig>, Arc<ReloadingCert>), TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = read_pair(files, &provider)?;
    let resolver = Arc::new(ReloadingCert {
        current: RwLock::new(Arc::new(key)),
    });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Invalid {
            path: files.cert.clone(),
            what: format!("no TLS version available: {e}"),
        })?
        .with_no_client_auth()
        .with_cert_resolver(resolver.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(config), resolver))
}

/// Checks the files every `files.reload_every` until dropped: a changed pair that loads is
/// served to new connections; one that does not is logged and the previous pair kept.
pub async fn watch(files: TlsFiles, resolver: Arc<ReloadingCert>) {
    let provider = rustls::crypto::ring::default_provider();
    let mut seen = fingerprint(&files).ok();
    let mut every = tokio::time::interval(files.reload_every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let now = fingerprint(&files).ok();
        if now.is_none() || now == seen {
            // Unreadable for a moment (a Secret volume swapping its files) or unchanged.
            continue;
        }
        seen = now;
        match read_pair(&files, &provider) {
            Ok(key) => {
                resolver.replace(key);
                tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded; new connections use it");
            }
            Err(e) => tracing::error!(
                error = %e,
                "the new TLS certificate or key does not load; still serving the previous one"
            ),
        }
    }
}

/// The SHA-256 of both files' content, to notice a change whatever their mtime.
fn fingerprint(files: &TlsFiles) -> Result<[u8; 32], TlsError> {
    let mut hash = Sha256::new();
    hash.update(read(&files.cert)?);
    hash.update(read(&files.key)?);
    Ok(hash.finalize().into())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The pair, checked: certificates parse, the key parses and belongs to the first one.
fn read_pair(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let invalid = |path: &Path, what: String| TlsError::Invalid {
        path: path.to_owned(),
        what,
    };
    let certs = CertificateDer::pem_slice_iter(&read(&files.cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&files.cert, format!("not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(invalid(
            &files.cert,
            "no CERTIFICATE block; give the PEM certificate (tls.crt)".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&read(&files.key)?).map_err(|e| {
        invalid(
            &files.key,
            format!("no PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"),
        )
    })?;
    let signer = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| invalid(&files.key, format!("unusable private key: {e}")))?;
    let pair = CertifiedKey::new(certs, signer);
    pair.keys_match().map_err(|e| {
        invalid(
            &files.key,
            format!(
                "does not match the certificate in {}: {e}",
                files.cert.display()
            ),
        )
    })?;
    Ok(pair)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path, name: &str) -> TlsFiles {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let files = TlsFiles {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
            reload_every: Duration::from_secs(1),
        };
        std::fs::write(&files.cert, cert.pem()).expect("write");
        std::fs::write(&files.key, key.serialize_pem()).expect("write");
        files
    }

    #[test]
    fn bad_files_name_the_file_and_the_fix() {
        let dir = tempfile::tempdir().expect("dir");
        let good = pair(dir.path(), "a");
        let other = pair(dir.path(), "b");
        let provider = rustls::crypto::ring::default_provider();
        let garbage = dir.path().join("garbage");
        std::fs::write(&garbage, "not pem").expect("write");
        let cases = [
            (
                TlsFiles {
                    cert: dir.path().join("missing.crt"),
                    ..good.clone()
                },
                "missing.crt",
                "cannot read",
            ),
            (
                TlsFiles {
                    cert: garbage.clone(),
                    ..good.clone()
                },
                "garbage",
                "no CERTIFICATE block",
            ),
            (
                TlsFiles {
                    key: garbage.clone(),
                    ..good.clone()
                },
                "garbage",
                "no PEM private key",
            ),
            (
                TlsFiles {
                    key: other.key.clone(),
                    ..good.clone()
                },
                "b.key",
                "does not match the certificate",
            ),
        ];
        for (files, file, why) in cases {
            let err = read_pair(&files, &provider).expect_err(why).to_string();
            assert!(err.contains(file) && err.contains(why), "{err}");
        }
        assert!(read_pair(&good, &provider).is_ok());
    }
}
