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

mod error;
mod group_commit;
mod rows;
#[macro_use]
mod sql;
pub mod postgres;
pub mod sqlite;
pub mod supervisor;

use std::path::Path;

use async_trait::async_trait;
use hubgate_core::account::{Account, Membership, Role, User};
use hubgate_core::audit::AuditAction;
use hubgate_core::authorize::{AuthorizationCode, CodeUse};
use hubgate_core::grant::GrantRevocation;
use hubgate_core::hub::{Hub, HubChange, HubKind};
use hubgate_core::ids::{AccountId, ClientId, FamilyId, HubId, IntegrationId, UserId};
use hubgate_core::integration::Integration;
use hubgate_core::refresh::Rotation;
use hubgate_core::scope::ScopeSet;
use hubgate_core::tokens::StoredKey;
use serde_json::{Map, Value};
use time::OffsetDateTime;

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
    pub seq: i64,
    pub revoked_families: Vec<(FamilyId, i64)>,
    pub revoked_access_tokens: Vec<(String, i64)>,
    pub revoked_grants: Vec<GrantRevocation>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Answers when the database is reachable (for `/readyz`).
    async fn ping(&self) -> Result<()>;
    /// Commits a one-row write (for `/readyz`: a node whose writes fail,
    /// say on a full disk, is not ready).
    async fn probe_write(&self, now: OffsetDateTime) -> Result<()>;
    /// Closes the connections (for short-lived processes like the admin tool).
    async fn close(&self);
    /// Returns when the change log may have grown, or after `max_wait`:
    /// PostgreSQL is notified, SQLite simply waits (its poll interval).
    async fn wait_for_change(&self, max_wait: std::time::Duration);

    async fn count_users(&self) -> Result<i64>;
    /// `Conflict` when the email is taken.
    async fn insert_user(&self, user: &User) -> Result<()>;
    /// Replaces a user's password and ends their other sessions, with the
    /// audit events in the same transaction; `NotFound` if the user is gone.
    async fn set_password(&self, write: PasswordWrite<'_>, audit: &[AuditEvent]) -> Result<()>;
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>>;
    async fn user_by_email(&self, email: &str) -> Result<Option<User>>;

    async fn insert_account(&self, account: &Account, audit: &AuditEvent) -> Result<()>;
    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>>;
    async fn list_accounts(&self) -> Result<Vec<Account>>;
    /// Adds the user to the account, or changes their role there, in one
    /// transaction that keeps the account's invariants (`Refused`
    /// otherwise): at least one owner; only owners make or unmake owners;
    /// every acting user (see `Integration::acting_user`) with a role that
    /// covers their integrations' scopes. A role that may delegate less than
    /// before revokes the user's grants in the account.
    async fn put_membership(
        &self,
        membership: &Membership,
        write: MembershipWrite,
        audit: &AuditEvent,
    ) -> Result<()>;
    async fn accounts_of_user(&self, user: UserId) -> Result<Vec<(Account, Role)>>;
    /// The user's role in the account, if a member.
    async fn membership(&self, account: AccountId, user: UserId) -> Result<Option<Role>>;
    /// Ends a membership under the same invariants as `put_membership`,
    /// revoking the user's grants in the account; `NotFound` if not a member.
    async fn remove_membership(
        &self,
        account: AccountId,
        user: UserId,
        write: MembershipWrite,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// Members with their roles, owners first, then by when they joined.
    async fn account_members(&self, account: AccountId) -> Result<Vec<(User, Role)>>;

    /// `Refused` unless the acting user is a member whose role covers the scopes.
    async fn insert_integration(&self, integration: &Integration, audit: &AuditEvent)
    -> Result<()>;
    /// Replaces every mutable field; `NotFound` if it is gone; `Refused` as
    /// `insert_integration`.
    async fn update_integration(&self, integration: &Integration, audit: &AuditEvent)
    -> Result<()>;
    async fn delete_integration(&self, id: IntegrationId, audit: &AuditEvent) -> Result<()>;
    async fn integration_by_id(&self, id: IntegrationId) -> Result<Option<Integration>>;
    async fn integration_by_client_id(&self, client_id: &ClientId) -> Result<Option<Integration>>;
    async fn list_integrations(&self, account: Option<AccountId>) -> Result<Vec<Integration>>;

    /// `Conflict` when the serial is taken.
    async fn insert_hub(&self, hub: &Hub, audit: &AuditEvent) -> Result<()>;
    /// Removes a hub of this account; `NotFound` if there is none.
    async fn delete_hub(
        &self,
        account: AccountId,
        id: HubId,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// A hub of this account; another account's hub is `None`.
    async fn hub(&self, account: AccountId, id: HubId) -> Result<Option<Hub>>;
    /// Hubs ordered by id, after the cursor.
    async fn list_hubs(
        &self,
        account: AccountId,
        filter: &HubFilter,
        after: Option<HubId>,
        limit: u32,
    ) -> Result<Vec<Hub>>;
    /// Applies the change atomically (no lost updates under concurrent PATCHes).
    async fn patch_hub(
        &self,
        account: AccountId,
        id: HubId,
        change: &HubChange,
        now: OffsetDateTime,
    ) -> Result<Option<Hub>>;
    /// Records a report from the hub: its state, and that it was seen now.
    async fn report_hub_state(
        &self,
        id: HubId,
        state: &Map<String, Value>,
        now: OffsetDateTime,
    ) -> Result<Hub>;

    async fn insert_signing_key(&self, key: &StoredKey) -> Result<()>;
    async fn signing_keys(&self) -> Result<Vec<StoredKey>>;

    /// Moves a family from `presented` to the next generation if `presented`
    /// is current; otherwise revokes it (reuse) or reports it revoked. Exactly
    /// one of concurrent callers presenting the same generation gets `Rotated`.
    /// In the same transaction the grant's basis is checked: a user who is no
    /// longer a member, or whose role no longer covers the scope, gets
    /// `Revoked` and the family is left as it was.
    async fn rotate_family(&self, request: RotationRequest) -> Result<Rotation>;
    /// The generation a family currently accepts and whether it is revoked;
    /// `None` before its first refresh or revocation.
    async fn family_state(&self, family: FamilyId) -> Result<Option<(u32, bool)>>;
    async fn revoke_family(
        &self,
        family: FamilyId,
        integration: IntegrationId,
        valid_until: i64,
        now: OffsetDateTime,
    ) -> Result<()>;
    async fn revoke_access_token(
        &self,
        jti: &str,
        valid_until: i64,
        now: OffsetDateTime,
    ) -> Result<()>;

    /// Stores a new authorization code (its hash and what it binds).
    async fn insert_code(&self, code: &AuthorizationCode) -> Result<()>;
    /// Spends a code and records, in the same statement, the family its
    /// first use will issue: the first use gets its record; any later use,
    /// however close, learns that family, to revoke it.
    async fn use_code(
        &self,
        hash: &[u8; 32],
        family: FamilyId,
        now: OffsetDateTime,
    ) -> Result<CodeUse>;

    /// Records (or widens) what a user approved for an integration in an account.
    async fn put_consent(&self, consent: &Consent) -> Result<()>;
    async fn consent(
        &self,
        user: UserId,
        account: AccountId,
        integration: IntegrationId,
    ) -> Result<Option<Consent>>;
    async fn consents_of_user(&self, user: UserId) -> Result<Vec<Consent>>;
    /// Withdraws a consent and, in the same transaction, revokes every token
    /// it granted (kept until `revoke_until`).
    async fn delete_consent(
        &self,
        user: UserId,
        account: AccountId,
        integration: IntegrationId,
        now: OffsetDateTime,
        revoke_until: i64,
        audit: &AuditEvent,
    ) -> Result<()>;

    async fn insert_session(
        &self,
        hash: &[u8; 32],
        user: UserId,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// The user of a live session.
    async fn session_user(&self, hash: &[u8; 32], now: OffsetDateTime) -> Result<Option<UserId>>;
    async fn delete_session(&self, hash: &[u8; 32]) -> Result<()>;

    /// Appends events in one transaction (events that are not a change of
    /// their own: token counts, a revealed secret).
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<()>;
    /// An account's events matching the query, newest first.
    async fn audit_events(&self, account: AccountId, query: &AuditQuery)
    -> Result<Vec<AuditEntry>>;
    /// Records when integrations were last used (only ever moves forward).
    async fn touch_integrations(&self, used: &[(IntegrationId, OffsetDateTime)]) -> Result<()>;
    async fn integration_last_used(&self, id: IntegrationId) -> Result<Option<OffsetDateTime>>;
    /// When each of the account's integrations was last used (those ever used),
    /// in one read for a list page.
    async fn integrations_last_used(
        &self,
        account: AccountId,
    ) -> Result<Vec<(IntegrationId, OffsetDateTime)>>;

    async fn revocation_snapshot(&self, now: OffsetDateTime) -> Result<RevocationSnapshot>;
    /// Entries after `seq`, oldest first, with their sequence numbers.
    async fn changes_since(&self, seq: i64) -> Result<Vec<(i64, Change)>>;
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
