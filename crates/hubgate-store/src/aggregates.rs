//! The store's parts, one trait per aggregate; [`crate::Store`] is all of
//! them. Callers bring the methods into scope with `use hubgate_store::prelude::*`.

use async_trait::async_trait;
use hubgate_core::account::{Account, Membership, Role, User};
use hubgate_core::authorize::{AuthorizationCode, CodeUse};
use hubgate_core::event::Event;
use hubgate_core::hub::{Hub, HubChange};
use hubgate_core::ids::{AccountId, ClientId, FamilyId, HubId, IntegrationId, UserId, WebhookId};
use hubgate_core::integration::Integration;
use hubgate_core::refresh::Rotation;
use hubgate_core::tokens::StoredKey;
use hubgate_core::webhook::WebhookEndpoint;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::{
    AuditEntry, AuditEvent, AuditQuery, Change, ClaimedDelivery, Consent, DeliveryAttempt,
    DeliveryRecord, DeviceRecord, HubFilter, HubReport, MembershipWrite, PasswordWrite, Result,
    RevocationSnapshot, RotationRequest,
};

/// Whether the database is there and writable, and how nodes wait for changes.
#[async_trait]
pub trait Health: Send + Sync + 'static {
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
}

/// Users, their passwords and their browser sessions.
#[async_trait]
pub trait Users: Send + Sync + 'static {
    async fn count_users(&self) -> Result<i64>;
    /// `Conflict` when the email is taken.
    async fn insert_user(&self, user: &User) -> Result<()>;
    /// Replaces a user's password and ends their other sessions, with the
    /// audit events in the same transaction; `NotFound` if the user is gone.
    async fn set_password(&self, write: PasswordWrite<'_>, audit: &[AuditEvent]) -> Result<()>;
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>>;
    async fn user_by_email(&self, email: &str) -> Result<Option<User>>;
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
}

/// Accounts and their members. A membership change keeps the account's invariants in its own transaction.
#[async_trait]
pub trait Accounts: Send + Sync + 'static {
    async fn insert_account(&self, account: &Account, audit: &AuditEvent) -> Result<()>;
    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>>;
    async fn list_accounts(&self) -> Result<Vec<Account>>;
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
}

/// Integrations, and when they were last used.
#[async_trait]
pub trait Integrations: Send + Sync + 'static {
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
    /// Records when integrations were last used (only ever moves forward).
    async fn touch_integrations(&self, used: &[(IntegrationId, OffsetDateTime)]) -> Result<()>;
    async fn integration_last_used(&self, id: IntegrationId) -> Result<Option<OffsetDateTime>>;
    /// When each of the account's integrations was last used (those ever used),
    /// in one read for a list page.
    async fn integrations_last_used(
        &self,
        account: AccountId,
    ) -> Result<Vec<(IntegrationId, OffsetDateTime)>>;
}

/// Hubs and switches: what they reported and what integrations asked of them.
#[async_trait]
pub trait Hubs: Send + Sync + 'static {
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
    /// The ids of the page `list_hubs` would return, in order, read as one
    /// row (for callers that hold the hubs themselves: a row per hub is most
    /// of a page's cost).
    async fn list_hub_ids(
        &self,
        account: AccountId,
        filter: &HubFilter,
        after: Option<HubId>,
        limit: u32,
    ) -> Result<Vec<HubId>>;
    /// These hubs of the account (those that exist), in any order.
    async fn hubs_by_ids(&self, account: AccountId, ids: &[HubId]) -> Result<Vec<Hub>>;
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
    /// Merges what devices reported into their hubs, in one transaction (a
    /// group commit); a hub deleted meanwhile is skipped.
    async fn record_hub_reports(&self, reports: &[HubReport]) -> Result<()>;
    /// The hub a device names by its serial, with its credential's digest.
    async fn device_by_serial(&self, serial: &str) -> Result<Option<DeviceRecord>>;
    /// The device record of a hub, by id.
    async fn device_of_hub(&self, id: HubId) -> Result<Option<DeviceRecord>>;
    /// The device records of these hubs (those that still exist), in any order.
    async fn devices_of_hubs(&self, ids: &[HubId]) -> Result<Vec<DeviceRecord>>;
    /// Replaces (`Some`) or revokes (`None`) a hub's device credential;
    /// `NotFound` if the hub is not in this account.
    async fn set_device_credential(
        &self,
        account: AccountId,
        id: HubId,
        digest: Option<[u8; 32]>,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()>;
}

