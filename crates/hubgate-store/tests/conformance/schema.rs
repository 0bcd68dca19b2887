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
