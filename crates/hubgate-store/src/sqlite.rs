//! The embedded store: one SQLite file in WAL mode.
//!
//! Writes go through a pool of one connection, so this process never races
//! itself for SQLite's single write lock; transactions that read before they
//! write start with `BEGIN IMMEDIATE`, so another process (`hubgate admin`
//! beside a running server) makes them wait rather than fail. Reads use a
//! separate pool and see the last committed state (WAL snapshots).
//! `synchronous = FULL`: a commit is on disk before the client hears of it.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::Result;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
}

impl SqliteStore {
    /// `BEGIN IMMEDIATE` already holds the write lock: no row lock needed.
    const ROW_LOCK: &'static str = "";

    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self { reader, writer })
    }

    /// A write transaction that may read first: takes the write lock up front.
    async fn begin_locking(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// No notifications: the follower polls.
    async fn wait_for_change_notification(&self, max_wait: Duration) {
        tokio::time::sleep(max_wait).await;
    }

    async fn close_pools(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

crate::sql::sql_store!(
    sql,
    super::SqliteStore,
    sqlx::Sqlite,
    sqlx::SqliteConnection
);
