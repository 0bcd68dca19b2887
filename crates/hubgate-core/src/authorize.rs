//! The authorization-code flow's rules (RFC 6749 §4.1, RFC 7636, RFC 9700):
//! which authorization requests are acceptable, what a code binds, and what
//! its exchange must present. Plain functions; the pages and the token
//! endpoint call them.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use crate::crypto::{self, MasterKey, Purpose};
use crate::grant::InvalidGrant;
use crate::ids::{AccountId, ClientId, FamilyId, IntegrationId, UserId};
use crate::integration::Integration;
use crate::scope::ScopeSet;

pub const CODE_PREFIX: &str = "hga_";
pub const CODE_LIFETIME: Duration = Duration::seconds(60);
/// How long the user may take to log in, pick an account and consent.
pub const REQUEST_LIFETIME: Duration = Duration::minutes(15);

/// The query of `GET /identity/oauth/v2/authorize`, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeQuery {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

/// A validated authorization request, carried sealed through the login,
/// account and consent pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: ClientId,
    pub redirect_uri: String,
    pub scope: ScopeSet,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    /// Unix seconds after which the pages refuse it.
    pub expires_at: i64,
}

/// Why an authorization request is refused. The first two must not redirect:
/// the redirect URI cannot be trusted (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    UnknownClient,
    BadRedirectUri,
    /// Sent back to the client's redirect URI with `error` and `error_description`.
    Redirect {
        error: &'static str,
        description: String,
    },
}

fn redirect(error: &'static str, description: impl Into<String>) -> AuthorizeError {
    AuthorizeError::Redirect {
        error,
        description: description.into(),
    }
}

/// RFC 7636 §4.1: 43–128 characters of `[A-Za-z0-9-._~]`.
fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks a request against the integration it names. `integration` is what
/// the store holds for `query.client_id` (`None` if unknown).
pub fn validate(
    query: &AuthorizeQuery,
    integration: Option<&Integration>,
    now: OffsetDateTime,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let integration = integration
        .filter(|i| i.enabled)
        .ok_or(AuthorizeError::UnknownClient)?;
    let redirect_uri = query
        .redirect_uri
        .as_deref()
        .ok_or(AuthorizeError::BadRedirectUri)?;
    if !integration.registers_redirect_uri(redirect_uri) {
        return Err(AuthorizeError::BadRedirectUri);
    }
    match query.response_type.as_deref() {
        Some("code") => {}
        None => return Err(redirect("invalid_request", "response_type is required")),
        Some(_) => {
            return Err(redirect(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
    }
    let scope = match query.scope.as_deref().filter(|s| !s.trim().is_empty()) {
        None => integration.scopes,
        Some(text) => {
            ScopeSet::parse(text).map_err(|e| redirect("invalid_scope", e.to_string()))?
        }
    };
    if !scope.is_subset_of(integration.scopes) {
        return Err(redirect(
            "invalid_scope",
            "a requested scope is not granted to this integration",
        ));
    }
    if scope.is_empty() {
        return Err(redirect("invalid_scope", "no scope requested"));
    }
    let code_challenge = match (
        query.code_challenge.as_deref(),
        query.code_challenge_method.as_deref(),
    ) {
        (None, None) if integration.require_pkce => {
            return Err(redirect(
                "invalid_request",
                "PKCE is required: send code_challenge with method S256",
            ));
        }
        (None, None) => None,
        (None, Some(_)) => {
            return Err(redirect(
                "invalid_request",
                "code_challenge_method without code_challenge",
            ));
        }
        (Some(_), Some(method)) if method != "S256" => {
            return Err(redirect(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not accepted)",
            ));
        }
        (Some(_), None) => {
            return Err(redirect(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not accepted)",
            ));
        }
        (Some(challenge), Some(_)) if challenge.len() != 43 || !is_pkce_value(challenge) => {
            return Err(redirect(
                "invalid_request",
                "code_challenge must be a base64url SHA-256 (43 characters)",
            ));
        }
        (Some(challenge), Some(_)) => Some(challenge.to_owned()),
    };
    if query.state.as_deref().is_some_and(|s| s.len() > 1024) {
        return Err(redirect("invalid_request", "state is too long"));
    }
    Ok(AuthorizationRequest {
        client_id: integration.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scope,
        state: query.state.clone(),
        code_challenge,
        expires_at: (now + REQUEST_LIFETIME).unix_timestamp(),
    })
}

impl AuthorizationRequest {
    /// Seals the request for a hidden form field: tamper-proof and opaque.
    pub fn seal(&self, master: &MasterKey) -> String {
        let json = serde_json::to_vec(self).expect("a request serialises");
        crypto::base64url(&master.seal(Purpose::Session, b"authorization-request", &json))
    }

    pub fn open(master: &MasterKey, sealed: &str, now: OffsetDateTime) -> Option<Self> {
        let bytes = crypto::from_base64url(sealed)?;
        let json = master
            .open(Purpose::Session, b"authorization-request", &bytes)
            .ok()?;
        let request: Self = serde_json::from_slice(&json).ok()?;
        (request.expires_at > now.unix_timestamp()).then_some(request)
    }
}

/// A code as stored: only its hash, and everything it binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub hash: [u8; 32],
    pub integration_id: IntegrationId,
    pub user_id: UserId,
    pub account_id: AccountId,
    pub redirect_uri: String,
    pub scope: ScopeSet,
    pub code_challenge: Option<String>,
    pub expires_at: OffsetDateTime,
}

