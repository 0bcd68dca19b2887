//! The one storage seam of hubgate.
//!
//! [`Store`] is everything the server and the admin tool ask of a database.
//! [`sqlite::SqliteStore`] is the embedded default; PostgreSQL implements the
//! same trait for several nodes. Which backend runs is decided once, in
//! [`open_sqlite`] (and its PostgreSQL sibling); nothing above this crate knows.
//!
//! Writes that change which tokens are valid (integrations, revocations,
//! signing keys) append to a change log in the same transaction; nodes follow
//! that log to keep their in-memory view of revocations current.

// Security code never unwraps: every failure is an error the caller handles.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod aggregates;
pub mod backup;
mod error;
mod group_commit;
mod rows;
pub mod schema;
#[macro_use]
mod sql;
pub mod postgres;
pub mod sqlite;
pub mod supervisor;

use std::path::Path;

use hubgate_core::account::Role;
use hubgate_core::audit::AuditAction;
use hubgate_core::grant::GrantRevocation;
use hubgate_core::hub::HubKind;
use hubgate_core::ids::{AccountId, FamilyId, HubId, IntegrationId, UserId};
use hubgate_core::scope::ScopeSet;
use time::OffsetDateTime;

pub use aggregates::{
    Accounts, Audit, ChangeLog, Consents, Events, Health, Hubs, Integrations, Tokens, Users,
};
pub use error::StoreError;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A refresh-token family asked to move past generation `presented`, by a
/// grant acting for `user` in `account` with `scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationRequest {
    pub family: FamilyId,
    pub integration: IntegrationId,
    pub account: AccountId,
    pub user: UserId,
    pub scope: ScopeSet,
    pub presented: u32,
    pub expires_at: i64,
    /// Until when a revocation for reuse must be kept (see
    /// `Lifetimes::revocation_horizon`).
    pub revoke_until: i64,
    pub now: OffsetDateTime,
}

/// Who changes a membership, and when: the context of
/// `Store::put_membership` and `Store::remove_membership`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipWrite {
    /// The asker's role in the same account; `None` for the operator (the
    /// admin tool, the first start). Only owners make or unmake owners.
    pub by: Option<Role>,
    pub now: OffsetDateTime,
    /// Until when a revocation of the user's grants is kept.
    pub revoke_until: i64,
}

/// What a user approved for an integration in one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub user_id: UserId,
    pub account_id: AccountId,
    pub integration_id: IntegrationId,
    pub scope: ScopeSet,
    pub granted_at: OffsetDateTime,
}

/// One entry of an account's audit log. Management changes pass theirs to
/// the write that makes the change, so both commit together or neither does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub account_id: AccountId,
    pub at: OffsetDateTime,
    /// Who: an email, a client_id, or "admin tool".
    pub actor: String,
    pub action: AuditAction,
    /// What: usually a client_id, an email or a hub id.
    pub subject: String,
    pub detail: String,
}

/// An audit event as stored, with its position in the account's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Increases with every event: the cursor for paging back in time.
    pub seq: i64,
    pub event: AuditEvent,
}

/// Which of an account's audit events to read: newest first, before
/// `before` (a `seq`), at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub action: Option<AuditAction>,
    pub actor: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub before: Option<i64>,
    pub limit: u32,
}

/// A new password for a user, and what it ends.
#[derive(Debug, Clone, Copy)]
pub struct PasswordWrite<'a> {
    pub user: UserId,
    /// An Argon2id PHC string.
    pub password_hash: &'a str,
    /// A one-time password: to be replaced at the next login.
    pub must_change: bool,
    /// Every session of the user ends but this one (the browser that
    /// changed its own password stays logged in).
    pub keep_session: Option<&'a [u8; 32]>,
}

/// Filters of `GET /api/v1/hubs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubFilter {
    pub kind: Option<HubKind>,
    pub online: Option<bool>,
    pub room: Option<String>,
}

/// How late a change-log entry may become visible after entries with later
/// positions. On PostgreSQL positions come from a sequence, handed out at
/// insert and committed in any order, so a follower must not step past a
/// missing position at once; a node starting up re-reads this much of the
/// log. Hubgate's transactions are a few statements long: 30 s is far beyond
/// how late one can commit.
pub const LATE_COMMIT_WINDOW: std::time::Duration = std::time::Duration::from_secs(30);

/// What a device presents to connect: the hub its serial names and the
/// digest of its credential (`None` when it has none or it was revoked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub hub: HubId,
    pub account: AccountId,
    pub serial: String,
    pub credential_digest: Option<[u8; 32]>,
    /// Tells a connected device's node whether it has sent the latest desired state.
    pub desired_version: i64,
}

/// What one node heard from one hub since its last write: reports merged in
/// arrival order, how many, and whether the device is connected now.
#[derive(Debug, Clone, PartialEq)]
pub struct HubReport {
    pub hub: HubId,
    pub state: serde_json::Map<String, serde_json::Value>,
    pub reports: u32,
    /// `Some` when the device connected or disconnected meanwhile.
    pub online: Option<bool>,
    pub seen: OffsetDateTime,
}

/// A webhook delivery a node has taken, under a lease, to attempt now.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub endpoint: std::sync::Arc<hubgate_core::webhook::WebhookEndpoint>,
    pub event: hubgate_core::event::Event,
    /// Attempts made before this one.
    pub attempts: u32,
}

