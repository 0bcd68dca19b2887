//! `POST /identity/oauth/v2/introspect` (RFC 7662) and `POST /identity/oauth/v2/revoke`
//! (RFC 7009). Both authenticate the client, and a client only ever learns
//! about, or revokes, its own tokens.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hubgate_api::IntrospectionResponse;
use hubgate_core::grant::Client;
use hubgate_core::refresh::{self, RefreshClaims};
use hubgate_core::tokens::AccessClaims;

use super::error::OAuthError;
use super::params::OAuthParams;
use crate::state::AppState;

/// A token presented to introspection or revocation, once recognised as ours
/// and the caller's.
enum Known {
    Access(std::sync::Arc<AccessClaims>),
    Refresh(RefreshClaims),
}

async fn recognise(state: &AppState, client: &Client, token: &str) -> Option<Known> {
    let now = hubgate_core::now();
    if token.starts_with(refresh::PREFIX) {
        let claims = RefreshClaims::open(&state.master, token).ok()?;
        return (claims.integration == client.integration.id).then_some(Known::Refresh(claims));
    }
    let _ = now;
    let claims = state.verify_access_token(token).await.ok()?;
    (claims.integration_id == client.integration.id).then_some(Known::Access(claims))
}

/// Describe a token (RFC 7662). A client learns only about its own tokens;
/// any other token, or none of ours, is `{"active": false}`.
#[utoipa::path(
    post, path = "/identity/oauth/v2/introspect", operation_id = "introspectToken", tag = "OAuth",
    request_body(content(
        (super::forms::TokenLookupForm = "application/x-www-form-urlencoded"),
        (super::forms::TokenLookupForm = "application/json"),
    )),
    responses(
        (status = 200, description = "The token's state", body = hubgate_api::IntrospectionResponse),
        (status = 400, description = "`invalid_request` (missing or repeated parameter, malformed body)", body = hubgate_api::ErrorBody),
        (status = 401, description = "`invalid_client`: unknown client, wrong secret, or a disabled integration", body = hubgate_api::ErrorBody),
        (status = 413, description = "`invalid_request`: the declared body is over 16 KiB (refused before it is read)", body = hubgate_api::ErrorBody),
        (status = 429, description = "`rate_limited`: too many failed client authentications for this client_id or from this address; see `Retry-After`", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the store cannot be reached; retry", body = hubgate_api::ErrorBody),
    ),
    security((), ("client_secret_basic" = [])),
)]
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    origin: crate::client_origin::ClientOrigin,
    params: OAuthParams,
) -> Result<Response, OAuthError> {
    let client =
        super::client_auth::authenticate(&state, &headers, &params, "introspect", origin.address)
            .await?;
    let token = OAuthParams::required(&params.token, "token")?;
    let now = hubgate_core::now();
    let integration = &client.integration;
    let body = match recognise(&state, &client, token).await {
        Some(Known::Access(claims)) => {
            match state
                .registry
                .check_access(state.store.as_ref(), &state.master, &claims)
                .await
            {
                Ok(_) => IntrospectionResponse {
                    active: true,
                    scope: Some(claims.scope.to_string()),
                    client_id: Some(claims.client_id.to_string()),
                    token_type: Some("Bearer".into()),
                    exp: Some(claims.exp),
                    iat: Some(claims.iat),
                    sub: Some(claims.sub.to_string()),
                    aud: Some(claims.aud.clone()),
                    iss: Some(claims.iss.clone()),
                    jti: Some(claims.jti.clone()),
                    account_id: Some(claims.account_id.to_string()),
                },
                Err(_) => IntrospectionResponse::default(),
            }
        }
        Some(Known::Refresh(claims)) => {
            let current = match state.store.family_state(claims.family).await? {
                None => claims.generation == 0,
                Some((generation, revoked)) => !revoked && generation == claims.generation,
            };
            let active = current
                && hubgate_core::grant::check_refresh_claims(&claims, integration, None, now)
                    .is_ok()
                && integration.enabled
                && !state.registry.refresh_token_revoked(&claims);
            if active {
                IntrospectionResponse {
                    active: true,
                    scope: Some(claims.scope.to_string()),
                    client_id: Some(integration.client_id.to_string()),
                    token_type: Some("refresh_token".into()),
                    exp: Some(claims.expires_at),
                    iat: Some(claims.issued_at),
                    sub: Some(claims.user.to_string()),
                    iss: Some(state.config.issuer.clone()),
                    account_id: Some(claims.account.to_string()),
                    ..Default::default()
                }
            } else {
                IntrospectionResponse::default()
            }
        }
        None => IntrospectionResponse::default(),
    };
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Revoke a token (RFC 7009). A refresh token takes its whole family with it,
/// and every access token issued from that family. Unknown tokens are
/// answered like revoked ones.
#[utoipa::path(
    post, path = "/identity/oauth/v2/revoke", operation_id = "revokeToken", tag = "OAuth",
    request_body(content(
        (super::forms::TokenLookupForm = "application/x-www-form-urlencoded"),
        (super::forms::TokenLookupForm = "application/json"),
    )),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke"),
        (status = 400, description = "`invalid_request` (missing or repeated parameter, malformed body)", body = hubgate_api::ErrorBody),
        (status = 401, description = "`invalid_client`: unknown client, wrong secret, or a disabled integration", body = hubgate_api::ErrorBody),
        (status = 413, description = "`invalid_request`: the declared body is over 16 KiB (refused before it is read)", body = hubgate_api::ErrorBody),
        (status = 429, description = "`rate_limited`: too many failed client authentications for this client_id or from this address; see `Retry-After`", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the store cannot be reached; retry", body = hubgate_api::ErrorBody),
    ),
    security((), ("client_secret_basic" = [])),
)]
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    origin: crate::client_origin::ClientOrigin,
    params: OAuthParams,
) -> Result<Response, OAuthError> {
    let client =
        super::client_auth::authenticate(&state, &headers, &params, "revoke", origin.address)
            .await?;
    let token = OAuthParams::required(&params.token, "token")?;
    let now = hubgate_core::now();
    // An invalid or foreign token is answered like a revoked one (RFC 7009 §2.2).
    match recognise(&state, &client, token).await {
        Some(Known::Refresh(claims)) => {
            // The family dies, and with it every access token issued from it.
            let until = claims.expires_at.max(
                state
                    .config
                    .lifetimes()
                    .for_integration(&client.integration)
                    .revocation_horizon(now),
            );
            state
                .store
                .revoke_family(claims.family, claims.integration, until, now)
                .await?;
            state.registry.note_family_revoked(claims.family, until);
            let integration = &client.integration;
            state.auditor.count(
                claims.account,
                integration.id,
                integration.client_id.as_str(),
                hubgate_core::audit::AuditAction::TokenRevoked,
                "refresh token family",
            );
            tracing::info!(client_id = %client.integration.client_id, family = %claims.family, "refresh token family revoked");
        }
        Some(Known::Access(claims)) => {
            state
                .store
                .revoke_access_token(&claims.jti, claims.exp, now)
                .await?;
            state
                .registry
                .note_access_token_revoked(claims.jti.clone(), claims.exp);
            tracing::info!(client_id = %client.integration.client_id, "access token revoked");
        }
        None => {}
    }
    let mut response = StatusCode::OK.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
