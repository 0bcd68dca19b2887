//! Refuses a request whose declared body is over the route's limit before
//! reading any of it: `413` with a JSON error at once, never `100 Continue`.
//! (Bodies without a declared length are cut at the same limit while read,
//! by axum's `DefaultBodyLimit`.)

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// axum's default body limit, for every route without a smaller one.
pub const DEFAULT_LIMIT: usize = 2 * 1024 * 1024;

/// Middleware: `413` when `Content-Length` says more than `MAX` bytes (or
/// cannot be read).
pub async fn refuse_oversized<const MAX: usize>(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .map(|v| v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()));
    match declared {
        Some(Some(length)) if length <= MAX as u64 => next.run(request).await,
        None => next.run(request).await,
        Some(_) => too_large(MAX),
    }
}

fn too_large(max: usize) -> Response {
    let body = serde_json::json!({
        "error": "invalid_request",
        "error_description": format!("the request body is larger than {max} bytes"),
    });
    let mut response = (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response();
    // The body will not be read: the connection cannot carry another request.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
