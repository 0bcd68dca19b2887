//! `hubgate admin account …`: create and list accounts.

use hubgate_server::app::{AppError, Manager};
use serde_json::{Value, json};

use crate::cli::AccountCommand;

use super::{AdminError, Printed, time_text};

pub(super) async fn account(
    manager: &Manager<'_>,
    command: AccountCommand,
) -> Result<Printed, AdminError> {
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
