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

use crate::state::AppState;

/// OAuth requests are a few parameters; anything bigger is not one.
const BODY_LIMIT: usize = 16 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/identity/oauth/v2/token", post(token::token))
        .route(
            "/identity/oauth/v2/introspect",
            post(introspect::introspect),
        )
        .route("/identity/oauth/v2/revoke", post(introspect::revoke))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(
            crate::body_limit::refuse_oversized::<BODY_LIMIT>,
        ))
        .route("/identity/oauth/v2/authorize", get(authorize::authorize))
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
        .route("/identity/oauth/v2/jwks", get(discovery::jwks))
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::metadata),
        )
}
