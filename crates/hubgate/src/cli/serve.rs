//! `hubgate serve`'s flags: the top layer of the settings.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Flags override `HUBGATE_*` variables, which override the TOML file, which
/// overrides the defaults. Serialized, the flags that were given (and only
/// those) are the top layer of `Settings`, under the same keys.
#[derive(Debug, Args, Default, serde::Serialize)]
pub struct ServeArgs {
    /// TOML settings file [env: HUBGATE_CONFIG]
    #[arg(long, env = "HUBGATE_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Address devices connect to over MQTT [default: 127.0.0.1:1883]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mqtt_listen: Option<String>,
    /// Do not listen for devices (MQTT)
    #[arg(long)]
    #[serde(
        rename = "mqtt",
        skip_serializing_if = "std::ops::Not::not",
        serialize_with = "negated"
    )]
    pub no_mqtt: bool,
    /// Where the SQLite database and the master key file live [default: ./hubgate-data]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL instead of SQLite: postgres://user:password@host/db [env: HUBGATE_DATABASE_URL]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// PostgreSQL connections per node [default: 16]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_max_connections: Option<u32>,
    /// Seconds to wait for a PostgreSQL connection before answering 503 [default: 5]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_acquire_timeout: Option<u64>,
    /// The URL clients use to reach this server [default: http://<listen>]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// The `iss` of issued tokens [default: the public URL]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Access-token lifetime in seconds [default: 3600]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<u32>,
    /// Refresh-token lifetime in seconds [default: 2592000, 30 days]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_ttl: Option<u32>,
    /// Email of the owner created on first start [default: admin@localhost]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_email: Option<String>,
    /// Do not create demo hubs and switches on first start
    #[arg(long)]
    #[serde(
        rename = "demo",
        skip_serializing_if = "std::ops::Not::not",
        serialize_with = "negated"
    )]
    pub no_demo: bool,
    /// Log format [default: text]
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// Seconds a connection may take to send a request head [default: 10]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_read_timeout: Option<u64>,
    /// Seconds an idle keep-alive connection stays open [default: 60]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<u64>,
    /// Open connections at most; 0: the open-file limit less 64 [default: 0]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    /// Failed client authentications per client_id per minute before 429; 0: no limit [default: 20]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_auth_failures_per_client: Option<u32>,
    /// Failed client authentications per source address per minute before 429; 0: no limit [default: 100]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_auth_failures_per_address: Option<u32>,
    /// Serve https with this PEM certificate chain (needs --tls-key); reloaded when it changes
    #[arg(long, requires = "tls_key", value_name = "PEM")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, requires = "tls_cert", value_name = "PEM")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// A proxy (CIDR or address) whose X-Forwarded-For and X-Forwarded-Proto are believed; repeatable
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    #[serde(rename = "trusted_proxies", skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<String>,
    /// Export traces over OTLP/HTTP (protobuf) to this collector, e.g. http://127.0.0.1:4318 [default: off]
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    /// Hours events are kept, for streams resuming, pages and delivery logs [default: 72]
    #[arg(long, value_name = "HOURS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_retention_hours: Option<u32>,
    /// Seconds one webhook delivery attempt may take [default: 10]
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_timeout: Option<u64>,
    /// Deliver webhooks to loopback, private and link-local addresses too (refused by default)
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub webhook_allow_private: bool,
}

/// `--no-demo` given is `demo = false`.
fn negated<S: serde::Serializer>(flag: &bool, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bool(!flag)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}
