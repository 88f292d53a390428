//! Certificates and keys for one control plane: a cluster CA and the API server's serving
//! certificate (127.0.0.1 and localhost), a front-proxy CA and client certificate (for
//! aggregated APIs such as metrics-server), and the service-account signing key.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

use crate::{Error, write_private};

/// The files written by [`write`].
#[derive(Clone, Debug)]
pub struct PkiFiles {
    /// Cluster CA certificate (PEM); clients trust it.
    pub ca_cert: PathBuf,
    /// The CA certificate's PEM text.
    pub ca_pem: String,
    /// API server serving certificate and key.
    pub apiserver_cert: PathBuf,
    /// API server serving key.
    pub apiserver_key: PathBuf,
    /// Front-proxy CA (the API server's request-header CA).
    pub front_proxy_ca: PathBuf,
    /// Front-proxy client certificate the API server presents to aggregated APIs.
    pub front_proxy_cert: PathBuf,
    /// Front-proxy client key.
    pub front_proxy_key: PathBuf,
    /// Service-account signing key (ECDSA P-256, PKCS#8 PEM).
    pub sa_key: PathBuf,
    /// Its public key (SPKI PEM), which verifies service-account tokens.
    pub sa_pub: PathBuf,
}

impl PkiFiles {
    /// The files' places in `dir`.
    pub(crate) fn in_dir(dir: &Path, ca_pem: String) -> Self {
        Self {
            ca_cert: dir.join("ca.crt"),
            ca_pem,
            apiserver_cert: dir.join("apiserver.crt"),
            apiserver_key: dir.join("apiserver.key"),
            front_proxy_ca: dir.join("front-proxy-ca.crt"),
            front_proxy_cert: dir.join("front-proxy-client.crt"),
            front_proxy_key: dir.join("front-proxy-client.key"),
            sa_key: dir.join("sa.key"),
            sa_pub: dir.join("sa.pub"),
        }
    }

    fn paths(&self) -> [&Path; 8] {
        [
            &self.ca_cert,
            &self.apiserver_cert,
            &self.apiserver_key,
            &self.front_proxy_ca,
            &self.front_proxy_cert,
            &self.front_proxy_key,
            &self.sa_key,
            &self.sa_pub,
        ]
    }
}

fn ca(name: &str) -> Result<CertifiedIssuer<'static, KeyPair>, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate()?)
}

fn leaf(
    cn: &str,
    sans: Vec<SanType>,
    usage: ExtendedKeyUsagePurpose,
    issuer: &CertifiedIssuer<'static, KeyPair>,
) -> Result<(String, String), rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, cn);
    params.subject_alt_names = sans;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A subject alternative name: an IP address when `name` parses as one, else a DNS name.
fn san(name: &str) -> Result<SanType, rcgen::Error> {
    match name.parse::<std::net::IpAddr>() {
        Ok(ip) => Ok(SanType::IpAddress(ip)),
        Err(_) => name.try_into().map(SanType::DnsName),
    }
}

/// Generates fresh keys and certificates into `dir`; the API server's certificate is for
/// loopback, `localhost`, the in-cluster `kubernetes` names and `extra_sans`.
pub fn write(dir: &Path, extra_sans: &[String]) -> Result<PkiFiles, Error> {
    let cluster_ca = ca("tart-infra-test-ca")?;
    let mut sans = Vec::new();
    for name in [
        "127.0.0.1",
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
    ]
    .into_iter()
    .chain(extra_sans.iter().map(String::as_str))
    {
        sans.push(san(name)?);
    }
    let (apiserver_cert, apiserver_key) = leaf(
        "kube-apiserver",
        sans,
        ExtendedKeyUsagePurpose::ServerAuth,
        &cluster_ca,
    )?;
    let proxy_ca = ca("tart-infra-test-front-proxy-ca")?;
    let (proxy_cert, proxy_key) = leaf(
        "front-proxy-client",
        vec![],
        ExtendedKeyUsagePurpose::ClientAuth,
        &proxy_ca,
    )?;
    let sa = KeyPair::generate()?;

    let files = PkiFiles::in_dir(dir, cluster_ca.pem());
    write_private(&files.ca_cert, &files.ca_pem)?;
    write_private(&files.apiserver_cert, &apiserver_cert)?;
    write_private(&files.apiserver_key, &apiserver_key)?;
    write_private(&files.front_proxy_ca, &proxy_ca.pem())?;
    write_private(&files.front_proxy_cert, &proxy_cert)?;
    write_private(&files.front_proxy_key, &proxy_key)?;
    write_private(&files.sa_key, &sa.serialize_pem())?;
    write_private(&files.sa_pub, &sa.public_key_pem())?;
    Ok(files)
}

