use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use hubgate_api::{Account, ErrorCode, Hub, HubKind, HubPatch, HubStateView, Page, UserInfo};
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::token::{AccessToken, Credentials, Grant, Secret, TokenSource};

/// A client of the hubgate API; cheap to clone, share it between tasks.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// For the event stream: no total timeout, as the stream lasts for hours.
    stream_http: reqwest::Client,
    api_url: String,
    userinfo_url: String,
    tokens: TokenSource,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("api_url", &self.inner.api_url)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]. Paths default to the guide's.
#[derive(Debug)]
pub struct ClientBuilder {
    base_url: String,
    client_id: Option<String>,
    client_secret: Option<Secret>,
    scopes: Option<Vec<String>>,
    token_path: String,
    api_path: String,
    userinfo_path: String,
    timeout: Duration,
    user_agent: String,
    /// PEM certificates trusted besides the built-in roots.
    root_certificates: Vec<Vec<u8>>,
}

impl Client {
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            client_id: None,
            client_secret: None,
            scopes: None,
            token_path: crate::DEFAULT_TOKEN_PATH.into(),
            api_path: crate::DEFAULT_API_PATH.into(),
            userinfo_path: crate::DEFAULT_USERINFO_PATH.into(),
            timeout: Duration::from_secs(30),
            user_agent: format!("hubgate-client/{}", env!("CARGO_PKG_VERSION")),
            root_certificates: Vec::new(),
        }
    }
}

pub(crate) fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

impl ClientBuilder {
    pub(crate) fn from_client(
        builder: ClientBuilder,
        client_id: &str,
        client_secret: &str,
    ) -> ClientBuilder {
        builder.client_credentials(client_id, client_secret)
    }

    /// The integration's client_id and client_secret (client_secret_post).
    pub fn client_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.client_id = Some(client_id.into());
        self.client_secret = Some(Secret::new(client_secret));
        self
    }

    /// The scopes to ask for; by default the server grants the integration's.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    pub fn token_path(mut self, path: impl Into<String>) -> Self {
        self.token_path = path.into();
        self
    }

    pub fn api_path(mut self, path: impl Into<String>) -> Self {
        self.api_path = path.into();
        self
    }

    pub fn userinfo_path(mut self, path: impl Into<String>) -> Self {
        self.userinfo_path = path.into();
        self
    }

    /// Per request, connecting included. Default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Trusts the PEM certificates in `pem` (a private CA, a self-signed
    /// server) as well as the built-in roots; checked by [`build`](Self::build).
    pub fn add_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    pub fn build(self) -> Result<Client, Error> {
        self.build_with(Grant::ClientCredentials { scope: None })
    }

    pub(crate) fn build_with(self, grant: Grant) -> Result<Client, Error> {
        let base =
            url::Url::parse(&self.base_url).map_err(|e| Error::Config(format!("base URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Config("the base URL must be http or https".into()));
        }
        let (Some(client_id), Some(client_secret)) = (self.client_id, self.client_secret) else {
            return Err(Error::Config(
                "client_credentials(client_id, client_secret) is required".into(),
            ));
        };
        let mut roots = Vec::new();
        for pem in &self.root_certificates {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| Error::Config(format!("root certificate: {e}")))?;
            if certificates.is_empty() {
                return Err(Error::Config(
                    "root certificate: no PEM certificate in it".into(),
                ));
            }
            roots.extend(certificates);
        }
        let http_builder = || {
            let mut http = reqwest::Client::builder()
                .connect_timeout(self.timeout.min(Duration::from_secs(10)))
                .user_agent(&self.user_agent)
                .redirect(reqwest::redirect::Policy::none());
            for certificate in &roots {
                http = http.add_root_certificate(certificate.clone());
            }
            http
        };
        let http = http_builder().timeout(self.timeout).build()?;
        let stream_http = http_builder().build()?;
        let grant = match grant {
            Grant::ClientCredentials { .. } => Grant::ClientCredentials {
                scope: self.scopes.map(|s| s.join(" ")),
            },
            other => other,
        };
        let tokens = TokenSource::new(
            http.clone(),
            join(&self.base_url, &self.token_path),
            Credentials {
                client_id,
                client_secret,
            },
            grant,
        );
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                stream_http,
                api_url: join(&self.base_url, &self.api_path),
                userinfo_url: join(&self.base_url, &self.userinfo_path),
                tokens,
            }),
        })
    }
}

/// Filters and paging of `GET /api/v1/hubs`.
#[derive(Debug, Clone, Default)]
pub struct HubQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    pub kind: Option<HubKind>,
    pub online: Option<bool>,
    pub room: Option<String>,
}

impl HubQuery {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = &self.cursor {
            pairs.push(("cursor", cursor.clone()));
        }
        if let Some(kind) = self.kind {
            pairs.push(("kind", kind.as_str().to_owned()));
        }
        if let Some(online) = self.online {
            pairs.push(("online", online.to_string()));
        }
        if let Some(room) = &self.room {
            pairs.push(("room", room.clone()));
        }
        pairs
    }
}

impl Client {
    pub(crate) async fn seed(&self, response: hubgate_api::TokenResponse) {
        self.inner.tokens.seed(response).await;
    }

