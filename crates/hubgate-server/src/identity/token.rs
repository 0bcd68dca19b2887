//! `POST /identity/oauth/v2/token`: the client_credentials and refresh_token grants.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hubgate_api::TokenResponse;
use hubgate_core::authorize::{self, CodeUse};
use hubgate_core::grant::{self, Client, Grant, GrantError, InvalidGrant, Minted};
use hubgate_core::ids::FamilyId;
use hubgate_core::refresh::{RefreshClaims, Rotation};
use hubgate_store::RotationRequest;

use super::error::OAuthError;
use super::params::OAuthParams;
use crate::metrics::GrantKind;
use crate::state::AppState;

/// Issue tokens: `client_credentials` (the guide's step 1) or `refresh_token`
/// (step 3, rotating the pair).
///
/// Client authentication: `client_id` and `client_secret` in the body (as the
/// guide shows) or HTTP Basic. A JSON body with the same fields is accepted too.
#[utoipa::path(
    post, path = "/identity/oauth/v2/token", operation_id = "issueToken", tag = "OAuth",
    request_body(description = "One grant's parameters, form-encoded (RFC 6749)", content(
        (crate::docs::TokenForm = "application/x-www-form-urlencoded"),
        (crate::docs::TokenForm = "application/json"),
    )),
    responses(
        (status = 200, description = "Tokens issued (`Cache-Control: no-store`)", body = hubgate_api::TokenResponse),
        (status = 400, description = "`invalid_request`, `invalid_grant`, `invalid_scope` or `unsupported_grant_type`", body = hubgate_api::ErrorBody),
        (status = 401, description = "`invalid_client`: unknown client, wrong secret, or a disabled integration", body = hubgate_api::ErrorBody),
        (status = 413, description = "`invalid_request`: the declared body is over 16 KiB (refused before it is read)", body = hubgate_api::ErrorBody),
        (status = 429, description = "`rate_limited`: too many failed client authentications for this client_id or from this address; see `Retry-After`", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the store cannot be reached; retry", body = hubgate_api::ErrorBody),
    ),
    security((), ("client_secret_basic" = [])),
)]
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    params: OAuthParams,
) -> Result<Response, OAuthError> {
    let grant_type = OAuthParams::required(&params.grant_type, "grant_type")?;
    let kind = match grant_type {
        "client_credentials" => GrantKind::ClientCredentials,
        "refresh_token" => GrantKind::RefreshToken,
        "authorization_code" => GrantKind::AuthorizationCode,
        other => {
            return Err(GrantError::UnsupportedGrantType(format!(
                "grant_type {other:?} is not supported; use client_credentials, refresh_token or authorization_code"
            ))
            .into());
        }
    };
    let client = super::client_auth::authenticate(&state, &headers, &params, "token", peer).await?;
    let minted = match kind {
        GrantKind::ClientCredentials => client_credentials(&state, &client, &params)?,
        GrantKind::RefreshToken => refresh_token(&state, &client, &params).await?,
        GrantKind::AuthorizationCode => authorization_code(&state, &client, &params).await?,
    };
    state.metrics.token_issued(kind);
    let integration = &client.integration;
    let (action, grant) = match kind {
        GrantKind::ClientCredentials => ("token.issued", "client_credentials"),
        GrantKind::RefreshToken => ("token.refreshed", "refresh_token"),
        GrantKind::AuthorizationCode => ("token.issued", "authorization_code"),
    };
    state.auditor.count(
        minted.access.account_id,
        integration.id,
        integration.client_id.as_str(),
        action,
        grant,
    );
    tracing::debug!(client_id = %client.integration.client_id, ?kind, "tokens issued");
    Ok(respond(&state, minted))
}

fn client_credentials(
    state: &AppState,
    client: &Client,
    params: &OAuthParams,
) -> Result<Minted, OAuthError> {
    let integration = &client.integration;
    let scope = grant::scope_for_client_credentials(
        OAuthParams::optional(&params.scope),
        integration.scopes,
    )?;
    let grant = Grant {
        integration,
        account: integration.account_id,
        // The token acts for the account through the integration's acting user.
        user: integration.acting_user,
        scope,
        family: None,
        with_refresh_token: integration.refresh_on_client_credentials,
    };
    Ok(grant::mint(
        grant,
        &state.config.issuer,
        &state.config.audience(),
        state.config.lifetimes(),
        hubgate_core::now(),
    ))
}

