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
use hubgate_core::crypto::MasterKey;
use hubgate_core::hub::{Hub, parse_kind};
use hubgate_core::ids::AccountId;
use hubgate_core::integration::{Integration, IntegrationSettings};
use hubgate_server::app::{Actor, AppError, Manager};
use hubgate_store::Store;
use serde_json::{Value, json};
use time::Duration;
use time::format_description::well_known::Rfc3339;

use crate::cli::{
    AccountCommand, AdminArgs, AdminCommand, HubCommand, IntegrationCommand, KeyCommand, Output,
    UserCommand,
};
use crate::master_key;

#[derive(Debug, thiserror::Error)]
enum AdminError {
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

async fn open(
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
    let opened = open(data_dir, database_url).await?;
    let store = opened.as_ref();
    let now = hubgate_core::now();
    let result = run_command(data_dir, store, command, now).await;
    store.close().await;
    result
}

/// Runs one command after checking the master key against the store, so no
/// command works on a store with the wrong key (or writes secrets under it).
async fn run_command(
    data_dir: &std::path::Path,
    store: &dyn Store,
    command: AdminCommand,
    now: time::OffsetDateTime,
) -> Result<Printed, AdminError> {
    let master = master_key::load(data_dir).map_err(|e| invalid(format!("{e:#}")))?;
    hubgate_server::app::accounts::verify_master_key(store, &master).await?;
    let operator = Actor::Operator;
    let manager = Manager::new(store, &master, &operator, now);
    match command {
        AdminCommand::Account(command) => account(&manager, command).await,
        AdminCommand::User(command) => user(&manager, command).await,
        AdminCommand::Integration(command) => integration(&manager, command).await,
        AdminCommand::Hub(command) => hub(&manager, command).await,
        AdminCommand::Key(command) => key(store, &master, command, now).await,
    }
}

async fn account(manager: &Manager<'_>, command: AccountCommand) -> Result<Printed, AdminError> {
    let store = manager.store;
    match command {
        AccountCommand::Create { name } => {
            let account = manager.create_account(&name).await?;
            Ok(Printed {
                json: json!({"id": account.id, "name": account.name}),
                text: format!("created account {} ({})", account.name, account.id),
            })
        }
        AccountCommand::List => {
            let accounts = store.list_accounts().await.map_err(AppError::from)?;
            let json = accounts
                .iter()
                .map(|a| json!({"id": a.id, "name": a.name, "created_at": time_text(a.created_at)}))
                .collect();
            let text = accounts
                .iter()
                .map(|a| format!("{}  {}", a.id, a.name))
                .collect::<Vec<_>>()
                .join("\n");
            Ok(Printed {
                json: Value::Array(json),
                text: if text.is_empty() {
                    "no accounts".into()
                } else {
                    text
                },
            })
        }
    }
}

async fn user(manager: &Manager<'_>, command: UserCommand) -> Result<Printed, AdminError> {
    let store = manager.store;
    match command {
        UserCommand::Create {
            email,
            password,
            account,
            role,
        } => {
            let membership = match (account, role) {
                (Some(account), Some(role)) => Some((parse_account(&account)?, parse_role(&role)?)),
                _ => None,
            };
            let generated = password.is_none();
            let password = password.unwrap_or_else(hubgate_core::password::generate_password);
            // A generated password is one-time: changed at the first login.
            let user = manager
                .create_user(&email, &password, generated, membership)
                .await?;
            let mut json = json!({"id": user.id, "email": user.email});
            let mut text = format!("created user {} ({})", user.email, user.id);
            if let Some((account, role)) = membership {
                json["account"] = json!(account);
                json["role"] = json!(role);
                text.push_str(&format!(", {role} of {account}"));
            }
            if generated {
                json["password"] = json!(password);
                text.push_str(&format!(
                    "\none-time password: {password}   (shown once; to be changed at the first login)"
                ));
            }
            Ok(Printed { json, text })
        }
        UserCommand::Consents { email } => {
            let user = user_by_email(store, &email).await?;
            let consents = store
                .consents_of_user(user.id)
                .await
                .map_err(AppError::from)?;
            let mut json = Vec::new();
            let mut lines = Vec::new();
            for consent in consents {
                let integration = store
                    .integration_by_id(consent.integration_id)
                    .await
                    .map_err(AppError::from)?;
                let (client_id, name) = integration
                    .map(|i| (i.client_id.to_string(), i.name))
                    .unwrap_or_default();
                lines.push(format!(
                    "{client_id}  {}  {}  {name}",
                    consent.account_id, consent.scope
                ));
                json.push(json!({
                    "client_id": client_id, "integration": name, "account": consent.account_id,
                    "scope": consent.scope.to_string(), "granted_at": time_text(consent.granted_at),
                }));
            }
            let text = if lines.is_empty() {
                "no consents".to_owned()
            } else {
                lines.join("\n")
            };
            Ok(Printed {
                json: Value::Array(json),
                text,
            })
        }
        UserCommand::WithdrawConsent {
            email,
            client_id,
            account,
        } => {
            let user = user_by_email(store, &email).await?;
            let integration = manager.integration(None, &client_id).await?;
            let account = parse_account(&account)?;
            manager
                .withdraw_consent(user.id, account, integration.id)
                .await?;
            Ok(Printed {
                json: json!({"withdrawn": true, "client_id": client_id, "account": account}),
                text: format!("{} will ask {} again", integration.name, user.email),
            })
        }
        UserCommand::AddMember {
            email,
            account,
            role,
        } => {
            let (account, role) = (parse_account(&account)?, parse_role(&role)?);
            let user = manager.add_member(account, &email, role, false).await?.user;
            Ok(Printed {
                json: json!({"id": user.id, "email": user.email, "account": account, "role": role}),
                text: format!("{} is now {role} of {account}", user.email),
            })
        }
        UserCommand::SetPassword { email, generate } => {
            let given = if generate {
                None
            } else {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).map_err(|e| {
                    invalid(format!("cannot read the password from standard input: {e}"))
                })?;
                Some(line.trim_end_matches(['\r', '\n']).to_owned())
            };
            let (user, one_time) = manager.set_password(&email, given.as_deref()).await?;
            let mut json = json!({"id": user.id, "email": user.email});
            let mut text = format!(
                "{}'s password is set; their sessions have ended",
                user.email
            );
            if let Some(password) = one_time {
                json["password"] = json!(password);
                text.push_str(&format!(
                    "\none-time password: {password}   (shown once; to be changed at the next login)"
                ));
            }
            Ok(Printed { json, text })
        }
        UserCommand::RemoveMember { email, account } => {
            let account = parse_account(&account)?;
            let user = user_by_email(store, &email).await?;
            manager.remove_member(account, user.id).await?;
            Ok(Printed {
                json: json!({"removed": true, "id": user.id, "email": user.email, "account": account}),
                text: format!(
                    "{} is no longer a member of {account}; their tokens there are revoked",
                    user.email
                ),
            })
        }
    }
}

