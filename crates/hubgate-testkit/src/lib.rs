//! A real hubgate server for tests: the production router on a socket bound
//! to port 0, over a fresh SQLite store bootstrapped with the demo fleet.

pub mod browser;
pub mod constants;
mod database;
mod response;

use std::sync::Arc;

use hubgate_api::{Hub, Page, TokenResponse};
use hubgate_core::account::{Role, User};
use hubgate_core::crypto::MasterKey;
use hubgate_core::ids::AccountId;
use hubgate_core::integration::{Integration, IntegrationSettings};
use hubgate_server::app::{Manager, OPERATOR};
use hubgate_server::bootstrap::{BootstrapOptions, bootstrap};
use hubgate_server::{AppState, ServerConfig};
use hubgate_store::Store;
use hubgate_store::sqlite::SqliteStore;
use reqwest::{RequestBuilder, Response};
use serde::Serialize;

pub use constants::{ALL_SCOPES, REDIRECT_URI};
pub use database::TestDatabase;
pub use response::TestResponse;

pub struct TestApp {
    pub url: String,
    pub store: Arc<SqliteStore>,
    pub master: Arc<MasterKey>,
    pub account: AccountId,
    pub owner: User,
    pub http: reqwest::Client,
    pub config: ServerConfig,
    _dir: tempfile::TempDir,
}

/// An integration's credentials, as the admin sees them after "Create".
pub struct Creds {
    pub client_id: String,
    pub secret: String,
    pub integration: Integration,
}

