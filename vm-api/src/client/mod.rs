//! [`AgentClient`]: the [`VmBackend`] over the host agent's HTTPS API (`tart-infra serve`),
//! for the operator and for `tart-infra up` when the agent runs. It trusts only the
//! agent's pinned certificate ([`pin`]), sends the bearer token on every call, and turns
//! every answer back into the typed [`VmError`] the server sent.

mod pin;

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::wire::{AuthorizeSsh, HostKeys, IpAnswer, VmStatsAnswer};
use crate::{Capacity, Fingerprint, HostKey, Vm, VmBackend, VmError, VmSpec, validate};

/// How long a call may take beyond what it waits for on purpose (an IP, a stop).
const SLACK: Duration = Duration::from_secs(60);
/// Creating may pull an image first.
const CREATE_TIMEOUT: Duration = Duration::from_secs(3600);
/// Starting waits for the VM to run; deleting may stop it first.
const LONG_TIMEOUT: Duration = Duration::from_secs(180);

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The client of one host agent. Cloning is cheap (one connection pool).
///
/// Built on hyper with rustls (ring), not reqwest: reqwest's rustls features either build
/// aws-lc or, without a provider, panic in every `reqwest::Client::new()` of the workspace
/// once the feature is unified in.
#[derive(Clone)]
pub struct AgentClient {
    endpoint: String,
    token: String,
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl fmt::Debug for AgentClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentClient")
            .field("endpoint", &self.endpoint)
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl AgentClient {
    /// A client of the agent at `endpoint` (`https://host:port`, as `serve.json` gives it),
    /// sending `token`, and trusting only the certificate whose SHA-256 fingerprint is `pin`.
    pub fn new(endpoint: &str, token: &str, pin: Fingerprint) -> Result<Self, VmError> {
        let endpoint = endpoint.trim_end_matches('/');
        let invalid = |field: &str, message: &str| VmError::Invalid {
            field: field.to_owned(),
            message: message.to_owned(),
        };
        if !endpoint.starts_with("https://") || endpoint.len() <= "https://".len() {
            return Err(invalid(
                "endpoint",
                "is not an https:// URL; give the url of the agent's serve.json, e.g. https://192.168.64.1:7443",
            ));
        }
        if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                "token",
                "is empty or not one word; give the content of the agent's token file",
            ));
        }
        let tls = pin::client_config(pin).map_err(|e| VmError::Protocol {
            detail: format!("building the TLS configuration: {e}"),
        })?;
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .wrap_connector(tcp);
        let http = Client::builder(TokioExecutor::new()).build(https);
        Ok(Self {
            endpoint: endpoint.to_owned(),
            token: token.to_owned(),
            http,
        })
    }

    /// Like [`AgentClient::new`], trusting the first certificate of a PEM text (the agent's
    /// `serve-cert.pem`) instead of a fingerprint.
    pub fn with_certificate_pem(endpoint: &str, token: &str, pem: &str) -> Result<Self, VmError> {
        let pin = pin::fingerprint_of_pem(pem).ok_or_else(|| VmError::Invalid {
            field: "certificate".to_owned(),
            message: "has no PEM certificate; give the agent's serve-cert.pem".to_owned(),
        })?;
        Self::new(endpoint, token, pin)
    }

    /// The agent's base URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Every running VM's figures as the agent last collected them (`GET /v1/stats`).
    pub async fn stats(&self) -> Result<Vec<VmStatsAnswer>, VmError> {
        self.call::<_, ()>(Method::GET, "/v1/stats", None, SLACK)
            .await
    }

    /// One VM's figures (`GET /v1/vms/{name}/stats`); [`VmError::NotFound`] when the VM
    /// does not exist.
    pub async fn vm_stats(&self, name: &str) -> Result<VmStatsAnswer, VmError> {
        let path = format!("{}/stats", vm_path(name)?);
        self.call::<_, ()>(Method::GET, &path, None, SLACK).await
    }

    /// Sends one call; the answer's status and body, or why there is none.
    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        timeout: Duration,
    ) -> Result<(StatusCode, Vec<u8>), VmError> {
        let unreachable = |detail: String| VmError::Unreachable {
            endpoint: self.endpoint.clone(),
            detail,
        };
        let body = match body {
            Some(body) => serde_json::to_vec(body).map_err(|e| VmError::Protocol {
                detail: format!("encoding the request: {e}"),
            })?,
            None => Vec::new(),
        };
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.endpoint))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| VmError::Protocol {
                detail: format!("building the request for {path}: {e}"),
            })?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| unreachable(chain(&e)))?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| unreachable(chain(&e)))?
                .to_bytes();
            Ok((status, bytes.to_vec()))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(unreachable(format!(
                    "no answer to {path} within {} s",
                    timeout.as_secs()
                )))
            })
    }

    /// A call whose answer is `T`; a failure is the server's typed error.
    async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        timeout: Duration,
    ) -> Result<T, VmError> {
        let (status, bytes) = self.send(method, path, body, timeout).await?;
        self.check(status, &bytes)?;
        serde_json::from_slice(&bytes).map_err(|e| VmError::Protocol {
            detail: format!("{path}: the answer is not what the API documents: {e}"),
        })
    }

    /// A call that answers nothing (204).
    async fn call_empty(
        &self,
        method: Method,
        path: &str,
        timeout: Duration,
    ) -> Result<(), VmError> {
        let (status, bytes) = self.send::<()>(method, path, None, timeout).await?;
        self.check(status, &bytes)
    }

    fn check(&self, status: StatusCode, body: &[u8]) -> Result<(), VmError> {
        answer_error(&self.endpoint, status, body).map_or(Ok(()), Err)
    }
}

