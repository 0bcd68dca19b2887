//! What an operator or account admin does: create accounts, users, integrations
//! and hubs; rotate, disable and delete. Shared by the admin CLI and the console,
//! so both enforce the same rules.

use hubgate_core::account::{Account, Membership, Role, User, clean_email, clean_name};
use hubgate_core::crypto::MasterKey;
use hubgate_core::hub::{self, Hub, HubKind, NewHub};
use hubgate_core::ids::{AccountId, ClientId, HubId, IntegrationId, UserId};
use hubgate_core::integration::{Integration, IntegrationSettings, grace_until};
use hubgate_core::password;
use hubgate_core::secret::ClientSecret;
use hubgate_store::{Store, StoreError};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ManageError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(what) => Self::Conflict(format!("{what} already exists")),
            other => Self::Store(other),
        }
    }
}

fn invalid(error: impl std::fmt::Display) -> ManageError {
    ManageError::Invalid(error.to_string())
}

pub async fn create_account(
    store: &dyn Store,
    name: &str,
    now: OffsetDateTime,
) -> Result<Account, ManageError> {
    let account = Account {
        id: AccountId::new(),
        name: clean_name(name, 100).map_err(invalid)?,
        created_at: now,
    };
    store.insert_account(&account).await?;
    Ok(account)
}

/// Creates a user, or finds the existing one with that email when `password`
/// is `None`, and gives them `role` in `account`.
pub async fn create_user(
    store: &dyn Store,
    email: &str,
    password: &str,
    account: Option<(AccountId, Role)>,
    now: OffsetDateTime,
) -> Result<User, ManageError> {
    let email = clean_email(email).map_err(invalid)?;
    let password_hash = password::hash_password(password).map_err(invalid)?;
    if let Some((account_id, _)) = account {
        store
            .account_by_id(account_id)
            .await?
            .ok_or(ManageError::NotFound("account"))?;
    }
    let user = User {
        id: UserId::new(),
        email,
        password_hash,
        created_at: now,
    };
    store.insert_user(&user).await?;
    if let Some((account_id, role)) = account {
        store
            .put_membership(&Membership {
                account_id,
                user_id: user.id,
                role,
            })
            .await?;
    }
    Ok(user)
}

pub async fn add_member(
    store: &dyn Store,
    account: AccountId,
    email: &str,
    role: Role,
) -> Result<User, ManageError> {
    let email = clean_email(email).map_err(invalid)?;
    let user = store
        .user_by_email(&email)
        .await?
        .ok_or(ManageError::NotFound("user"))?;
    store
        .account_by_id(account)
        .await?
        .ok_or(ManageError::NotFound("account"))?;
    store
        .put_membership(&Membership {
            account_id: account,
            user_id: user.id,
            role,
        })
        .await?;
    Ok(user)
}

/// An integration just created or rotated, with its secret in plain text
/// for the one who asked: shown, never stored.
pub struct WithSecret {
    pub integration: Integration,
    pub secret: ClientSecret,
}

/// Creates an integration for `account`. Its client_credentials tokens act as
/// `created_by`, who must be a member; `None` picks the account's first owner.
pub async fn create_integration(
    store: &dyn Store,
    master: &MasterKey,
    account: AccountId,
    created_by: Option<UserId>,
    settings: IntegrationSettings,
    now: OffsetDateTime,
) -> Result<WithSecret, ManageError> {
    store
        .account_by_id(account)
        .await?
        .ok_or(ManageError::NotFound("account"))?;
    let members = store.account_members(account).await?;
    let creator = match created_by {
        Some(user) => members.iter().find(|(u, _)| u.id == user).map(|(u, _)| u.id).ok_or_else(|| {
            ManageError::Invalid("the creator of an integration must be a member of its account".into())
        })?,
        None => members.first().map(|(u, _)| u.id).ok_or_else(|| {
            ManageError::Invalid(
                "the account has no members: add a user first (its client_credentials tokens act for that user)".into(),
            )
        })?,
    };
    let id = IntegrationId::new();
    let secret = ClientSecret::generate();
    let integration = Integration {
        id,
        account_id: account,
        name: settings.name,
        client_id: ClientId::generate(),
        redirect_uris: settings.redirect_uris,
        scopes: settings.scopes,
        enabled: true,
        refresh_on_client_credentials: settings.refresh_on_client_credentials,
        require_pkce: settings.require_pkce,
        access_token_ttl: settings.access_token_ttl,
        refresh_token_ttl: settings.refresh_token_ttl,
        created_by: creator,
        created_at: now,
        sealed_secret: secret.seal(master, id),
        sealed_previous_secret: None,
        previous_secret_expires_at: None,
        token_epoch: 0,
    };
    store.insert_integration(&integration).await?;
    Ok(WithSecret {
        integration,
        secret,
    })
}

