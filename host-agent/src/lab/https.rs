//! The operator's API over HTTPS in the lab: a CA of the lab's own (fresh on every `lab up`,
//! in `<state dir>/operator-tls/ca.crt`) signs the operator's certificate for 127.0.0.1 and
//! localhost; `curl --cacert`, the lab's own [`Client`] and tests trust that CA.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{Method, Request, header};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use local_control_plane::ServingFiles;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::Error;

/// Where `lab up` writes the operator's certificate and its CA.
fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("operator-tls")
}

/// The CA `lab up` wrote in `state_dir`.
pub fn ca_file(state_dir: &Path) -> PathBuf {
    dir(state_dir).join("ca.crt")
}

/// Writes the CA and the operator's certificate (also for `addr`'s IP) under `state_dir`.
pub fn write_certificate(state_dir: &Path, addr: SocketAddr) -> Result<ServingFiles, Error> {
    let ip = addr.ip().to_string();
    let extra: Vec<String> = (ip != "127.0.0.1").then_some(ip).into_iter().collect();
    Ok(local_control_plane::write_serving(
        &dir(state_dir),
        "tart-infra-lab-ca",
        "tart-operator",
        &extra,
    )?)
}

/// An HTTPS client of the operator's API that trusts only the lab's CA (ring, as the rest of
/// the workspace).
#[derive(Clone, Debug)]
pub struct Client {
    http: hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Client {
    /// Trusting the CA certificates in `ca_file`.
    pub fn trusting(ca_file: &Path) -> Result<Self, Error> {
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
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .wrap_connector(tcp);
        Ok(Self {
            http: hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(https),
        })
    }

    /// `method url` with a bearer `token` and a JSON `body`, answered within `timeout`:
    /// the status and the body, or why there is none.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<(u16, Vec<u8>), String> {
        let mut request = Request::builder()
            .method(method)
            .uri(url)
            .header(header::ACCEPT, "application/json");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("{url}: {e}"))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| format!("{url}: {e:?}"))?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("{url}: reading the answer: {e}"))?
                .to_bytes();
            Ok((status, body.to_vec()))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| format!("{url}: no answer within {} s", timeout.as_secs()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_is_in_the_state_dir_and_a_missing_ca_is_named() {
        let dir = tempfile::tempdir().expect("dir");
        let files =
            write_certificate(dir.path(), "127.0.0.5:3000".parse().expect("addr")).expect("write");
        assert_eq!(files.ca_cert, ca_file(dir.path()));
        assert!(Client::trusting(&files.ca_cert).is_ok());
        let err = Client::trusting(&dir.path().join("missing.crt")).expect_err("no CA");
        assert!(err.to_string().contains("missing.crt"), "{err}");
    }
}
