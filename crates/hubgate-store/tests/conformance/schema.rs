//! Upgrades: a database migrated by a newer hubgate is refused, with both
//! versions named, and what an upgrade would apply is listed without applying.

use super::*;
use hubgate_store::prelude::*;

/// A migration only a newer hubgate would know.
const FROM_THE_FUTURE: i64 = 9_999;

/// What a newer hubgate would have recorded, as sqlx records it.
const RECORD_FUTURE_MIGRATION: &str = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
     VALUES ($1, 'from a newer hubgate', TRUE, $2, 0)";

fn refused_as_too_new(result: hubgate_store::Result<impl Sized>) {
    match result {
        Err(error @ StoreError::SchemaTooNew { database, .. }) => {
            assert_eq!(database, FROM_THE_FUTURE);
            let message = error.to_string();
            assert!(message.contains("version 9999"), "{message}");
            assert!(
                message.contains("newer than this hubgate knows"),
                "{message}"
            );
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a newer schema was opened"),
    }
}

#[tokio::test]
async fn sqlite_refuses_a_schema_newer_than_it_knows_and_lists_what_it_would_apply() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hubgate.db");
    let fresh = hubgate_store::pending_migrations(None, dir.path())
        .await
        .unwrap();
    assert!(
        fresh.len() >= 7,
        "a new database gets every migration: {fresh:?}"
    );
    assert_eq!(fresh[0].version, 1);
    assert!(!path.exists(), "listing creates nothing");

    let store = hubgate_store::open_sqlite(dir.path()).await.unwrap();
    store.close().await;
    let current = hubgate_store::pending_migrations(None, dir.path())
        .await
        .unwrap();
    assert!(current.is_empty(), "nothing left to apply: {current:?}");

    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&options)
        .await
        .unwrap();
    sqlx::query(RECORD_FUTURE_MIGRATION)
        .bind(FROM_THE_FUTURE)
        .bind(vec![0u8])
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::Connection::close(conn).await.unwrap();

    refused_as_too_new(hubgate_store::open_sqlite(dir.path()).await);
    refused_as_too_new(hubgate_store::pending_migrations(None, dir.path()).await);
}

#[tokio::test]
async fn postgres_refuses_a_schema_newer_than_it_knows() {
    let Some(database) = hubgate_testkit::TestDatabase::create().await else {
        return;
    };
    let settings = hubgate_store::postgres::PgSettings::default();
    let fresh = hubgate_store::pending_migrations(Some(&database.url), Path::new("unused"))
        .await
        .unwrap();
    assert!(fresh.len() >= 7);
    let store = hubgate_store::postgres::PgStore::connect(&database.url, &settings)
        .await
        .unwrap();
    store.close().await;
    let options: sqlx::postgres::PgConnectOptions = database.url.parse().unwrap();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect_with(&options)
        .await
        .unwrap();
    sqlx::query(RECORD_FUTURE_MIGRATION)
        .bind(FROM_THE_FUTURE)
        .bind(vec![0u8])
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::Connection::close(conn).await.unwrap();
    refused_as_too_new(hubgate_store::postgres::PgStore::connect(&database.url, &settings).await);
    refused_as_too_new(
        hubgate_store::pending_migrations(Some(&database.url), Path::new("unused")).await,
    );
}

fn manifest(schema_version: i64) -> hubgate_store::backup::BackupManifest {
    hubgate_store::backup::BackupManifest {
        hubgate_version: "0.0.0-test".into(),
        schema_version,
        created_at: "2026-12-02T00:00:00Z".into(),
        key_check: "00".repeat(16),
    }
}

#[tokio::test]
async fn a_backup_carries_its_manifest_and_one_from_a_newer_schema_is_refused() {
    use hubgate_store::backup::{BackupError, backup_sqlite, read_manifest, restore_sqlite};
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    std::fs::create_dir(&live).unwrap();
    hubgate_store::open_sqlite(&live)
        .await
        .unwrap()
        .close()
        .await;
    let file = dir.path().join("copy.backup");
    let made = backup_sqlite(&live, &file, manifest).await.unwrap();
    assert!(made.schema_version >= 7, "{made:?}");
    assert_eq!(read_manifest(&file).await.unwrap(), made);

    // The restored database has no manifest table and opens as a store.
    let restored = dir.path().join("restored");
    restore_sqlite(&file, &restored, false).await.unwrap();
    let store = hubgate_store::open_sqlite(&restored).await.unwrap();
    store.close().await;
    assert!(matches!(
        restore_sqlite(&file, &restored, false).await,
        Err(BackupError::DatabaseExists(_))
    ));
    restore_sqlite(&file, &restored, true).await.unwrap();

    // A backup of a database a newer hubgate migrated.
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(live.join("hubgate.db"));
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&options)
        .await
        .unwrap();
    sqlx::query(RECORD_FUTURE_MIGRATION)
        .bind(FROM_THE_FUTURE)
        .bind(vec![0u8])
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::Connection::close(conn).await.unwrap();
    let newer = dir.path().join("newer.backup");
    backup_sqlite(&live, &newer, manifest).await.unwrap();
    match read_manifest(&newer).await {
        Err(error @ BackupError::SchemaTooNew { backup, .. }) => {
            assert_eq!(backup, FROM_THE_FUTURE);
            assert!(error.to_string().contains("newer than this hubgate knows"));
        }
        other => panic!("a newer backup was accepted: {other:?}"),
    }
}
