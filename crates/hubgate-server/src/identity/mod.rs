//! The authorization server under `/identity/oauth/v2` and its discovery document.

pub(crate) mod authorize;
mod client_auth;
pub(crate) mod discovery;
pub mod error;
pub(crate) mod forms;
pub(crate) mod introspect;
mod params;
pub(crate) mod token;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use hubgate_api::paths;

use crate::state::AppState;

/// OAuth requests are a few parameters; anything bigger is not one.
const BODY_LIMIT: usize = 16 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(paths::TOKEN, post(token::token))
        .route(paths::INTROSPECT, post(introspect::introspect))
        .route(paths::REVOKE, post(introspect::revoke))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(
            crate::body_limit::refuse_oversized::<BODY_LIMIT>,
        ))
        .route(paths::AUTHORIZE, get(authorize::authorize))
        .route(
            "/identity/oauth/v2/authorize/continue",
            get(authorize::resume),
        )
        .route("/identity/oauth/v2/authorize/login", post(authorize::login))
        .route(
            "/identity/oauth/v2/authorize/account",
            post(authorize::choose_account),
        )
        .route(
            "/identity/oauth/v2/authorize/decision",
            post(authorize::decide),
        )
        .route(paths::JWKS, get(discovery::jwks))
        .route(paths::METADATA, get(discovery::metadata))
}