    pub(crate) async fn token_request(
        &self,
        grant: &[(&str, &str)],
    ) -> Result<hubgate_api::TokenResponse, Error> {
        self.inner.tokens.raw_request(grant).await
    }

    /// A valid access token, for calls this SDK does not wrap.
    pub async fn access_token(&self) -> Result<AccessToken, Error> {
        self.inner.tokens.token().await
    }

    /// `GET /api/v1/account` (scope `accounts:read`).
    pub async fn account(&self) -> Result<Account, Error> {
        self.call(Method::GET, &self.api("/account"), &[], None)
            .await
    }

    /// `GET /identity/oauth/v2/userinfo` (scopes `sub`, `email`).
    pub async fn userinfo(&self) -> Result<UserInfo, Error> {
        self.call(Method::GET, &self.inner.userinfo_url, &[], None)
            .await
    }

    /// One page of hubs (scope `hubs:read`).
    pub async fn hubs(&self, query: &HubQuery) -> Result<Page<Hub>, Error> {
        self.call(Method::GET, &self.api("/hubs"), &query.pairs(), None)
            .await
    }

    /// Every hub matching `query`, page after page, as a stream.
    pub fn all_hubs(
        &self,
        query: HubQuery,
    ) -> impl Stream<Item = Result<Hub, Error>> + Send + 'static {
        let client = self.clone();
        // The state: the query of the next page (None when done) and the rest of this page.
        let start = (Some(query), VecDeque::new());
        futures::stream::try_unfold(
            start,
            move |(mut next, mut buffered): (Option<HubQuery>, VecDeque<Hub>)| {
                let client = client.clone();
                async move {
                    while buffered.is_empty() {
                        let Some(query) = next.take() else {
                            return Ok(None);
                        };
                        let page = client.hubs(&query).await?;
                        next = page.next_cursor.map(|cursor| HubQuery {
                            cursor: Some(cursor),
                            ..query
                        });
                        buffered.extend(page.items);
                    }
                    Ok(buffered.pop_front().map(|hub| (hub, (next, buffered))))
                }
            },
        )
    }

    /// `GET /api/v1/hubs/{id}`.
    pub async fn hub(&self, id: &str) -> Result<Hub, Error> {
        self.call(
            Method::GET,
            &self.api(&format!("/hubs/{}", segment(id))),
            &[],
            None,
        )
        .await
    }

    /// `GET /api/v1/hubs/{id}/state`.
    pub async fn hub_state(&self, id: &str) -> Result<HubStateView, Error> {
        self.call(
            Method::GET,
            &self.api(&format!("/hubs/{}/state", segment(id))),
            &[],
            None,
        )
        .await
    }

    /// `PATCH /api/v1/hubs/{id}` (scope `hubs:write`).
    pub async fn update_hub(&self, id: &str, patch: &HubPatch) -> Result<Hub, Error> {
        let body = serde_json::to_value(patch).map_err(|e| Error::Config(e.to_string()))?;
        self.call(
            Method::PATCH,
            &self.api(&format!("/hubs/{}", segment(id))),
            &[],
            Some(body),
        )
        .await
    }

    pub(crate) fn api(&self, path: &str) -> String {
        join(&self.inner.api_url, path)
    }

    pub(crate) fn stream_http(&self) -> &reqwest::Client {
        &self.inner.stream_http
    }

    pub(crate) fn tokens(&self) -> &TokenSource {
        &self.inner.tokens
    }

    /// Sends with a token; after a `401 invalid_token` gets a new token and
    /// tries exactly once more. Returns a successful response.
    async fn send(
        &self,
        method: Method,
        url: &str,
        query: &[(&'static str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<reqwest::Response, Error> {
        let mut retried = false;
        loop {
            let token = self.inner.tokens.token().await?;
            let mut request = self
                .inner
                .http
                .request(method.clone(), url)
                .bearer_auth(token.secret())
                .query(query);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await?;
            if response.status().is_success() {
                return Ok(response);
            }
            let status = response.status().as_u16();
            let error = Error::from_response(response, false).await;
            if status == 401 && !retried && matches!(error.code(), Some(ErrorCode::InvalidToken)) {
                self.inner.tokens.reject(&token).await;
                retried = true;
                continue;
            }
            return Err(error);
        }
    }

    /// [`Client::send`], reading the documented JSON (`()` for no content).
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        query: &[(&'static str, String)],
        body: Option<serde_json::Value>,
    ) -> Result<T, Error> {
        let response = self.send(method, url, query, body.as_ref()).await?;
        let status = response.status().as_u16();
        if status == 204 {
            return serde_json::from_str("null").map_err(|e| Error::Unexpected {
                status,
                detail: format!("expected a body: {e}"),
            });
        }
        response.json().await.map_err(|e| Error::Unexpected {
            status,
            detail: format!("not the documented JSON: {e}"),
        })
    }

    /// [`Client::send`], reading the body as text (exports).
    pub(crate) async fn call_text(
        &self,
        method: Method,
        url: &str,
        query: &[(&'static str, String)],
    ) -> Result<String, Error> {
        let response = self.send(method, url, query, None).await?;
        Ok(response.text().await?)
    }
}

/// Percent-encodes an id for use as one path segment.
pub(crate) fn segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
