//! Backups of the SQLite store: one file, a consistent copy taken while a
//! server runs and writes (`VACUUM INTO` reads one snapshot, so every
//! commit made before it began is in, and nothing half-made), with its
//! manifest inside it, in a table of its own, so the two cannot be separated.
//!
//! Restoring copies the file into a data directory no server is using and
//! drops the manifest table; opening the store then migrates it as usual.
//! PostgreSQL stores are backed up with `pg_dump`, not here.

use std::path::{Path, PathBuf};

use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteLockingMode};

/// The database file in a data directory.
pub const DATABASE_FILE: &str = "hubgate.db";

/// The table holding the manifest in a backup file (never in a live store).
const MANIFEST_TABLE: &str = "hubgate_backup_manifest";

/// What a backup says about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackupManifest {
    /// The hubgate that made it.
    pub hubgate_version: String,
    /// The newest schema migration applied in it.
    pub schema_version: i64,
    /// RFC 3339, UTC: when the snapshot was taken.
    pub created_at: String,
    /// A keyed hash of a fixed text under the master key the store is
    /// sealed with: tells a wrong key without revealing the key.
    pub key_check: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("no hubgate store in {}", .0.display())]
    NoStore(PathBuf),
    #[error("{} already exists: choose another file", .0.display())]
    TargetExists(PathBuf),
    #[error(
        "{} already holds a hubgate database: restore into an empty data directory, or pass --force to replace it",
        .0.display()
    )]
    DatabaseExists(PathBuf),
    #[error(
        "{} is in use (a running `hubgate serve`?): stop the server before restoring over it",
        .0.display()
    )]
    InUse(PathBuf),
    #[error("{} is not a hubgate backup: {reason}", path.display())]
    NotABackup { path: PathBuf, reason: String },
    #[error(
        "the backup has schema version {backup}, newer than this hubgate knows ({binary}): restore it with the hubgate that made it, or a newer one"
    )]
    SchemaTooNew { backup: i64, binary: i64 },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("SQLite: {0}")]
    Sqlite(#[from] sqlx::Error),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let context = context.into();
    move |source| BackupError::Io { context, source }
}

fn utf8(path: &Path) -> Result<&str, BackupError> {
    path.to_str().ok_or_else(|| BackupError::Io {
        context: format!("{} is not a UTF-8 path", path.display()),
        source: std::io::ErrorKind::InvalidInput.into(),
    })
}

/// An empty file only the owner reads: the copy holds password hashes and
/// sealed secrets.
fn create_private(path: &Path) -> Result<(), BackupError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map(drop)
        .map_err(io(format!("cannot create {}", path.display())))
}

fn sync(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(io(format!("cannot flush {}", path.display())))
}

/// The directory entry of a renamed file reaches the disk too.
fn sync_parent(path: &Path) -> Result<(), BackupError> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => sync(parent),
        None => sync(Path::new(".")),
    }
}

/// A connection to a file that is not a live store (a backup, a copy):
/// rollback journal, so nothing is left beside it.
async fn open_file(path: &Path, read_only: bool) -> Result<SqliteConnection, BackupError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(read_only)
        .journal_mode(SqliteJournalMode::Delete);
    Ok(SqliteConnection::connect_with(&options).await?)
}

async fn applied_versions(conn: &mut SqliteConnection) -> Vec<i64> {
    sqlx::query_scalar::<_, i64>(crate::schema::APPLIED)
        .fetch_all(conn)
        .await
        .unwrap_or_default()
}

