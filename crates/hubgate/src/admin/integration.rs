//! `hubgate admin integration …`: create, list, show (audited), rotate, disable, enable, delete, choose the acting user.

use hubgate_core::integration::{Integration, IntegrationSettings};
use hubgate_server::app::{AppError, Manager};
use serde_json::{Value, json};
use time::Duration;

use crate::cli::IntegrationCommand;

use super::{AdminError, Printed, invalid, parse_account, time_text, user_by_email};

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

pub(super) async fn integration(
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
            let integration = manager.integration(&client_id).await?;
            let secret = manager.reveal_secret(&integration).await?;
            Ok(printed(&integration, Some(secret.expose())))
        }
        IntegrationCommand::SetActingUser { client_id, email } => {
            let integration = manager.integration(&client_id).await?;
            let user = user_by_email(store, &email).await?;
            let integration = manager.set_acting_user(integration, user.id).await?;
            Ok(printed(&integration, None))
        }
        IntegrationCommand::RotateSecret { client_id, grace } => {
            let integration = manager.integration(&client_id).await?;
            let rotated = manager
                .rotate_secret(integration, Duration::seconds(grace.into()))
                .await?;
            Ok(printed(&rotated.integration, Some(rotated.secret.expose())))
        }
        IntegrationCommand::Disable { client_id } => {
            let integration = manager.integration(&client_id).await?;
            let integration = manager.set_enabled(integration, false).await?;
            Ok(printed(&integration, None))
        }
        IntegrationCommand::Enable { client_id } => {
            let integration = manager.integration(&client_id).await?;
            let integration = manager.set_enabled(integration, true).await?;
            Ok(printed(&integration, None))
        }
        IntegrationCommand::Delete { client_id } => {
            let integration = manager.integration(&client_id).await?;
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
