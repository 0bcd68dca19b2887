//! The store's SQL, written once for both backends. SQLite and PostgreSQL
//! share the schema column for column and the `$N` placeholder syntax (sqlx
//! maps `$N` on SQLite too); what differs — how a transaction that reads then
//! writes takes its lock — is each backend's `begin_locking` and `ROW_LOCK`.
//! A macro stamps the one implementation onto each backend's type, so the
//! backend choice never leaks into the methods.

pub(crate) const LOG_CHANGE: &str =
    "INSERT INTO changes (kind, subject, valid_until, at) VALUES ($1, $2, $3, $4)";
pub(crate) const AUDIT_IN_TX: &str = "INSERT INTO audit_events (account_id, at, actor, action, subject, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)";
pub(crate) const REVOKE_GRANT: &str = "INSERT INTO grant_revocations (account_id, user_id, integration_id, issued_before, valid_until) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, user_id, integration_id) DO UPDATE SET \
         issued_before = CASE WHEN grant_revocations.issued_before > excluded.issued_before \
         THEN grant_revocations.issued_before ELSE excluded.issued_before END, \
         valid_until = CASE WHEN grant_revocations.valid_until > excluded.valid_until \
         THEN grant_revocations.valid_until ELSE excluded.valid_until END";
pub(crate) const CHECK_ACTING_USER: &str =
    "SELECT role FROM memberships WHERE account_id = $1 AND user_id = $2";

pub(crate) mod accounts;
pub(crate) mod audit;
pub(crate) mod changes;
pub(crate) mod consents;
pub(crate) mod events;
pub(crate) mod health;
pub(crate) mod hubs;
pub(crate) mod integrations;
pub(crate) mod rotation;
pub(crate) mod tokens;
pub(crate) mod users;

macro_rules! sql_store {
    ($module:ident, $store:ty, $db:ty, $conn:ty) => {
        mod $module {
            use async_trait::async_trait;
            use hubgate_core::account::{Account, Membership, Role, User};
            use hubgate_core::hub::{Hub, HubChange};
            use hubgate_core::event::{Event, NewEvent};
            use hubgate_core::ids::{AccountId, ClientId, FamilyId, HubId, IntegrationId, UserId, WebhookId};
            use hubgate_core::webhook::WebhookEndpoint;
            use hubgate_core::integration::Integration;
            use hubgate_core::refresh::Rotation;
            use hubgate_core::tokens::StoredKey;
            use serde_json::{Map, Value};
            use sqlx::QueryBuilder;
            use time::OffsetDateTime;

            use crate::error::{on_constraint, on_unique};
            use crate::rows::{
                self, AccountRoleRow, AccountRow, ChangeRow, CodeRow, ConsentRow, DeviceRow, HubRow, IntegrationRow, KeyRow, UserRow,
                USER_COLUMNS,
            };
            use crate::{
                AttemptOutcome, AuditEntry, AuditEvent, AuditQuery, Change, ClaimedDelivery, Consent, DeliveryAttempt, DeliveryRecord,
                DeviceRecord, HubFilter, HubReport, MembershipWrite, PasswordWrite, Result,
                RevocationSnapshot, RotationRequest, StoreError,
            };
            use hubgate_core::authorize::{AuthorizationCode, CodeUse};
            use hubgate_core::grant::GrantRevocation;
            use hubgate_core::scope::ScopeSet;


async fn log_change(
    conn: &mut $conn,
    kind: &str,
    subject: &str,
    valid_until: Option<i64>,
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query(crate::sql::LOG_CHANGE)
        .bind(kind)
        .bind(subject)
        .bind(valid_until)
        .bind(now.unix_timestamp())
        .execute(conn)
        .await?;
    Ok(())
}


/// Writes audit events inside the caller's transaction, so they commit with
/// the change they record. An event of an account that is gone is `NotFound`.
async fn audit_in_tx(conn: &mut $conn, events: &[AuditEvent]) -> Result<()> {
    for event in events {
        sqlx::query(crate::sql::AUDIT_IN_TX)
        .bind(event.account_id.to_string())
        .bind(event.at.unix_timestamp())
        .bind(&event.actor)
        .bind(event.action.as_str())
        .bind(&event.subject)
        .bind(&event.detail)
        .execute(&mut *conn)
        .await
        .map_err(on_constraint("an audit event"))?;
    }
    Ok(())
}


/// Records a grant revocation (widening one already there) and its change.
async fn revoke_grant(conn: &mut $conn, revocation: &GrantRevocation, now: OffsetDateTime) -> Result<()> {
    let key = &revocation.key;
    sqlx::query(crate::sql::REVOKE_GRANT)
    .bind(key.account.to_string())
    .bind(key.user.to_string())
    .bind(rows::grant_integration_text(key.integration))
    .bind(revocation.issued_before)
    .bind(revocation.valid_until)
    .execute(&mut *conn)
    .await?;
    log_change(conn, "grant", &rows::grant_subject(revocation), Some(revocation.valid_until), now).await
}


/// Takes the account's lock for a change to its members or acting users:
/// PostgreSQL locks the account row, SQLite's write transaction holds the
/// database. Every such change takes it first, so two of them (two owners
/// demoting each other) run one after the other and each sees the other's
/// result. `NotFound` if the account is gone.
async fn lock_account(conn: &mut $conn, account: AccountId) -> Result<()> {
    let found: Option<String> =
        sqlx::query_scalar(&format!("SELECT id FROM accounts WHERE id = $1{}", <$store>::ROW_LOCK))
            .bind(account.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    found.map(drop).ok_or(StoreError::NotFound)
}


/// Refuses an acting user who is not a member, or whose role cannot let an
/// integration use `scopes`. Call with the account locked.
async fn check_acting_user(conn: &mut $conn, account: AccountId, user: UserId, scopes: ScopeSet) -> Result<()> {
    let role: Option<String> = sqlx::query_scalar(crate::sql::CHECK_ACTING_USER)
        .bind(account.to_string())
        .bind(user.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(role) = role else {
        return Err(StoreError::Refused(
            "the acting user must be a member of the integration's account".into(),
        ));
    };
    let role: Role = role.parse().map_err(StoreError::Corrupt)?;
    let beyond = role.beyond_delegation(scopes);
    if !beyond.is_empty() {
        return Err(StoreError::Refused(format!(
            "the acting user is a {role} of the account and cannot let an integration use {beyond}: \
             choose an admin or owner"
        )));
    }
    Ok(())
}

crate::sql::health::sql_health!($store, $db, $conn);
crate::sql::users::sql_users!($store, $db, $conn);
crate::sql::accounts::sql_accounts!($store, $db, $conn);
crate::sql::integrations::sql_integrations!($store, $db, $conn);
crate::sql::events::sql_events!($store, $db, $conn);
crate::sql::hubs::sql_hubs!($store, $db, $conn);
crate::sql::tokens::sql_tokens!($store, $db, $conn);
crate::sql::consents::sql_consents!($store, $db, $conn);
crate::sql::audit::sql_audit!($store, $db, $conn);
crate::sql::changes::sql_changes!($store, $db, $conn);
crate::sql::rotation::sql_rotation!($store, $db, $conn);
        }
    };
}

pub(crate) use sql_store;