pub async fn integration_by_client_id(
    store: &dyn Store,
    client_id: &str,
) -> Result<Integration, ManageError> {
    let client_id = ClientId::parse(client_id).ok_or(ManageError::NotFound("integration"))?;
    store
        .integration_by_client_id(&client_id)
        .await?
        .ok_or(ManageError::NotFound("integration"))
}

pub fn reveal_secret(
    master: &MasterKey,
    integration: &Integration,
) -> Result<ClientSecret, ManageError> {
    ClientSecret::open(master, integration.id, &integration.sealed_secret)
        .map_err(|_| ManageError::Invalid("the secret does not open with this master key".into()))
}

/// Replaces the secret. With a grace period the old secret keeps working until
/// it ends and issued tokens stay valid; without one the old secret and every
/// token issued so far stop working at once.
pub async fn rotate_secret(
    store: &dyn Store,
    master: &MasterKey,
    mut integration: Integration,
    grace: Duration,
    now: OffsetDateTime,
) -> Result<WithSecret, ManageError> {
    if grace < Duration::ZERO || grace > Duration::days(30) {
        return Err(ManageError::Invalid(
            "the grace period must be between 0 and 30 days".into(),
        ));
    }
    let secret = ClientSecret::generate();
    match grace_until(now, grace) {
        Some(until) => {
            integration.sealed_previous_secret = Some(integration.sealed_secret.clone());
            integration.previous_secret_expires_at = Some(until);
        }
        None => {
            integration.sealed_previous_secret = None;
            integration.previous_secret_expires_at = None;
            integration.token_epoch += 1;
        }
    }
    integration.sealed_secret = secret.seal(master, integration.id);
    store.update_integration(&integration).await?;
    Ok(WithSecret {
        integration,
        secret,
    })
}

/// Disabling stops the integration's client from authenticating and its
/// tokens from working at once; enabling restores tokens that have not expired.
pub async fn set_enabled(
    store: &dyn Store,
    mut integration: Integration,
    enabled: bool,
) -> Result<Integration, ManageError> {
    integration.enabled = enabled;
    store.update_integration(&integration).await?;
    Ok(integration)
}

/// Deletes the integration; its tokens stop working at once.
pub async fn delete_integration(
    store: &dyn Store,
    integration: &Integration,
) -> Result<(), ManageError> {
    store.delete_integration(integration.id).await?;
    Ok(())
}

pub async fn create_hub(
    store: &dyn Store,
    account: AccountId,
    serial: &str,
    name: &str,
    kind: HubKind,
    now: OffsetDateTime,
) -> Result<Hub, ManageError> {
    store
        .account_by_id(account)
        .await?
        .ok_or(ManageError::NotFound("account"))?;
    let (model, ports) = match kind {
        HubKind::Hub => ("O-PC-3", 4),
        HubKind::Switch => ("O-SW-4", 4),
    };
    let state = serde_json::json!({"connected": vec![0; ports], "active": 0});
    let new = NewHub {
        serial: hub::clean_serial(serial).map_err(invalid)?,
        kind,
        model: model.into(),
        firmware: "unknown".into(),
        name: clean_name(name, hub::MAX_NAME_CHARS).map_err(invalid)?,
        room: None,
        online: false,
        state: hub::parse_reported_state(state).map_err(invalid)?,
    };
    let hub = new.into_hub(account, now);
    store.insert_hub(&hub).await?;
    Ok(hub)
}

