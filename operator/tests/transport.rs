//! The API server's transport on real sockets: TLS with a generated CA and its reload,
//! security headers, header-read and request timeouts, the connection cap, and (with a real
//! API server behind the operator) the cap on event streams per token and the rate limit on
//! failed authentication per client IP.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use axum::Router;
use axum::routing::get;
use operator::api::limits::Limits;
use operator::api::server::{Server, Transport};
use operator::api::tls::TlsFiles;
use rustls::pki_types::{CertificateDer, ServerName};
use support::*;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A CA and the server certificates it signs, for 127.0.0.1 and localhost.
struct Ca(rcgen::CertifiedIssuer<'static, rcgen::KeyPair>);

impl Ca {
    fn new() -> Result<Self> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "transport test CA");
        Ok(Self(rcgen::CertifiedIssuer::self_signed(
            params,
            rcgen::KeyPair::generate()?,
        )?))
    }

    /// Writes a server certificate with `serial` and its key to `files`; returns its DER.
    fn issue(&self, files: &TlsFiles, serial: u64) -> Result<Vec<u8>> {
        let key = rcgen::KeyPair::generate()?;
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
        params.serial_number = Some(serial.into());
        let cert = params.signed_by(&key, &self.0)?;
        std::fs::write(&files.cert, cert.pem())?;
        std::fs::write(&files.key, key.serialize_pem())?;
        Ok(cert.der().to_vec())
    }

    fn client(&self) -> Result<tokio_rustls::TlsConnector> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.0.der().clone())?;
        Ok(connector(roots))
    }
}

/// A client that trusts `roots`, with a full handshake every time (a resumed session would
/// not show the server's current certificate).
fn connector(roots: rustls::RootCertStore) -> tokio_rustls::TlsConnector {
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

fn tls_files(dir: &Path) -> TlsFiles {
    TlsFiles {
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
        reload_every: Duration::from_millis(100),
    }
}

/// Routes for the transport: `/` answers at once, `/slow` in 30 s, `/stream` sends a chunk
/// every 200 ms for as long as the client reads.
fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route(
            "/stream",
            get(|| async {
                let ticks = futures::stream::unfold((), |()| async {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Some((Ok::<_, std::convert::Infallible>("tick\n"), ()))
                });
                axum::body::Body::from_stream(ticks)
            }),
        )
}

/// The server on a free loopback port until the returned sender is dropped.
async fn serve(transport: Transport) -> Result<(SocketAddr, tokio::sync::oneshot::Sender<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let server = Server::new(listener, &transport)?;
    let addr = server.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(app(), async {
        let _ = stopped.await;
    }));
    Ok((addr, stop))
}

/// A response: status, lower-case headers, body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` over `io` (HTTP/1.1, connection: close), read to the end.
async fn get_over(mut io: impl AsyncRead + AsyncWrite + Unpin, path: &str) -> Result<Answer> {
    io.write_all(
        format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut raw = Vec::new();
    io.read_to_end(&mut raw).await?;
    parse(&raw)
}

fn parse(raw: &[u8]) -> Result<Answer> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context(format!("no HTTP answer: {text:?}"))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .context(format!("no status line: {head:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Answer {
        status,
        headers,
        body: body.to_owned(),
    })
}

async fn tls_connect(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    connector
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
}

fn served_cert(tls: &tokio_rustls::client::TlsStream<TcpStream>) -> Option<Vec<u8>> {
    tls.get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c: &CertificateDer<'_>| c.to_vec())
}

#[tokio::test]
async fn https_works_with_the_generated_ca_and_not_without_it() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new()?;
    let files = tls_files(dir.path());
    ca.issue(&files, 1)?;
    let (addr, _stop) = serve(Transport {
        tls: Some(files),
        limits: Limits::default(),
    })
    .await?;

    let tls = tls_connect(&ca.client()?, addr)
        .await
        .context("handshake with the CA")?;
    let answer = get_over(tls, "/").await?;
    assert_eq!((answer.status, answer.body.as_str()), (200, "ok"));
    assert_eq!(
        answer.header("strict-transport-security"),
        Some("max-age=31536000")
    );

    let stranger = connector(rustls::RootCertStore::empty());
    let err = tls_connect(&stranger, addr)
        .await
        .expect_err("no trusted CA");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    let other_ca = Ca::new()?.client()?;
    assert!(tls_connect(&other_ca, addr).await.is_err(), "another CA");
    Ok(())
}