pub use hubgate_core::webhook::AttemptOutcome;

/// One attempt, to record: its outcome and what the endpoint answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub delivery: i64,
    pub endpoint: hubgate_core::ids::WebhookId,
    pub outcome: AttemptOutcome,
    pub response_status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: u32,
    pub at: OffsetDateTime,
    /// Set when this failure ends the endpoint's days of failing: why it is disabled.
    pub disable_endpoint: Option<String>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

/// One line of an endpoint's delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub event_seq: i64,
    pub kind: hubgate_core::event::EventType,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub response_status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: Option<u32>,
    /// When a pending delivery is next tried.
    pub next_attempt_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// What a change-log entry is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Created, updated or deleted: reload it.
    Integration(IntegrationId),
    /// A refresh-token family was revoked; its tokens matter until `valid_until`.
    FamilyRevoked { family: FamilyId, valid_until: i64 },
    /// One access token was revoked.
    AccessTokenRevoked { jti: String, valid_until: i64 },
    /// A signing key was added.
    SigningKey,
    /// A hub was changed (PATCH or a reported state): drop it from caches.
    Hub(HubId),
    /// A user's grants in an account ended (membership, role or consent).
    GrantRevoked(GrantRevocation),
}

/// The revocations still in force, to start following the change log from `seq`.
#[derive(Debug, Clone, Default)]
pub struct RevocationSnapshot {
    /// The newest change-log position the snapshot includes.
    pub seq: i64,
    /// Where a follower starts: before the changes of the last
    /// [`LATE_COMMIT_WINDOW`], so one still committing is not passed over
    /// (re-applying the others does no harm).
    pub follow_from: i64,
    pub revoked_families: Vec<(FamilyId, i64)>,
    pub revoked_access_tokens: Vec<(String, i64)>,
    pub revoked_grants: Vec<GrantRevocation>,
}

/// Everything the server and the admin tool ask of a database: one trait
/// per aggregate (see [`aggregates`]), implemented by every backend.
pub trait Store:
    Health + Users + Accounts + Integrations + Hubs + Tokens + Consents + Audit + ChangeLog + Events
{
}

impl<
    T: Health
        + Users
        + Accounts
        + Integrations
        + Hubs
        + Tokens
        + Consents
        + Audit
        + ChangeLog
        + Events,
> Store for T
{
}

/// The store's traits, for calling its methods: `use hubgate_store::prelude::*`.
pub mod prelude {
    pub use crate::Store;
    pub use crate::aggregates::{
        Accounts, Audit, ChangeLog, Consents, Events, Health, Hubs, Integrations, Tokens, Users,
    };
}

/// Tells this process's event readers that events may have been written.
pub(crate) fn note_events_written(signal: &tokio::sync::watch::Sender<u64>) {
    signal.send_modify(|n| *n = n.wrapping_add(1));
}

/// Opens the embedded SQLite store in `data_dir`, creating and migrating it.
pub async fn open_sqlite(data_dir: &Path) -> Result<sqlite::SqliteStore> {
    let path = data_dir.join("hubgate.db");
    private_files(data_dir, &path)?;
    sqlite::SqliteStore::open(&path).await
}

/// The data directory holds password hashes, emails and the audit log: the
/// database is created `0600` (SQLite gives its `-wal` and `-shm` files the
/// database's mode) in a directory `hubgate serve` created `0700`. Existing
/// ones with wider modes are left as they are, with a warning.
fn private_files(data_dir: &Path, database: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if !database.exists() {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(database)
                .map_err(|error| {
                    StoreError::Unavailable(format!(
                        "cannot create {}: {error}",
                        database.display()
                    ))
                })?;
        }
        let wal = database.with_extension("db-wal");
        let shm = database.with_extension("db-shm");
        for (path, private) in [
            (data_dir.to_owned(), 0o700),
            (database.to_owned(), 0o600),
            (wal, 0o600),
            (shm, 0o600),
        ] {
            if let Ok(meta) = std::fs::metadata(&path) {
                let mode = meta.permissions().mode() & 0o777;
                if mode & !private != 0 {
                    tracing::warn!(
                        path = %path.display(),
                        mode = format!("{mode:o}"),
                        "readable by other users; chmod {private:o} it",
                    );
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (data_dir, database);
    Ok(())
}

/// What opening the store would migrate, without migrating; `SchemaTooNew`
/// when a newer hubgate migrated it.
pub async fn pending_migrations(
    database_url: Option<&str>,
    data_dir: &Path,
) -> Result<Vec<schema::PendingMigration>> {
    match database_url {
        Some(url) => postgres::pending_migrations(url).await,
        None => sqlite::pending_migrations(&data_dir.join("hubgate.db")).await,
    }
}

/// Where the store lives: PostgreSQL when a URL is given, else SQLite in `data_dir`.
pub async fn open(
    database_url: Option<&str>,
    data_dir: &Path,
    pg: &postgres::PgSettings,
) -> Result<std::sync::Arc<dyn Store>> {
    Ok(match database_url {
        Some(url) => std::sync::Arc::new(postgres::PgStore::connect(url, pg).await?),
        None => std::sync::Arc::new(open_sqlite(data_dir).await?),
    })
}
