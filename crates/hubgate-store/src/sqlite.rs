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

use hubgate_core::refresh::Rotation;
use tokio::sync::{mpsc, oneshot};

use crate::{Result, RotationRequest, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
    rotations: mpsc::Sender<(RotationRequest, oneshot::Sender<Result<Rotation>>)>,
}

/// Refresh rotations must be on disk before the client hears of them, and
/// SQLite syncs once per commit: a task runs every rotation waiting at that
/// moment in one transaction, so one fsync serves them all (group commit).
/// Within a batch rotations run in arrival order, exactly as they would one
/// transaction each.
async fn group_commit(
    writer: SqlitePool,
    mut receiver: mpsc::Receiver<(RotationRequest, oneshot::Sender<Result<Rotation>>)>,
) {
    const MAX_BATCH: usize = 512;
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let outcome = async {
            let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
            let mut rotations = Vec::with_capacity(batch.len());
            for (request, _) in &batch {
                rotations.push(sql::rotate_in_tx(&mut tx, request).await?);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(rotations)
        }
        .await;
        match outcome {
            Ok(rotations) => {
                for ((_, reply), rotation) in batch.into_iter().zip(rotations) {
                    let _ = reply.send(Ok(rotation));
                }
            }
            Err(error) => {
                // Nothing was committed: every token of the batch is still valid.
                let text = error.to_string();
                for (_, reply) in batch {
                    let _ = reply.send(Err(StoreError::Unavailable(text.clone())));
                }
            }
        }
    }
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
        let (rotations, receiver) = mpsc::channel(4096);
        tokio::spawn(group_commit(writer.clone(), receiver));
        Ok(Self {
            reader,
            writer,
            rotations,
        })
    }

    async fn rotate(&self, request: RotationRequest) -> Result<Rotation> {
        let (reply, answer) = oneshot::channel();
        self.rotations
            .send((request, reply))
            .await
            .map_err(|_| StoreError::Unavailable("the store is closed".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the store is closed".into()))?
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
