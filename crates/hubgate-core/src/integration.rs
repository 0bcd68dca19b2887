//! Custom integrations: the OAuth clients an account admin creates.

use time::{Duration, OffsetDateTime};
use url::Url;

use crate::ids::{AccountId, ClientId, IntegrationId, UserId};
use crate::scope::ScopeSet;

pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_REDIRECT_URIS: usize = 10;

/// An integration as stored. Secrets are sealed (see [`crate::secret`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    pub id: IntegrationId,
    pub account_id: AccountId,
    pub name: String,
    pub client_id: ClientId,
    pub redirect_uris: Vec<RedirectUri>,
    pub scopes: ScopeSet,
    pub enabled: bool,
    /// The guide's behaviour: a client_credentials grant also returns a refresh
    /// token. RFC 6749 §4.4.3 says it SHOULD NOT; each integration can opt out.
    pub refresh_on_client_credentials: bool,
    pub require_pkce: bool,
    /// Overrides of the server's default lifetimes, in seconds.
    pub access_token_ttl: Option<u32>,
    pub refresh_token_ttl: Option<u32>,
    pub created_by: UserId,
    /// The member its client_credentials tokens act through. Starts as the
    /// creator; while it acts, the store refuses to remove that member or to
    /// lower their role below what [`Integration::scopes`] needs.
    pub acting_user: UserId,
    pub created_at: OffsetDateTime,
    pub sealed_secret: Vec<u8>,
    /// The secret before the last rotation, valid until `previous_secret_expires_at`.
    pub sealed_previous_secret: Option<Vec<u8>>,
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    /// Tokens carry the epoch they were issued in; bumping it (rotation without
    /// grace, "revoke all tokens") invalidates every earlier token at once.
    pub token_epoch: u32,
}

impl Integration {
    pub fn previous_secret_valid_at(&self, now: OffsetDateTime) -> bool {
        self.sealed_previous_secret.is_some()
            && self
                .previous_secret_expires_at
                .is_some_and(|until| now < until)
    }

    pub fn registers_redirect_uri(&self, candidate: &str) -> bool {
        // Exact string comparison (RFC 9700 §4.1.3): no normalisation, no prefixes.
        self.redirect_uris
            .iter()
            .any(|uri| uri.as_str() == candidate)
    }
}

/// A registered redirect URI. Compared by exact string, never normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedirectUri(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("\"{0}\" is not an absolute URL")]
    NotAbsolute(String),
    #[error("\"{0}\" must use https (plain http is allowed only for localhost)")]
    Insecure(String),
    #[error("\"{0}\" must not contain a fragment (#…)")]
    Fragment(String),
    #[error("\"{0}\" must not contain user information (user@host)")]
    UserInfo(String),
    #[error("\"{0}\" is not in canonical form; register \"{1}\"")]
    NotCanonical(String, String),
}