/// The error an answer carries, if it is one.
fn answer_error(endpoint: &str, status: StatusCode, body: &[u8]) -> Option<VmError> {
    if status.is_success() {
        return None;
    }
    if status == StatusCode::UNAUTHORIZED {
        return Some(VmError::Unauthorized {
            endpoint: endpoint.to_owned(),
        });
    }
    Some(serde_json::from_slice::<VmError>(body).unwrap_or_else(|_| {
        let text = String::from_utf8_lossy(body);
        let tail: String = text.chars().take(300).collect();
        VmError::Protocol {
            detail: format!("HTTP {status}: {tail}"),
        }
    }))
}

/// An error and its causes, on one line (hyper's own message hides the TLS reason).
fn chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

fn vm_path(name: &str) -> Result<String, VmError> {
    validate::vm_name(name)?;
    Ok(format!("/v1/vms/{name}"))
}

impl VmBackend for AgentClient {
    async fn list(&self) -> Result<Vec<Vm>, VmError> {
        self.call::<_, ()>(Method::GET, "/v1/vms", None, SLACK)
            .await
    }

    async fn get(&self, name: &str) -> Result<Option<Vm>, VmError> {
        match self
            .call::<_, ()>(Method::GET, &vm_path(name)?, None, SLACK)
            .await
        {
            Ok(vm) => Ok(Some(vm)),
            Err(VmError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create(&self, spec: &VmSpec) -> Result<Vm, VmError> {
        validate::vm_spec(spec)?;
        let path = vm_path(&spec.name)?;
        self.call(Method::PUT, &path, Some(spec), CREATE_TIMEOUT)
            .await
    }

    async fn start(&self, name: &str) -> Result<(), VmError> {
        let path = format!("{}/start", vm_path(name)?);
        self.call_empty(Method::POST, &path, LONG_TIMEOUT).await
    }

    async fn ip(&self, name: &str, wait: Duration) -> Result<Ipv4Addr, VmError> {
        let path = format!("{}/ip?wait={}", vm_path(name)?, wait.as_secs());
        let answer: IpAnswer = self
            .call::<_, ()>(Method::GET, &path, None, wait + SLACK)
            .await?;
        Ok(answer.ip)
    }

    async fn stop(&self, name: &str, timeout: Duration) -> Result<(), VmError> {
        let path = format!("{}/stop?timeout={}", vm_path(name)?, timeout.as_secs());
        self.call_empty(Method::POST, &path, timeout + SLACK).await
    }

    async fn delete(&self, name: &str) -> Result<(), VmError> {
        let path = vm_path(name)?;
        self.call_empty(Method::DELETE, &path, LONG_TIMEOUT).await
    }

    async fn authorize_ssh(
        &self,
        name: &str,
        user: &str,
        public_key: &str,
    ) -> Result<Vec<HostKey>, VmError> {
        validate::ssh_user(user)?;
        validate::public_key(public_key)?;
        let path = format!("{}/authorize-ssh", vm_path(name)?);
        let body = AuthorizeSsh {
            user: user.to_owned(),
            public_key: public_key.to_owned(),
        };
        let answer: HostKeys = self.call(Method::POST, &path, Some(&body), SLACK).await?;
        Ok(answer.host_keys)
    }

    async fn capacity(&self) -> Result<Capacity, VmError> {
        self.call::<_, ()>(Method::GET, "/v1/capacity", None, SLACK)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin() -> Fingerprint {
        Fingerprint::of_der(b"cert")
    }

    #[test]
    fn an_answer_becomes_the_typed_error_the_server_sent() {
        let e = "https://h:1";
        assert_eq!(answer_error(e, StatusCode::OK, b""), None);
        assert_eq!(answer_error(e, StatusCode::NO_CONTENT, b""), None);
        assert_eq!(
            answer_error(e, StatusCode::UNAUTHORIZED, b"{}"),
            Some(VmError::Unauthorized {
                endpoint: e.to_owned()
            })
        );
        let body = br#"{"reason":"noIp","vm":"a","waitedSecs":5,"message":"VM `a` has no IP"}"#;
        assert_eq!(
            answer_error(e, StatusCode::GATEWAY_TIMEOUT, body),
            Some(VmError::NoIp {
                vm: "a".into(),
                waited_secs: 5
            })
        );
        let Some(VmError::Protocol { detail }) =
            answer_error(e, StatusCode::BAD_GATEWAY, b"<html>proxy</html>")
        else {
            panic!("not a protocol error");
        };
        assert!(
            detail.contains("502") && detail.contains("proxy"),
            "{detail}"
        );
    }

    #[test]
    fn the_constructor_checks_its_inputs_and_hides_the_token() {
        let client = AgentClient::new("https://127.0.0.1:7443/", "s3cret", pin()).expect("ok");
        assert_eq!(client.endpoint(), "https://127.0.0.1:7443");
        assert!(!format!("{client:?}").contains("s3cret"));
        for (endpoint, token, field) in [
            ("http://127.0.0.1:7443", "t", "endpoint"),
            ("https://", "t", "endpoint"),
            ("https://h:1", "", "token"),
            ("https://h:1", "a b", "token"),
        ] {
            match AgentClient::new(endpoint, token, pin()) {
                Err(VmError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{endpoint} {token}: {other:?}"),
            }
        }
        assert!(matches!(
            AgentClient::with_certificate_pem("https://h:1", "t", "not pem"),
            Err(VmError::Invalid { field, .. }) if field == "certificate"
        ));
    }

    #[tokio::test]
    async fn a_bad_name_is_refused_before_any_request() {
        let client = AgentClient::new("https://127.0.0.1:9", "t", pin()).expect("ok");
        assert!(matches!(
            client.start("../capacity").await,
            Err(VmError::Invalid { field, .. }) if field == "name"
        ));
        assert!(matches!(
            client.vm_stats("../stats").await,
            Err(VmError::Invalid { field, .. }) if field == "name"
        ));
    }

    #[tokio::test]
    async fn nothing_listening_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let client =
            AgentClient::new(&format!("https://127.0.0.1:{port}"), "t", pin()).expect("ok");
        match client.list().await {
            Err(VmError::Unreachable { endpoint, .. }) => {
                assert!(endpoint.contains(&port.to_string()))
            }
            other => panic!("{other:?}"),
        }
    }
}
