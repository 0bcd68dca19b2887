//! `POST /identity/oauth/v2/token`: parses the grant, authenticates the
//! client, and hands both to the flows in `app::grants`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hubgate_api::TokenResponse;
use hubgate_core::grant::{GrantError, GrantKind, Minted};

use super::error::OAuthError;
use super::params::OAuthParams;
use crate::app::grants::{self, FlowError, TokenRequest};
use crate::state::AppState;

/// Issue tokens: `client_credentials` (the guide's step 1), `refresh_token`
/// (step 3, rotating the pair) or `authorization_code` (with PKCE).
///
/// Client authentication: `client_id` and `client_secret` in the body (as the
/// guide shows) or HTTP Basic. A JSON body with the same fields is accepted too.
#[utoipa::path(
    post, path = "/identity/oauth/v2/token", operation_id = "issueToken", tag = "OAuth",
    request_body(description = "One grant's parameters, form-encoded (RFC 6749)", content(
        (super::forms::TokenForm = "application/x-www-form-urlencoded"),
        (super::forms::TokenForm = "application/json"),
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
    origin: crate::client_origin::ClientOrigin,
    params: OAuthParams,
) -> Result<Response, OAuthError> {
    let request = token_request(&params)?;
    let client =
        super::client_auth::authenticate(&state, &headers, &params, "token", origin.address)
            .await?;
    let minted = grants::exchange(&state, &client, request, hubgate_core::now()).await?;
    Ok(respond(&state, minted))
}

/// The grant asked for, with its parameters; an unknown grant type or a
/// missing parameter is refused before the client is authenticated.
fn token_request(params: &OAuthParams) -> Result<TokenRequest<'_>, OAuthError> {
    let grant_type = OAuthParams::required(&params.grant_type, "grant_type")?;
    let optional = OAuthParams::optional;
    Ok(match GrantKind::parse(grant_type) {
        Some(GrantKind::ClientCredentials) => TokenRequest::ClientCredentials {
            scope: optional(&params.scope),
        },
        Some(GrantKind::RefreshToken) => TokenRequest::RefreshToken {
            refresh_token: OAuthParams::required(&params.refresh_token, "refresh_token")?,
            scope: optional(&params.scope),
            redirect_uri: optional(&params.redirect_uri),
        },
        Some(GrantKind::AuthorizationCode) => TokenRequest::AuthorizationCode {
            code: OAuthParams::required(&params.code, "code")?,
            redirect_uri: optional(&params.redirect_uri),
            code_verifier: match (
                optional(&params.code_verifier),
                optional(&params.code_verifier_camel),
            ) {
                (Some(a), Some(b)) if a != b => {
                    return Err(OAuthError::invalid_request(
                        "code_verifier and codeVerifier disagree; send one",
                    ));
                }
                (a, b) => a.or(b),
            },
        },
        None => {
            return Err(GrantError::UnsupportedGrantType(format!(
                "grant_type {grant_type:?} is not supported; use client_credentials, refresh_token or authorization_code"
            ))
            .into());
        }
    })
}

/// Signs an access token, in a trace span of its own (off unless traces
/// are exported).
fn sign(state: &AppState, claims: &hubgate_core::tokens::AccessClaims) -> String {
    let _span = tracing::debug_span!(
        "sign_access_token",
        request_id = crate::request_log::request_id()
    )
    .entered();
    state.keys().signer.sign(claims)
}

/// Signs and seals what was minted into the RFC 6749 §5.1 response.
fn respond(state: &AppState, minted: Minted) -> Response {
    let body = TokenResponse {
        access_token: sign(state, &minted.access),
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

impl From<FlowError> for OAuthError {
    fn from(error: FlowError) -> Self {
        match error {
            FlowError::Grant(error) => error.into(),
            FlowError::Store(error) => error.into(),
        }
    }
}
