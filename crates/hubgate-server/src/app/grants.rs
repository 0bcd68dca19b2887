//! The token endpoint's flows: client_credentials, refresh_token (rotating
//! the pair, catching reuse) and authorization_code (spending the code,
//! revoking what a replayed one issued). No HTTP here: the handler parses a
//! [`TokenRequest`], authenticates the client and signs what comes back.

use hubgate_core::audit::AuditAction;
use hubgate_core::authorize::{self, CodeUse};
use hubgate_core::grant::{self, Client, Grant, GrantError, GrantKind, InvalidGrant, Minted};
use hubgate_core::ids::FamilyId;
use hubgate_core::refresh::{RefreshClaims, Rotation};
use hubgate_store::{RotationRequest, StoreError};
use time::OffsetDateTime;

use crate::state::AppState;

/// One token request's grant and its parameters (empty ones count as absent).
#[derive(Debug, Clone, Copy)]
pub enum TokenRequest<'a> {
    ClientCredentials {
        scope: Option<&'a str>,
    },
    RefreshToken {
        refresh_token: &'a str,
        scope: Option<&'a str>,
        redirect_uri: Option<&'a str>,
    },
    AuthorizationCode {
        code: &'a str,
        redirect_uri: Option<&'a str>,
        code_verifier: Option<&'a str>,
    },
}

impl TokenRequest<'_> {
    pub fn kind(&self) -> GrantKind {
        match self {
            TokenRequest::ClientCredentials { .. } => GrantKind::ClientCredentials,
            TokenRequest::RefreshToken { .. } => GrantKind::RefreshToken,
            TokenRequest::AuthorizationCode { .. } => GrantKind::AuthorizationCode,
        }
    }
}

/// Why no tokens were issued.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Grant(#[from] GrantError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs the grant for an authenticated client; counts it (metrics, audit)
/// when tokens are issued.
pub async fn exchange(
    state: &AppState,
    client: &Client,
    request: TokenRequest<'_>,
    now: OffsetDateTime,
) -> Result<Minted, FlowError> {
    let kind = request.kind();
    let minted = match request {
        TokenRequest::ClientCredentials { scope } => client_credentials(state, client, scope, now)?,
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
            redirect_uri,
        } => refresh(state, client, refresh_token, scope, redirect_uri, now).await?,
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => authorization_code(state, client, code, redirect_uri, code_verifier, now).await?,
    };
    state.metrics.token_issued(kind);
    let integration = &client.integration;
    let action = match kind {
        GrantKind::RefreshToken => AuditAction::TokenRefreshed,
        _ => AuditAction::TokenIssued,
    };
    state.auditor.count(
        minted.access.account_id,
        integration.id,
        integration.client_id.as_str(),
        action,
        kind.as_str(),
    );
    tracing::debug!(client_id = %integration.client_id, ?kind, "tokens issued");
    Ok(minted)
}

fn mint(state: &AppState, grant: Grant<'_>, now: OffsetDateTime) -> Minted {
    grant::mint(
        grant,
        &state.config.issuer,
        &state.config.audience(),
        state.config.lifetimes(),
        now,
    )
}

fn refused(client: &Client, flow: &str, reason: InvalidGrant) -> FlowError {
    tracing::info!(client_id = %client.integration.client_id, ?reason, "{flow} refused");
    FlowError::Grant(GrantError::InvalidGrant(reason))
}

fn client_credentials(
    state: &AppState,
    client: &Client,
    scope: Option<&str>,
    now: OffsetDateTime,
) -> Result<Minted, FlowError> {
    let integration = &client.integration;
    let scope = grant::scope_for_client_credentials(scope, integration.scopes)?;
    let grant = Grant {
        integration,
        account: integration.account_id,
        // The token acts for the account through the integration's acting user.
        user: integration.acting_user,
        scope,
        family: None,
        with_refresh_token: integration.refresh_on_client_credentials,
    };
    Ok(mint(state, grant, now))
}

async fn refresh(
    state: &AppState,
    client: &Client,
    presented: &str,
    scope: Option<&str>,
    redirect_uri: Option<&str>,
    now: OffsetDateTime,
) -> Result<Minted, FlowError> {
    let integration = &client.integration;
    let refused = |reason| refused(client, "refresh token", reason);
    let claims = RefreshClaims::open(&state.master, presented)
        .map_err(|_| refused(InvalidGrant::Unreadable))?;
    grant::check_refresh_claims(&claims, integration, redirect_uri, now).map_err(refused)?;
    if state.registry.refresh_token_revoked(&claims) {
        return Err(refused(InvalidGrant::Revoked));
    }
    let scope = grant::scope_for_refresh(scope, claims.scope)?;
    let lifetimes = state.config.lifetimes().for_integration(integration);
    let expires_at = now.unix_timestamp() + lifetimes.refresh.whole_seconds();
    let revoke_until = lifetimes.revocation_horizon(now);
    // The store also checks the grant's basis (membership, and a role that
    // may delegate what the family carries) in the rotation's transaction:
    // the revocation above is the fast path, this covers a change still on
    // its way to this node.
    let rotation = tracing::Instrument::instrument(
        state.store.rotate_family(RotationRequest {
            family: claims.family,
            integration: integration.id,
            account: claims.account,
            user: claims.user,
            scope: claims.scope,
            presented: claims.generation,
            expires_at,
            revoke_until,
            now,
        }),
        // A trace span (off unless traces are exported): the store's part.
        tracing::debug_span!(
            "store.rotate_family",
            request_id = crate::request_log::request_id()
        ),
    )
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
                AuditAction::TokenReuseDetected,
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
    Ok(mint(state, grant, now))
}

async fn authorization_code(
    state: &AppState,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    now: OffsetDateTime,
) -> Result<Minted, FlowError> {
    let integration = &client.integration;
    let refused = |reason| refused(client, "authorization code", reason);
    let hash = authorize::code_hash(code);
    // The family is recorded with the code's first use, in one statement, so
    // a replay racing the first exchange still finds what to revoke.
    let family = FamilyId::new();
    let using = state.store.use_code(&hash, family, now);
    let span = tracing::debug_span!(
        "store.use_code",
        request_id = crate::request_log::request_id()
    );
    let record = match tracing::Instrument::instrument(using, span).await? {
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
    authorize::check_exchange(&record, integration, redirect_uri, verifier, now)
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
    Ok(mint(state, grant, now))
}
