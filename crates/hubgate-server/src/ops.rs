//! Operations endpoints: liveness, readiness, metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::state::AppState;

/// Liveness: the process is up and serving.
#[utoipa::path(get, path = "/healthz", operation_id = "getHealth", tag = "Operations",
    responses((status = 200, description = "Up", body = Status)))]
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Readiness: the store answers and writes commit, so this node can serve
/// every request.
#[utoipa::path(get, path = "/readyz", operation_id = "getReadiness", tag = "Operations",
    responses(
        (status = 200, description = "Ready", body = Status),
        (status = 503, description = "The store cannot be reached, or writes to it fail", body = Status),
    ))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let ping = tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping()).await;
    let reason = match ping {
        Ok(Ok(())) if state.store_reachable() => {
            if state.write_probe.writes_commit(state.store.as_ref()).await {
                None
            } else {
                Some("store writes fail")
            }
        }
        _ => Some("store unreachable"),
    };
    match reason {
        None => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "reason": reason})),
        ),
    }
}

/// Prometheus metrics (text format 0.0.4).
#[utoipa::path(get, path = "/metrics", operation_id = "getMetrics", tag = "Operations",
    responses((status = 200, description = "Metrics", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// `/healthz` and `/readyz`: `{"status": "ok"}` or why not.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Status {
    status: String,
}
