//! Abuse resistance around the router: a request timeout, a cap on concurrent event streams
//! per client, and a rate limit on failed authentication per client IP (the peer's address,
//! or behind a trusted proxy the address it forwards). The connection-level limits (header
//! read timeout, idle timeout, connection cap) are in [`super::server`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use ipnet::IpNet;
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// The server's limits (flags in [`crate::cli`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A client must send a request's headers (and a new connection's TLS handshake) within this.
    pub header_read_timeout: Duration,
    /// A request must be answered within this (the event stream's body is not limited).
    pub request_timeout: Duration,
    /// A connection with no traffic either way for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// How long a connection beyond the cap waits for a free slot before it is closed.
    pub connection_wait: Duration,
    /// Concurrent `/api/v1/events` streams per token (per client IP without one).
    pub event_streams_per_client: usize,
    /// Failed authentications (401) a client IP may make at once before it gets 429; 0: no limit.
    pub auth_failure_burst: u32,
    /// How many more failed authentications a client IP earns per minute.
    pub auth_failures_per_minute: u32,
    /// Proxies (an Ingress controller's pods) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(120),
            max_connections: 1024,
            connection_wait: Duration::from_secs(2),
            event_streams_per_client: 8,
            auth_failure_burst: 20,
            auth_failures_per_minute: 10,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The event stream's path, whose body may stay open.
const EVENTS: &str = "/api/v1/events";

/// Client IPs tracked by the failed-authentication limit at most; beyond, IPs whose budget
/// is whole again are forgotten first, and new ones are not tracked until there is room.
const MAX_TRACKED_IPS: usize = 100_000;

/// Wraps `router` in the limits (outermost first): the client's address, failed
/// authentication, event streams, request timeout.
pub fn apply(router: Router, limits: &Limits) -> Router {
    let trusted = Arc::new(limits.trusted_proxies.clone());
    let timeout = limits.request_timeout;
    let streams = Arc::new(Streams::new(limits.event_streams_per_client));
    let failures = Arc::new(FailedAuth::new(
        limits.auth_failure_burst,
        limits.auth_failures_per_minute,
    ));
    router
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            request_timeout(timeout, req, next)
        }))
        .layer(middleware::from_fn_with_state(streams, event_streams))
        .layer(middleware::from_fn_with_state(failures, failed_auth))
        .layer(middleware::from_fn_with_state(trusted, client_addr))
}

/// The client's address as the limits count it (see [`client_of`]).
#[derive(Clone, Copy, Debug)]
struct ClientAddr(IpAddr);

async fn client_addr(
    State(trusted): State<Arc<Vec<IpNet>>>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let forwarded: Vec<&str> = req
            .headers()
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let client = client_of(peer.ip(), &forwarded, &trusted);
        req.extensions_mut().insert(ClientAddr(client));
    }
    next.run(req).await
}

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The client behind `peer`: `peer` itself unless it is a trusted proxy, else the last
/// address of `X-Forwarded-For` (each proxy appends the one it saw) that is not a trusted
/// proxy too. Addresses before that one are the client's own say and never believed; a
/// malformed entry ends the walk at the proxy that added it.
fn client_of(peer: IpAddr, forwarded: &[&str], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer;
    if !is_trusted(&client) {
        return client;
    }
    let hops = forwarded.iter().flat_map(|h| h.split(',')).map(str::trim);
    for hop in hops.rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

async fn request_timeout(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::unavailable(format!(
            "the request did not complete within {} s (--request-timeout-seconds); try again",
            limit.as_secs()
        ))
        .into_response(),
    }
}

fn client_ip(req: &Request) -> Option<IpAddr> {
    req.extensions().get::<ClientAddr>().map(|c| c.0)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Open event streams by client: the SHA-256 of the Authorization header, or of the client
/// IP without one.
struct Streams {
    max: usize,
    open: Mutex<HashMap<[u8; 32], usize>>,
}

/// One open stream, counted until dropped.
struct StreamSlot {
    streams: Arc<Streams>,
    key: [u8; 32],
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.streams.open);
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

impl Streams {
    fn new(max: usize) -> Self {
        Self {
            max,
            open: Mutex::default(),
        }
    }

    fn take(self: &Arc<Self>, key: [u8; 32]) -> Option<StreamSlot> {
        let mut open = lock(&self.open);
        let n = open.entry(key).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            streams: self.clone(),
            key,
        })
    }
}

