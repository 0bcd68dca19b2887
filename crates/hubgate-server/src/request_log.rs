//! One line per request at `info` (target `hubgate::request`): method, route
//! template, status, latency, request id and, once authenticated, the
//! client_id. Never headers, bodies, query strings or the raw path, where
//! credentials and personal data travel.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

tokio::task_local! {
    /// The client the request authenticated as, noted by whichever check
    /// authenticated it (client authentication, a bearer token).
    static CLIENT: Arc<OnceLock<String>>;
}

/// Records who the current request acts for, for its log line.
pub fn note_client(client_id: &str) {
    // Nothing to copy when the line is not written (the benchmarks' level).
    if tracing::enabled!(target: "hubgate::request", tracing::Level::INFO) {
        let _ = CLIENT.try_with(|slot| slot.set(client_id.to_owned()));
    }
}

pub async fn log_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = crate::metrics::method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let request_id = request
        .headers()
        .get(crate::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(crate::logsafe::untrusted)
        .map(|id| id.to_string())
        .unwrap_or_default();
    let slot = Arc::new(OnceLock::new());
    let response = CLIENT.scope(slot.clone(), next.run(request)).await;
    tracing::info!(
        target: "hubgate::request",
        method,
        route,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        request_id,
        client_id = slot.get().map_or("-", String::as_str),
        "request"
    );
    response
}
