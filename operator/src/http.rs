//! The operator's HTTP endpoints: `/healthz` (the process runs), `/readyz` (preflight
//! passed) and `/metrics` (OpenMetrics text).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State as Extract;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::metrics::Metrics;

/// Shared state of the HTTP handlers.
#[derive(Debug)]
pub struct State {
    ready: AtomicBool,
    metrics: Arc<Metrics>,
}

impl State {
    /// Not ready until [`State::set_ready`].
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            ready: AtomicBool::new(false),
            metrics,
        }
    }

    /// Marks the operator ready.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }
}

/// The router; serve it with `axum::serve`.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn readyz(Extract(state): Extract<Arc<State>>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        "ok".into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: preflight checks have not passed yet",
        )
            .into_response()
    }
}

async fn metrics(Extract(state): Extract<Arc<State>>) -> Response {
    match state.metrics.encode() {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get(router: Router, path: &str) -> (StatusCode, String) {
        let req = axum::http::Request::get(path)
            .body(Body::empty())
            .expect("request");
        let res = router.oneshot(req).await.expect("infallible");
        let status = res.status();
        let body = res.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn readyz_follows_the_ready_flag() {
        let state = Arc::new(State::new(Arc::new(Metrics::new())));
        assert_eq!(
            get(router(state.clone()), "/healthz").await.0,
            StatusCode::OK
        );
        assert_eq!(
            get(router(state.clone()), "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        state.set_ready();
        assert_eq!(
            get(router(state), "/readyz").await,
            (StatusCode::OK, "ok".to_owned())
        );
    }

    #[tokio::test]
    async fn metrics_expose_the_build_info() {
        let state = Arc::new(State::new(Arc::new(Metrics::new())));
        let (status, body) = get(router(state), "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains("tart_operator_build_info{version=\""),
            "{body}"
        );
        assert!(body.ends_with("# EOF\n"), "{body}");
    }
}
