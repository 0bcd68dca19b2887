//! Layered settings for `serve`: defaults, then the TOML file, then
//! `HUBGATE_*` variables, then flags.

use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::cli::{LogFormat, ServeArgs};

#[derive(Debug, Clone, Serialize, Deserialize)]
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
];

impl Settings {
    pub fn load(args: &ServeArgs) -> Result<Self, Box<figment::Error>> {
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
        };
        figment
            .merge(Env::prefixed("HUBGATE_").only(ENV_KEYS))
            .merge(Serialized::globals(flags))
            .extract()
            .map_err(Box::new)
    }
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
            let settings = Settings::load(&args).expect("settings load");
            assert_eq!(settings.listen, "0.0.0.0:1");
            assert_eq!(settings.access_token_ttl, 120);
            assert_eq!(settings.admin_email, "flag@x");
            assert!(!settings.demo);
            assert_eq!(settings.refresh_token_ttl, 30 * 86_400);
            Ok(())
        });
    }
}
