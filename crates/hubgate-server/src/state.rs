use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use hubgate_core::crypto::MasterKey;
use hubgate_core::tokens::{AccessClaims, VerifyError};
use hubgate_store::Store;

use crate::client_origin::{ArrivedOverTls, ClientOrigin, client_origin};
use crate::config::ServerConfig;
use crate::keys::KeyRing;
use crate::metrics::Metrics;
use crate::registry::Registry;

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub master: Arc<MasterKey>,
    pub config: ServerConfig,
    pub registry: Registry,
    keys: RwLock<Arc<KeyRing>>,
    pub metrics: Arc<Metrics>,
    pub login_throttle: crate::limits::LoginThrottle,
    pub client_auth_limiter: crate::limits::ClientAuthLimiter,
    pub auditor: crate::auditor::Auditor,
    pub write_probe: crate::probe::WriteProbe,
    /// False while the store is unreachable (reported by `/readyz`).
    store_reachable: AtomicBool,
    /// Unix second of the last reload caused by an unknown `kid`.
    last_key_reload: AtomicI64,
    verified: hubgate_core::token_cache::VerifiedTokens,
    /// New events, to this node's event streams.
    pub event_feed: crate::events::EventFeed,
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Loads keys and the registry. Creates the first signing key on an empty store.
    pub async fn new(
        store: Arc<dyn Store>,
        master: Arc<MasterKey>,
        config: ServerConfig,
    ) -> anyhow::Result<Self> {
        let keys = KeyRing::load(store.as_ref(), &master, &config).await?;
        let registry = Registry::load(store.as_ref(), &master).await?;
        let auditor = crate::auditor::Auditor::start(store.clone());
        Ok(Self(Arc::new(Inner {
            store,
            master,
            config,
            registry,
            keys: RwLock::new(Arc::new(keys)),
            metrics: Arc::default(),
            login_throttle: Default::default(),
            client_auth_limiter: Default::default(),
            auditor,
            write_probe: Default::default(),
            store_reachable: AtomicBool::new(true),
            last_key_reload: AtomicI64::new(0),
            verified: Default::default(),
            event_feed: Default::default(),
        })))
    }

    pub fn keys(&self) -> Arc<KeyRing> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub async fn reload_keys(&self) -> anyhow::Result<()> {
        let keys = KeyRing::load(self.store.as_ref(), &self.master, &self.config).await?;
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(keys);
        Ok(())
    }

    /// Verifies an access token's signature and claims, or finds it among
    /// those verified before. A key this node does not know yet may come from
    /// a rotation on another node: reload the keys (at most once a second)
    /// and try again.
    pub async fn verify_access_token(&self, token: &str) -> Result<Arc<AccessClaims>, VerifyError> {
        let now = hubgate_core::now();
        if let Some(claims) = self.verified.get(token, now.unix_timestamp()) {
            return Ok(claims);
        }
        let claims = match self.keys().verifier.verify(token, now) {
            Err(VerifyError::UnknownKey) => {
                let second = now.unix_timestamp();
                if self.last_key_reload.swap(second, Ordering::Relaxed) != second
                    && let Err(error) = self.reload_keys().await
                {
                    tracing::warn!(%error, "could not reload signing keys");
                }
                self.keys().verifier.verify(token, now)
            }
            other => other,
        }?;
        let claims = Arc::new(claims);
        self.verified.insert(token, claims.clone());
        Ok(claims)
    }

    /// Applies the change log at once, after this node changed something
    /// (a member removed, a consent withdrawn), so the change holds here
    /// before the answer; other nodes follow within a poll interval.
    pub async fn catch_up(&self) {
        if let Err(error) = self.apply_changes().await {
            tracing::warn!(%error, "could not read the change log; the follower will retry");
        }
    }

    /// Applies the change log from where this node left off, reloading the
    /// signing keys when they changed.
    async fn apply_changes(&self) -> Result<(), hubgate_store::StoreError> {
        let keys_changed = self
            .registry
            .follow(self.store.as_ref(), &self.master)
            .await?;
        if keys_changed && let Err(error) = self.reload_keys().await {
            tracing::error!(%error, "could not reload signing keys");
        }
        Ok(())
    }

    pub fn store_reachable(&self) -> bool {
        self.store_reachable.load(Ordering::Relaxed)
    }

    /// Follows the change log until the returned task is aborted. A store
    /// that cannot be reached is retried with backoff and reported on `/readyz`.
    pub fn spawn_change_follower(&self) -> tokio::task::JoinHandle<()> {
        let state = self.clone();
        hubgate_store::supervisor::supervise("change_follower", move || {
            let state = state.clone();
            async move {
                let base = state.config.change_poll_interval;
                let mut delay = base;
                let mut last_prune = std::time::Instant::now();
                loop {
                    state.store.wait_for_change(delay).await;
                    match state.apply_changes().await {
                        Ok(()) => {
                            if !state.store_reachable.swap(true, Ordering::Relaxed) {
                                tracing::info!("store reachable again");
                            }
                            delay = base;
                        }
                        Err(error) => {
                            if state.store_reachable.swap(false, Ordering::Relaxed) {
                                tracing::warn!(%error, "cannot read the change log; retrying with backoff");
                            }
                            delay = (delay * 2).min(std::time::Duration::from_secs(5));
                        }
                    }
                    if last_prune.elapsed() > std::time::Duration::from_secs(60) {
                        state.registry.prune(hubgate_core::now().unix_timestamp());
                        last_prune = std::time::Instant::now();
                    }
                }
            }
        })
    }
}

/// The client behind a request, as [`client_origin`] decides it with this
/// server's trusted proxies.
impl FromRequestParts<AppState> for ClientOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let tls = parts.extensions.get::<ArrivedOverTls>().is_some();
        Ok(client_origin(
            peer,
            tls,
            &state.config.trusted_proxies,
            &parts.headers,
        ))
    }
}