/// A fresh code (`hga_` + 256 random bits) and its record.
pub fn issue_code(
    request: &AuthorizationRequest,
    integration: &Integration,
    user: UserId,
    account: AccountId,
    now: OffsetDateTime,
) -> (String, AuthorizationCode) {
    let code = format!(
        "{CODE_PREFIX}{}",
        crypto::base64url(&rand::random::<[u8; 32]>())
    );
    let record = AuthorizationCode {
        hash: crypto::sha256(code.as_bytes()),
        integration_id: integration.id,
        user_id: user,
        account_id: account,
        redirect_uri: request.redirect_uri.clone(),
        scope: request.scope,
        code_challenge: request.code_challenge.clone(),
        expires_at: now + CODE_LIFETIME,
    };
    (code, record)
}

pub fn code_hash(code: &str) -> [u8; 32] {
    crypto::sha256(code.as_bytes())
}

/// The S256 transform of RFC 7636 §4.2.
pub fn s256(verifier: &str) -> String {
    crypto::base64url(&crypto::sha256(verifier.as_bytes()))
}

/// Checks a code's exchange: the client it was issued to, the same redirect
/// URI, not expired, and the PKCE verifier. A verifier without a challenge is
/// refused too (a downgrade attempt, RFC 9700 §4.8.2).
pub fn check_exchange(
    code: &AuthorizationCode,
    integration: &Integration,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), InvalidGrant> {
    if code.integration_id != integration.id {
        return Err(InvalidGrant::OtherClient);
    }
    // The URI must also still be registered: one removed since the code
    // was issued serves no new grant.
    if redirect_uri != Some(code.redirect_uri.as_str())
        || !integration.registers_redirect_uri(&code.redirect_uri)
    {
        return Err(InvalidGrant::RedirectUriMismatch);
    }
    if !code.scope.is_subset_of(integration.scopes) {
        return Err(InvalidGrant::ScopeWithdrawn);
    }
    if code.expires_at <= now {
        return Err(InvalidGrant::Expired);
    }
    match (&code.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) if is_pkce_value(verifier) => {
            let computed = s256(verifier);
            if bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())) {
                Ok(())
            } else {
                Err(InvalidGrant::PkceMismatch)
            }
        }
        (None, None) => Ok(()),
        _ => Err(InvalidGrant::PkceMismatch),
    }
}