async fn refresh_token(
    state: &AppState,
    client: &Client,
    params: &OAuthParams,
) -> Result<Minted, OAuthError> {
    let now = hubgate_core::now();
    let integration = &client.integration;
    let presented = OAuthParams::required(&params.refresh_token, "refresh_token")?;
    let refused = |reason: InvalidGrant| {
        tracing::info!(client_id = %integration.client_id, ?reason, "refresh token refused");
        OAuthError::from(GrantError::InvalidGrant(reason))
    };
    let claims = RefreshClaims::open(&state.master, presented)
        .map_err(|_| refused(InvalidGrant::Unreadable))?;
    grant::check_refresh_claims(
        &claims,
        integration,
        OAuthParams::optional(&params.redirect_uri),
        now,
    )
    .map_err(refused)?;
    if state.registry.refresh_token_revoked(&claims) {
        return Err(refused(InvalidGrant::Revoked));
    }
    let scope = grant::scope_for_refresh(OAuthParams::optional(&params.scope), claims.scope)?;
    let lifetimes = state.config.lifetimes().for_integration(integration);
    let expires_at = now.unix_timestamp() + lifetimes.refresh.whole_seconds();
    let revoke_until = lifetimes.revocation_horizon(now);
    // The store also checks the grant's basis (membership, and a role that
    // may delegate what the family carries) in the rotation's transaction:
    // the revocation above is the fast path, this covers a change still on
    // its way to this node.
    let rotation = state
        .store
        .rotate_family(RotationRequest {
            family: claims.family,
            integration: integration.id,
            account: claims.account,
            user: claims.user,
            scope: claims.scope,
            presented: claims.generation,
            expires_at,
            revoke_until,
            now,
        })
        .await?;
    match rotation {
        Rotation::Rotated => {}
        Rotation::Reused => {
            state
                .registry
                .note_family_revoked(claims.family, revoke_until.max(expires_at));
            state.metrics.refresh_reuse_detected();
            state.auditor.count(
                claims.account,
                integration.id,
                integration.client_id.as_str(),
                "token.reuse_detected",
                "a rotated refresh token was presented again: its family is revoked",
            );
            tracing::warn!(client_id = %integration.client_id, family = %claims.family, "refresh token reuse: family revoked");
            return Err(refused(InvalidGrant::Reused));
        }
        Rotation::Revoked => return Err(refused(InvalidGrant::Revoked)),
    }
    let grant = Grant {
        integration,
        account: claims.account,
        user: claims.user,
        scope,
        family: Some((claims.family, claims.generation + 1)),
        with_refresh_token: true,
    };
    Ok(grant::mint(
        grant,
        &state.config.issuer,
        &state.config.audience(),
        state.config.lifetimes(),
        now,
    ))
}

async fn authorization_code(
    state: &AppState,
    client: &Client,
    params: &OAuthParams,
) -> Result<Minted, OAuthError> {
    let now = hubgate_core::now();
    let integration = &client.integration;
    let code = OAuthParams::required(&params.code, "code")?;
    let verifier = match (
        OAuthParams::optional(&params.code_verifier),
        OAuthParams::optional(&params.code_verifier_camel),
    ) {
        (Some(a), Some(b)) if a != b => {
            return Err(OAuthError::invalid_request(
                "code_verifier and codeVerifier disagree; send one",
            ));
        }
        (a, b) => a.or(b),
    };
    let refused = |reason: InvalidGrant| {
        tracing::info!(client_id = %integration.client_id, ?reason, "authorization code refused");
        OAuthError::from(GrantError::InvalidGrant(reason))
    };
    let hash = authorize::code_hash(code);
    // The family is recorded with the code's first use, in one statement, so
    // a replay racing the first exchange still finds what to revoke.
    let family = FamilyId::new();
    let record = match state.store.use_code(&hash, family, now).await? {
        CodeUse::First(record) => record,
        CodeUse::Unknown => return Err(refused(InvalidGrant::Unreadable)),
        CodeUse::Replayed { family, .. } => {
            // RFC 6749 §4.1.2: a code used twice revokes what it issued.
            if let Some(family) = family {
                let until = state
                    .config
                    .lifetimes()
                    .for_integration(integration)
                    .revocation_horizon(now);
                state
                    .store
                    .revoke_family(family, integration.id, until, now)
                    .await?;
                state.registry.note_family_revoked(family, until);
            }
            tracing::warn!(client_id = %integration.client_id, "authorization code replayed: its tokens are revoked");
            return Err(refused(InvalidGrant::CodeReplayed));
        }
    };
    authorize::check_exchange(
        &record,
        integration,
        OAuthParams::optional(&params.redirect_uri),
        verifier,
        now,
    )
    .map_err(refused)?;
    // The user may have left the account, or lost the role, since approving.
    let role = state
        .store
        .membership(record.account_id, record.user_id)
        .await?;
    if !role.is_some_and(|role| role.may_delegate(record.scope)) {
        return Err(refused(InvalidGrant::Revoked));
    }
    let grant = Grant {
        integration,
        account: record.account_id,
        user: record.user_id,
        scope: record.scope,
        family: Some((family, 0)),
        with_refresh_token: true,
    };
    Ok(grant::mint(
        grant,
        &state.config.issuer,
        &state.config.audience(),
        state.config.lifetimes(),
        now,
    ))
}

/// Signs and seals what was minted into the RFC 6749 §5.1 response.
fn respond(state: &AppState, minted: Minted) -> Response {
    let body = TokenResponse {
        access_token: state.keys().signer.sign(&minted.access),
        token_type: "Bearer".into(),
        expires_in: minted.expires_in,
        refresh_token: minted.refresh.map(|r| r.seal(&state.master)),
        scope: minted.access.scope.to_string(),
    };
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
