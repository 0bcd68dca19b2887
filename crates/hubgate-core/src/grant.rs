//! The token endpoint's rules, as plain functions: who the client is, which
//! scope it gets, whether a refresh token still holds, and what to mint.
//! Errors are the closed set of RFC 6749 §5.2; each carries a safe description
//! for the client, while the precise reason goes to the log.

use time::{Duration, OffsetDateTime};

use crate::crypto::{MasterKey, OpenError};
use crate::ids::{AccountId, FamilyId, IntegrationId, UserId};
use crate::integration::Integration;
use crate::refresh::RefreshClaims;
use crate::scope::ScopeSet;
use crate::secret::{ClientSecret, SecretVerifier};
use crate::tokens::{AccessClaims, new_jti};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    #[error("invalid_client: {0:?}")]
    InvalidClient(ClientAuthFailure),
    #[error("invalid_grant: {0}")]
    InvalidGrant(InvalidGrant),
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
}

/// Why client authentication failed. Logged, never told to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthFailure {
    NoCredentials,
    UnknownClient,
    WrongSecret,
    Disabled,
    ConflictingCredentials,
}

/// Why a refresh token (or later a code) was refused. Logged precisely; the
/// client hears one generic description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidGrant {
    #[error("the token is malformed or was not issued by this server")]
    Unreadable,
    #[error("the token was issued to another client")]
    OtherClient,
    #[error("the token has expired")]
    Expired,
    #[error("the integration's tokens were revoked after this token was issued")]
    OldEpoch,
    #[error("the token was already used; its family is now revoked")]
    Reused,
    #[error("the token has been revoked")]
    Revoked,
    #[error("the redirect_uri does not match a registered one")]
    RedirectUriMismatch,
    #[error("the PKCE code_verifier is missing, malformed or does not match")]
    PkceMismatch,
    #[error("the code was already used; what it issued is now revoked")]
    CodeReplayed,
    #[error("the integration no longer has a scope the grant carries")]
    ScopeWithdrawn,
}

/// The grant types of the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantKind {
    ClientCredentials,
    RefreshToken,
    AuthorizationCode,
}

