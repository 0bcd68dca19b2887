//! The bearer-token check every resource handler starts with.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use hubgate_core::ids::{AccountId, UserId};
use hubgate_core::scope::{Scope, ScopeSet};
use hubgate_core::tokens::{AccessClaims, VerifyError};

use super::error::ApiError;
use crate::app::Actor;
use crate::state::AppState;

/// Who a request acts for: a verified, unrevoked access token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub claims: std::sync::Arc<AccessClaims>,
}

impl Principal {
    pub fn account(&self) -> AccountId {
        self.claims.account_id
    }

    pub fn user(&self) -> UserId {
        self.claims.sub
    }

    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.claims.scope.contains(scope) {
            Ok(())
        } else {
            Err(ApiError::insufficient_scope(scope.as_str()))
        }
    }

    /// The application layer's view of this token for a management request:
    /// the integration acting through its user, with that user's role now
    /// (read from the store, so a demotion counts at once). What the token
    /// may do is its scopes and that role, whichever is narrower.
    pub async fn actor(&self, state: &AppState) -> Result<Actor, ApiError> {
        let role = state
            .store
            .membership(self.account(), self.user())
            .await?
            .ok_or_else(|| ApiError::access_denied("the token's user is no longer a member"))?;
        if !role.can_manage() {
            return Err(ApiError::access_denied(&format!(
                "the token acts for a {role} of the account; only owners and admins manage it"
            )));
        }
        Ok(Actor::Integration {
            account: self.account(),
            client_id: self.claims.client_id.clone(),
            user: self.user(),
            role,
        })
    }

    /// At least one of `scopes`.
    pub fn require_any(&self, scopes: ScopeSet) -> Result<(), ApiError> {
        if scopes.iter().any(|s| self.claims.scope.contains(s)) {
            Ok(())
        } else {
            Err(ApiError::insufficient_scope(&scopes.to_string()))
        }
    }
}

pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(ApiError::missing_token)?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::invalid_token("the Authorization header is malformed"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::invalid_token(
            "use Authorization: Bearer <access_token>",
        )),
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let claims = authenticate(state, bearer(&parts.headers)?).await?;
        crate::request_log::note_client(claims.client_id.as_str());
        Ok(Principal { claims })
    }
}

/// A bearer token's claims, if it verifies and nothing has revoked it: at
/// each request, and again and again for as long as an event stream is open.
pub(crate) async fn authenticate(
    state: &AppState,
    token: &str,
) -> Result<std::sync::Arc<AccessClaims>, ApiError> {
    let claims = state
        .verify_access_token(token)
        .await
        .map_err(|error| match error {
            VerifyError::Expired => ApiError::invalid_token("the access token has expired"),
            _ => ApiError::invalid_token("the access token is invalid"),
        })?;
    if let Err(reason) = state
        .registry
        .check_access(state.store.as_ref(), &state.master, &claims)
        .await
    {
        tracing::info!(client_id = %claims.client_id, ?reason, "revoked access token presented");
        return Err(ApiError::invalid_token("the access token has been revoked"));
    }
    Ok(claims)
}
