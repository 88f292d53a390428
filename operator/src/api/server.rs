//! The API's HTTP server: accepts connections (at most `max_connections` at once), speaks TLS
//! when given a certificate (HTTP/2 or HTTP/1.1 by ALPN) or plain HTTP/1.1, closes
//! connections that are slow to send their headers or idle, and wraps the router in
//! [`super::limits`] and [`super::headers`].

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt as _;

use super::limits::Limits;
use super::tls::{self, TlsError, TlsFiles};
use super::{headers, limits};

/// How the API is served.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transport {
    /// TLS certificate and key; none: plain HTTP (behind a TLS-terminating Ingress).
    pub tls: Option<TlsFiles>,
    /// Timeouts and caps.
    pub limits: Limits,
}

/// How long a stopping server waits for its open connections (event streams included).
const DRAIN: Duration = Duration::from_secs(10);

/// Answer to a plain-HTTP connection that found no free slot in time.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 56\r\n\r\ntoo many connections (--max-connections); retry shortly\n";

/// A bound listener and how to serve it.
pub struct Server {
    listener: TcpListener,
    tls: Option<(tokio_rustls::TlsAcceptor, Arc<tls::ReloadingCert>, TlsFiles)>,
    limits: Limits,
}

struct Shared {
    app: Router,
    h1: auto::Builder<TokioExecutor>,
    h2: auto::Builder<TokioExecutor>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    limits: Limits,
    slots: Arc<Semaphore>,
    epoch: Instant,
}