impl GrantKind {
    /// Every grant, in declaration order: `ALL[kind as usize] == kind`.
    pub const ALL: [GrantKind; 3] = [
        GrantKind::ClientCredentials,
        GrantKind::RefreshToken,
        GrantKind::AuthorizationCode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantKind::ClientCredentials => "client_credentials",
            GrantKind::RefreshToken => "refresh_token",
            GrantKind::AuthorizationCode => "authorization_code",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// An integration ready to authenticate its client: secrets opened once into
/// digests, so each request costs a hash and a constant-time comparison.
#[derive(Debug, Clone)]
pub struct Client {
    pub integration: Integration,
    current: SecretVerifier,
    previous: Option<(SecretVerifier, OffsetDateTime)>,
}

impl Client {
    pub fn open(integration: Integration, master: &MasterKey) -> Result<Self, OpenError> {
        let current =
            ClientSecret::open(master, integration.id, &integration.sealed_secret)?.verifier();
        let previous = match (
            &integration.sealed_previous_secret,
            integration.previous_secret_expires_at,
        ) {
            (Some(sealed), Some(until)) => Some((
                ClientSecret::open(master, integration.id, sealed)?.verifier(),
                until,
            )),
            _ => None,
        };
        Ok(Self {
            integration,
            current,
            previous,
        })
    }

    /// Checks the presented secret against the current one and, during a
    /// rotation's grace period, the previous one. Both are always compared, so
    /// timing does not tell which matched.
    pub fn authenticate(
        &self,
        presented: &str,
        now: OffsetDateTime,
    ) -> Result<(), ClientAuthFailure> {
        let current = self.current.matches(presented);
        let previous = self
            .previous
            .as_ref()
            .is_some_and(|(v, until)| v.matches(presented) && now < *until);
        if !(current || previous) {
            return Err(ClientAuthFailure::WrongSecret);
        }
        if !self.integration.enabled {
            return Err(ClientAuthFailure::Disabled);
        }
        Ok(())
    }
}

/// The scope of a client_credentials grant: the integration's scopes when none
/// is asked for, else exactly what is asked for, which must be allowed.
pub fn scope_for_client_credentials(
    requested: Option<&str>,
    allowed: ScopeSet,
) -> Result<ScopeSet, GrantError> {
    narrow_scope(requested, allowed, "the integration")
}

/// A refresh may keep or narrow the scope, never widen it (RFC 6749 §6).
pub fn scope_for_refresh(
    requested: Option<&str>,
    granted: ScopeSet,
) -> Result<ScopeSet, GrantError> {
    narrow_scope(requested, granted, "the original grant")
}

fn narrow_scope(
    requested: Option<&str>,
    allowed: ScopeSet,
    what: &str,
) -> Result<ScopeSet, GrantError> {
    let Some(text) = requested.filter(|t| !t.trim().is_empty()) else {
        return Ok(allowed);
    };
    let scope = ScopeSet::parse(text).map_err(|e| GrantError::InvalidScope(e.to_string()))?;
    if !scope.is_subset_of(allowed) {
        let extra: Vec<_> = scope
            .iter()
            .filter(|s| !allowed.contains(*s))
            .map(|s| s.as_str())
            .collect();
        return Err(GrantError::InvalidScope(format!(
            "{} not granted to {what}",
            extra.join(" ")
        )));
    }
    Ok(scope)
}

/// Checks a presented refresh token's claims against the authenticated client.
/// The family's generation is the store's to check, atomically.
pub fn check_refresh_claims(
    claims: &RefreshClaims,
    integration: &Integration,
    redirect_uri: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), InvalidGrant> {
    if claims.integration != integration.id {
        return Err(InvalidGrant::OtherClient);
    }
    if claims.expired_at(now) {
        return Err(InvalidGrant::Expired);
    }
    if claims.epoch != integration.token_epoch {
        return Err(InvalidGrant::OldEpoch);
    }
    if !claims.scope.is_subset_of(integration.scopes) {
        return Err(InvalidGrant::ScopeWithdrawn);
    }
    // The guide sends redirect_uri with a refresh; when sent it must be registered.
    if let Some(uri) = redirect_uri.filter(|u| !u.is_empty())
        && !integration.registers_redirect_uri(uri)
    {
        return Err(InvalidGrant::RedirectUriMismatch);
    }
    Ok(())
}

/// Whose grants a [`GrantRevocation`] ends: a user's in one account, through
/// one integration (consent withdrawn) or through every one (`None`: the user
/// left the account or lost a role).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GrantKey {
    pub account: AccountId,
    pub user: UserId,
    pub integration: Option<IntegrationId>,
}

/// Every token acting for [`GrantKey`] that was issued at or before
/// `issued_before` (Unix seconds) is revoked: access tokens and refresh
/// tokens alike, so a family cannot be refreshed past it. Sealed refresh
/// tokens are not recorded at issuance, so their user is known only from the
/// token itself: a cut-off by issue time is what can reach them all. Kept
/// until `valid_until`, the latest expiry such a token can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantRevocation {
    pub key: GrantKey,
    pub issued_before: i64,
    pub valid_until: i64,
}

impl GrantRevocation {
    /// Revokes what the key has been granted up to `now`, until `valid_until`
    /// (see [`Lifetimes::revocation_horizon`]).
    pub fn new(key: GrantKey, now: OffsetDateTime, valid_until: i64) -> Self {
        Self {
            key,
            issued_before: now.unix_timestamp(),
            valid_until,
        }
    }

    /// Whether a token for `integration`, issued at `issued_at`, is covered.
    pub fn covers(&self, integration: IntegrationId, issued_at: i64) -> bool {
        self.key.integration.is_none_or(|i| i == integration) && issued_at <= self.issued_before
    }

