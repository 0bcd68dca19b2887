//! Rows as the database returns them, and their conversion to domain types.
//! Shared by every backend: the schemas match column for column.

use hubgate_core::account::{Account, Role, User};
use hubgate_core::grant::{GrantKey, GrantRevocation};
use hubgate_core::hub::{Hub, parse_kind};
use hubgate_core::ids::{AccountId, ClientId, HubId, IntegrationId, KeyId, UserId};
use hubgate_core::integration::{Integration, RedirectUri};
use hubgate_core::scope::ScopeSet;
use hubgate_core::tokens::StoredKey;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::{DeviceRecord, StoreError};

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub(crate) fn time(seconds: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(seconds).map_err(corrupt)
}

pub(crate) fn id<T: std::str::FromStr>(text: &str) -> Result<T, StoreError> {
    text.parse()
        .map_err(|_| corrupt(format!("bad id {text:?}")))
}

fn json_object(text: &str) -> Result<Map<String, Value>, StoreError> {
    serde_json::from_str(text).map_err(corrupt)
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: String,
    email: String,
    password_hash: String,
    must_change_password: bool,
    created_at: i64,
}

/// The columns of a [`UserRow`], in its order.
pub(crate) const USER_COLUMNS: &str = "id, email, password_hash, must_change_password, created_at";

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: id::<UserId>(&row.id)?,
            email: row.email,
            password_hash: row.password_hash,
            must_change_password: row.must_change_password,
            created_at: time(row.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    id: String,
    name: String,
    created_at: i64,
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;

    fn try_from(row: AccountRow) -> Result<Self, StoreError> {
        Ok(Account {
            id: id::<AccountId>(&row.id)?,
            name: row.name,
            created_at: time(row.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRoleRow {
    id: String,
    name: String,
    created_at: i64,
    role: String,
}

impl TryFrom<AccountRoleRow> for (Account, Role) {
    type Error = StoreError;

    fn try_from(row: AccountRoleRow) -> Result<Self, StoreError> {
        let role = row.role.parse().map_err(corrupt)?;
        let account = AccountRow {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
        }
        .try_into()?;
        Ok((account, role))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct IntegrationRow {
    id: String,
    account_id: String,
    name: String,
    client_id: String,
    redirect_uris: String,
    scopes: String,
    enabled: bool,
    refresh_on_client_credentials: bool,
    require_pkce: bool,
    access_token_ttl: Option<i64>,
    refresh_token_ttl: Option<i64>,
    created_by: String,
    created_at: i64,
    sealed_secret: Vec<u8>,
    sealed_previous_secret: Option<Vec<u8>>,
    previous_secret_expires_at: Option<i64>,
    token_epoch: i64,
    acting_user_id: Option<String>,
}

impl TryFrom<IntegrationRow> for Integration {
    type Error = StoreError;

    fn try_from(row: IntegrationRow) -> Result<Self, StoreError> {
        let uris: Vec<String> = serde_json::from_str(&row.redirect_uris).map_err(corrupt)?;
        let ttl = |v: Option<i64>| v.map(u32::try_from).transpose().map_err(corrupt);
        Ok(Integration {
            id: id::<IntegrationId>(&row.id)?,
            account_id: id::<AccountId>(&row.account_id)?,
            name: row.name,
            client_id: ClientId::parse(&row.client_id).ok_or_else(|| corrupt("bad client_id"))?,
            redirect_uris: uris.into_iter().map(RedirectUri::from_stored).collect(),
            scopes: ScopeSet::parse(&row.scopes).map_err(corrupt)?,
            enabled: row.enabled,
            refresh_on_client_credentials: row.refresh_on_client_credentials,
            require_pkce: row.require_pkce,
            access_token_ttl: ttl(row.access_token_ttl)?,
            refresh_token_ttl: ttl(row.refresh_token_ttl)?,
            created_by: id::<UserId>(&row.created_by)?,
            // Set by the migration that added it; the creator acted before.
            acting_user: id::<UserId>(row.acting_user_id.as_deref().unwrap_or(&row.created_by))?,
            created_at: time(row.created_at)?,
            sealed_secret: row.sealed_secret,
            sealed_previous_secret: row.sealed_previous_secret,
            previous_secret_expires_at: row.previous_secret_expires_at.map(time).transpose()?,
            token_epoch: u32::try_from(row.token_epoch).map_err(corrupt)?,
        })
    }
}

pub(crate) fn redirect_uris_json(integration: &Integration) -> String {
    let uris: Vec<&str> = integration
        .redirect_uris
        .iter()
        .map(RedirectUri::as_str)
        .collect();
    serde_json::to_string(&uris).unwrap_or_else(|_| "[]".into())
}

#[derive(sqlx::FromRow)]
pub(crate) struct HubRow {
    id: String,
    account_id: String,
    serial: String,
    kind: String,
    model: String,
    firmware: String,
    name: String,
    room: Option<String>,
    online: bool,
    last_seen: Option<i64>,
    state: String,
    desired: String,
    created_at: i64,
    updated_at: i64,
    reported_version: i64,
    desired_version: i64,
}

impl TryFrom<HubRow> for Hub {
    type Error = StoreError;

    fn try_from(row: HubRow) -> Result<Self, StoreError> {
        Ok(Hub {
            id: id::<HubId>(&row.id)?,
            account_id: id::<AccountId>(&row.account_id)?,
            serial: row.serial,
            kind: parse_kind(&row.kind).ok_or_else(|| corrupt("bad hub kind"))?,
            model: row.model,
            firmware: row.firmware,
            name: row.name,
            room: row.room,
            online: row.online,
            last_seen: row.last_seen.map(time).transpose()?,
            state: json_object(&row.state)?,
            desired: json_object(&row.desired)?,
            reported_version: row.reported_version,
            desired_version: row.desired_version,
            created_at: time(row.created_at)?,
            updated_at: time(row.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeviceRow {
    id: String,
    account_id: String,
    serial: String,
    device_secret_digest: Option<Vec<u8>>,
    desired_version: i64,
}

impl TryFrom<DeviceRow> for DeviceRecord {
    type Error = StoreError;

    fn try_from(row: DeviceRow) -> Result<Self, StoreError> {
        Ok(DeviceRecord {
            hub: id::<HubId>(&row.id)?,
            account: id::<AccountId>(&row.account_id)?,
            serial: row.serial,
            credential_digest: row
                .device_secret_digest
                .map(|d| {
                    d.try_into()
                        .map_err(|_| corrupt("device digest is not 32 bytes"))
                })
                .transpose()?,
            desired_version: row.desired_version,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct KeyRow {
    id: String,
    public_key: Vec<u8>,
    sealed_private_key: Vec<u8>,
    created_at: i64,
}

impl TryFrom<KeyRow> for StoredKey {
    type Error = StoreError;

    fn try_from(row: KeyRow) -> Result<Self, StoreError> {
        Ok(StoredKey {
            id: id::<KeyId>(&row.id)?,
            public_key: row
                .public_key
                .try_into()
                .map_err(|_| corrupt("public key is not 32 bytes"))?,
            sealed_private_key: row.sealed_private_key,
            created_at: time(row.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ChangeRow {
    pub seq: i64,
    pub kind: String,
    pub subject: String,
    pub valid_until: Option<i64>,
}

impl ChangeRow {
    pub fn into_change(self) -> Result<(i64, crate::Change), StoreError> {
        use crate::Change;
        let until = || {
            self.valid_until
                .ok_or_else(|| corrupt("revocation without valid_until"))
        };
        let change = match self.kind.as_str() {
            "integration" => Change::Integration(id(&self.subject)?),
            "family" => Change::FamilyRevoked {
                family: id(&self.subject)?,
                valid_until: until()?,
            },
            "access_token" => Change::AccessTokenRevoked {
                jti: self.subject.clone(),
                valid_until: until()?,
            },
            "signing_key" => Change::SigningKey,
            "hub" => Change::Hub(id(&self.subject)?),
            "grant" => Change::GrantRevoked(parse_grant_subject(&self.subject, until()?)?),
            other => return Err(corrupt(format!("unknown change kind {other}"))),
        };
        Ok((self.seq, change))
    }
}

pub(crate) fn json_text(map: &Map<String, Value>) -> String {
    Value::Object(map.clone()).to_string()
}

#[derive(sqlx::FromRow)]
pub(crate) struct CodeRow {
    integration_id: String,
    user_id: String,
    account_id: String,
    redirect_uri: String,
    scope: String,
    code_challenge: Option<String>,
    expires_at: i64,
    family_id: Option<String>,
}

impl CodeRow {
    /// `first`: this call spent the code.
    pub fn into_use(
        self,
        hash: [u8; 32],
        first: bool,
    ) -> Result<hubgate_core::authorize::CodeUse, StoreError> {
        use hubgate_core::authorize::{AuthorizationCode, CodeUse};
        let integration_id = id(&self.integration_id)?;
        if !first {
            let family = self.family_id.as_deref().map(id).transpose()?;
            return Ok(CodeUse::Replayed {
                family,
                integration_id,
            });
        }
        Ok(CodeUse::First(AuthorizationCode {
            hash,
            integration_id,
            user_id: id(&self.user_id)?,
            account_id: id(&self.account_id)?,
            redirect_uri: self.redirect_uri,
            scope: ScopeSet::parse(&self.scope).map_err(corrupt)?,
            code_challenge: self.code_challenge,
            expires_at: time(self.expires_at)?,
        }))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConsentRow {
    user_id: String,
    account_id: String,
    integration_id: String,
    scope: String,
    granted_at: i64,
}

impl TryFrom<ConsentRow> for crate::Consent {
    type Error = StoreError;

    fn try_from(row: ConsentRow) -> Result<Self, StoreError> {
        Ok(crate::Consent {
            user_id: id(&row.user_id)?,
            account_id: id(&row.account_id)?,
            integration_id: id(&row.integration_id)?,
            scope: ScopeSet::parse(&row.scope).map_err(corrupt)?,
            granted_at: time(row.granted_at)?,
        })
    }
}

/// `integration_id` of a grant revocation: the id, or `*` for every integration.
pub(crate) fn grant_integration_text(integration: Option<IntegrationId>) -> String {
    integration.map_or_else(|| "*".to_owned(), |i| i.to_string())
}

/// A grant revocation in the change log's one `subject` column:
/// `<account> <user> <integration or *> <issued_before>`.
pub(crate) fn grant_subject(revocation: &GrantRevocation) -> String {
    let key = &revocation.key;
    format!(
        "{} {} {} {}",
        key.account,
        key.user,
        grant_integration_text(key.integration),
        revocation.issued_before
    )
}

fn grant_revocation(
    account: &str,
    user: &str,
    integration: &str,
    issued_before: i64,
    valid_until: i64,
) -> Result<GrantRevocation, StoreError> {
    Ok(GrantRevocation {
        key: GrantKey {
            account: id(account)?,
            user: id(user)?,
            integration: match integration {
                "*" => None,
                other => Some(id(other)?),
            },
        },
        issued_before,
        valid_until,
    })
}

fn parse_grant_subject(subject: &str, valid_until: i64) -> Result<GrantRevocation, StoreError> {
    let parts: Vec<&str> = subject.split(' ').collect();
    let [account, user, integration, issued_before] = parts.as_slice() else {
        return Err(corrupt(format!("grant change {subject:?}")));
    };
    let issued_before = issued_before.parse().map_err(corrupt)?;
    grant_revocation(account, user, integration, issued_before, valid_until)
}

#[derive(sqlx::FromRow)]
pub(crate) struct GrantRevocationRow {
    account_id: String,
    user_id: String,
    integration_id: String,
    issued_before: i64,
    valid_until: i64,
}

impl TryFrom<GrantRevocationRow> for GrantRevocation {
    type Error = StoreError;

    fn try_from(row: GrantRevocationRow) -> Result<Self, StoreError> {
        grant_revocation(
            &row.account_id,
            &row.user_id,
            &row.integration_id,
            row.issued_before,
            row.valid_until,
        )
    }
}

pub(crate) fn time_ms(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).map_err(corrupt)
}

pub(crate) fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The columns of an [`EventRow`], in its order.
pub(crate) const EVENT_COLUMNS: &str = "seq, account_id, hub_id, kind, at_ms, data";

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    seq: i64,
    account_id: String,
    hub_id: String,
    kind: String,
    at_ms: i64,
    data: String,
}

impl TryFrom<EventRow> for hubgate_core::event::Event {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        Ok(Self {
            seq: row.seq,
            account: id::<AccountId>(&row.account_id)?,
            hub: id::<HubId>(&row.hub_id)?,
            kind: row.kind.parse().map_err(corrupt)?,
            at: time_ms(row.at_ms)?,
            data: serde_json::from_str(&row.data).map_err(corrupt)?,
        })
    }
}

/// The columns of a [`WebhookRow`], in its order.
pub(crate) const WEBHOOK_COLUMNS: &str = "id, account_id, integration_id, url, event_types, enabled, disabled_reason, \
     sealed_secret, sealed_previous_secret, previous_until, failing_since, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct WebhookRow {
    id: String,
    account_id: String,
    integration_id: String,
    url: String,
    event_types: String,
    enabled: bool,
    disabled_reason: Option<String>,
    sealed_secret: Vec<u8>,
    sealed_previous_secret: Option<Vec<u8>>,
    previous_until: Option<i64>,
    failing_since: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<WebhookRow> for hubgate_core::webhook::WebhookEndpoint {
    type Error = StoreError;

    fn try_from(row: WebhookRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: id(&row.id)?,
            account_id: id(&row.account_id)?,
            integration_id: id(&row.integration_id)?,
            url: row.url,
            events: hubgate_core::webhook::EventFilter::from_column(&row.event_types)
                .map_err(corrupt)?,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            sealed_secret: row.sealed_secret,
            sealed_previous_secret: row.sealed_previous_secret,
            previous_until: row.previous_until.map(time).transpose()?,
            failing_since: row.failing_since.map(time).transpose()?,
            created_at: time(row.created_at)?,
            updated_at: time(row.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    event_seq: i64,
    kind: String,
    status: String,
    attempts: i32,
    response_status: Option<i32>,
    error: Option<String>,
    latency_ms: Option<i32>,
    next_attempt_ms: i64,
    created_at_ms: i64,
}

impl TryFrom<DeliveryRow> for crate::DeliveryRecord {
    type Error = StoreError;

    fn try_from(row: DeliveryRow) -> Result<Self, StoreError> {
        use crate::DeliveryStatus;
        let status = match row.status.as_str() {
            "pending" => DeliveryStatus::Pending,
            "delivered" => DeliveryStatus::Delivered,
            "failed" => DeliveryStatus::Failed,
            other => return Err(corrupt(format!("delivery status {other:?}"))),
        };
        Ok(Self {
            event_seq: row.event_seq,
            kind: row.kind.parse().map_err(corrupt)?,
            status,
            attempts: u32::try_from(row.attempts).map_err(corrupt)?,
            response_status: row.response_status.and_then(|s| u16::try_from(s).ok()),
            error: row.error,
            latency_ms: row.latency_ms.and_then(|l| u32::try_from(l).ok()),
            next_attempt_at: (status == DeliveryStatus::Pending)
                .then(|| time_ms(row.next_attempt_ms))
                .transpose()?,
            created_at: time_ms(row.created_at_ms)?,
        })
    }
}
