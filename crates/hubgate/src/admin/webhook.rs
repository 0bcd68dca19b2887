//! `hubgate admin webhook …`: an integration's webhook endpoints.

use hubgate_core::integration::Integration;
use hubgate_core::webhook::WebhookEndpoint;
use hubgate_server::app::Manager;
use hubgate_server::app::webhooks::{WebhookChange, describe_filter};
use serde_json::{Value, json};

use crate::cli::WebhookCommand;

use super::{AdminError, Printed};

fn endpoint_json(integration: &Integration, endpoint: &WebhookEndpoint) -> Value {
    json!({
        "id": endpoint.id.to_string(),
        "client_id": integration.client_id.to_string(),
        "url": endpoint.url,
        "events": endpoint.events.kinds().iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
    })
}

fn endpoint_text(endpoint: &WebhookEndpoint) -> String {
    let state = match (&endpoint.disabled_reason, endpoint.enabled) {
        (Some(reason), _) => format!("disabled by the server: {reason}"),
        (None, true) => "enabled".into(),
        (None, false) => "disabled".into(),
    };
    format!(
        "{} {}\n  {}; {}",
        endpoint.id,
        endpoint.url,
        describe_filter(&endpoint.events),
        state
    )
}

fn printed(integration: &Integration, endpoint: &WebhookEndpoint) -> Printed {
    Printed {
        json: endpoint_json(integration, endpoint),
        text: endpoint_text(endpoint),
    }
}

pub(super) async fn webhook(
    manager: &Manager<'_>,
    command: WebhookCommand,
) -> Result<Printed, AdminError> {
    match command {
        WebhookCommand::Create {
            client_id,
            url,
            events,
            allow_private,
        } => {
            let integration = manager.integration(&client_id).await?;
            let created = manager
                .create_webhook(&integration, &url, &events, allow_private)
                .await?;
            let mut json = endpoint_json(&integration, &created.endpoint);
            json["secret"] = Value::String(created.secret.expose());
            let text = format!(
                "{}\n  signing secret (shown once): {}",
                endpoint_text(&created.endpoint),
                created.secret.expose()
            );
            Ok(Printed { json, text })
        }
        WebhookCommand::List { client_id } => {
            let integration = manager.integration(&client_id).await?;
            let endpoints = manager.webhooks(&integration).await?;
            let json = Value::Array(
                endpoints
                    .iter()
                    .map(|e| endpoint_json(&integration, e))
                    .collect(),
            );
            let text = if endpoints.is_empty() {
                format!("{client_id} has no webhook endpoints")
            } else {
                endpoints
                    .iter()
                    .map(endpoint_text)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Ok(Printed { json, text })
        }
        WebhookCommand::RotateSecret {
            client_id,
            webhook_id,
        } => {
            let integration = manager.integration(&client_id).await?;
            let rotated = manager
                .rotate_webhook_secret(&integration, &webhook_id)
                .await?;
            let mut json = endpoint_json(&integration, &rotated.endpoint);
            json["secret"] = Value::String(rotated.secret.expose());
            let text = format!(
                "{}\n  new signing secret (shown once): {}\n  the old one signs too for 24 h",
                endpoint_text(&rotated.endpoint),
                rotated.secret.expose()
            );
            Ok(Printed { json, text })
        }
        WebhookCommand::Disable {
            client_id,
            webhook_id,
        } => set_enabled(manager, &client_id, &webhook_id, false).await,
        WebhookCommand::Enable {
            client_id,
            webhook_id,
        } => set_enabled(manager, &client_id, &webhook_id, true).await,
        WebhookCommand::Delete {
            client_id,
            webhook_id,
        } => {
            let integration = manager.integration(&client_id).await?;
            manager.delete_webhook(&integration, &webhook_id).await?;
            Ok(Printed {
                json: json!({"id": webhook_id, "deleted": true}),
                text: format!("Deleted {webhook_id}."),
            })
        }
    }
}

async fn set_enabled(
    manager: &Manager<'_>,
    client_id: &str,
    webhook_id: &str,
    enabled: bool,
) -> Result<Printed, AdminError> {
    let integration = manager.integration(client_id).await?;
    let change = WebhookChange {
        enabled: Some(enabled),
        ..Default::default()
    };
    // The URL is not changed, so whether private addresses are allowed does not matter.
    let endpoint = manager
        .update_webhook(&integration, webhook_id, change, true)
        .await?;
    Ok(printed(&integration, &endpoint))
}