    /// Folds a later revocation of the same key into this one: the later
    /// cut-off and the longer life win (as the store's upsert does).
    pub fn widen(&mut self, other: &GrantRevocation) {
        self.issued_before = self.issued_before.max(other.issued_before);
        self.valid_until = self.valid_until.max(other.valid_until);
    }
}

/// Server-wide defaults; an integration may override each.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub access: Duration,
    pub refresh: Duration,
}

impl Lifetimes {
    /// Until when a revocation must be kept: the latest `exp` any token it
    /// covers can have. A token issued before `now` expires by `now` plus its
    /// lifetime, and a family's refresh tokens and access tokens both count,
    /// so the longer of the two lifetimes decides. The one place this is
    /// computed; pass lifetimes already resolved for the integration.
    pub fn revocation_horizon(self, now: OffsetDateTime) -> i64 {
        now.unix_timestamp() + self.access.max(self.refresh).whole_seconds().max(0)
    }

    /// The longest lifetimes any token can have: the upper ends of what an
    /// integration may set, which the server's defaults may not exceed either.
    /// Revocations that cover many integrations (a member removed, a consent
    /// withdrawn, from the console or the admin tool alike) are kept this long.
    pub const LONGEST: Lifetimes = Lifetimes {
        access: Duration::seconds(crate::integration::ACCESS_TTL_RANGE.1 as i64),
        refresh: Duration::seconds(crate::integration::REFRESH_TTL_RANGE.1 as i64),
    };

    pub fn for_integration(self, integration: &Integration) -> Self {
        Self {
            access: integration
                .access_token_ttl
                .map_or(self.access, |s| Duration::seconds(s.into())),
            refresh: integration
                .refresh_token_ttl
                .map_or(self.refresh, |s| Duration::seconds(s.into())),
        }
    }
}

/// Who a grant acts for and with which scope.
#[derive(Debug, Clone)]
pub struct Grant<'a> {
    pub integration: &'a Integration,
    /// The account the tokens act for: the integration's own for
    /// client_credentials, the one the user picked for authorization codes.
    pub account: AccountId,
    pub user: UserId,
    pub scope: ScopeSet,
    /// `Some` continues an existing family at the given next generation.
    pub family: Option<(FamilyId, u32)>,
    pub with_refresh_token: bool,
}

/// What a grant yields, before signing and sealing.
#[derive(Debug, Clone)]
pub struct Minted {
    pub access: AccessClaims,
    pub refresh: Option<RefreshClaims>,
    pub expires_in: u64,
}

pub fn mint(
    grant: Grant<'_>,
    issuer: &str,
    audience: &str,
    lifetimes: Lifetimes,
    now: OffsetDateTime,
) -> Minted {
    let integration = grant.integration;
    let lifetimes = lifetimes.for_integration(integration);
    let iat = now.unix_timestamp();
    let (family, generation) = match grant.family {
        Some((family, generation)) => (Some(family), generation),
        None if grant.with_refresh_token => (Some(FamilyId::new()), 0),
        None => (None, 0),
    };
    let refresh = family
        .filter(|_| grant.with_refresh_token)
        .map(|family| RefreshClaims {
            family,
            generation,
            integration: integration.id,
            account: grant.account,
            user: grant.user,
            scope: grant.scope,
            epoch: integration.token_epoch,
            issued_at: iat,
            expires_at: iat + lifetimes.refresh.whole_seconds(),
        });
    let access = AccessClaims {
        iss: issuer.to_owned(),
        sub: grant.user,
        aud: audience.to_owned(),
        exp: iat + lifetimes.access.whole_seconds(),
        iat,
        jti: new_jti(),
        client_id: integration.client_id.clone(),
        scope: grant.scope,
        account_id: grant.account,
        integration_id: integration.id,
        family_id: refresh.as_ref().map(|r| r.family),
        epoch: integration.token_epoch,
    };
    Minted {
        access,
        refresh,
        expires_in: lifetimes.access.whole_seconds().max(0).unsigned_abs(),
    }
}

#[cfg(test)]
mod tests;
