//! Layered settings for `serve`: defaults, then the TOML file, then
//! `HUBGATE_*` variables, then flags.
//!
//! Each setting is declared once, in [`Settings`], with its default. The
//! environment's names are derived from its keys, and the flags
//! ([`ServeArgs`]) serialize into the same shape as one more layer, as
//! figment's maintainer advises (sergiobenitez/figment#60).

use std::path::PathBuf;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use hubgate_server::ServerConfig;
use hubgate_store::postgres::PgSettings;
use serde::{Deserialize, Serialize};

use crate::cli::{LogFormat, ServeArgs};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub listen: String,
    /// Where devices connect over MQTT.
    pub mqtt_listen: String,
    /// Whether to listen for devices at all.
    pub mqtt: bool,
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub public_url: Option<String>,
    pub issuer: Option<String>,
    pub access_token_ttl: u32,
    pub refresh_token_ttl: u32,
    pub admin_email: String,
    pub demo: bool,
    pub log_format: LogFormat,
    pub header_read_timeout: u64,
    pub idle_timeout: u64,
    pub max_connections: usize,
    pub client_auth_failures_per_client: u32,
    pub client_auth_failures_per_address: u32,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// A list, or one string of comma-separated entries (for the variable).
    #[serde(deserialize_with = "list_or_commas")]
    pub trusted_proxies: Vec<String>,
    /// OTLP/HTTP collector for traces; none: no traces.
    pub otlp_endpoint: Option<String>,
    /// Hours events are kept for streams, pages and delivery logs.
    pub event_retention_hours: u32,
    /// Seconds one webhook delivery attempt may take.
    pub webhook_timeout: u64,
    /// Deliver webhooks to loopback, private and link-local addresses too.
    pub webhook_allow_private: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            mqtt_listen: "127.0.0.1:1883".into(),
            mqtt: true,
            data_dir: PathBuf::from("hubgate-data"),
            database: DatabaseSettings::default(),
            public_url: None,
            issuer: None,
            access_token_ttl: 3600,
            refresh_token_ttl: 30 * 86_400,
            admin_email: "admin@localhost".into(),
            demo: true,
            log_format: LogFormat::Text,
            header_read_timeout: 10,
            idle_timeout: 60,
            max_connections: 0,
            client_auth_failures_per_client: 20,
            client_auth_failures_per_address: 100,
            tls_cert: None,
            tls_key: None,
            trusted_proxies: Vec::new(),
            otlp_endpoint: None,
            event_retention_hours: 72,
            webhook_timeout: 10,
            webhook_allow_private: false,
        }
    }
}

/// `[database]`: SQLite in the data directory unless `url` names PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: Option<String>,
    /// PostgreSQL connections per node.
    pub max_connections: u32,
    /// Seconds to wait for a PostgreSQL connection before answering 503.
    pub acquire_timeout: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 16,
            acquire_timeout: 5,
        }
    }
}

impl DatabaseSettings {
    pub fn pool(&self) -> PgSettings {
        PgSettings {
            max_connections: self.max_connections,
            acquire_timeout: std::time::Duration::from_secs(self.acquire_timeout),
        }
    }
}

/// The names the `[database]` keys had before the section existed. Flags
/// and variables keep them (`--database-url`, `HUBGATE_DB_MAX_CONNECTIONS`),
/// and a TOML file written for an older hubgate may still use them.
const FLAT_DATABASE_KEYS: [(&str, &str); 3] = [
    ("database_url", "url"),
    ("db_max_connections", "max_connections"),
    ("db_acquire_timeout", "acquire_timeout"),
];

