//! The operator's API over HTTPS in the lab: a CA of the lab's own (fresh on every `lab up`,
//! in `<state dir>/operator-tls/ca.crt`) signs the operator's certificate for 127.0.0.1 and
//! localhost; `curl --cacert`, the lab's own client and tests trust that CA.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use local_control_plane::ServingFiles;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::Error;

/// Writes the CA and the operator's certificate (also for `addr`'s IP) under `state_dir`.
pub fn write_certificate(state_dir: &Path, addr: SocketAddr) -> Result<ServingFiles, Error> {
    let ip = addr.ip().to_string();
    let extra: Vec<String> = (ip != "127.0.0.1").then_some(ip).into_iter().collect();
    Ok(local_control_plane::write_serving(
        &state_dir.join("operator-tls"),
        "tart-infra-lab-ca",
        "tart-operator",
        &extra,
    )?)
}

/// An HTTP client that trusts only the CA in `ca_file` (ring, as the rest of the workspace).
pub fn client(ca_file: &Path) -> Result<reqwest::Client, Error> {
    let bad = |reason: String| Error::LabCa {
        path: ca_file.to_owned(),
        reason,
    };
    let pem = std::fs::read(ca_file).map_err(|e| bad(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots
            .add(cert.map_err(|e| bad(e.to_string()))?)
            .map_err(|e| bad(e.to_string()))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| bad(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .build()
        .map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_names_loopback_and_a_given_address() {
        let dir = tempfile::tempdir().expect("dir");
        let files =
            write_certificate(dir.path(), "127.0.0.5:3000".parse().expect("addr")).expect("write");
        assert!(files.ca_cert.starts_with(dir.path().join("operator-tls")));
        assert!(client(&files.ca_cert).is_ok());
        let err = client(&dir.path().join("missing.crt")).expect_err("no CA");
        assert!(err.to_string().contains("missing.crt"), "{err}");
    }
}