impl RedirectUri {
    pub fn parse(raw: &str) -> Result<Self, RedirectUriError> {
        let url = Url::parse(raw).map_err(|_| RedirectUriError::NotAbsolute(raw.to_owned()))?;
        if url.cannot_be_a_base() || url.host_str().is_none() {
            return Err(RedirectUriError::NotAbsolute(raw.to_owned()));
        }
        if url.fragment().is_some() || raw.contains('#') {
            return Err(RedirectUriError::Fragment(raw.to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(RedirectUriError::UserInfo(raw.to_owned()));
        }
        let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(RedirectUriError::Insecure(raw.to_owned())),
        }
        // Registering the canonical spelling keeps exact matching predictable:
        // what clients send is what the URL parser would print.
        if url.as_str() != raw {
            return Err(RedirectUriError::NotCanonical(
                raw.to_owned(),
                url.to_string(),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// For values read back from the store, which were validated on the way in.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The settings an admin chooses when creating an integration.
#[derive(Debug, Clone)]
pub struct IntegrationSettings {
    pub name: String,
    pub redirect_uris: Vec<RedirectUri>,
    pub scopes: ScopeSet,
    pub refresh_on_client_credentials: bool,
    pub require_pkce: bool,
    pub access_token_ttl: Option<u32>,
    pub refresh_token_ttl: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("name: {0}")]
    Name(#[from] crate::account::NameError),
    #[error("redirect URI: {0}")]
    RedirectUri(#[from] RedirectUriError),
    #[error("at least one redirect URI is required")]
    NoRedirectUri,
    #[error("at most {MAX_REDIRECT_URIS} redirect URIs may be registered")]
    TooManyRedirectUris,
    #[error("at least one scope is required")]
    NoScope,
    #[error("{0}")]
    Scope(#[from] crate::scope::UnknownScope),
    #[error("{0} must be between {1} and {2} seconds")]
    Lifetime(&'static str, u32, u32),
}

pub const ACCESS_TTL_RANGE: (u32, u32) = (60, 86_400);
pub const REFRESH_TTL_RANGE: (u32, u32) = (300, 365 * 86_400);

impl IntegrationSettings {
    /// Validates what an admin typed (console form or admin CLI).
    pub fn new(
        name: &str,
        redirect_uris: &[String],
        scopes: &str,
        refresh_on_client_credentials: bool,
        require_pkce: bool,
    ) -> Result<Self, SettingsError> {
        let name = crate::account::clean_name(name, MAX_NAME_CHARS)?;
        if redirect_uris.is_empty() {
            return Err(SettingsError::NoRedirectUri);
        }
        if redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(SettingsError::TooManyRedirectUris);
        }
        let mut uris = Vec::with_capacity(redirect_uris.len());
        for raw in redirect_uris {
            let uri = RedirectUri::parse(raw.trim())?;
            if !uris.contains(&uri) {
                uris.push(uri);
            }
        }
        let scopes = ScopeSet::parse(scopes)?;
        if scopes.is_empty() {
            return Err(SettingsError::NoScope);
        }
        Ok(Self {
            name,
            redirect_uris: uris,
            scopes,
            refresh_on_client_credentials,
            require_pkce,
            access_token_ttl: None,
            refresh_token_ttl: None,
        })
    }

    pub fn with_lifetimes(
        mut self,
        access: Option<u32>,
        refresh: Option<u32>,
    ) -> Result<Self, SettingsError> {
        let check = |what, value: Option<u32>, (lo, hi): (u32, u32)| match value {
            Some(v) if !(lo..=hi).contains(&v) => Err(SettingsError::Lifetime(what, lo, hi)),
            _ => Ok(value),
        };
        self.access_token_ttl = check("the access token lifetime", access, ACCESS_TTL_RANGE)?;
        self.refresh_token_ttl = check("the refresh token lifetime", refresh, REFRESH_TTL_RANGE)?;
        Ok(self)
    }
}

/// A grace period for the old secret after rotation; zero cuts it off at once.
pub fn grace_until(now: OffsetDateTime, grace: Duration) -> Option<OffsetDateTime> {
    (grace > Duration::ZERO).then(|| now + grace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_loopback_http_redirect_uris_are_accepted() {
        assert!(RedirectUri::parse("https://example.com/callback").is_ok());
        assert!(RedirectUri::parse("http://localhost:3000/cb").is_ok());
        assert!(RedirectUri::parse("http://127.0.0.1:8000/cb?x=1").is_ok());
    }

    #[test]
    fn dangerous_redirect_uris_are_refused() {
        for bad in [
            "http://example.com/cb",
            "https://example.com/cb#frag",
            "https://user@example.com/cb",
            "javascript:alert(1)",
            "/relative",
            "https://EXAMPLE.com/cb",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn settings_are_validated() {
        let uris = vec!["https://example.com/cb".to_owned()];
        let ok =
            IntegrationSettings::new(" Room sync ", &uris, "hubs:read accounts:read", true, true)
                .unwrap();
        assert_eq!(ok.name, "Room sync");
        assert!(IntegrationSettings::new("x", &[], "sub", true, true).is_err());
        assert!(IntegrationSettings::new("x", &uris, "", true, true).is_err());
        assert!(IntegrationSettings::new("x", &uris, "sub admin", true, true).is_err());
        assert!(ok.clone().with_lifetimes(Some(10), None).is_err());
        assert!(ok.with_lifetimes(Some(600), Some(86_400)).is_ok());
    }
}