/// What the store answers when a code is presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeUse {
    /// First use: the code is now spent.
    First(AuthorizationCode),
    /// Used before: whatever it issued must be revoked.
    Replayed {
        family: Option<FamilyId>,
        integration_id: IntegrationId,
    },
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integration::RedirectUri;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn integration() -> Integration {
        Integration {
            id: IntegrationId::new(),
            account_id: AccountId::new(),
            name: "App".into(),
            client_id: ClientId::generate(),
            redirect_uris: vec![RedirectUri::parse("https://app.example/cb").unwrap()],
            scopes: ScopeSet::parse("sub email hubs:read").unwrap(),
            enabled: true,
            refresh_on_client_credentials: true,
            require_pkce: true,
            access_token_ttl: None,
            refresh_token_ttl: None,
            created_by: UserId::new(),
            acting_user: UserId::new(),
            created_at: NOW,
            sealed_secret: vec![],
            sealed_previous_secret: None,
            previous_secret_expires_at: None,
            token_epoch: 0,
        }
    }

    fn query(integration: &Integration) -> AuthorizeQuery {
        AuthorizeQuery {
            client_id: Some(integration.client_id.to_string()),
            redirect_uri: Some("https://app.example/cb".into()),
            response_type: Some("code".into()),
            scope: Some("sub hubs:read".into()),
            state: Some("xyz".into()),
            code_challenge: Some(CHALLENGE.into()),
            code_challenge_method: Some("S256".into()),
        }
    }

    #[test]
    fn a_good_request_is_accepted_and_round_trips_sealed() {
        let integration = integration();
        let request = validate(&query(&integration), Some(&integration), NOW).unwrap();
        assert_eq!(request.scope.to_string(), "sub hubs:read");
        let (_, master) = MasterKey::generate();
        let sealed = request.seal(&master);
        assert_eq!(
            AuthorizationRequest::open(&master, &sealed, NOW),
            Some(request.clone())
        );
        assert_eq!(
            AuthorizationRequest::open(&master, &sealed, NOW + Duration::hours(1)),
            None
        );
        assert_eq!(AuthorizationRequest::open(&master, "garbage", NOW), None);
    }

    #[test]
    fn unknown_clients_and_unregistered_redirect_uris_are_never_redirected_to() {
        let integration = integration();
        assert_eq!(
            validate(&query(&integration), None, NOW),
            Err(AuthorizeError::UnknownClient)
        );
        for uri in [
            "https://app.example/cb/extra",
            "https://app.example/c",
            "https://app.example:8443/cb",
            "https://evil@app.example/cb",
            "https://app.example/cb#x",
            "https://app.example/cb?x=1",
            "https://APP.example/cb",
        ] {
            let mut q = query(&integration);
            q.redirect_uri = Some(uri.into());
            assert_eq!(
                validate(&q, Some(&integration), NOW),
                Err(AuthorizeError::BadRedirectUri),
                "{uri}"
            );
        }
        let mut disabled = integration.clone();
        disabled.enabled = false;
        assert_eq!(
            validate(&query(&disabled), Some(&disabled), NOW),
            Err(AuthorizeError::UnknownClient)
        );
    }

    #[test]
    fn pkce_must_be_s256_and_is_required_unless_turned_off() {
        let integration = integration();
        let mut plain = query(&integration);
        plain.code_challenge_method = Some("plain".into());
        assert!(matches!(
            validate(&plain, Some(&integration), NOW),
            Err(AuthorizeError::Redirect {
                error: "invalid_request",
                ..
            })
        ));
        let mut none = query(&integration);
        none.code_challenge = None;
        none.code_challenge_method = None;
        assert!(validate(&none, Some(&integration), NOW).is_err());
        let mut relaxed = integration.clone();
        relaxed.require_pkce = false;
        assert_eq!(
            validate(&none, Some(&relaxed), NOW).unwrap().code_challenge,
            None
        );
    }

    #[test]
    fn scopes_and_response_types_are_checked() {
        let integration = integration();
        let mut wide = query(&integration);
        wide.scope = Some("hubs:write".into());
        assert!(matches!(
            validate(&wide, Some(&integration), NOW),
            Err(AuthorizeError::Redirect {
                error: "invalid_scope",
                ..
            })
        ));
        let mut token = query(&integration);
        token.response_type = Some("token".into());
        assert!(matches!(
            validate(&token, Some(&integration), NOW),
            Err(AuthorizeError::Redirect {
                error: "unsupported_response_type",
                ..
            })
        ));
    }

    #[test]
    fn an_exchange_needs_the_same_client_redirect_uri_and_the_right_verifier_in_time() {
        let integration = integration();
        let request = validate(&query(&integration), Some(&integration), NOW).unwrap();
        let (code, record) =
            issue_code(&request, &integration, UserId::new(), AccountId::new(), NOW);
        assert!(code.starts_with(CODE_PREFIX));
        assert_eq!(record.hash, code_hash(&code));
        let uri = Some("https://app.example/cb");
        assert_eq!(
            check_exchange(&record, &integration, uri, Some(VERIFIER), NOW),
            Ok(())
        );
        let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX";
        assert_eq!(
            check_exchange(&record, &integration, uri, Some(wrong), NOW),
            Err(InvalidGrant::PkceMismatch)
        );
        assert_eq!(
            check_exchange(&record, &integration, uri, None, NOW),
            Err(InvalidGrant::PkceMismatch)
        );
        assert_eq!(
            check_exchange(
                &record,
                &integration,
                Some("https://app.example/cb/"),
                Some(VERIFIER),
                NOW
            ),
            Err(InvalidGrant::RedirectUriMismatch)
        );
        let later = NOW + Duration::seconds(61);
        assert_eq!(
            check_exchange(&record, &integration, uri, Some(VERIFIER), later),
            Err(InvalidGrant::Expired)
        );
        let mut other = integration.clone();
        other.id = IntegrationId::new();
        assert_eq!(
            check_exchange(&record, &other, uri, Some(VERIFIER), NOW),
            Err(InvalidGrant::OtherClient)
        );
    }

    #[test]
    fn a_verifier_without_a_challenge_is_a_downgrade_and_refused() {
        let mut integration = integration();
        integration.require_pkce = false;
        let mut q = query(&integration);
        q.code_challenge = None;
        q.code_challenge_method = None;
        let request = validate(&q, Some(&integration), NOW).unwrap();
        let (_, record) = issue_code(&request, &integration, UserId::new(), AccountId::new(), NOW);
        let uri = Some("https://app.example/cb");
        assert_eq!(
            check_exchange(&record, &integration, uri, None, NOW),
            Ok(())
        );
        assert_eq!(
            check_exchange(&record, &integration, uri, Some(VERIFIER), NOW),
            Err(InvalidGrant::PkceMismatch)
        );
    }
}
