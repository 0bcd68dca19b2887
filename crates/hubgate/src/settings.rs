//! Layered settings for `serve`: defaults, then the TOML file, then
//! `HUBGATE_*` variables, then flags.

use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::cli::{LogFormat, ServeArgs};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub db_max_connections: u32,
    pub db_acquire_timeout: u64,
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
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("hubgate-data"),
            database_url: None,
            db_max_connections: 16,
            db_acquire_timeout: 5,
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
        }
    }
}

/// The flags that were given, and only those, so they override lower layers.
#[derive(Serialize)]
struct FlagLayer {
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    db_max_connections: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    db_acquire_timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token_ttl: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_ttl: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    admin_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    demo: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_format: Option<LogFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    header_read_timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    idle_timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_connections: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_auth_failures_per_client: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_auth_failures_per_address: Option<u32>,
}

const ENV_KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "db_max_connections",
    "db_acquire_timeout",
    "public_url",
    "issuer",
    "access_token_ttl",
    "refresh_token_ttl",
    "admin_email",
    "demo",
    "log_format",
    "header_read_timeout",
    "idle_timeout",
    "max_connections",
    "client_auth_failures_per_client",
    "client_auth_failures_per_address",
];

impl Settings {
    pub fn load(args: &ServeArgs) -> Result<Self, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = &args.config {
            figment = figment.merge(Toml::file_exact(path));
        }
        let flags = FlagLayer {
            listen: args.listen.clone(),
            data_dir: args.data_dir.clone(),
            database_url: args.database_url.clone(),
            db_max_connections: args.db_max_connections,
            db_acquire_timeout: args.db_acquire_timeout,
            public_url: args.public_url.clone(),
            issuer: args.issuer.clone(),
            access_token_ttl: args.access_token_ttl,
            refresh_token_ttl: args.refresh_token_ttl,
            admin_email: args.admin_email.clone(),
            demo: args.no_demo.then_some(false),
            log_format: args.log_format,
            header_read_timeout: args.header_read_timeout,
            idle_timeout: args.idle_timeout,
            max_connections: args.max_connections,
            client_auth_failures_per_client: args.client_auth_failures_per_client,
            client_auth_failures_per_address: args.client_auth_failures_per_address,
        };
        let settings: Settings = figment
            .merge(Env::prefixed("HUBGATE_").only(ENV_KEYS))
            .merge(Serialized::globals(flags))
            .extract()
            .map_err(|e| SettingsError::Invalid(Box::new(e)))?;
        settings.validate()?;
        Ok(settings)
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
        for (key, value) in [("public_url", &self.public_url), ("issuer", &self.issuer)] {
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
        if let Some(url) = &self.database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return refuse("database_url", "a postgres:// or postgresql:// URL".into());
        }
        if self.db_max_connections == 0 {
            return refuse("db_max_connections", "1 or more".into());
        }
        if !(1..=60).contains(&self.header_read_timeout) {
            return refuse("header_read_timeout", "1 to 60 seconds".into());
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
        if self.admin_email.trim().is_empty() || !self.admin_email.contains('@') {
            return refuse("admin_email", "an email address".into());
        }
        Ok(())
    }
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
    }
}