/// Copies the store in `data_dir` to `to` (which must not exist), with the
/// manifest `manifest` makes from the copy's schema version. The file
/// appears only once complete: it is written as `<to>.partial` first.
pub async fn backup_sqlite(
    data_dir: &Path,
    to: &Path,
    manifest: impl FnOnce(i64) -> BackupManifest,
) -> Result<BackupManifest, BackupError> {
    let database = data_dir.join(DATABASE_FILE);
    if !database.exists() {
        return Err(BackupError::NoStore(data_dir.to_owned()));
    }
    if to.exists() {
        return Err(BackupError::TargetExists(to.to_owned()));
    }
    let mut partial = to.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    // Left by an interrupted backup: never a complete one.
    let _ = std::fs::remove_file(&partial);
    create_private(&partial)?;
    let result = async {
        // A connection of its own, not the store's pools: a read snapshot
        // that writers (WAL) do not wait for.
        let source_options = SqliteConnectOptions::new()
            .filename(&database)
            .busy_timeout(std::time::Duration::from_secs(10));
        let mut source = SqliteConnection::connect_with(&source_options).await?;
        sqlx::query("VACUUM INTO ?")
            .bind(utf8(&partial)?)
            .execute(&mut source)
            .await?;
        source.close().await?;

        let mut copy = open_file(&partial, false).await?;
        let schema_version = applied_versions(&mut copy)
            .await
            .into_iter()
            .max()
            .unwrap_or(0);
        let manifest = manifest(schema_version);
        let mut tx = copy.begin().await?;
        sqlx::query(&format!(
            "CREATE TABLE {MANIFEST_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        ))
        .execute(&mut *tx)
        .await?;
        for (key, value) in [
            ("hubgate_version", manifest.hubgate_version.clone()),
            ("schema_version", manifest.schema_version.to_string()),
            ("created_at", manifest.created_at.clone()),
            ("key_check", manifest.key_check.clone()),
        ] {
            sqlx::query(&format!(
                "INSERT INTO {MANIFEST_TABLE} (key, value) VALUES (?, ?)"
            ))
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        copy.close().await?;
        sync(&partial)?;
        Ok(manifest)
    }
    .await;
    match result {
        Ok(manifest) => {
            std::fs::rename(&partial, to).map_err(io(format!("cannot create {}", to.display())))?;
            sync_parent(to)?;
            Ok(manifest)
        }
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            Err(error)
        }
    }
}

/// Reads a backup's manifest; refuses a file that is not one, and one whose
/// schema is newer than this binary knows.
pub async fn read_manifest(file: &Path) -> Result<BackupManifest, BackupError> {
    let not_a_backup = |reason: String| BackupError::NotABackup {
        path: file.to_owned(),
        reason,
    };
    if !file.is_file() {
        return Err(not_a_backup("no such file".into()));
    }
    let mut conn = open_file(file, true)
        .await
        .map_err(|e| not_a_backup(e.to_string()))?;
    let rows: Vec<(String, String)> =
        sqlx::query_as(&format!("SELECT key, value FROM {MANIFEST_TABLE}"))
            .fetch_all(&mut conn)
            .await
            .map_err(|_| not_a_backup("it has no backup manifest".into()))?;
    let applied = applied_versions(&mut conn).await;
    conn.close().await?;
    let field = |name: &str| {
        rows.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .ok_or_else(|| not_a_backup(format!("its manifest has no {name}")))
    };
    let manifest = BackupManifest {
        hubgate_version: field("hubgate_version")?,
        schema_version: field("schema_version")?
            .parse()
            .map_err(|_| not_a_backup("its schema_version is not a number".into()))?,
        created_at: field("created_at")?,
        key_check: field("key_check")?,
    };
    let binary = crate::schema::newest(&crate::sqlite::MIGRATOR);
    if crate::schema::check_not_newer(&crate::sqlite::MIGRATOR, &applied).is_err()
        || manifest.schema_version > binary
    {
        return Err(BackupError::SchemaTooNew {
            backup: manifest
                .schema_version
                .max(applied.iter().copied().max().unwrap_or(0)),
            binary,
        });
    }
    Ok(manifest)
}

/// Whether a process has the database open: every connection to a WAL
/// database holds a shared lock on it, so an exclusive one is refused
/// while a server (or an admin command) is connected.
async fn ensure_unused(database: &Path) -> Result<(), BackupError> {
    let options = SqliteConnectOptions::new()
        .filename(database)
        .locking_mode(SqliteLockingMode::Exclusive)
        .busy_timeout(std::time::Duration::from_millis(200));
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(|_| BackupError::InUse(database.to_owned()))?;
    let locked = sqlx::query("BEGIN EXCLUSIVE").execute(&mut conn).await;
    if locked.is_ok() {
        sqlx::query("ROLLBACK").execute(&mut conn).await?;
    }
    conn.close().await?;
    locked
        .map(drop)
        .map_err(|_| BackupError::InUse(database.to_owned()))
}

/// Restores the backup `from` (its manifest already checked by the caller)
/// as the store of `data_dir`. Refuses a directory that holds a database
/// unless `force`, and one a running process has open even then.
pub async fn restore_sqlite(from: &Path, data_dir: &Path, force: bool) -> Result<(), BackupError> {
    let database = data_dir.join(DATABASE_FILE);
    if database.exists() {
        if !force {
            return Err(BackupError::DatabaseExists(data_dir.to_owned()));
        }
        ensure_unused(&database).await?;
    }
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(data_dir)
            .map_err(io(format!("cannot create {}", data_dir.display())))?;
    }
    let staging = data_dir.join(format!("{DATABASE_FILE}.restoring"));
    let _ = std::fs::remove_file(&staging);
    create_private(&staging)?;
    let staged = async {
        std::fs::copy(from, &staging).map_err(io(format!(
            "cannot copy {} to {}",
            from.display(),
            staging.display()
        )))?;
        let mut conn = open_file(&staging, false).await?;
        sqlx::query(&format!("DROP TABLE {MANIFEST_TABLE}"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        sync(&staging)
    }
    .await;
    if let Err(error) = staged {
        let _ = std::fs::remove_file(&staging);
        return Err(error);
    }
    // The old database's log and index must not be applied to the new one.
    for suffix in ["-wal", "-shm"] {
        let side = data_dir.join(format!("{DATABASE_FILE}{suffix}"));
        match std::fs::remove_file(&side) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(io(format!("cannot remove {}", side.display()))(error));
            }
            _ => {}
        }
    }
    std::fs::rename(&staging, &database).map_err(io(format!(
        "cannot move the restored database to {}",
        database.display()
    )))?;
    sync_parent(&database)
}
