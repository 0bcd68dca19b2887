//! The PostgreSQL store, for several stateless nodes sharing one database.
//!
//! Transactions that read then write lock the rows they read (`FOR UPDATE`);
//! refresh rotation is a conditional update, so across nodes exactly one of
//! concurrent rotations wins. Each insert into the change log fires
//! `pg_notify('hubgate_changes')` (a trigger in the migration); a listener
//! task turns notifications into wake-ups of the node's change follower, and
//! reconnects with a re-sync when its connection drops.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use tokio::sync::Notify;

use crate::{Result, group_commit};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
const CHANNEL: &str = "hubgate_changes";

/// What connecting to `url` would migrate, without migrating.
pub async fn pending_migrations(url: &str) -> Result<Vec<crate::schema::PendingMigration>> {
    let options: PgConnectOptions = url.parse()?;
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect_with(&options).await?;
    let applied = sqlx::query_scalar::<_, i64>(crate::schema::APPLIED)
        .fetch_all(&mut conn)
        .await
        .unwrap_or_default();
    sqlx::Connection::close(conn).await?;
    crate::schema::check_not_newer(&MIGRATOR, &applied)?;
    Ok(crate::schema::pending(&MIGRATOR, &applied))
}

/// Pool settings; the defaults suit a node on a 2-core machine.
#[derive(Debug, Clone)]
pub struct PgSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PgSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PgStore {
    reader: PgPool,
    writer: PgPool,
    changed: Arc<Notify>,
    listener: Arc<tokio::task::JoinHandle<()>>,
    rotations: group_commit::Rotations,
    events_written: Arc<tokio::sync::watch::Sender<u64>>,
}

impl PgStore {
    /// Readers lock nothing; a write transaction that read a row locks it.
    const ROW_LOCK: &'static str = " FOR UPDATE";
    /// Row locks do the work; the transaction itself is a plain one.
    const BEGIN_LOCKING: &'static str = "BEGIN";
    /// Taken by every transaction that writes events, just before it does and
    /// until it ends: positions come from a sequence, and holding this while
    /// taking them makes transactions commit in the order of their positions,
    /// so a reader that saw an event never sees an earlier one appear later.
    /// It serializes only the tail of hub writes (the event inserts and the
    /// commit).
    const EVENT_ORDER_LOCK: &'static str = "SELECT pg_advisory_xact_lock(7526110477013594368)";
    /// Claims of webhook deliveries run one at a time, so two nodes never
    /// take two events of one hub for one endpoint at once (order) nor one
    /// delivery twice. A claim is one short statement.
    /// Joins a page's ids into one text, so the page is one row.
    const JOIN_IDS: &'static str = "string_agg(id, ',')";
    const CLAIM_LOCK: &'static str = "SELECT pg_advisory_xact_lock(7526110477013594369)";

    pub async fn connect(url: &str, settings: &PgSettings) -> Result<Self> {
        let options: PgConnectOptions = url.parse()?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options)
            .await?;
        let applied = sqlx::query_scalar::<_, i64>(crate::schema::APPLIED)
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
        crate::schema::check_not_newer(&MIGRATOR, &applied)?;
        // sqlx takes an advisory lock: nodes starting together migrate once.
        MIGRATOR.run(&pool).await?;
        let changed = Arc::new(Notify::new());
        let events_written = Arc::new(tokio::sync::watch::Sender::new(0));
        let listener = Arc::new(tokio::spawn(listen(
            pool.clone(),
            changed.clone(),
            events_written.clone(),
        )));
        // PostgreSQL groups concurrent commits into one WAL flush, but only
        // as many as there are pooled connections: batching here lets one
        // flush serve hundreds of rotations on a 16-connection pool.
        let rotations = sql::spawn_group_commit(pool.clone());
        Ok(Self {
            reader: pool.clone(),
            writer: pool,
            changed,
            events_written,
            listener,
            rotations,
        })
    }

    async fn begin_locking(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.writer.begin_with(Self::BEGIN_LOCKING).await?)
    }

    async fn close_pools(&self) {
        self.listener.abort();
        self.writer.close().await;
    }

    async fn wait_for_change_notification(&self, max_wait: Duration) {
        let _ = tokio::time::timeout(max_wait, self.changed.notified()).await;
    }
}

/// Forwards notifications; after every (re)connect it wakes the follower
/// once, so changes made while disconnected are picked up at once.
/// Every change-log notification may come with events (hub writes log
/// both), so it wakes the event readers too.
async fn listen(
    pool: PgPool,
    changed: Arc<Notify>,
    events_written: Arc<tokio::sync::watch::Sender<u64>>,
) {
    loop {
        if let Ok(mut listener) = PgListener::connect_with(&pool).await
            && listener.listen(CHANNEL).await.is_ok()
        {
            changed.notify_one();
            crate::note_events_written(&events_written);
            while listener.recv().await.is_ok() {
                changed.notify_one();
                crate::note_events_written(&events_written);
            }
            tracing::warn!("lost the PostgreSQL notification connection; reconnecting");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

crate::sql::sql_store!(sql, super::PgStore, sqlx::Postgres, sqlx::PgConnection);
