//! hubgate's HTTP server.
//!
//! A guided tour:
//! - [`build_router`] assembles the whole app from its surfaces, so tests run
//!   exactly what production runs.
//! - `identity`: the authorization server (`/identity/oauth/v2/*`, discovery),
//!   errors shaped by RFC 6749.
//! - `api`: the bearer-protected resource API (`/api/v1/*`, userinfo), errors
//!   shaped by RFC 6750.
//! - [`registry`]: each node's in-memory view of integrations and revocations,
//!   following the store's change log.
//! - [`docs`]: the OpenAPI document generated from the handlers, and Swagger UI.
//! - [`app`]: the application layer: every management operation and token
//!   flow, called by the console, the management API and the admin tool alike;
//!   [`bootstrap`] seeds an empty store.
//!
//! A request flows router → thin handler (extract, authorise first) → domain
//! function in `hubgate_core` → store.

// Security code never unwraps: every failure is an error the caller handles.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub(crate) mod api;
pub mod app;
pub mod auditor;
mod body_limit;
pub mod bootstrap;
pub mod client_origin;
pub mod config;
pub mod connections;
mod console;
pub mod devices;
pub mod docs;
pub mod events;
pub(crate) mod identity;
pub mod keys;
pub mod limits;
pub mod logsafe;
pub mod metrics;
pub(crate) mod ops;
pub mod probe;
pub mod registry;
pub mod request_log;
pub mod state;
pub mod tls;
pub mod web;

use hubgate_api::paths;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use config::ServerConfig;
pub use state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn build_router(state: AppState) -> Router {
    Router::new()
        .merge(docs::router(&state.config))
        .merge(console::router())
        .merge(identity::router())
        .merge(api::router())
        .route("/assets/hubgate.css", get(web::stylesheet))
        .route("/assets/console.js", get(web::console_script))
        // The root is for people: send them to the console.
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/console") }),
        )
        .route(paths::HEALTH, get(ops::healthz))
        .route(paths::READY, get(ops::readyz))
        .route(paths::METRICS, get(ops::metrics))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(
            body_limit::refuse_oversized::<{ body_limit::DEFAULT_LIMIT }>,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .layer(axum::middleware::from_fn(request_log::log_requests))
        .layer(
            // Logs method, route template and status; never headers, bodies or
            // query strings, where credentials travel.
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let route = request
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map_or("unmatched", |p| p.as_str())
                    .to_owned();
                let request_id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let method = metrics::method_label(request.method());
                tracing::info_span!("request", method, route, request_id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(
            REQUEST_ID,
            SequentialRequestId::default(),
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a handler panicked");
            api::error::ApiError::unavailable().into_response()
        }))
        .with_state(state)
}

/// Request ids unique per process run: a random prefix and a counter. A
/// UUIDv4 per request would cost a getrandom system call each.
#[derive(Clone)]
struct SequentialRequestId {
    prefix: Arc<str>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl Default for SequentialRequestId {
    fn default() -> Self {
        Self {
            prefix: format!("{:08x}", rand::random::<u32>()).into(),
            next: Arc::default(),
        }
    }
}

impl MakeRequestId for SequentialRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        axum::http::HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

async fn not_found() -> impl IntoResponse {
    api::error::ApiError::not_found("resource")
}

/// Serves until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_tls(listener, None, state, shutdown).await
}

/// [`serve`], over TLS when given an acceptor (see [`tls`]).
pub async fn serve_with_tls(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let follower = state.spawn_change_follower();
    let background = [
        events::spawn_feed(&state),
        events::spawn_retention(&state),
        events::delivery::spawn_deliveries(&state),
        metrics::spawn_upkeep(&state),
    ];
    let app = build_router(state.clone());
    let closing_state = state.clone();
    let shutdown = async move {
        shutdown.await;
        closing_state.event_feed.close_streams();
    };
    let metrics_state = state.clone();
    let events = Arc::new(move |event| metrics_state.metrics.connection_event(event));
    connections::serve(
        listener,
        app,
        tls,
        state.config.connections,
        events,
        shutdown,
    )
    .await;
    follower.abort();
    for task in background {
        task.abort();
    }
    state.auditor.flush().await;
    Ok(())
}