impl Server {
    /// Loads the certificate (if any): a pair that does not load stops start-up here.
    pub fn new(listener: TcpListener, transport: &Transport) -> Result<Self, TlsError> {
        let tls = match &transport.tls {
            Some(files) => {
                let (config, resolver) = tls::load(files)?;
                Some((config.into(), resolver, files.clone()))
            }
            None => {
                tracing::warn!(
                    "serving the API over plain HTTP: tokens cross the network in clear text unless a TLS-terminating Ingress or proxy is in front; give --tls-cert-file and --tls-key-file to serve HTTPS"
                );
                None
            }
        };
        Ok(Self {
            listener,
            tls,
            limits: transport.limits.clone(),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves `app` until `shutdown` resolves, then lets open connections finish (at most
    /// [`DRAIN`]).
    pub async fn serve(self, app: Router, shutdown: impl Future<Output = ()>) {
        let Self {
            listener,
            tls,
            limits,
        } = self;
        let app = headers::apply(limits::apply(app, &limits), tls.is_some());
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        builder.http2().timer(TokioTimer::new());
        let (acceptor, _reload) = match tls {
            Some((acceptor, resolver, files)) => (
                Some(acceptor),
                Some(AbortOnDrop(tokio::spawn(tls::watch(files, resolver)))),
            ),
            None => (None, None),
        };
        let shared = Arc::new(Shared {
            app,
            h1: builder.clone().http1_only(),
            h2: builder.http2_only(),
            acceptor,
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            limits,
            epoch: Instant::now(),
        });
        // Connections beyond the cap wait for a slot; at most as many as the cap.
        let waiting = Arc::new(Semaphore::new(shared.limits.max_connections));
        let (stop_tx, stop) = watch::channel(false);
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors, or a connection reset before accept.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let slot = match shared.slots.clone().try_acquire_owned() {
                Ok(slot) => Ok(slot),
                Err(_) => match waiting.clone().try_acquire_owned() {
                    Ok(wait) => Err(wait),
                    Err(_) => continue, // dropped: closed at once
                },
            };
            tokio::spawn(connection(shared.clone(), stream, peer, slot, stop.clone()));
        }
        drop(listener);
        let _ = stop_tx.send(true);
        let all = u32::try_from(shared.limits.max_connections).unwrap_or(u32::MAX);
        if tokio::time::timeout(DRAIN, shared.slots.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!(
                "connections still open {} s after shutdown; closing them",
                DRAIN.as_secs()
            );
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One connection: its slot (or a short wait for one), the TLS handshake, then HTTP until
/// the client leaves, the connection idles out or the server stops.
async fn connection(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    peer: SocketAddr,
    slot: Result<OwnedSemaphorePermit, OwnedSemaphorePermit>,
    mut stop: watch::Receiver<bool>,
) {
    let _slot = match slot {
        Ok(slot) => slot,
        Err(_waiting) => {
            match tokio::time::timeout(
                shared.limits.connection_wait,
                shared.slots.clone().acquire_owned(),
            )
            .await
            {
                Ok(Ok(slot)) => slot,
                _ => {
                    tracing::debug!(%peer, "no free connection slot; closing");
                    if shared.acceptor.is_none() {
                        let _ =
                            tokio::time::timeout(Duration::from_secs(1), busy(&mut stream)).await;
                    }
                    return;
                }
            }
        }
    };
    let last = activity_since(shared.epoch);
    let io = Activity {
        inner: stream,
        last: last.clone(),
        epoch: shared.epoch,
    };
    let idle = idle_for(last, shared.epoch, shared.limits.idle_timeout);
    match &shared.acceptor {
        Some(acceptor) => {
            let handshake =
                tokio::time::timeout(shared.limits.header_read_timeout, acceptor.accept(io)).await;
            let tls = match handshake {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake not done within the header read timeout");
                    return;
                }
            };
            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
            http(&shared, tls, h2, peer, idle, &mut stop).await;
        }
        None => http(&shared, io, false, peer, idle, &mut stop).await,
    }
}

async fn http<I>(
    shared: &Shared,
    io: I,
    h2: bool,
    peer: SocketAddr,
    idle: impl Future<Output = ()>,
    stop: &mut watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let app =
        shared
            .app
            .clone()
            .map_request(move |mut req: http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
    let builder = if h2 { &shared.h2 } else { &shared.h1 };
    let conn = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
    tokio::pin!(conn, idle);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            return;
        }
        () = idle.as_mut() => {
            tracing::debug!(%peer, "closing an idle connection");
            return;
        }
        _ = stop.wait_for(|s| *s) => conn.as_mut().graceful_shutdown(),
    }
    tokio::select! {
        _ = conn => {}
        () = idle => {}
    }
}

/// Answers 503 and reads what the client sent until it closes (closing with unread data
/// would reset the connection and lose the answer).
async fn busy(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.write_all(BUSY).await?;
    stream.shutdown().await?;
    let mut sink = [0u8; 4096];
    while stream.read(&mut sink).await? > 0 {}
    Ok(())
}

/// Milliseconds from `epoch` to now.
fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A connection's last activity (milliseconds from `epoch`), starting now: one accepted long
/// after the server started has not been idle since the start.
fn activity_since(epoch: Instant) -> Arc<AtomicU64> {
    Arc::new(AtomicU64::new(millis_since(epoch)))
}

/// Resolves once nothing was read or written for `limit`.
async fn idle_for(last: Arc<AtomicU64>, epoch: Instant, limit: Duration) {
    loop {
        let since = epoch
            .elapsed()
            .saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
        if since >= limit {
            return;
        }
        tokio::time::sleep(limit - since).await;
    }
}

/// A stream that notes when it last moved bytes.
struct Activity {
    inner: TcpStream,
    last: Arc<AtomicU64>,
    epoch: Instant,
}

impl Activity {
    fn touch(&self) {
        self.last.store(millis_since(self.epoch), Ordering::Relaxed);
    }
}

impl AsyncRead for Activity {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl AsyncWrite for Activity {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connection_accepted_long_after_start_up_is_not_idle() {
        // The server has run for 10 minutes; the idle timeout is 2.
        let epoch = Instant::now() - Duration::from_secs(600);
        let limit = Duration::from_secs(120);
        let idle = tokio::time::timeout(
            Duration::from_millis(100),
            idle_for(activity_since(epoch), epoch, limit),
        )
        .await;
        assert!(idle.is_err(), "a new connection was taken as idle");
        // One whose last activity is older than the limit is idle at once.
        let old = Arc::new(AtomicU64::new(millis_since(epoch) - 121_000));
        let idle =
            tokio::time::timeout(Duration::from_millis(100), idle_for(old, epoch, limit)).await;
        assert!(idle.is_ok(), "an idle connection was kept");
    }
}
