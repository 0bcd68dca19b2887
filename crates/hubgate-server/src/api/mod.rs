//! The bearer-protected API under `/api/v1`: the guide's resources
//! (account, hubs), userinfo, and the management API (integrations,
//! members, audit log, creating and removing hubs).

pub(crate) mod account;
pub(crate) mod audit;
pub mod auth;
pub mod error;
pub(crate) mod events;
pub(crate) mod hubs;
pub(crate) mod integrations;
pub(crate) mod members;
pub(crate) mod webhooks;

use axum::Router;
use axum::routing::{get, post};
use hubgate_api::paths;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(paths::ACCOUNT, get(account::account))
        .route(paths::HUBS, get(hubs::list).post(hubs::create))
        .route(
            paths::HUB,
            get(hubs::get).patch(hubs::patch).delete(hubs::delete),
        )
        .route(
            paths::INTEGRATIONS,
            get(integrations::list).post(integrations::create),
        )
        .route(
            paths::INTEGRATION,
            get(integrations::get)
                .patch(integrations::update)
                .delete(integrations::delete),
        )
        .route(
            paths::INTEGRATION_REVEAL_SECRET,
            post(integrations::reveal_secret),
        )
        .route(
            paths::INTEGRATION_ROTATE_SECRET,
            post(integrations::rotate_secret),
        )
        .route(paths::INTEGRATION_DISABLE, post(integrations::disable))
        .route(paths::INTEGRATION_ENABLE, post(integrations::enable))
        .route(paths::MEMBERS, get(members::list).post(members::add))
        .route(
            paths::MEMBER,
            axum::routing::patch(members::update).delete(members::remove),
        )
        .route(paths::MEMBER_RESET_PASSWORD, post(members::reset_password))
        .route(paths::AUDIT, get(audit::list))
        .route(paths::EVENTS, get(events::events))
        .route(paths::WEBHOOKS, get(webhooks::list).post(webhooks::create))
        .route(
            paths::WEBHOOK,
            get(webhooks::get)
                .patch(webhooks::update)
                .delete(webhooks::delete),
        )
        .route(paths::WEBHOOK_ROTATE_SECRET, post(webhooks::rotate_secret))
        .route(paths::WEBHOOK_DELIVERIES, get(webhooks::deliveries))
        .route(paths::WEBHOOK_RESEND, post(webhooks::resend))
        .route(paths::HUB_STATE, get(hubs::state))
        .route(
            paths::HUB_CREDENTIAL,
            post(hubs::issue_credential).delete(hubs::revoke_credential),
        )
        .route(
            paths::USERINFO,
            get(account::userinfo).post(account::userinfo_post),
        )
}
