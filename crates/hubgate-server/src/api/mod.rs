//! The bearer-protected API under `/api/v1`: the guide's resources
//! (account, hubs), userinfo, and the management API (integrations,
//! members, audit log, creating and removing hubs).

pub(crate) mod account;
pub(crate) mod audit;
pub mod auth;
pub mod error;
pub(crate) mod hubs;
pub(crate) mod integrations;
pub(crate) mod members;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/account", get(account::account))
        .route("/api/v1/hubs", get(hubs::list).post(hubs::create))
        .route(
            "/api/v1/hubs/{id}",
            get(hubs::get).patch(hubs::patch).delete(hubs::delete),
        )
        .route(
            "/api/v1/integrations",
            get(integrations::list).post(integrations::create),
        )
        .route(
            "/api/v1/integrations/{client_id}",
            get(integrations::get)
                .patch(integrations::update)
                .delete(integrations::delete),
        )
        .route(
            "/api/v1/integrations/{client_id}/reveal-secret",
            post(integrations::reveal_secret),
        )
        .route(
            "/api/v1/integrations/{client_id}/rotate-secret",
            post(integrations::rotate_secret),
        )
        .route(
            "/api/v1/integrations/{client_id}/disable",
            post(integrations::disable),
        )
        .route(
            "/api/v1/integrations/{client_id}/enable",
            post(integrations::enable),
        )
        .route("/api/v1/members", get(members::list).post(members::add))
        .route(
            "/api/v1/members/{user_id}",
            axum::routing::patch(members::update).delete(members::remove),
        )
        .route(
            "/api/v1/members/{user_id}/reset-password",
            post(members::reset_password),
        )
        .route("/api/v1/audit", get(audit::list))
        .route("/api/v1/hubs/{id}/state", get(hubs::state))
        .route(
            "/identity/oauth/v2/userinfo",
            get(account::userinfo).post(account::userinfo_post),
        )
}
