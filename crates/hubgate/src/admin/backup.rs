//! `hubgate admin backup` and `restore`: the SQLite store as one file with
//! its manifest inside (see `hubgate_store::backup`), checked against the
//! master key before anything is restored.

use std::path::Path;

use hubgate_core::crypto::MasterKey;
use hubgate_server::app::AppError;
use hubgate_store::backup::{self as store_backup, BackupError, BackupManifest};
use serde_json::json;

use super::{AdminError, Printed, invalid, time_text};
use crate::master_key;

pub const USE_PG_DUMP: &str = "a PostgreSQL store is backed up with PostgreSQL's own tools: \
     `pg_dump --format=custom --file=hubgate.dump \"$HUBGATE_DATABASE_URL\"`, restored with \
     `pg_restore --clean --if-exists --dbname=\"$HUBGATE_DATABASE_URL\" hubgate.dump`; keep HUBGATE_MASTER_KEY \
     beside the dump (without it the dump's secrets and refresh tokens cannot be read)";

/// Tells whether a backup was taken under `master`, without revealing the
/// key: 128 bits of a keyed hash of a fixed text.
pub fn key_check(master: &MasterKey) -> String {
    master.mac(b"hubgate backup check v1", b"")[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn refused(error: BackupError) -> AdminError {
    match error {
        BackupError::TargetExists(_) | BackupError::DatabaseExists(_) | BackupError::InUse(_) => {
            AdminError::Manage(AppError::Conflict(error.to_string()))
        }
        BackupError::NotABackup { .. } | BackupError::SchemaTooNew { .. } => {
            invalid(error.to_string())
        }
        BackupError::NoStore(_) => AdminError::Manage(AppError::NotFound("hubgate store")),
        other => AdminError::Other(anyhow::Error::new(other)),
    }
}

fn described(manifest: &BackupManifest) -> serde_json::Value {
    serde_json::to_value(manifest).unwrap_or_default()
}

pub async fn backup(
    data_dir: &Path,
    master: &MasterKey,
    to: &Path,
    now: time::OffsetDateTime,
) -> Result<Printed, AdminError> {
    let manifest = store_backup::backup_sqlite(data_dir, to, |schema_version| BackupManifest {
        hubgate_version: env!("CARGO_PKG_VERSION").to_owned(),
        schema_version,
        created_at: time_text(now),
        key_check: key_check(master),
    })
    .await
    .map_err(refused)?;
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    Ok(Printed {
        json: json!({"file": to.display().to_string(), "bytes": bytes, "manifest": described(&manifest)}),
        text: format!(
            "backed up to {} ({bytes} bytes, schema {}, {}); keep the master key with it, apart from it",
            to.display(),
            manifest.schema_version,
            manifest.created_at
        ),
    })
}

pub async fn restore(data_dir: &Path, from: &Path, force: bool) -> Result<Printed, AdminError> {
    let master = master_key::load(data_dir).map_err(|error| {
        invalid(format!(
            "{error:#}: a restore needs the master key the backup was taken under \
             (put its master.key in {}, or set {})",
            data_dir.display(),
            master_key::ENV
        ))
    })?;
    let manifest = store_backup::read_manifest(from).await.map_err(refused)?;
    if manifest.key_check != key_check(&master) {
        return Err(invalid(format!(
            "{} was taken under a different master key than the one configured \
             ({}): restoring it would leave every secret and refresh token unreadable; \
             use the key that was in use when it was taken. Nothing was changed.",
            from.display(),
            match std::env::var_os(master_key::ENV) {
                Some(_) => master_key::ENV.to_owned(),
                None => data_dir.join(master_key::FILE).display().to_string(),
            }
        )));
    }
    store_backup::restore_sqlite(from, data_dir, force)
        .await
        .map_err(refused)?;
    // Open it as `serve` will (migrating an older schema) and check the key
    // against its contents too.
    let store = super::open(data_dir, None).await?;
    let verified = hubgate_server::app::accounts::verify_master_key(store.as_ref(), &master).await;
    store.close().await;
    verified?;
    Ok(Printed {
        json: json!({"restored": from.display().to_string(), "data_dir": data_dir.display().to_string(), "manifest": described(&manifest)}),
        text: format!(
            "restored {} (taken {} by hubgate {}) into {}",
            from.display(),
            manifest.created_at,
            manifest.hubgate_version,
            data_dir.display()
        ),
    })
}
