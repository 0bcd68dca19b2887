//! `hubgate admin key …`: list and rotate the signing keys.

use hubgate_core::crypto::MasterKey;
use hubgate_server::app::AppError;
use hubgate_store::Store;
use serde_json::{Value, json};

use crate::cli::KeyCommand;

use super::{AdminError, Printed, time_text};

pub(super) async fn key(
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
