//! Client authentication at the token, introspection and revocation endpoints:
//! client_secret_basic (RFC 6749 §2.3.1) or client_secret_post, never both.

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hubgate_core::grant::{Client, ClientAuthFailure};
use hubgate_core::ids::ClientId;
use percent_encoding::percent_decode_str;

use super::error::OAuthError;
use super::params::OAuthParams;
use crate::state::AppState;

struct Presented {
    client_id: String,
    secret: Option<String>,
    via_basic: bool,
}

/// `application/x-www-form-urlencoded` decoding of one Basic credential half.
fn form_decode(part: &str) -> Option<String> {
    percent_decode_str(&part.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

fn presented(headers: &HeaderMap, params: &OAuthParams) -> Result<Presented, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, rest)| rest.trim());
    if let Some(encoded) = basic {
        let decoded = STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| OAuthError::invalid_client(true))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| OAuthError::invalid_client(true))?;
        let (id, secret) = (form_decode(id), form_decode(secret));
        let (Some(id), Some(secret)) = (id, secret) else {
            return Err(OAuthError::invalid_client(true));
        };
        if params.client_secret.is_some()
            || params
                .client_id
                .as_deref()
                .is_some_and(|body_id| body_id != id)
        {
            return Err(ClientAuthFailure::ConflictingCredentials)
                .map_err(|f| OAuthError::from(hubgate_core::grant::GrantError::InvalidClient(f)));
        }
        return Ok(Presented {
            client_id: id,
            secret: Some(secret),
            via_basic: true,
        });
    }
    let client_id = OAuthParams::required(&params.client_id, "client_id")
        .map_err(|_| OAuthError::invalid_client(false))?
        .to_owned();
    Ok(Presented {
        client_id,
        secret: params.client_secret.clone(),
        via_basic: false,
    })
}

/// Authenticates the calling client, logging the precise reason of a failure
/// and counting it, while the client only hears `invalid_client` — or, past
/// the failure limits for its client_id or address, `429` (see
/// [`crate::limits::client_auth`]).
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &OAuthParams,
    endpoint: &'static str,
    address: Option<IpAddr>,
) -> Result<Arc<Client>, OAuthError> {
    let presented = presented(headers, params)
        .map_err(|error| limited(state, endpoint, None, address, error))?;
    let fail = |reason: ClientAuthFailure| {
        state.metrics.client_auth_failed(endpoint);
        tracing::info!(client_id = %crate::logsafe::untrusted(&presented.client_id), ?reason, endpoint, "client authentication failed");
        let error = OAuthError::invalid_client(presented.via_basic);
        limited(state, endpoint, Some(&presented.client_id), address, error)
    };
    let Some(secret) = presented.secret.as_deref() else {
        return Err(fail(ClientAuthFailure::NoCredentials));
    };
    let Some(client_id) = ClientId::parse(&presented.client_id) else {
        return Err(fail(ClientAuthFailure::UnknownClient));
    };
    let Some(client) = state
        .registry
        .client(state.store.as_ref(), &state.master, &client_id)
        .await?
    else {
        return Err(fail(ClientAuthFailure::UnknownClient));
    };
    if let Err(reason) = client.authenticate(secret, hubgate_core::now()) {
        // A known client's failures go to its account's audit log (counted,
        // like token events); unknown client_ids only to the log and metrics.
        let integration = &client.integration;
        state.auditor.count(
            integration.account_id,
            integration.id,
            integration.client_id.as_str(),
            hubgate_core::audit::AuditAction::ClientAuthFailed,
            endpoint,
        );
        return Err(fail(reason));
    }
    crate::request_log::note_client(client.integration.client_id.as_str());
    Ok(client)
}

/// Records a failed client authentication; past a limit the error becomes
/// `429` (and is counted).
fn limited(
    state: &AppState,
    endpoint: &'static str,
    client_id: Option<&str>,
    address: Option<std::net::IpAddr>,
    error: OAuthError,
) -> OAuthError {
    match state
        .client_auth_limiter
        .failed(&state.config.client_auth_limits, client_id, address)
    {
        Some(wait) => {
            state.metrics.client_auth_limited(endpoint);
            OAuthError::rate_limited(wait)
        }
        None => error,
    }
}