fn integration_json(integration: &Integration, secret: Option<&str>) -> Value {
    let mut value = json!({
        "id": integration.id,
        "account_id": integration.account_id,
        "name": integration.name,
        "client_id": integration.client_id,
        "redirect_uris": integration.redirect_uris.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
        "scope": integration.scopes.to_string(),
        "enabled": integration.enabled,
        "refresh_on_client_credentials": integration.refresh_on_client_credentials,
        "require_pkce": integration.require_pkce,
        "access_token_ttl": integration.access_token_ttl,
        "refresh_token_ttl": integration.refresh_token_ttl,
        "created_by": integration.created_by,
        "acting_user": integration.acting_user,
        "created_at": time_text(integration.created_at),
        "previous_secret_expires_at": integration.previous_secret_expires_at.map(time_text),
    });
    if let Some(secret) = secret {
        value["client_secret"] = json!(secret);
    }
    value
}

fn integration_text(integration: &Integration, secret: Option<&str>) -> String {
    let mut lines = vec![
        format!("{} ({})", integration.name, integration.id),
        format!("  client_id      {}", integration.client_id),
    ];
    if let Some(secret) = secret {
        lines.push(format!("  client_secret  {secret}"));
    }
    let uris: Vec<_> = integration
        .redirect_uris
        .iter()
        .map(|u| u.as_str())
        .collect();
    lines.push(format!("  redirect URIs  {}", uris.join(" ")));
    lines.push(format!("  scope          {}", integration.scopes));
    lines.push(format!("  acting user    {}", integration.acting_user));
    lines.push(format!(
        "  status         {}",
        if integration.enabled {
            "enabled"
        } else {
            "disabled"
        }
    ));
    if let Some(until) = integration.previous_secret_expires_at {
        lines.push(format!("  old secret     valid until {}", time_text(until)));
    }
    lines.join("\n")
}

fn printed(integration: &Integration, secret: Option<&str>) -> Printed {
    Printed {
        json: integration_json(integration, secret),
        text: integration_text(integration, secret),
    }
}