impl Settings {
    pub fn load(args: &ServeArgs) -> Result<Self, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = &args.config {
            figment = figment.merge(FlatDatabaseKeys(Toml::file_exact(path)));
        }
        let keys = environment_keys();
        let environment =
            Env::prefixed("HUBGATE_").filter(move |key| keys.iter().any(|k| key == k.as_str()));
        let settings: Settings = figment
            .merge(FlatDatabaseKeys(environment))
            .merge(FlatDatabaseKeys(Serialized::globals(args)))
            .extract()
            .map_err(|e| SettingsError::Invalid(Box::new(e)))?;
        settings.validate()?;
        Ok(settings)
    }

    /// What the server library runs with; `bound` is the address actually
    /// listened on, the public URL unless one is set.
    pub fn server_config(&self, bound: std::net::SocketAddr) -> ServerConfig {
        let public_url = self.public_url.clone().unwrap_or_else(|| {
            let scheme = if self.tls_files().is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{bound}")
        });
        let mut config = ServerConfig::new(&public_url);
        if let Some(issuer) = &self.issuer {
            config.issuer = issuer.trim_end_matches('/').to_owned();
        }
        config.access_token_ttl = time::Duration::seconds(self.access_token_ttl.into());
        config.refresh_token_ttl = time::Duration::seconds(self.refresh_token_ttl.into());
        config.connections.header_read_timeout =
            std::time::Duration::from_secs(self.header_read_timeout);
        config.connections.idle_timeout = std::time::Duration::from_secs(self.idle_timeout);
        if self.max_connections > 0 {
            config.connections.max_connections = self.max_connections;
        }
        config.client_auth_limits.per_client = self.client_auth_failures_per_client;
        config.client_auth_limits.per_address = self.client_auth_failures_per_address;
        config.trusted_proxies =
            hubgate_server::client_origin::TrustedProxies::parse(&self.trusted_proxies)
                .unwrap_or_default(); // validated in `validate`
        config.events = hubgate_server::config::EventSettings {
            retention: std::time::Duration::from_secs(u64::from(self.event_retention_hours) * 3600),
            attempt_timeout: std::time::Duration::from_secs(self.webhook_timeout),
            allow_private: self.webhook_allow_private,
        };
        config
    }

    /// The certificate files, when https is served directly.
    pub fn tls_files(&self) -> Option<hubgate_server::tls::TlsFiles> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(hubgate_server::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }

    /// Values serde accepts but hubgate cannot run with, each refused with
    /// its key and what is accepted.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let refuse =
            |key: &str, accepted: String| Err(SettingsError::Refused(key.into(), accepted));
        if !(1..=86_400).contains(&self.access_token_ttl) {
            return refuse("access_token_ttl", "1 to 86400 seconds".into());
        }
        if !(1..=31_536_000).contains(&self.refresh_token_ttl) {
            return refuse("refresh_token_ttl", "1 to 31536000 seconds (a year)".into());
        }
        for (key, value) in [
            ("public_url", &self.public_url),
            ("issuer", &self.issuer),
            ("otlp_endpoint", &self.otlp_endpoint),
        ] {
            if let Some(value) = value
                && !is_http_url(value)
            {
                return refuse(
                    key,
                    format!(
                        "an absolute http:// or https:// URL without query or fragment, not {value:?}"
                    ),
                );
            }
        }
        if let Some(url) = &self.database.url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return refuse("database.url", "a postgres:// or postgresql:// URL".into());
        }
        if self.database.max_connections == 0 {
            return refuse("database.max_connections", "1 or more".into());
        }
        if !(1..=60).contains(&self.header_read_timeout) {
            return refuse("header_read_timeout", "1 to 60 seconds".into());
        }
        if !(1..=8_760).contains(&self.event_retention_hours) {
            return refuse("event_retention_hours", "1 to 8760 hours (a year)".into());
        }
        if !(1..=60).contains(&self.webhook_timeout) {
            return refuse("webhook_timeout", "1 to 60 seconds".into());
        }
        if !(1..=3_600).contains(&self.idle_timeout) {
            return refuse("idle_timeout", "1 to 3600 seconds".into());
        }
        let allowed = hubgate_server::connections::max_connections_allowed();
        if self.max_connections > allowed {
            return refuse(
                "max_connections",
                format!(
                    "0 (automatic) or at most {allowed}: the open-file limit less {} for the store and logs",
                    hubgate_server::connections::FILE_HEADROOM
                ),
            );
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            let (key, other) = if self.tls_cert.is_some() {
                ("tls_key", "tls_cert")
            } else {
                ("tls_cert", "tls_key")
            };
            return refuse(key, format!("a PEM file path, given together with {other}"));
        }
        if let Err(error) =
            hubgate_server::client_origin::TrustedProxies::parse(&self.trusted_proxies)
        {
            return refuse(
                "trusted_proxies",
                format!("CIDRs (10.0.0.0/8, fd00::/8) or IP addresses: {error}"),
            );
        }
        if self.admin_email.trim().is_empty() || !self.admin_email.contains('@') {
            return refuse("admin_email", "an email address".into());
        }
        Ok(())
    }
}