fn stream_key(req: &Request) -> [u8; 32] {
    let mut hash = Sha256::new();
    match req.headers().get(header::AUTHORIZATION) {
        Some(auth) => hash.update(auth.as_bytes()),
        None => hash.update(format!("ip {:?}", client_ip(req)).as_bytes()),
    }
    hash.finalize().into()
}

async fn event_streams(State(streams): State<Arc<Streams>>, req: Request, next: Next) -> Response {
    if req.uri().path() != EVENTS {
        return next.run(req).await;
    }
    let Some(slot) = streams.take(stream_key(&req)) else {
        return ApiError::too_many_requests(format!(
            "this token already has {} event streams open (--max-event-streams-per-client); close one (another tab?) and retry",
            streams.max
        ))
        .into_response();
    };
    let response = next.run(req).await;
    if !response.status().is_success() {
        return response;
    }
    // The slot is held as long as the stream's body is.
    response.map(|body| {
        Body::from_stream(body.into_data_stream().map(move |chunk| {
            let _held = &slot;
            chunk
        }))
    })
}

/// A token bucket per client IP, spent by failed authentications.
struct FailedAuth {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl FailedAuth {
    fn new(burst: u32, per_minute: u32) -> Self {
        Self {
            burst: f64::from(burst),
            per_second: f64::from(per_minute) / 60.0,
            buckets: Mutex::default(),
        }
    }

    fn refilled(&self, b: Bucket, now: Instant) -> Bucket {
        let earned = now.saturating_duration_since(b.at).as_secs_f64() * self.per_second;
        Bucket {
            tokens: (b.tokens + earned).min(self.burst),
            at: now,
        }
    }

    /// Takes one failure of `ip`'s budget in advance, for a request about to be checked, or
    /// says how long `ip` must wait when none is left. Taking it before the answer (and
    /// giving it back unless the answer is 401, see [`Self::refund`]) keeps concurrent
    /// attempts from overshooting the budget.
    fn reserve(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.burst == 0.0 {
            return Ok(());
        }
        let mut buckets = lock(&self.buckets);
        if buckets.len() >= MAX_TRACKED_IPS && !buckets.contains_key(&ip) {
            buckets.retain(|_, b| self.refilled(*b, now).tokens < self.burst);
            if buckets.len() >= MAX_TRACKED_IPS {
                // Too many addresses with spent budgets: a new one goes untracked rather than
                // refused, so filling the table cannot lock every other client out.
                return Ok(());
            }
        }
        let b = buckets.get(&ip).copied().unwrap_or(Bucket {
            tokens: self.burst,
            at: now,
        });
        let mut b = self.refilled(b, now);
        if b.tokens < 1.0 {
            buckets.insert(ip, b);
            if self.per_second == 0.0 {
                return Err(Duration::from_secs(3600));
            }
            return Err(Duration::from_secs_f64((1.0 - b.tokens) / self.per_second));
        }
        b.tokens -= 1.0;
        buckets.insert(ip, b);
        Ok(())
    }