#[tokio::test]
async fn a_replaced_certificate_reaches_new_connections_and_a_bad_one_is_ignored() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = Ca::new()?;
    let files = tls_files(dir.path());
    let first = ca.issue(&files, 1)?;
    let (addr, _stop) = serve(Transport {
        tls: Some(files.clone()),
        limits: Limits::default(),
    })
    .await?;
    let client = ca.client()?;
    let held = tls_connect(&client, addr).await?;
    assert_eq!(served_cert(&held), Some(first.clone()));

    let second = ca.issue(&files, 2)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let tls = tls_connect(&client, addr).await?;
        if served_cert(&tls) == Some(second.clone()) {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "a new connection still gets the first certificate"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The connection made before the change still works.
    let answer = get_over(held, "/").await?;
    assert_eq!(answer.status, 200);

    // A key that does not belong to the certificate: the previous pair stays.
    let stray = rcgen::KeyPair::generate()?;
    std::fs::write(&files.key, stray.serialize_pem())?;
    tokio::time::sleep(Duration::from_secs(1)).await; // ten reload periods
    let tls = tls_connect(&client, addr).await?;
    assert_eq!(served_cert(&tls), Some(second));
    assert_eq!(get_over(tls, "/").await?.status, 200);
    Ok(())
}

#[tokio::test]
async fn responses_carry_the_security_headers() -> Result<()> {
    let (addr, _stop) = serve(Transport::default()).await?;
    let answer = get_over(TcpStream::connect(addr).await?, "/").await?;
    assert_eq!(answer.status, 200);
    let csp = answer.header("content-security-policy").context("no CSP")?;
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(answer.header("x-frame-options"), Some("DENY"));
    assert_eq!(answer.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(
        answer.header("strict-transport-security"),
        None,
        "HSTS over plain HTTP"
    );
    Ok(())
}

/// Reads until the server closes the connection (or `within` passes: an error).
async fn closed_within(conn: &mut TcpStream, within: Duration) -> Result<Vec<u8>> {
    let mut got = Vec::new();
    tokio::time::timeout(within, async {
        let mut buf = [0u8; 1024];
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .context("the server kept the connection open")?;
    Ok(got)
}

#[tokio::test]
async fn slow_headers_and_silent_connections_are_closed_after_the_header_timeout() -> Result<()> {
    let (addr, _stop) = serve(Transport {
        tls: None,
        limits: Limits {
            header_read_timeout: Duration::from_secs(1),
            ..Limits::default()
        },
    })
    .await?;
    // Slowloris: a header byte every 100 ms, for much longer than the timeout.
    let mut slow = TcpStream::connect(addr).await?;
    let sender = async {
        for b in b"GET / HTTP/1.1\r\nhost: localhost\r\nx-padding: "
            .iter()
            .chain([b'a'; 200].iter())
        {
            if slow.write_all(&[*b]).await.is_err() {
                return true; // closed by the server
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    let closed = tokio::time::timeout(Duration::from_secs(15), sender).await;
    match closed {
        Ok(true) => {}
        Ok(false) => bail!("the server read headers byte by byte for 24 s"),
        Err(_) => bail!("the server kept a slow client past 15 s"),
    }
    // A connection that sends nothing.
    let mut silent = TcpStream::connect(addr).await?;
    closed_within(&mut silent, Duration::from_secs(10)).await?;
    // A normal client is unaffected.
    assert_eq!(
        get_over(TcpStream::connect(addr).await?, "/").await?.status,
        200
    );
    Ok(())
}

#[tokio::test]
async fn a_slow_request_times_out_but_a_stream_stays_open() -> Result<()> {
    let (addr, _stop) = serve(Transport {
        tls: None,
        limits: Limits {
            request_timeout: Duration::from_secs(1),
            ..Limits::default()
        },
    })
    .await?;
    let answer = tokio::time::timeout(
        Duration::from_secs(15),
        get_over(TcpStream::connect(addr).await?, "/slow"),
    )
    .await
    .context("no answer to /slow")??;
    assert_eq!(answer.status, 503);
    assert!(
        answer.body.contains("--request-timeout-seconds"),
        "{}",
        answer.body
    );

    // A streaming body (as /api/v1/events) goes on past the request timeout.
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /stream HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await?;
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while started.elapsed() < Duration::from_secs(3) {
        let n = stream.read(&mut buf).await?;
        ensure!(n > 0, "the stream was closed after {:?}", started.elapsed());
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.matches("tick").count() >= 5, "{text}");
    Ok(())
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_then_get_503() -> Result<()> {
    let (addr, _stop) = serve(Transport {
        tls: None,
        limits: Limits {
            max_connections: 2,
            connection_wait: Duration::from_secs(1),
            header_read_timeout: Duration::from_secs(60),
            ..Limits::default()
        },
    })
    .await?;
    // Two keep-alive connections that have been served, holding both slots.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(addr).await?;
        c.write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n")
            .await?;
        let mut buf = [0u8; 1024];
        let n = c.read(&mut buf).await?;
        ensure!(
            buf[..n].starts_with(b"HTTP/1.1 200"),
            "{:?}",
            String::from_utf8_lossy(&buf[..n])
        );
        held.push(c);
    }
    let answer = tokio::time::timeout(
        Duration::from_secs(15),
        get_over(TcpStream::connect(addr).await?, "/"),
    )
    .await
    .context("a third connection got no answer")??;
    assert_eq!(answer.status, 503);
    assert!(answer.body.contains("--max-connections"), "{}", answer.body);

    // A slot freed while a connection waits is given to it.
    let mut waiting = TcpStream::connect(addr).await?;
    waiting
        .write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(held.pop());
    let got = closed_within(&mut waiting, Duration::from_secs(15)).await?;
    assert_eq!(parse(&got)?.status, 200);
    Ok(())
}

// With the operator and a real API server.

/// Waits until the operator on `port` is ready (its caches synced).
async fn ready(port: u16) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    let url = format!("http://127.0.0.1:{port}/readyz");
    loop {
        if let Ok(r) = reqwest::get(&url).await
            && r.status() == 200
        {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "the operator on {port} never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_are_capped_per_token() -> Result<()> {
    let platform = platform().await?;
    let port = free_port()?;
    let mut config = Operator::config(fast_settings(), port, Default::default())?;
    config.transport.limits.event_streams_per_client = 2;
    let operator = Operator::run(platform.client().await?, config).await?;
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api/v1/events");
    let token = api_admin_token(&platform.client().await?).await?;
    ready(port).await?;
    let open = || http.get(&url).bearer_auth(&token).send();
    let first = open().await?;
    assert_eq!(first.status(), 200);
    let second = open().await?;
    assert_eq!(second.status(), 200);
    let third = open().await?;
    assert_eq!(third.status(), 429);
    let body = third.text().await?;
    assert!(body.contains("event streams open"), "{body}");

    // Closing one frees its slot.
    drop(first);
    let deadline = Instant::now() + WAIT;
    loop {
        let again = open().await?;
        if again.status() == 200 {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "a closed stream's slot was never freed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(second);
    operator.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentication_is_rate_limited_per_client_ip() -> Result<()> {
    let platform = platform().await?;
    let port = free_port()?;
    let mut config = Operator::config(fast_settings(), port, Default::default())?;
    config.transport.limits.auth_failure_burst = 5;
    config.transport.limits.auth_failures_per_minute = 1;
    let operator = Operator::run(platform.client().await?, config).await?;
    let good = Http::new(port);
    let token = api_admin_token(&platform.client().await?).await?;
    ready(port).await?;

    // The attacker comes from 127.0.0.2 (loopback, a different client IP).
    let attacker = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse()?))
        .build()?;
    let url = format!("http://127.0.0.1:{port}/api/v1/clusters");
    for i in 0..5 {
        let r = attacker
            .get(&url)
            .bearer_auth(format!("bad-token-{i}"))
            .send()
            .await?;
        assert_eq!(r.status(), 401, "attempt {i}");
    }
    let r = attacker.get(&url).bearer_auth("bad-token-6").send().await?;
    assert_eq!(r.status(), 429);
    let retry_after: u64 = r
        .headers()
        .get("retry-after")
        .context("no Retry-After")?
        .to_str()?
        .parse()?;
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Blocked: even a good token from that IP waits.
    let r = attacker.get(&url).bearer_auth(&token).send().await?;
    assert_eq!(r.status(), 429);

    // Another client is not affected.
    let (status, _) = good.get("/api/v1/clusters", Some(&token)).await?;
    assert_eq!(status, 200);
    operator.stop().await
}

/// Behind an Ingress (a trusted proxy, here 127.0.0.1) each client has its own budget, by
/// the address the proxy forwards; a client that is not a trusted proxy cannot escape its
/// budget by forging X-Forwarded-For.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_forwarded_client_has_the_budget() -> Result<()> {
    let platform = platform().await?;
    let port = free_port()?;
    let mut config = Operator::config(fast_settings(), port, Default::default())?;
    config.transport.limits.auth_failure_burst = 2;
    config.transport.limits.auth_failures_per_minute = 1;
    config.transport.limits.trusted_proxies = vec!["127.0.0.1/32".parse()?];
    let operator = Operator::run(platform.client().await?, config).await?;
    ready(port).await?;
    let url = format!("http://127.0.0.1:{port}/api/v1/clusters");
    let from = |local: &str| {
        reqwest::Client::builder()
            .local_address(Some(local.parse().expect("ip")))
            .build()
    };
    let (ingress, direct) = (from("127.0.0.1")?, from("127.0.0.3")?);
    let status = |client: &reqwest::Client, forwarded: &str| {
        client
            .get(&url)
            .bearer_auth("bad-token")
            .header("x-forwarded-for", forwarded)
            .send()
    };
    // Client 203.0.113.1 through the Ingress spends its own budget...
    for _ in 0..2 {
        assert_eq!(status(&ingress, "203.0.113.1").await?.status(), 401);
    }
    assert_eq!(status(&ingress, "203.0.113.1").await?.status(), 429);
    // ...even when it prepends another address, and 203.0.113.2 still has all of its own.
    assert_eq!(
        status(&ingress, "198.51.100.1, 203.0.113.1")
            .await?
            .status(),
        429
    );
    assert_eq!(status(&ingress, "203.0.113.2").await?.status(), 401);
    // A direct client forging the header is counted by its own address.
    for i in 0..2 {
        let forged = format!("192.0.2.{i}");
        assert_eq!(status(&direct, &forged).await?.status(), 401);
    }
    assert_eq!(status(&direct, "192.0.2.9").await?.status(), 429);
    operator.stop().await
}
