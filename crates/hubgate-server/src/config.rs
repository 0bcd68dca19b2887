use time::Duration;

/// What the server needs to know about itself. The binary fills it from
/// flags, `HUBGATE_*` variables and the optional TOML file.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The URL clients reach this server at, without a trailing slash. Tokens
    /// name it as their issuer unless `issuer` says otherwise.
    pub public_url: String,
    pub issuer: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// How often a node reads the change log (revocations made by other
    /// processes or nodes take effect within this interval).
    pub change_poll_interval: std::time::Duration,
    /// Header-read and idle timeouts, and the connection cap.
    pub connections: crate::connections::ConnectionLimits,
    /// Failed client authentications allowed per client_id and per address.
    pub client_auth_limits: ClientAuthLimits,
    /// Proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: crate::client_origin::TrustedProxies,
    /// How long events are kept and how webhooks are delivered.
    pub events: EventSettings,
}

/// Events and webhook deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSettings {
    /// Events (and their delivery logs) older than this are dropped; a
    /// stream resumes and a page reads within it.
    pub retention: std::time::Duration,
    /// One delivery attempt's limit, connect to answer.
    pub attempt_timeout: std::time::Duration,
    /// Deliver to loopback, private and link-local addresses too (tests,
    /// receivers on the operator's own network).
    pub allow_private: bool,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            retention: std::time::Duration::from_secs(72 * 3600),
            attempt_timeout: std::time::Duration::from_secs(10),
            allow_private: false,
        }
    }
}

impl ServerConfig {
    pub fn new(public_url: &str) -> Self {
        let public_url = public_url.trim_end_matches('/').to_owned();
        Self {
            issuer: public_url.clone(),
            public_url,
            access_token_ttl: Duration::seconds(3600),
            refresh_token_ttl: Duration::days(30),
            change_poll_interval: std::time::Duration::from_millis(250),
            connections: Default::default(),
            client_auth_limits: Default::default(),
            trusted_proxies: Default::default(),
            events: Default::default(),
        }
    }

    /// The `aud` of access tokens: this server's resource API.
    pub fn audience(&self) -> String {
        format!("{}/api", self.public_url)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    pub fn lifetimes(&self) -> hubgate_core::grant::Lifetimes {
        hubgate_core::grant::Lifetimes {
            access: self.access_token_ttl,
            refresh: self.refresh_token_ttl,
        }
    }
}

/// Failures allowed per window before `429`; 0 turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAuthLimits {
    pub per_client: u32,
    pub per_address: u32,
    pub window: std::time::Duration,
}

impl Default for ClientAuthLimits {
    fn default() -> Self {
        Self {
            per_client: 20,
            per_address: 100,
            window: std::time::Duration::from_secs(60),
        }
    }
}
