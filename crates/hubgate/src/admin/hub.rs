//! `hubgate admin hub …`: register hubs and record their reported state.

use hubgate_core::hub::{Hub, parse_kind};
use hubgate_server::app::Manager;
use serde_json::Value;

use crate::cli::HubCommand;

use super::{AdminError, Printed, invalid, parse_account};

fn parse_hub(raw: &str) -> Result<hubgate_core::ids::HubId, AdminError> {
    raw.parse()
        .map_err(|_| invalid(format!("{raw:?} is not a hub id (hub_…)")))
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

pub(super) async fn hub(manager: &Manager<'_>, command: HubCommand) -> Result<Printed, AdminError> {
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
        HubCommand::Credential { hub_id } => {
            let (device, secret) = manager.issue_device_credential(parse_hub(&hub_id)?).await?;
            let json = serde_json::json!({
                "hub_id": device.hub.to_string(),
                "serial": device.serial,
                "secret": secret.expose(),
            });
            let text = format!(
                "Device credential for {} ({}): shown once, keep it on the device.\n  \
                 MQTT username: {}\n  MQTT password: {}",
                device.serial,
                device.hub,
                device.serial,
                secret.expose()
            );
            Ok(Printed { json, text })
        }
        HubCommand::RevokeCredential { hub_id } => {
            let device = manager
                .revoke_device_credential(parse_hub(&hub_id)?)
                .await?;
            let json = serde_json::json!({"hub_id": device.hub.to_string(), "serial": device.serial, "revoked": true});
            let text = format!(
                "Revoked the device credential of {} ({}): connected devices are disconnected.",
                device.serial, device.hub
            );
            Ok(Printed { json, text })
        }
    }
}
