//! One line per request at `info` (target `hubgate::request`): method, route
//! template, status, latency, request id and, once authenticated, the
//! client_id. Never headers, bodies, query strings or the raw path, where
//! credentials and personal data travel.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// What the request's log line (and its trace spans) need to know.
struct RequestContext {
    request_id: String,
    /// The client the request authenticated as, noted by whichever check
    /// authenticated it (client authentication, a bearer token).
    client: OnceLock<String>,
}

tokio::task_local! {
    static REQUEST: Arc<RequestContext>;
}

/// Records who the current request acts for, for its log line.
pub fn note_client(client_id: &str) {
    // Nothing to copy when the line is not written (the benchmarks' level).
    if tracing::enabled!(target: "hubgate::request", tracing::Level::INFO) {
        let _ = REQUEST.try_with(|request| request.client.set(client_id.to_owned()));
    }
}

/// The current request's id (empty outside a request), for the spans of
/// its inner steps; called only when such a span is enabled.
pub fn request_id() -> String {
    REQUEST
        .try_with(|request| request.request_id.clone())
        .unwrap_or_default()
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
    let context = Arc::new(RequestContext {
        request_id,
        client: OnceLock::new(),
    });
    let response = REQUEST.scope(context.clone(), next.run(request)).await;
    tracing::info!(
        target: "hubgate::request",
        method,
        route,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        request_id = context.request_id,
        client_id = context.client.get().map_or("-", String::as_str),
        "request"
    );
    response
}