/// Records a state the hub reported (how reported state gets in until hubs
/// report over their own protocol).
pub async fn set_hub_state(
    store: &dyn Store,
    id: &str,
    state: Value,
    now: OffsetDateTime,
) -> Result<Hub, ManageError> {
    let id: HubId = id.parse().map_err(|_| ManageError::NotFound("hub"))?;
    let state = hub::parse_reported_state(state).map_err(invalid)?;
    match store.report_hub_state(id, &state, now).await {
        Err(StoreError::NotFound) => Err(ManageError::NotFound("hub")),
        other => Ok(other?),
    }
}

/// A real Argon2id hash to verify against when the email is unknown, so the
/// answer takes as long either way and does not reveal which emails exist.
static DECOY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    password::hash_password("decoy password never used").unwrap_or_default()
});

/// Why a password could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordCheckError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Every Argon2 memory block is busy and the queue is full.
    #[error("too many login attempts right now")]
    Busy,
}

/// The user with this email and password, or `None`. Argon2 runs on the
/// blocking pool in one of a few preallocated memory blocks: it takes tens of
/// milliseconds on purpose, and past a short queue the check is refused at
/// once ([`PasswordCheckError::Busy`]).
pub async fn check_password(
    store: &dyn Store,
    email: &str,
    password: &str,
) -> Result<Option<User>, PasswordCheckError> {
    let admission = password::admit().map_err(|_| PasswordCheckError::Busy)?;
    let user = match clean_email(email) {
        Ok(email) => store.user_by_email(&email).await?,
        Err(_) => None,
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let password = password.to_owned();
    // The decoy is hashed on first use: on the blocking pool too.
    let matches = tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(|| DECOY_HASH.clone());
        admission.verify(&password, &hash)
    })
    .await
    .unwrap_or(false);
    Ok(user.filter(|_| matches))
}

/// Who did something, as the audit log names them.
pub enum Actor<'a> {
    User(&'a User),
    AdminTool,
}

impl Actor<'_> {
    fn name(&self) -> String {
        match self {
            Actor::User(user) => user.email.clone(),
            Actor::AdminTool => "admin tool".to_owned(),
        }
    }
}

/// Records a management action in the account's audit log (and the log).
pub async fn audit(
    store: &dyn Store,
    account: AccountId,
    actor: &Actor<'_>,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<(), StoreError> {
    let event = hubgate_store::AuditEvent {
        account_id: account,
        at: hubgate_core::now(),
        actor: actor.name(),
        action: action.to_owned(),
        subject: subject.to_owned(),
        detail: detail.to_owned(),
    };
    tracing::info!(target: "hubgate::audit", account = %account,
        actor = %crate::logsafe::untrusted(&event.actor), action,
        subject = %crate::logsafe::untrusted(subject), detail = %crate::logsafe::untrusted(detail));
    store.append_audit(&[event]).await
}

/// Whether `user` is the account's only owner; not found if not a member.
async fn is_last_owner(
    store: &dyn Store,
    account: AccountId,
    user: UserId,
) -> Result<bool, ManageError> {
    let members = store.account_members(account).await?;
    let role = members
        .iter()
        .find(|(member, _)| member.id == user)
        .map(|(_, role)| *role)
        .ok_or(ManageError::NotFound("member"))?;
    let owners = members.iter().filter(|(_, r)| *r == Role::Owner).count();
    Ok(role == Role::Owner && owners == 1)
}

/// Changes a member's role; the last owner cannot be demoted.
pub async fn set_role(
    store: &dyn Store,
    account: AccountId,
    user: UserId,
    role: Role,
) -> Result<(), ManageError> {
    if is_last_owner(store, account, user).await? && role != Role::Owner {
        return Err(ManageError::Invalid(
            "the account's last owner cannot be demoted; make someone else owner first".into(),
        ));
    }
    store
        .put_membership(&Membership {
            account_id: account,
            user_id: user,
            role,
        })
        .await?;
    Ok(())
}

/// Removes a member; the last owner cannot be removed.
pub async fn remove_member(
    store: &dyn Store,
    account: AccountId,
    user: UserId,
) -> Result<(), ManageError> {
    if is_last_owner(store, account, user).await? {
        return Err(ManageError::Invalid(
            "the account's last owner cannot be removed".into(),
        ));
    }
    store.remove_membership(account, user).await?;
    Ok(())
}
