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
use hubgate_store::{MembershipWrite, Store, StoreError};
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
            StoreError::Refused(why) => Self::Conflict(why),
            other => Self::Store(other),
        }
    }
}

fn invalid(error: impl std::fmt::Display) -> ManageError {
    ManageError::Invalid(error.to_string())
}

/// Who asks for a change to an account's members: the operator's admin tool,
/// or a member with their role there (the console).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    Operator,
    Member(Role),
}

impl Authority {
    /// The store's view of a membership change by this authority, at `now`.
    /// Revocations it causes are kept until the latest expiry any token can
    /// have, as the admin tool does not know the server's lifetimes.
    pub fn write(self, now: OffsetDateTime) -> MembershipWrite {
        MembershipWrite {
            by: match self {
                Authority::Operator => None,
                Authority::Member(role) => Some(role),
            },
            now,
            revoke_until: grants_revoked_until(now),
        }
    }
}

fn grants_revoked_until(now: OffsetDateTime) -> i64 {
    hubgate_core::grant::Lifetimes::LONGEST.revocation_horizon(now)
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
        let membership = Membership {
            account_id,
            user_id: user.id,
            role,
        };
        store
            .put_membership(&membership, Authority::Operator.write(now))
            .await?;
    }
    Ok(user)
}

/// Adds a user to the account, or changes the role of one already there:
/// the same rules as [`set_role`] then apply.
pub async fn add_member(
    store: &dyn Store,
    authority: Authority,
    account: AccountId,
    email: &str,
    role: Role,
    now: OffsetDateTime,
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
    let membership = Membership {
        account_id: account,
        user_id: user.id,
        role,
    };
    store
        .put_membership(&membership, authority.write(now))
        .await?;
    Ok(user)
}

/// An integration just created or rotated, with its secret in plain text
/// for the one who asked: shown, never stored.
pub struct WithSecret {
    pub integration: Integration,
    pub secret: ClientSecret,
}

/// Creates an integration for `account`. Its client_credentials tokens act
/// through `created_by` (its first acting user), who must be a member whose
/// role covers the scopes; `None` picks the account's first owner.
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
        acting_user: creator,
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
/// tokens from working at once, for good: it also moves the token epoch on,
/// so enabling again lets only newly issued tokens work.
pub async fn set_enabled(
    store: &dyn Store,
    mut integration: Integration,
    enabled: bool,
) -> Result<Integration, ManageError> {
    if integration.enabled && !enabled {
        integration.token_epoch += 1;
    }
    integration.enabled = enabled;
    store.update_integration(&integration).await?;
    Ok(integration)
}

/// Makes `user` the member the integration's client_credentials tokens act
/// through. The store refuses a user who is not a member or whose role does
/// not cover the integration's scopes. Tokens issued so far keep acting
/// through the previous user until they expire or that user leaves.
pub async fn set_acting_user(
    store: &dyn Store,
    mut integration: Integration,
    user: UserId,
) -> Result<Integration, ManageError> {
    integration.acting_user = user;
    store.update_integration(&integration).await?;
    Ok(integration)
}

/// Withdraws a user's consent to an integration in an account: it will ask
/// again, and every token the consent granted stops working at once.
pub async fn withdraw_consent(
    store: &dyn Store,
    user: UserId,
    account: AccountId,
    integration: IntegrationId,
    now: OffsetDateTime,
) -> Result<(), ManageError> {
    store
        .delete_consent(user, account, integration, now, grants_revoked_until(now))
        .await?;
    Ok(())
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

/// Checks that `master` is the key the store's secrets were sealed with: it
/// must open the signing keys `hubgate serve` writes at its first start (or,
/// before any, an integration's secret). A wrong key would otherwise seal new
/// secrets no server can open.
pub async fn verify_master_key(store: &dyn Store, master: &MasterKey) -> Result<(), ManageError> {
    let wrong = || {
        ManageError::Invalid(
            "the master key does not open this store's secrets: use the key `hubgate serve` uses for it \
             (HUBGATE_MASTER_KEY, or master.key in its data directory)"
                .into(),
        )
    };
    let keys = store.signing_keys().await?;
    if !keys.is_empty() {
        let opens = keys
            .iter()
            .any(|key| hubgate_core::tokens::AccessTokenSigner::open(master, key).is_ok());
        return opens.then_some(()).ok_or_else(wrong);
    }
    match store.list_integrations(None).await?.first() {
        Some(integration) => reveal_secret(master, integration)
            .map(drop)
            .map_err(|_| wrong()),
        None => Ok(()),
    }
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

/// Changes a member's role. The store keeps an owner in the account and the
/// roles acting users need; a role that may delegate less revokes the
/// member's grants in the account.
pub async fn set_role(
    store: &dyn Store,
    authority: Authority,
    account: AccountId,
    user: UserId,
    role: Role,
    now: OffsetDateTime,
) -> Result<(), ManageError> {
    // A role is set for a member; adding one is `add_member`.
    store
        .membership(account, user)
        .await?
        .ok_or(ManageError::NotFound("member"))?;
    let membership = Membership {
        account_id: account,
        user_id: user,
        role,
    };
    store
        .put_membership(&membership, authority.write(now))
        .await?;
    Ok(())
}

/// Removes a member and revokes every token acting for them in the account,
/// under the same rules as [`set_role`].
pub async fn remove_member(
    store: &dyn Store,
    authority: Authority,
    account: AccountId,
    user: UserId,
    now: OffsetDateTime,
) -> Result<(), ManageError> {
    match store
        .remove_membership(account, user, authority.write(now))
        .await
    {
        Err(StoreError::NotFound) => Err(ManageError::NotFound("member")),
        other => Ok(other?),
    }
}
