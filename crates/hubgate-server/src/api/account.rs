//! `GET /api/v1/account` and `GET|POST /identity/oauth/v2/userinfo`.

use axum::Json;
use axum::extract::State;
use hubgate_api::{Account, UserInfo};
use hubgate_core::scope::{Scope, ScopeSet};

use super::auth::Principal;
use super::error::ApiError;
use crate::state::AppState;

/// The account the token acts for.
#[utoipa::path(get, path = "/api/v1/account", operation_id = "getAccount", tag = "Account",
    responses(
        (status = 200, description = "The account", body = hubgate_api::Account),
        (status = 401, description = "`invalid_token`: missing, malformed, expired or revoked token", body = hubgate_api::ErrorBody), (status = 403, description = "`insufficient_scope`", body = hubgate_api::ErrorBody),
        (status = 404, description = "The account no longer exists", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["accounts:read"]), ("bearer" = [])),
)]
pub async fn account(
    principal: Principal,
    State(state): State<AppState>,
) -> Result<Json<Account>, ApiError> {
    principal.require(Scope::AccountsRead)?;
    let account = state
        .store
        .account_by_id(principal.account())
        .await?
        .ok_or_else(|| ApiError::not_found("account"))?;
    Ok(Json(Account {
        id: account.id.to_string(),
        name: account.name,
        created_at: account.created_at,
    }))
}

/// The user the token acts for: `sub` with scope `sub`, `email` with scope
/// `email`. For a client_credentials token, the integration's acting user.
#[utoipa::path(get, path = "/identity/oauth/v2/userinfo", operation_id = "getUserInfo", tag = "Account",
    responses(
        (status = 200, description = "The user", body = hubgate_api::UserInfo),
        (status = 401, description = "`invalid_token`: missing, malformed, expired or revoked token", body = hubgate_api::ErrorBody), (status = 403, description = "`insufficient_scope`", body = hubgate_api::ErrorBody),
        (status = 404, description = "The user no longer exists", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["sub", "email"]), ("bearer" = [])),
)]
pub async fn userinfo(
    principal: Principal,
    State(state): State<AppState>,
) -> Result<Json<UserInfo>, ApiError> {
    principal.require_any([Scope::Sub, Scope::Email].into_iter().collect::<ScopeSet>())?;
    let scope = principal.claims.scope;
    let email = if scope.contains(Scope::Email) {
        let user = state
            .store
            .user_by_id(principal.user())
            .await?
            .ok_or_else(|| ApiError::not_found("user"))?;
        Some(user.email)
    } else {
        None
    };
    Ok(Json(UserInfo {
        sub: scope
            .contains(Scope::Sub)
            .then(|| principal.user().to_string()),
        email,
    }))
}

/// The same as `GET` (OpenID Connect Core §5.3.1 allows either method).
#[utoipa::path(post, path = "/identity/oauth/v2/userinfo", operation_id = "postUserInfo", tag = "Account",
    responses(
        (status = 200, description = "The user", body = hubgate_api::UserInfo),
        (status = 401, description = "`invalid_token`: missing, malformed, expired or revoked token", body = hubgate_api::ErrorBody), (status = 403, description = "`insufficient_scope`", body = hubgate_api::ErrorBody),
        (status = 404, description = "The user no longer exists", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["sub", "email"]), ("bearer" = [])),
)]
pub async fn userinfo_post(
    principal: Principal,
    state: State<AppState>,
) -> Result<Json<UserInfo>, ApiError> {
    userinfo(principal, state).await
}