/// The `HUBGATE_*` variables `serve` reads, lower-cased without the prefix:
/// every top-level key, and the database keys by their flat names. Others
/// (`HUBGATE_LOG`, the client CLI's `HUBGATE_CLIENT_SECRET`) are not settings.
fn environment_keys() -> Vec<String> {
    let defaults = Serialized::defaults(Settings::default())
        .data()
        .expect("the defaults serialize");
    let top_level = defaults.into_values().flat_map(Dict::into_keys);
    let mut keys: Vec<String> = top_level.filter(|key| key != "database").collect();
    keys.extend(FLAT_DATABASE_KEYS.map(|(flat, _)| flat.to_owned()));
    keys
}

/// Moves the flat database keys of a layer into its `[database]` section.
struct FlatDatabaseKeys<P>(P);

impl<P: Provider> Provider for FlatDatabaseKeys<P> {
    fn metadata(&self) -> Metadata {
        self.0.metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut data = self.0.data()?;
        for dict in data.values_mut() {
            for (flat, key) in FLAT_DATABASE_KEYS {
                let Some(value) = dict.remove(flat) else {
                    continue;
                };
                let section = dict
                    .entry("database".into())
                    .or_insert_with(|| Dict::new().into());
                let Value::Dict(_, section) = section else {
                    return Err(figment::Error::from(format!(
                        "`database` must be a section when `{flat}` is given"
                    )));
                };
                if section.insert(key.into(), value).is_some() {
                    return Err(figment::Error::from(format!(
                        "`{flat}` and `database.{key}` name the same setting: keep one"
                    )));
                }
            }
        }
        Ok(data)
    }
}

