//! A real hubgate server for tests: the production router on a socket bound
//! to port 0, over a fresh SQLite store bootstrapped with the demo fleet.

pub mod browser;

use std::sync::Arc;

use hubgate_api::TokenResponse;
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
use serde_json::Value;

pub const ALL_SCOPES: &str = "sub email hubs:read hubs:write accounts:read";
pub const REDIRECT_URI: &str = "https://integrator.example/callback";

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

    pub fn post_token(&self) -> RequestBuilder {
        self.http
            .post(format!("{}/identity/oauth/v2/token", self.url))
    }

    pub async fn token_form(&self, form: &[(&str, &str)]) -> Response {
        self.post_token()
            .form(form)
            .send()
            .await
            .expect("token request")
    }

    pub async fn client_credentials(&self, creds: &Creds, scope: Option<&str>) -> TokenResponse {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", creds.client_id.as_str()),
            ("client_secret", creds.secret.as_str()),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let response = self.token_form(&form).await;
        assert_eq!(
            response.status(),
            200,
            "client_credentials failed: {}",
            response.text().await.unwrap_or_default()
        );
        response.json().await.expect("token response")
    }

    pub async fn refresh(&self, creds: &Creds, refresh_token: &str) -> Response {
        self.token_form(&[
            ("grant_type", "refresh_token"),
            ("client_id", &creds.client_id),
            ("client_secret", &creds.secret),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(format!("{}{path}", self.url))
            .form(form)
            .send()
            .await
            .expect("POST")
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
    let text = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
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
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("JSON error body");
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

/// A fresh PostgreSQL database for one test, dropped afterwards.
///
/// Reads `HUBGATE_TEST_DATABASE_URL` (a URL whose role may create databases;
/// `scripts/start-postgres` prints one). Without it the PostgreSQL tests are
/// skipped, unless `HUBGATE_REQUIRE_POSTGRES=1` (set by `scripts/test`) makes
/// that a failure, so CI can never skip them silently.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> Option<Self> {
        let Ok(admin_url) = std::env::var("HUBGATE_TEST_DATABASE_URL") else {
            assert!(
                std::env::var_os("HUBGATE_REQUIRE_POSTGRES").is_none(),
                "HUBGATE_TEST_DATABASE_URL is not set but PostgreSQL tests are required (run scripts/test)"
            );
            eprintln!("skipping: HUBGATE_TEST_DATABASE_URL is not set");
            return None;
        };
        let name = format!(
            "hubgate_test_{}",
            hubgate_core::ids::AccountId::new().uuid().simple()
        );
        let mut admin = sqlx_connect(&admin_url).await;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let url = match admin_url.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("HUBGATE_TEST_DATABASE_URL must end in /<database>"),
        };
        Some(Self {
            admin_url,
            name,
            url,
        })
    }
}

async fn sqlx_connect(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url)
        .await
        .expect("connect to HUBGATE_TEST_DATABASE_URL")
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let mut admin = sqlx_connect(&admin_url).await;
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
            });
        });
        let _ = dropped.join();
    }
}
