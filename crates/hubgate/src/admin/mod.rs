//! `hubgate admin …`: the operator's tool, working on the store directly, so
//! it can run beside a live server (which picks its changes up within a second).
//!
//! Exit codes: 0 success, 1 store or other failure, 2 invalid input,
//! 3 not found, 4 conflict (already exists).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use hubgate_core::account::Role;
use hubgate_core::ids::AccountId;
use hubgate_server::app::{Actor, AppError, Manager};
use hubgate_store::Store;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use crate::cli::{AdminArgs, AdminCommand, Output};
use crate::master_key;

mod account;
mod backup;
mod hub;
mod integration;
mod key;
mod user;
mod webhook;

#[derive(Debug, thiserror::Error)]
pub(crate) enum AdminError {
    #[error(transparent)]
    Manage(#[from] AppError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl AdminError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Manage(AppError::Invalid(_)) => 2,
            Self::Manage(AppError::NotFound(_)) => 3,
            Self::Manage(AppError::Conflict(_)) => 4,
            Self::Manage(AppError::Forbidden(_)) => 2,
            _ => 1,
        }
    }
}

fn invalid(message: impl Into<String>) -> AdminError {
    AdminError::Manage(AppError::Invalid(message.into()))
}

pub async fn run(args: AdminArgs) -> ExitCode {
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("hubgate-data"));
    match execute(&data_dir, args.database_url.as_deref(), args.command).await {
        Ok(printed) => {
            match args.output {
                Output::Json => crate::print_stdout(
                    &serde_json::to_string_pretty(&printed.json).unwrap_or_default(),
                ),
                Output::Text => crate::print_stdout(&printed.text),
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            match args.output {
                Output::Json => eprintln!("{}", json!({"error": format!("{error:#}")})),
                Output::Text => eprintln!("hubgate admin: {error:#}"),
            }
            ExitCode::from(error.exit_code())
        }
    }
}

/// What a command prints, in both formats.
struct Printed {
    json: Value,
    text: String,
}

pub(crate) async fn open(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = database_url {
        let described = crate::master_key::describe_store(Some(url), data_dir);
        let settings = hubgate_store::postgres::PgSettings {
            max_connections: 2,
            ..Default::default()
        };
        let store = hubgate_store::postgres::PgStore::connect(url, &settings)
            .await
            .with_context(|| format!("cannot open the store ({described})"))?;
        return Ok(Arc::new(store));
    }
    if !data_dir.join("hubgate.db").exists() {
        anyhow::bail!(
            "no hubgate store in {} (start `hubgate serve` there once, or pass --data-dir)",
            data_dir.display()
        );
    }
    let store = hubgate_store::open_sqlite(data_dir)
        .await
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    Ok(Arc::new(store))
}

fn parse_account(raw: &str) -> Result<AccountId, AdminError> {
    raw.parse()
        .map_err(|_| invalid(format!("\"{raw}\" is not an account id (acc_…)")))
}

async fn user_by_email(
    store: &dyn Store,
    email: &str,
) -> Result<hubgate_core::account::User, AdminError> {
    let email = hubgate_core::account::clean_email(email).map_err(|e| invalid(e.to_string()))?;
    let user = store.user_by_email(&email).await.map_err(AppError::from)?;
    Ok(user.ok_or(AppError::NotFound("user"))?)
}

fn parse_role(raw: &str) -> Result<Role, AdminError> {
    raw.parse().map_err(invalid)
}

fn time_text(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

async fn execute(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    command: AdminCommand,
) -> Result<Printed, AdminError> {
    match command {
        AdminCommand::Migrate { dry_run } => {
            return migrate(data_dir, database_url, dry_run).await;
        }
        AdminCommand::Backup { .. } | AdminCommand::Restore { .. } if database_url.is_some() => {
            return Err(invalid(backup::USE_PG_DUMP));
        }
        // The store need not exist yet, and must not be opened (migrated)
        // before the backup's schema is checked.
        AdminCommand::Restore { from, force } => {
            return backup::restore(data_dir, &from, force).await;
        }
        _ => {}
    }
    let opened = open(data_dir, database_url).await?;
    let store = opened.as_ref();
    let now = hubgate_core::now();
    let result = run_command(data_dir, store, command, now).await;
    store.close().await;
    result
}

/// Lists the migrations an upgrade would apply, then (without --dry-run)
/// applies them by opening the store. A schema newer than this binary's is
/// refused either way, naming both versions.
async fn migrate(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    dry_run: bool,
) -> Result<Printed, AdminError> {
    let pending = hubgate_store::pending_migrations(database_url, data_dir)
        .await
        .map_err(|error| match error {
            too_new @ hubgate_store::StoreError::SchemaTooNew { .. } => {
                invalid(too_new.to_string())
            }
            other => AdminError::Other(anyhow::Error::new(other).context("cannot read the schema")),
        })?;
    let json: Vec<Value> = pending
        .iter()
        .map(|m| json!({"version": m.version, "description": m.description}))
        .collect();
    let listed: Vec<String> = pending
        .iter()
        .map(|m| format!("{:>4}  {}", m.version, m.description))
        .collect();
    if !dry_run && !pending.is_empty() {
        open(data_dir, database_url).await?.close().await;
    }
    let text = match (pending.is_empty(), dry_run) {
        (true, _) => "the schema is up to date".to_owned(),
        (false, true) => format!("would apply:\n{}", listed.join("\n")),
        (false, false) => format!("applied:\n{}", listed.join("\n")),
    };
    Ok(Printed {
        json: json!({"dry_run": dry_run, "migrations": json}),
        text,
    })
}

/// The master key (`HUBGATE_MASTER_KEY` or the key file in `data_dir`),
/// checked against the store: nothing runs on a store under another key.
pub(crate) async fn verified_master_key(
    data_dir: &std::path::Path,
    store: &dyn Store,
) -> Result<hubgate_core::crypto::MasterKey, AdminError> {
    let master = master_key::load(data_dir).map_err(|e| invalid(format!("{e:#}")))?;
    hubgate_server::app::accounts::verify_master_key(store, &master).await?;
    Ok(master)
}

/// Runs one command after checking the master key against the store, so no
/// command works on a store with the wrong key (or writes secrets under it).
async fn run_command(
    data_dir: &std::path::Path,
    store: &dyn Store,
    command: AdminCommand,
    now: time::OffsetDateTime,
) -> Result<Printed, AdminError> {
    let master = verified_master_key(data_dir, store).await?;
    let operator = Actor::Operator;
    let manager = Manager::new(store, &master, &operator, now);
    match command {
        AdminCommand::Account(command) => account::account(&manager, command).await,
        AdminCommand::User(command) => user::user(&manager, command).await,
        AdminCommand::Integration(command) => integration::integration(&manager, command).await,
        AdminCommand::Hub(command) => hub::hub(&manager, command).await,
        AdminCommand::Webhook(command) => webhook::webhook(&manager, command).await,
        AdminCommand::Key(command) => key::key(store, &master, command, now).await,
        AdminCommand::Backup { to } => backup::backup(data_dir, &master, &to, now).await,
        // Handled before the store is opened (opening migrates).
        AdminCommand::Migrate { .. } | AdminCommand::Restore { .. } => {
            Err(invalid("this command runs without an open store"))
        }
    }
}