/// `["10.0.0.0/8", "::1"]` in TOML, or `10.0.0.0/8,::1` from a variable.
fn list_or_commas<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrCommas {
        List(Vec<String>),
        Commas(String),
    }
    Ok(match ListOrCommas::deserialize(deserializer)? {
        ListOrCommas::List(list) => list,
        ListOrCommas::Commas(text) => text
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

fn is_http_url(value: &str) -> bool {
    url::Url::parse(value).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https")
            && url.host().is_some()
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
    })
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Invalid(Box<figment::Error>),
    #[error("{0}: accepted values are {1}")]
    Refused(String, String),
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail API returns its own error type
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_environment_which_wins_over_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "hubgate.toml",
                "listen = \"0.0.0.0:1\"\naccess_token_ttl = 60\nadmin_email = \"file@x\"",
            )?;
            jail.set_env("HUBGATE_ACCESS_TOKEN_TTL", "120");
            jail.set_env("HUBGATE_CLIENT_SECRET", "ignored by serve");
            let args = ServeArgs {
                config: Some("hubgate.toml".into()),
                admin_email: Some("flag@x".into()),
                no_demo: true,
                ..Default::default()
            };
            let settings = Settings::load(&args).map_err(|e| e.to_string())?;
            assert_eq!(settings.listen, "0.0.0.0:1");
            assert_eq!(settings.access_token_ttl, 120);
            assert_eq!(settings.admin_email, "flag@x");
            assert!(!settings.demo);
            assert_eq!(settings.refresh_token_ttl, 30 * 86_400);
            Ok(())
        });
    }

    #[test]
    fn the_example_file_names_every_setting_with_its_default() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../hubgate.example.toml");
        let text = std::fs::read_to_string(path).expect("hubgate.example.toml");
        figment::Jail::expect_with(|_| {
            let args = ServeArgs {
                config: Some(path.into()),
                ..Default::default()
            };
            let settings = Settings::load(&args).map_err(|e| e.to_string())?;
            assert_eq!(settings, Settings::default());
            Ok(())
        });
        // Keys without a default (`public_url`, `database.url`) are there as
        // commented examples.
        let defaults = Serialized::defaults(Settings::default()).data().unwrap();
        let mut keys = Vec::new();
        for (key, value) in defaults.into_values().flatten() {
            match value {
                Value::Dict(_, section) => {
                    assert!(text.contains(&format!("\n[{key}]\n")), "no [{key}]");
                    keys.extend(section.into_keys());
                }
                _ => keys.push(key),
            }
        }
        for key in keys {
            let set = format!("\n{key} = ");
            let commented = format!("\n# {key} = ");
            assert!(
                text.contains(&set) || text.contains(&commented),
                "hubgate.example.toml does not name {key}"
            );
        }
    }

    #[test]
    fn database_settings_come_from_the_section_or_from_their_flat_names() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("hubgate.toml", "[database]\nmax_connections = 4")?;
            jail.set_env("HUBGATE_DB_ACQUIRE_TIMEOUT", "9");
            let args = ServeArgs {
                config: Some("hubgate.toml".into()),
                database_url: Some("postgres://flag/db".into()),
                ..Default::default()
            };
            let settings = Settings::load(&args).map_err(|e| e.to_string())?;
            let expected = DatabaseSettings {
                url: Some("postgres://flag/db".into()),
                max_connections: 4,
                acquire_timeout: 9,
            };
            assert_eq!(settings.database, expected);

            // A file written before `[database]` existed still loads.
            jail.create_file("old.toml", "db_max_connections = 3")?;
            let args = ServeArgs {
                config: Some("old.toml".into()),
                ..Default::default()
            };
            let settings = Settings::load(&args).map_err(|e| e.to_string())?;
            assert_eq!(settings.database.max_connections, 3);
            Ok(())
        });
        let message = refused(
            "db_max_connections = 3\n[database]\nmax_connections = 4",
            ServeArgs::default(),
        );
        assert!(message.contains("name the same setting"), "{message}");
        let message = refused("[database]\nmax_connections = 0", ServeArgs::default());
        assert!(
            message.starts_with("database.max_connections:"),
            "{message}"
        );
    }

    fn refused(toml: &str, args: ServeArgs) -> String {
        let mut message = String::new();
        figment::Jail::expect_with(|jail| {
            jail.create_file("hubgate.toml", toml)?;
            let args = ServeArgs {
                config: Some("hubgate.toml".into()),
                ..args
            };
            message = Settings::load(&args).expect_err("refused").to_string();
            Ok(())
        });
        message
    }

    #[test]
    fn unknown_keys_and_values_out_of_range_are_refused_by_name() {
        let message = refused(
            "listen = \"127.0.0.1:1\"\naccess_token_tll = 5",
            ServeArgs::default(),
        );
        assert!(message.contains("access_token_tll"), "{message}");
        let message = refused(
            "",
            ServeArgs {
                access_token_ttl: Some(0),
                ..Default::default()
            },
        );
        assert!(
            message.starts_with("access_token_ttl: accepted values are 1 to 86400"),
            "{message}"
        );
        let message = refused(
            "",
            ServeArgs {
                public_url: Some("not-a-url".into()),
                ..Default::default()
            },
        );
        assert!(
            message.starts_with("public_url: accepted values are an absolute http"),
            "{message}"
        );
        let message = refused("header_read_timeout = 0", ServeArgs::default());
        assert!(message.starts_with("header_read_timeout:"), "{message}");
        let message = refused("max_connections = 100000000", ServeArgs::default());
        assert!(message.starts_with("max_connections:"), "{message}");
        let message = refused("trusted_proxies = [\"10.0.0.0/40\"]", ServeArgs::default());
        assert!(
            message.starts_with("trusted_proxies:") && message.contains("10.0.0.0/40"),
            "{message}"
        );
        let message = refused("tls_cert = \"cert.pem\"", ServeArgs::default());
        assert!(message.starts_with("tls_key:"), "{message}");
    }

    #[test]
    fn trusted_proxies_come_as_a_list_or_as_commas_and_flags_add_up() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("hubgate.toml", "trusted_proxies = [\"10.0.0.0/8\"]")?;
            let args = ServeArgs {
                config: Some("hubgate.toml".into()),
                ..Default::default()
            };
            let settings = Settings::load(&args).map_err(|e| e.to_string())?;
            assert_eq!(settings.trusted_proxies, ["10.0.0.0/8"]);
            jail.set_env("HUBGATE_TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8");
            let settings = Settings::load(&args).map_err(|e| e.to_string())?;
            assert_eq!(settings.trusted_proxies, ["10.0.0.0/8", "fd00::/8"]);
            let args = ServeArgs {
                trusted_proxies: vec!["192.0.2.1".into(), "192.0.2.2".into()],
                ..args
            };
            let settings = Settings::load(&args).map_err(|e| e.to_string())?;
            assert_eq!(settings.trusted_proxies, ["192.0.2.1", "192.0.2.2"]);
            let bound = "127.0.0.1:1".parse().unwrap();
            assert!(
                settings
                    .server_config(bound)
                    .trusted_proxies
                    .contains("192.0.2.2".parse().unwrap())
            );
            Ok(())
        });
    }
}