    /// Gives back the failure [`Self::reserve`] took: the answer was not a 401.
    fn refund(&self, ip: IpAddr, now: Instant) {
        if self.burst == 0.0 {
            return;
        }
        let mut buckets = lock(&self.buckets);
        if let Some(b) = buckets.get(&ip).copied() {
            let mut b = self.refilled(b, now);
            b.tokens = (b.tokens + 1.0).min(self.burst);
            buckets.insert(ip, b);
        }
    }
}

async fn failed_auth(State(limit): State<Arc<FailedAuth>>, req: Request, next: Next) -> Response {
    let Some(ip) = client_ip(&req) else {
        return next.run(req).await;
    };
    if let Err(wait) = limit.reserve(ip, Instant::now()) {
        let seconds = wait.as_secs().max(1);
        let mut response = ApiError::too_many_requests(format!(
            "too many failed authentications from {ip}; retry after {seconds} s with a valid token (kubectl create token)"
        ))
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return response;
    }
    let response = next.run(req).await;
    if response.status() != StatusCode::UNAUTHORIZED {
        limit.refund(ip, Instant::now());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_behind_a_trusted_proxy_is_the_last_untrusted_forwarded_address() {
        let ip = |s: &str| -> IpAddr { s.parse().expect("ip") };
        let net = |s: &str| -> IpNet { s.parse().expect("net") };
        let ingress = [net("10.42.0.0/16")];
        let proxy = ip("10.42.1.7");
        // No trusted proxies: the peer, whatever it forwards.
        assert_eq!(client_of(proxy, &["203.0.113.9"], &[]), proxy);
        // An untrusted peer cannot choose its address.
        assert_eq!(
            client_of(ip("198.51.100.1"), &["203.0.113.9"], &ingress),
            ip("198.51.100.1")
        );
        // Behind the Ingress: the address it saw, not what the client prepended.
        assert_eq!(
            client_of(proxy, &["1.1.1.1, 203.0.113.9"], &ingress),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_of(proxy, &["1.1.1.1", "203.0.113.9"], &ingress),
            ip("203.0.113.9")
        );
        // Two trusted hops (a load balancer then the Ingress).
        assert_eq!(
            client_of(proxy, &["203.0.113.9, 10.42.2.2"], &ingress),
            ip("203.0.113.9")
        );
        // Nothing forwarded, or garbage where the proxy's entry should be: the proxy.
        assert_eq!(client_of(proxy, &[], &ingress), proxy);
        assert_eq!(client_of(proxy, &["1.1.1.1, not-an-ip"], &ingress), proxy);
        // IPv6.
        assert_eq!(
            client_of(proxy, &["2001:db8::1"], &ingress),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn failed_authentication_is_limited_per_ip() {
        let (a, b): (IpAddr, IpAddr) = (
            "10.0.0.1".parse().expect("ip"),
            "10.0.0.2".parse().expect("ip"),
        );
        let t0 = Instant::now();
        let limit = FailedAuth::new(3, 60); // 3 at once, then one a second
        for _ in 0..3 {
            assert_eq!(limit.reserve(a, t0), Ok(()), "a 401 keeps what it took");
        }
        assert_eq!(limit.reserve(a, t0), Err(Duration::from_secs(1)));
        assert_eq!(limit.reserve(b, t0), Ok(()), "another IP is not affected");
        let later = t0 + Duration::from_millis(1500);
        assert_eq!(limit.reserve(a, later), Ok(()), "a second later, one try");
        assert!(limit.reserve(a, later).is_err());
        // Off.
        let off = FailedAuth::new(0, 10);
        for _ in 0..100 {
            assert_eq!(off.reserve(a, t0), Ok(()));
        }
        // No refill: an hour.
        let never = FailedAuth::new(1, 0);
        assert_eq!(never.reserve(a, t0), Ok(()));
        assert_eq!(
            never.reserve(a, t0 + Duration::from_secs(600)),
            Err(Duration::from_secs(3600))
        );
    }

    #[test]
    fn attempts_in_flight_cannot_overshoot_the_budget_and_good_answers_give_it_back() {
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let t0 = Instant::now();
        let limit = FailedAuth::new(20, 0);
        // 50 attempts at once: 20 go through to be checked, 30 are refused before.
        let admitted = (0..50).filter(|_| limit.reserve(a, t0).is_ok()).count();
        assert_eq!(admitted, 20);
        // They were good tokens after all: every one gives its failure back.
        for _ in 0..admitted {
            limit.refund(a, t0);
        }
        assert_eq!(limit.reserve(a, t0), Ok(()));
        limit.refund(a, t0);
        // A refund never raises the budget past its burst.
        limit.refund(a, t0);
        let whole = (0..50).filter(|_| limit.reserve(a, t0).is_ok()).count();
        assert_eq!(whole, 20);
    }

    #[test]
    fn tracked_ips_are_bounded() {
        let t0 = Instant::now();
        let limit = FailedAuth::new(2, 60);
        for i in 0..MAX_TRACKED_IPS as u32 + 10 {
            let _ = limit.reserve(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert_eq!(lock(&limit.buckets).len(), MAX_TRACKED_IPS);
        // Once their budgets are whole again, old IPs make room.
        assert_eq!(
            limit.reserve(
                "192.0.2.1".parse().expect("ip"),
                t0 + Duration::from_secs(60)
            ),
            Ok(())
        );
        assert_eq!(lock(&limit.buckets).len(), 1);
    }

    #[test]
    fn event_streams_are_counted_per_key_until_dropped() {
        let streams = Arc::new(Streams::new(2));
        let (a, b) = ([1; 32], [2; 32]);
        let first = streams.take(a).expect("first");
        let _second = streams.take(a).expect("second");
        assert!(streams.take(a).is_none(), "a third for the same key");
        assert!(streams.take(b).is_some(), "another key");
        drop(first);
        assert!(streams.take(a).is_some(), "a slot freed by a closed stream");
        drop(streams.take(b));
        assert!(
            !lock(&streams.open).contains_key(&b),
            "no entry left for a key with no stream"
        );
    }
}