/// What token validity rests on: signing keys, refresh-token families, authorization codes and revoked access tokens.
#[async_trait]
pub trait Tokens: Send + Sync + 'static {
    async fn insert_signing_key(&self, key: &StoredKey) -> Result<()>;
    async fn signing_keys(&self) -> Result<Vec<StoredKey>>;
    /// Moves a family from `presented` to the next generation if `presented`
    /// is current; otherwise revokes it (reuse) or reports it revoked. Exactly
    /// one of concurrent callers presenting the same generation gets `Rotated`.
    /// In the same transaction the grant's basis is checked: a user who is no
    /// longer a member, or whose role no longer covers the scope, gets
    /// `Revoked` and the family is left as it was.
    async fn rotate_family(&self, request: RotationRequest) -> Result<Rotation>;
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
}

/// What users approved for integrations (authorization-code flow).
#[async_trait]
pub trait Consents: Send + Sync + 'static {
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
}

/// The accounts' audit logs.
#[async_trait]
pub trait Audit: Send + Sync + 'static {
    /// Appends events in one transaction (events that are not a change of
    /// their own: token counts, a revealed secret).
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<()>;
    /// An account's events matching the query, newest first.
    async fn audit_events(&self, account: AccountId, query: &AuditQuery)
    -> Result<Vec<AuditEntry>>;
}

/// The change log nodes follow to keep their view of revocations current.
#[async_trait]
pub trait ChangeLog: Send + Sync + 'static {
    async fn revocation_snapshot(&self, now: OffsetDateTime) -> Result<RevocationSnapshot>;
    /// Entries after `seq`, oldest first, with their sequence numbers.
    async fn changes_since(&self, seq: i64) -> Result<Vec<(i64, Change)>>;
}

/// Events for integrations and the webhook endpoints that receive them.
/// Events are written by the hub writes that cause them (see [`Hubs`]), in
/// their transactions, with a delivery for each endpoint that wants them.
#[async_trait]
pub trait Events: Send + Sync + 'static {
    /// Events after `after`, oldest first: one account's, or (`None`) all.
    /// Positions are handed out in commit order, so a reader that has seen
    /// `seq` never sees a smaller one appear later.
    async fn events_after(
        &self,
        account: Option<AccountId>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Event>>;
    /// Changes when this process wrote events, or (PostgreSQL) another node
    /// may have: readers wait on it, and poll too for other processes on SQLite.
    fn events_written(&self) -> tokio::sync::watch::Receiver<u64>;
    /// The newest event's position (0 when there is none).
    async fn last_event_seq(&self) -> Result<i64>;
    /// Drops events (and their deliveries) older than `before`; how many went.
    async fn purge_events(&self, before: OffsetDateTime) -> Result<u64>;

    async fn insert_webhook(&self, endpoint: &WebhookEndpoint, audit: &AuditEvent) -> Result<()>;
    /// Writes the endpoint's URL, types, state and secrets; `NotFound` if it is gone.
    async fn update_webhook(&self, endpoint: &WebhookEndpoint, audit: &AuditEvent) -> Result<()>;
    /// `NotFound` unless the account has this endpoint.
    async fn delete_webhook(
        &self,
        account: AccountId,
        id: WebhookId,
        audit: &AuditEvent,
    ) -> Result<()>;
    /// An endpoint of this account; another account's is `None`.
    async fn webhook(&self, account: AccountId, id: WebhookId) -> Result<Option<WebhookEndpoint>>;
    /// The account's endpoints (of one integration, or all), oldest first.
    async fn webhooks(
        &self,
        account: AccountId,
        integration: Option<IntegrationId>,
    ) -> Result<Vec<WebhookEndpoint>>;

    /// Takes up to `limit` due deliveries, leasing them until `lease_until`:
    /// for each endpoint and hub only the oldest undelivered event, so an
    /// endpoint receives a hub's events in order. Enabled endpoints of
    /// enabled integrations only.
    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>>;
    /// Records attempts, releasing their leases, in one transaction.
    async fn record_attempts(&self, attempts: &[DeliveryAttempt]) -> Result<()>;
    /// An endpoint's deliveries, newest first, before the event `before`.
    async fn deliveries(
        &self,
        account: AccountId,
        endpoint: WebhookId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>>;
    /// Sends a delivery again now, whatever became of it; `NotFound` if the
    /// account's endpoint has no delivery of that event.
    async fn resend_delivery(
        &self,
        account: AccountId,
        endpoint: WebhookId,
        event_seq: i64,
        now: OffsetDateTime,
    ) -> Result<()>;
}