async fn integration(
    manager: &Manager<'_>,
    command: IntegrationCommand,
) -> Result<Printed, AdminError> {
    let store = manager.store;
    match command {
        IntegrationCommand::Create {
            account,
            name,
            redirect_uris,
            scope,
            created_by,
            no_refresh_on_client_credentials,
            no_require_pkce,
            access_token_ttl,
            refresh_token_ttl,
        } => {
            let account = parse_account(&account)?;
            let settings = IntegrationSettings::new(
                &name,
                &redirect_uris,
                &scope,
                !no_refresh_on_client_credentials,
                !no_require_pkce,
            )
            .and_then(|s| s.with_lifetimes(access_token_ttl, refresh_token_ttl))
            .map_err(|e| invalid(e.to_string()))?;
            let created_by = match created_by {
                Some(email) => {
                    let email = hubgate_core::account::clean_email(&email)
                        .map_err(|e| invalid(e.to_string()))?;
                    let user = store.user_by_email(&email).await.map_err(AppError::from)?;
                    Some(user.ok_or(AppError::NotFound("user"))?.id)
                }
                None => None,
            };
            let created = manager
                .create_integration(account, settings, created_by)
                .await?;
            Ok(printed(&created.integration, Some(created.secret.expose())))
        }
        IntegrationCommand::List { account } => {
            let account = account.as_deref().map(parse_account).transpose()?;
            let integrations = store
                .list_integrations(account)
                .await
                .map_err(AppError::from)?;
            let json = integrations
                .iter()
                .map(|i| integration_json(i, None))
                .collect();
            let text = integrations
                .iter()
                .map(|i| {
                    let status = if i.enabled { "enabled" } else { "disabled" };
                    format!(
                        "{}  {}  {}  {}  {}",
                        i.client_id, i.account_id, status, i.scopes, i.name
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Ok(Printed {
                json: Value::Array(json),
                text: if text.is_empty() {
                    "no integrations".into()
                } else {
                    text
                },
            })
        }
        IntegrationCommand::Show { client_id } => {
            let integration = manager.integration(None, &client_id).await?;
            let secret = manager.reveal_secret(&integration).await?;
            Ok(printed(&integration, Some(secret.expose())))
        }
        IntegrationCommand::SetActingUser { client_id, email } => {
            let integration = manager.integration(None, &client_id).await?;
            let user = user_by_email(store, &email).await?;
            let integration = manager.set_acting_user(integration, user.id).await?;
            Ok(printed(&integration, None))
        }
        IntegrationCommand::RotateSecret { client_id, grace } => {
            let integration = manager.integration(None, &client_id).await?;
            let rotated = manager
                .rotate_secret(integration, Duration::seconds(grace.into()))
                .await?;
            Ok(printed(&rotated.integration, Some(rotated.secret.expose())))
        }
        IntegrationCommand::Disable { client_id } => {
            let integration = manager.integration(None, &client_id).await?;
            let integration = manager.set_enabled(integration, false).await?;
            Ok(printed(&integration, None))
        }
        IntegrationCommand::Enable { client_id } => {
            let integration = manager.integration(None, &client_id).await?;
            let integration = manager.set_enabled(integration, true).await?;
            Ok(printed(&integration, None))
        }
        IntegrationCommand::Delete { client_id } => {
            let integration = manager.integration(None, &client_id).await?;
            manager.delete_integration(&integration).await?;
            Ok(Printed {
                json: json!({"deleted": true, "client_id": integration.client_id, "id": integration.id}),
                text: format!(
                    "deleted {} ({}); its tokens no longer work",
                    integration.name, integration.client_id
                ),
            })
        }
    }
}

fn hub_printed(hub: &Hub) -> Printed {
    let json = serde_json::to_value(hub.to_wire()).unwrap_or(Value::Null);
    let text = format!(
        "{} {} ({})\n  serial {}  kind {}  online {}\n  state {}",
        hub.kind.as_str(),
        hub.name,
        hub.id,
        hub.serial,
        hub.kind.as_str(),
        hub.online,
        Value::Object(hub.state.clone())
    );
    Printed { json, text }
}

async fn hub(manager: &Manager<'_>, command: HubCommand) -> Result<Printed, AdminError> {
    match command {
        HubCommand::Create {
            account,
            serial,
            name,
            kind,
        } => {
            let account = parse_account(&account)?;
            let kind = parse_kind(&kind).ok_or_else(|| invalid("kind must be hub or switch"))?;
            Ok(hub_printed(
                &manager
                    .create_hub(account, &serial, &name, kind, None)
                    .await?,
            ))
        }
        HubCommand::SetState { id, json } => {
            let value: Value = serde_json::from_str(&json)
                .map_err(|e| invalid(format!("--json is not JSON: {e}")))?;
            Ok(hub_printed(&manager.set_hub_state(&id, value).await?))
        }
    }
}

async fn key(
    store: &dyn Store,
    master: &MasterKey,
    command: KeyCommand,
    now: time::OffsetDateTime,
) -> Result<Printed, AdminError> {
    if let KeyCommand::Rotate = command {
        let (_, stored) = hubgate_core::tokens::AccessTokenSigner::generate(master, now);
        store
            .insert_signing_key(&stored)
            .await
            .map_err(AppError::from)?;
    }
    let mut keys = store.signing_keys().await.map_err(AppError::from)?;
    keys.sort_by_key(|k| (k.created_at, k.id));
    let newest = keys.last().map(|k| k.id);
    let json = keys
        .iter()
        .map(|k| json!({"kid": k.id, "created_at": time_text(k.created_at), "signing": Some(k.id) == newest}))
        .collect();
    let text = keys
        .iter()
        .map(|k| {
            let role = if Some(k.id) == newest {
                "signs and verifies"
            } else {
                "verifies"
            };
            format!("{}  {}  {role}", k.id, time_text(k.created_at))
        })
        .collect::<Vec<_>>()
        .join("\n");
    Ok(Printed {
        json: Value::Array(json),
        text,
    })
}
