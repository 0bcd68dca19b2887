//! The bearer-protected resource API under `/api/v1`, and userinfo.

pub(crate) mod account;
pub mod auth;
pub mod error;
pub(crate) mod hubs;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/account", get(account::account))
        .route("/api/v1/hubs", get(hubs::list))
        .route("/api/v1/hubs/{id}", get(hubs::get).patch(hubs::patch))
        .route("/api/v1/hubs/{id}/state", get(hubs::state))
        .route(
            "/identity/oauth/v2/userinfo",
            get(account::userinfo).post(account::userinfo),
        )
}
