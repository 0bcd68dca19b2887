//! Operations endpoints: liveness, readiness, metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::state::AppState;

/// The process is up and serving.
/// Liveness: the process is up.
#[utoipa::path(get, path = "/healthz", operation_id = "getHealth", tag = "Operations",
    responses((status = 200, description = "Up", body = crate::docs::Status)))]
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Readiness: the store answers and writes commit, so this node can serve
/// every request.
#[utoipa::path(get, path = "/readyz", operation_id = "getReadiness", tag = "Operations",
    responses(
        (status = 200, description = "Ready", body = crate::docs::Status),
        (status = 503, description = "The store cannot be reached, or writes to it fail", body = crate::docs::Status),
    ))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let ping = tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping()).await;
    let reason = match ping {
        Ok(Ok(())) if state.store_reachable() => {
            if state.write_probe.writes_commit(&state).await {
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

/// `/readyz`'s write probe: one committed one-row write at most every
/// second, whoever asks and however often.
#[derive(Default)]
pub struct WriteProbe {
    last: tokio::sync::Mutex<Option<(std::time::Instant, bool)>>,
}

impl WriteProbe {
    const FRESH: std::time::Duration = std::time::Duration::from_secs(1);

    pub async fn writes_commit(&self, state: &AppState) -> bool {
        let mut last = self.last.lock().await;
        if let Some((at, ok)) = *last
            && at.elapsed() < Self::FRESH
        {
            return ok;
        }
        let probe = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            state.store.probe_write(hubgate_core::now()),
        )
        .await;
        let ok = match probe {
            Ok(Ok(())) => true,
            Ok(Err(error)) => {
                tracing::warn!(%error, "readiness: a store write failed");
                false
            }
            Err(_) => {
                tracing::warn!("readiness: a store write timed out");
                false
            }
        };
        *last = Some((std::time::Instant::now(), ok));
        ok
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
