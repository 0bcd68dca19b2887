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