/// An integration's credentials with the pair `client_credentials` gave it.
pub struct Token {
    pub creds: Creds,
    pub access_token: String,
    pub refresh_token: Option<String>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(hubgate_store::open_sqlite(dir.path()).await.expect("store"));
        let (_, master) = MasterKey::generate();
        let master = Arc::new(master);
        let now = hubgate_core::now();
        let options = BootstrapOptions {
            admin_email: "owner@example.com".into(),
            demo_hubs: true,
        };
        let first = bootstrap(store.as_ref(), &master, &options, now)
            .await
            .expect("bootstrap")
            .expect("empty store");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let mut config = ServerConfig::new(&url);
        config.change_poll_interval = std::time::Duration::from_millis(50);
        configure(&mut config);
        serve_node(listener, &store, &master, &config).await;
        Self {
            url,
            store,
            master,
            account: first.account.id,
            owner: first.user,
            http: reqwest::Client::new(),
            config,
            _dir: dir,
        }
    }

    /// Starts another node on the same store and key, as a restart or a
    /// scale-out would: it loads what it knows from the store alone. Returns
    /// its base URL; tokens name the first node's URL as issuer, as behind
    /// one load balancer.
    pub async fn spawn_node(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        serve_node(listener, &self.store, &self.master, &self.config).await;
        url
    }

    /// The application layer as the operator, now.
    pub fn manager(&self) -> Manager<'_> {
        Manager::new(
            self.store.as_ref(),
            &self.master,
            &OPERATOR,
            hubgate_core::now(),
        )
    }

    pub async fn integration(&self, scopes: &str) -> Creds {
        self.integration_in(self.account, scopes, true).await
    }

    pub async fn integration_in(
        &self,
        account: AccountId,
        scopes: &str,
        refresh_on_cc: bool,
    ) -> Creds {
        let settings = IntegrationSettings::new(
            "Test integration",
            &[REDIRECT_URI.to_owned()],
            scopes,
            refresh_on_cc,
            true,
        )
        .expect("settings");
        let created = self
            .manager()
            .create_integration(account, settings, None)
            .await
            .expect("create integration");
        Creds {
            client_id: created.integration.client_id.to_string(),
            secret: created.secret.expose().to_owned(),
            integration: created.integration,
        }
    }

    /// A second account with its own owner, hubs and integration.
    pub async fn other_account(&self) -> (AccountId, Creds) {
        let manager = self.manager();
        let account = manager.create_account("Other").await.expect("account");
        let email = format!("owner-{}@other.example", account.id);
        manager
            .create_user(
                &email,
                "other owner password",
                false,
                Some((account.id, Role::Owner)),
            )
            .await
            .expect("user");
        manager
            .create_hub(
                account.id,
                &format!("OTHER-{}", &account.id.to_string()[4..12]),
                "Other hub",
                hubgate_core::hub::HubKind::Hub,
                None,
            )
            .await
            .expect("hub");
        let creds = self.integration_in(account.id, ALL_SCOPES, true).await;
        (account.id, creds)
    }

    /// A new integration with `scopes`, and a token pair for it.
    pub async fn token(&self, scopes: &str) -> Token {
        let creds = self.integration(scopes).await;
        let issued = self.client_credentials(&creds, None).await;
        Token {
            creds,
            access_token: issued.access_token,
            refresh_token: issued.refresh_token,
        }
    }

    /// The SDK, holding `creds`, pointed at this server.
    pub fn sdk(&self, creds: &Creds) -> hubgate_client::Client {
        hubgate_client::Client::builder(&self.url)
            .client_credentials(&creds.client_id, &creds.secret)
            .build()
            .expect("SDK client")
    }

    pub fn post_token(&self) -> RequestBuilder {
        self.http
            .post(format!("{}{}", self.url, hubgate_api::paths::TOKEN))
    }

    pub async fn token_form(&self, form: &[(&str, &str)]) -> TestResponse<TokenResponse> {
        let response = self
            .post_token()
            .form(form)
            .send()
            .await
            .expect("token request");
        TestResponse::read(response).await
    }

    /// Asks for a `client_credentials` pair, asserting it is issued.
    pub async fn client_credentials(&self, creds: &Creds, scope: Option<&str>) -> TokenResponse {
        let response = self.try_client_credentials(creds, scope).await;
        assert_eq!(
            response.status(),
            200,
            "client_credentials failed: {}",
            response.text()
        );
        response.ok()
    }

    /// Asks for a `client_credentials` pair, whatever the answer.
    pub async fn try_client_credentials(
        &self,
        creds: &Creds,
        scope: Option<&str>,
    ) -> TestResponse<TokenResponse> {
        let mut grant = vec![("grant_type", "client_credentials")];
        grant.extend(scope.map(|scope| ("scope", scope)));
        self.grant(creds, &grant).await
    }

    /// A token request with `creds` in the body (`client_secret_post`) and
    /// the grant's own parameters.
    pub async fn grant(
        &self,
        creds: &Creds,
        grant: &[(&str, &str)],
    ) -> TestResponse<TokenResponse> {
        let mut form = vec![
            ("client_id", creds.client_id.as_str()),
            ("client_secret", creds.secret.as_str()),
        ];
        form.extend_from_slice(grant);
        self.token_form(&form).await
    }

    pub async fn refresh(&self, creds: &Creds, refresh_token: &str) -> TestResponse<TokenResponse> {
        let grant = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        self.grant(creds, &grant).await
    }

    /// `GET path` with a bearer token; a success is a `T`.
    pub async fn get<T>(&self, path: &str, token: &str) -> TestResponse<T> {
        let request = self.http.get(format!("{}{path}", self.url));
        TestResponse::read(request.bearer_auth(token).send().await.expect("GET")).await
    }

    /// `GET path` without credentials, as for discovery and health.
    pub async fn get_public<T>(&self, path: &str) -> TestResponse<T> {
        let request = self.http.get(format!("{}{path}", self.url));
        TestResponse::read(request.send().await.expect("GET")).await
    }

    /// The first page of hubs: what a bearer token is most often tried on.
    pub async fn hubs(&self, access_token: &str) -> TestResponse<Page<Hub>> {
        self.get(hubgate_api::paths::HUBS, access_token).await
    }

    /// `PATCH path` with a bearer token and a JSON body; a success is a `T`.
    pub async fn patch<T>(
        &self,
        path: &str,
        token: &str,
        body: &impl Serialize,
    ) -> TestResponse<T> {
        let request = self.http.patch(format!("{}{path}", self.url));
        let response = request.bearer_auth(token).json(body).send().await;
        TestResponse::read(response.expect("PATCH")).await
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(format!("{}{path}", self.url))
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let metrics = self.get_public::<()>("/metrics").await;
        assert_eq!(metrics.status(), 200);
        metrics.text()
    }

    /// Waits until `check` holds, up to `limit`; returns how long it took.
    pub async fn eventually<F, Fut>(
        &self,
        limit: std::time::Duration,
        mut check: F,
    ) -> Option<std::time::Duration>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let started = std::time::Instant::now();
        while started.elapsed() < limit {
            if check().await {
                return Some(started.elapsed());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        None
    }
}

/// Serves the production router over `store` on `listener`, in the background.
async fn serve_node(
    listener: tokio::net::TcpListener,
    store: &Arc<SqliteStore>,
    master: &Arc<MasterKey>,
    config: &ServerConfig,
) {
    let state = AppState::new(
        store.clone() as Arc<dyn Store>,
        master.clone(),
        config.clone(),
    )
    .await
    .expect("state");
    tokio::spawn(hubgate_server::serve(
        listener,
        state,
        std::future::pending(),
    ));
}

/// How many requests reached the token endpoint, by the server's own metrics.
pub async fn token_requests(app: &TestApp) -> u64 {
    let text = app.metrics().await;
    text.lines()
        .filter(|l| {
            l.starts_with("hubgate_http_requests_total{")
                && l.contains("route=\"/identity/oauth/v2/token\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Status and `error` code of a JSON error answer.
pub async fn error_of(response: Response) -> (u16, String) {
    TestResponse::<()>::read(response).await.error()
}
