//! Logging in, and a user's password over its life: changed by its owner,
//! reset by the operator (a member's reset is `Manager::reset_password`).

use hubgate_core::account::{User, clean_email};
use hubgate_core::audit::AuditAction;
use hubgate_core::password;
use hubgate_store::{AuditEvent, PasswordWrite, Store, StoreError};

use super::{AppError, Manager, invalid};

/// A real Argon2id hash to verify against when the email is unknown, so the
/// answer takes as long either way and does not reveal which emails exist.
static DECOY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    password::hash_password("decoy password never used").unwrap_or_default()
});

/// What [`Manager::change_own_password`] says to a wrong current password;
/// the console counts it as a failed login (the login throttle).
pub const WRONG_CURRENT_PASSWORD: &str = "the current password is not right";

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

/// Hashes on the blocking pool: Argon2 takes tens of milliseconds.
pub(super) async fn hash(new_password: &str) -> Result<String, AppError> {
    password::check_strength(new_password).map_err(invalid)?;
    let new_password = new_password.to_owned();
    tokio::task::spawn_blocking(move || password::hash_password(&new_password))
        .await
        .map_err(|_| AppError::Invalid("the password could not be hashed".into()))?
        .map_err(invalid)
}

impl Manager<'_> {
    /// A user changes their own password: the current one is required, the
    /// new one must be strong enough and different, and every other session
    /// of theirs ends (`keep_session` is the browser asking).
    pub async fn change_own_password(
        &self,
        user: &User,
        current: &str,
        new: &str,
        keep_session: Option<&[u8; 32]>,
    ) -> Result<(), AppError> {
        if self.actor.user() != Some(user.id) {
            return Err(AppError::Forbidden(
                "a user changes only their own password".into(),
            ));
        }
        let checked = check_password(self.store, &user.email, current)
            .await
            .map_err(|error| match error {
                PasswordCheckError::Store(error) => AppError::from(error),
                PasswordCheckError::Busy => AppError::Conflict(
                    "too many password checks right now: try again in a moment".into(),
                ),
            })?;
        if checked.is_none() {
            return Err(AppError::Invalid(WRONG_CURRENT_PASSWORD.into()));
        }
        if new == current {
            return Err(AppError::Invalid(
                "the new password must differ from the current one".into(),
            ));
        }
        let hash = hash(new).await?;
        let events = self
            .in_every_account(user, AuditAction::PasswordChanged)
            .await?;
        self.write_password(user, &hash, false, keep_session, events)
            .await
    }

    /// The operator sets a user's password: as given, or (with `None`) a
    /// generated one-time password, returned to be passed on. Every session
    /// of the user ends.
    pub async fn set_password(
        &self,
        email: &str,
        given: Option<&str>,
    ) -> Result<(User, Option<String>), AppError> {
        if !self.actor.is_operator() {
            return Err(AppError::Forbidden(
                "only the operator sets any user's password".into(),
            ));
        }
        let email = clean_email(email).map_err(invalid)?;
        let user = self
            .store
            .user_by_email(&email)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        let generated = given.is_none().then(password::generate_password);
        let chosen = given.or(generated.as_deref()).unwrap_or_default();
        let hash = hash(chosen).await?;
        let events = self
            .in_every_account(&user, AuditAction::MemberPasswordReset)
            .await?;
        self.write_password(&user, &hash, generated.is_some(), None, events)
            .await?;
        Ok((user, generated))
    }

    /// The audit event of `action` on `user`, in each account they belong to.
    async fn in_every_account(
        &self,
        user: &User,
        action: AuditAction,
    ) -> Result<Vec<AuditEvent>, AppError> {
        Ok(self
            .store
            .accounts_of_user(user.id)
            .await?
            .iter()
            .map(|(account, _)| self.event(account.id, action, &user.email, ""))
            .collect())
    }

    /// Writes the new hash and ends sessions (all but `keep_session`), with
    /// the audit events, in one transaction.
    pub(super) async fn write_password(
        &self,
        user: &User,
        hash: &str,
        must_change: bool,
        keep_session: Option<&[u8; 32]>,
        events: Vec<AuditEvent>,
    ) -> Result<(), AppError> {
        let write = PasswordWrite {
            user: user.id,
            password_hash: hash,
            must_change,
            keep_session,
        };
        match self.store.set_password(write, &events).await {
            Err(StoreError::NotFound) => Err(AppError::NotFound("user")),
            other => Ok(other?),
        }
    }
}