/// A serving certificate for loopback and `localhost` and the CA that signs it.
#[derive(Clone, Debug)]
pub struct ServingFiles {
    /// The CA certificate (PEM) clients trust.
    pub ca_cert: PathBuf,
    /// The serving certificate (PEM).
    pub cert: PathBuf,
    /// Its key (PEM).
    pub key: PathBuf,
}

/// Generates a fresh CA named `ca_name` and a serving certificate `cn` for 127.0.0.1,
/// `localhost` and `extra_sans` into `dir` (created): `ca.crt`, `tls.crt`, `tls.key`.
pub fn write_serving(
    dir: &Path,
    ca_name: &str,
    cn: &str,
    extra_sans: &[String],
) -> Result<ServingFiles, Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        context: format!("creating {}", dir.display()),
        source,
    })?;
    let issuer = ca(ca_name)?;
    let mut sans = vec![san("127.0.0.1")?, san("localhost")?];
    for name in extra_sans {
        sans.push(san(name)?);
    }
    let (cert, key) = leaf(cn, sans, ExtendedKeyUsagePurpose::ServerAuth, &issuer)?;
    let files = ServingFiles {
        ca_cert: dir.join("ca.crt"),
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
    };
    write_private(&files.ca_cert, &issuer.pem())?;
    write_private(&files.cert, &cert)?;
    write_private(&files.key, &key)?;
    Ok(files)
}

/// Reuses the files in `dir` when they are all there (a reused state directory), else
/// generates fresh ones (with `extra_sans`, see [`write`]).
pub fn load_or_write(dir: &Path, extra_sans: &[String]) -> Result<PkiFiles, Error> {
    let files = PkiFiles::in_dir(dir, String::new());
    if !files.paths().iter().all(|f| f.is_file()) {
        return write(dir, extra_sans);
    }
    let ca_pem = std::fs::read_to_string(&files.ca_cert).map_err(|source| Error::Io {
        context: format!("reading {}", files.ca_cert.display()),
        source,
    })?;
    Ok(PkiFiles { ca_pem, ..files })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_directory_is_reused_and_an_incomplete_one_regenerated() {
        let dir = tempfile::tempdir().expect("dir");
        let first = write(dir.path(), &[]).expect("write");
        let reused = load_or_write(dir.path(), &[]).expect("reuse");
        assert_eq!(reused.ca_pem, first.ca_pem, "the same CA");
        std::fs::remove_file(&first.sa_pub).expect("remove");
        let fresh = load_or_write(dir.path(), &[]).expect("regenerate");
        assert_ne!(fresh.ca_pem, first.ca_pem, "a new CA");
        assert!(fresh.paths().iter().all(|f| f.is_file()));
    }

    #[test]
    fn extra_names_and_addresses_are_in_the_serving_certificate() {
        let dir = tempfile::tempdir().expect("dir");
        let files = write(
            dir.path(),
            &[
                "api.dev.tart-infra.internal".to_owned(),
                "127.0.0.9".to_owned(),
            ],
        )
        .expect("write");
        let pem = std::fs::read_to_string(&files.apiserver_cert).expect("read");
        let der = rustls_pki_der(&pem);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("parse");
        let san = cert
            .subject_alternative_name()
            .expect("ext")
            .expect("san")
            .value
            .general_names
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",");
        assert!(san.contains("api.dev.tart-infra.internal"), "{san}");
        assert!(san.contains("7f:00:00:09"), "{san}");
        assert!(san.contains("localhost"), "{san}");
    }

    fn rustls_pki_der(pem: &str) -> Vec<u8> {
        use base64::Engine as _;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("base64")
    }
}
