//! The token source: one cached access token per client, refreshed shortly
//! before expiry, fetched by one caller while the others wait for it.

use std::time::{Duration, Instant};

use hubgate_api::{ErrorCode, TokenResponse};
use tokio::sync::{Mutex, RwLock};

use crate::error::Error;

/// A secret string: never printed by `Debug`, not `Clone` by accident.
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// An access token ready to send as `Authorization: Bearer …`.
#[derive(Clone)]
pub struct AccessToken {
    value: std::sync::Arc<str>,
    pub scope: String,
    expires_at: Instant,
    /// Shortly before expiry: from here on the source fetches a new one.
    renew_at: Instant,
}

impl AccessToken {
    pub fn secret(&self) -> &str {
        &self.value
    }

    /// Time left before the server stops accepting it.
    pub fn expires_in(&self) -> Duration {
        self.expires_at.saturating_duration_since(Instant::now())
    }

    fn same_as(&self, other: &AccessToken) -> bool {
        self.value == other.value
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("scope", &self.scope)
            .field("expires_in", &self.expires_in())
            .finish()
    }
}

/// How the source gets a fresh pair when it has no usable refresh token.
pub(crate) enum Grant {
    ClientCredentials {
        scope: Option<String>,
    },
    /// Tokens from the authorization-code flow: without a refresh token
    /// there is no way back but a new authorization.
    AuthorizationCode,
}

pub(crate) struct Credentials {
    pub client_id: String,
    pub client_secret: Secret,
}

#[derive(Default)]
struct Cached {
    access: Option<AccessToken>,
    refresh: Option<Secret>,
}

pub(crate) struct TokenSource {
    http: reqwest::Client,
    token_url: String,
    credentials: Credentials,
    grant: Grant,
    cached: RwLock<Cached>,
    /// Held while a token request is in flight: the single flight.
    fetching: Mutex<()>,
}

/// Refresh this long before expiry, or a quarter of the lifetime if shorter.
const SKEW: Duration = Duration::from_secs(30);

impl TokenSource {
    pub fn new(
        http: reqwest::Client,
        token_url: String,
        credentials: Credentials,
        grant: Grant,
    ) -> Self {
        Self {
            http,
            token_url,
            credentials,
            grant,
            cached: RwLock::default(),
            fetching: Mutex::new(()),
        }
    }

    /// Seeds the source with tokens obtained elsewhere (the code exchange).
    pub async fn seed(&self, response: TokenResponse) {
        let mut cached = self.cached.write().await;
        store(&mut cached, response);
    }

    /// A usable access token: the cached one, or a new one from a single
    /// request however many callers ask at once.
    pub async fn token(&self) -> Result<AccessToken, Error> {
        if let Some(token) = self.fresh().await {
            return Ok(token);
        }
        let _flight = self.fetching.lock().await;
        // Whoever held the lock before us may have fetched one already.
        if let Some(token) = self.fresh().await {
            return Ok(token);
        }
        self.fetch().await
    }

    /// Forgets `rejected` (the server said it is invalid) unless it was
    /// already replaced, so the next `token()` fetches a new one.
    pub async fn reject(&self, rejected: &AccessToken) {
        let mut cached = self.cached.write().await;
        if cached.access.as_ref().is_some_and(|t| t.same_as(rejected)) {
            cached.access = None;
        }
    }

    async fn fresh(&self) -> Option<AccessToken> {
        let cached = self.cached.read().await;
        cached
            .access
            .as_ref()
            .filter(|t| !needs_renewal(t))
            .cloned()
    }

    async fn fetch(&self) -> Result<AccessToken, Error> {
        let refresh = self.cached.write().await.refresh.take();
        if let Some(refresh) = refresh {
            match self
                .request(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.expose()),
                ])
                .await
            {
                Ok(token) => return Ok(token),
                // The refresh token died (expired, revoked, rotated): start over.
                Err(Error::OAuth {
                    code: ErrorCode::InvalidGrant,
                    ..
                }) => {}
                Err(other) => {
                    // Keep it for the next attempt unless the server refused the client.
                    if !other.is_authentication() {
                        self.cached.write().await.refresh.get_or_insert(refresh);
                    }
                    return Err(other);
                }
            }
        }
        match &self.grant {
            Grant::ClientCredentials { scope } => {
                let mut form = vec![("grant_type", "client_credentials")];
                if let Some(scope) = scope {
                    form.push(("scope", scope));
                }
                self.request(&form).await
            }
            Grant::AuthorizationCode => Err(Error::OAuth {
                status: 400,
                code: ErrorCode::InvalidGrant,
                description: "the refresh token is no longer valid; the user must authorize again"
                    .into(),
            }),
        }
    }

    async fn request(&self, grant: &[(&str, &str)]) -> Result<AccessToken, Error> {
        let body = self.raw_request(grant).await?;
        let mut cached = self.cached.write().await;
        Ok(store(&mut cached, body))
    }

    /// One token request, client_secret_post; the answer is not cached.
    pub async fn raw_request(&self, grant: &[(&str, &str)]) -> Result<TokenResponse, Error> {
        let mut form = grant.to_vec();
        form.push(("client_id", &self.credentials.client_id));
        form.push(("client_secret", self.credentials.client_secret.expose()));
        let response = self.http.post(&self.token_url).form(&form).send().await?;
        if !response.status().is_success() {
            return Err(Error::from_response(response, true).await);
        }
        let status = response.status().as_u16();
        response.json().await.map_err(|e| Error::Unexpected {
            status,
            detail: format!("not a token response: {e}"),
        })
    }
}

fn store(cached: &mut Cached, response: TokenResponse) -> AccessToken {
    let lifetime = Duration::from_secs(response.expires_in);
    let now = Instant::now();
    let token = AccessToken {
        value: response.access_token.into(),
        scope: response.scope,
        expires_at: now + lifetime,
        renew_at: now + lifetime - SKEW.min(lifetime / 4),
    };
    cached.access = Some(token.clone());
    if let Some(refresh) = response.refresh_token {
        cached.refresh = Some(Secret::new(refresh));
    }
    token
}

fn needs_renewal(token: &AccessToken) -> bool {
    Instant::now() >= token.renew_at
}
