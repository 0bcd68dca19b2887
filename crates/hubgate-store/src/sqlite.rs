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

use crate::{Result, group_commit};

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// What opening the database at `path` would migrate, without migrating
/// (nothing is created when it does not exist).
pub async fn pending_migrations(path: &Path) -> Result<Vec<crate::schema::PendingMigration>> {
    let applied = if path.exists() {
        let options = SqliteConnectOptions::new().filename(path).read_only(true);
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&options).await?;
        let applied = sqlx::query_scalar::<_, i64>(crate::schema::APPLIED)
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
        sqlx::Connection::close(conn).await?;
        applied
    } else {
        Vec::new()
    };
    crate::schema::check_not_newer(&MIGRATOR, &applied)?;
    Ok(crate::schema::pending(&MIGRATOR, &applied))
}

#[derive(Debug, Clone)]
pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
    rotations: group_commit::Rotations,
    events_written: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
}

impl SqliteStore {
    /// `BEGIN IMMEDIATE` already holds the write lock: no row lock needed.
    const ROW_LOCK: &'static str = "";
    /// A write transaction that may read first takes the write lock up front.
    const BEGIN_LOCKING: &'static str = "BEGIN IMMEDIATE";
    /// One writer at a time: events commit in the order of their positions
    /// and claims of deliveries never overlap without a lock of their own.
    const EVENT_ORDER_LOCK: &'static str = "";
    /// Joins a page's ids into one text, so the page is one row.
    const JOIN_IDS: &'static str = "group_concat(id, ',')";
    const CLAIM_LOCK: &'static str = "";

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
            // A transaction that failed (a full disk, an I/O error) can leave
            // the connection inside a transaction or with sqlx's count of
            // open transactions off by one; every later write would then
            // fail, or worse, nest in the dead transaction and never commit.
            // Such a connection is closed (rolling back) and a new one opened.
            .before_acquire(|conn, _| {
                Box::pin(async move {
                    if sqlx::Connection::is_in_transaction(conn) {
                        tracing::warn!(
                            "discarding the SQLite writer connection left inside a failed transaction"
                        );
                        return Ok(false);
                    }
                    Ok(true)
                })
            })
            .connect_with(options.clone())
            .await?;
        let applied = sqlx::query_scalar::<_, i64>(crate::schema::APPLIED)
            .fetch_all(&writer)
            .await
            .unwrap_or_default();
        crate::schema::check_not_newer(&MIGRATOR, &applied)?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await?;
        let rotations = sql::spawn_group_commit(writer.clone());
        Ok(Self {
            reader,
            writer,
            rotations,
            events_written: std::sync::Arc::new(tokio::sync::watch::Sender::new(0)),
        })
    }

    async fn begin_locking(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with(Self::BEGIN_LOCKING).await?)
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

/// `PRAGMA integrity_check` of the database at `path`: `"ok"` when sound.
pub async fn integrity_check(path: &Path) -> Result<String> {
    use sqlx::Connection;
    let options = SqliteConnectOptions::from_str("sqlite://")?.filename(path);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
    let (result,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(result)
}

crate::sql::sql_store!(
    sql,
    super::SqliteStore,
    sqlx::Sqlite,
    sqlx::SqliteConnection
);

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::RotationRequest;
    use hubgate_core::ids::{AccountId, FamilyId, IntegrationId, UserId};
    use hubgate_core::scope::ScopeSet;
    use sqlx::{Connection, SqliteConnection};

    /// A bare database with the schema, foreign keys off so families need no
    /// integration rows.
    async fn database(dir: &Path, name: &str) -> SqliteConnection {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .unwrap()
            .filename(dir.join(name))
            .create_if_missing(true)
            .foreign_keys(false);
        let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
        MIGRATOR.run(&mut conn).await.unwrap();
        conn
    }

    async fn families(conn: &mut SqliteConnection) -> Vec<(String, i64, bool, i64)> {
        sqlx::query_as(
            "SELECT id, generation, revoked, expires_at FROM refresh_families ORDER BY id",
        )
        .fetch_all(conn)
        .await
        .unwrap()
    }

    /// Random batches (repeated families, stale and future generations,
    /// revoked and unknown families) give the same outcomes and the same rows
    /// batched as one transaction per rotation in arrival order.
    #[tokio::test]
    async fn a_batch_rotates_exactly_as_the_same_rotations_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut batched = database(dir.path(), "batched.db").await;
        let mut one_by_one = database(dir.path(), "one_by_one.db").await;
        let integration = IntegrationId::new();
        let family_ids: Vec<FamilyId> = (0..6).map(|_| FamilyId::new()).collect();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = move |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        let now = hubgate_core::now();
        // Grants: an admin's, a member's (who may not delegate hubs:write) and
        // someone's who left the account.
        let account = AccountId::new();
        let users: Vec<UserId> = (0..3).map(|_| UserId::new()).collect();
        for conn in [&mut batched, &mut one_by_one] {
            for (user, role) in users.iter().zip(["admin", "member"]) {
                sqlx::query("INSERT INTO memberships (account_id, user_id, role, created_at) VALUES ($1, $2, $3, 0)")
                    .bind(account.to_string())
                    .bind(user.to_string())
                    .bind(role)
                    .execute(&mut *conn)
                    .await
                    .unwrap();
            }
        }
        let scopes = [
            ScopeSet::parse("hubs:read").unwrap(),
            ScopeSet::parse("hubs:read hubs:write").unwrap(),
        ];
        let mut seen = HashMap::new();
        for round in 0..200 {
            let batch: Vec<RotationRequest> = (0..1 + random(10))
                .map(|_| RotationRequest {
                    family: family_ids[random(6) as usize],
                    integration,
                    account,
                    user: users[random(3) as usize],
                    scope: scopes[random(2) as usize],
                    presented: random(4) as u32,
                    expires_at: round,
                    revoke_until: round + 1,
                    now,
                })
                .collect();
            let mut tx = batched.begin().await.unwrap();
            let got = sql::rotate_batch(&mut tx, &batch).await.unwrap();
            tx.commit().await.unwrap();
            let mut tx = one_by_one.begin().await.unwrap();
            let mut expected = Vec::new();
            for request in &batch {
                expected.push(sql::rotate_in_tx(&mut tx, request).await.unwrap());
            }
            tx.commit().await.unwrap();
            assert_eq!(got, expected, "round {round}: {batch:?}");
            assert_eq!(
                families(&mut batched).await,
                families(&mut one_by_one).await,
                "round {round}"
            );
            for outcome in got {
                *seen.entry(format!("{outcome:?}")).or_insert(0) += 1;
            }
            if round % 40 == 39 {
                // Start over so fresh families are rotated again, not only revoked ones.
                for conn in [&mut batched, &mut one_by_one] {
                    sqlx::query("DELETE FROM refresh_families")
                        .execute(&mut *conn)
                        .await
                        .unwrap();
                }
            }
        }
        // Every path was taken, many times.
        for outcome in ["Rotated", "Reused", "Revoked"] {
            assert!(seen.get(outcome).copied().unwrap_or(0) > 20, "{seen:?}");
        }
    }
}
