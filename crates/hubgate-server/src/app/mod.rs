//! The application layer: every management operation and every token flow,
//! whichever door it came through (the console, the management API, the
//! admin tool). A front door parses, calls one function here and renders.
//!
//! An operation takes its [`Actor`] and `now`, checks what the actor may do,
//! makes the change and writes its audit event **in the change's store
//! transaction**, so there is no change without its audit row. Changes reach
//! the nodes' caches through the store's change log (a server front door
//! calls `AppState::catch_up` to apply them here at once).

pub mod accounts;
pub mod audit;
pub mod grants;
pub mod hubs;
pub mod integrations;
pub mod members;
pub mod passwords;
pub mod webhooks;

use hubgate_core::account::Role;
use hubgate_core::crypto::MasterKey;
use hubgate_core::ids::{AccountId, UserId};
use hubgate_store::{MembershipWrite, Store, StoreError};
use time::OffsetDateTime;

pub use audit::Actor;

/// The operator, for a [`Manager`] that outlives no borrow (tests, tools).
pub static OPERATOR: Actor = Actor::Operator;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// The actor's role does not allow it.
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(what) => Self::Conflict(format!("{what} already exists")),
            StoreError::Refused(why) => Self::Conflict(why),
            // What a write aimed at went away meanwhile (deleted by another
            // request): not found, not an unavailable store.
            StoreError::NotFound => Self::NotFound("record"),
            other => Self::Store(other),
        }
    }
}

pub(crate) fn invalid(error: impl std::fmt::Display) -> AppError {
    AppError::Invalid(error.to_string())
}

/// One management request: who asks, when, and the store and key it runs
/// against. Every operation is a method of it (one file per aggregate).
pub struct Manager<'a> {
    pub store: &'a dyn Store,
    pub master: &'a MasterKey,
    pub actor: &'a Actor,
    pub now: OffsetDateTime,
}

impl<'a> Manager<'a> {
    pub fn new(
        store: &'a dyn Store,
        master: &'a MasterKey,
        actor: &'a Actor,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            store,
            master,
            actor,
            now,
        }
    }

    /// The application layer on this node, acting as `actor` now.
    pub fn on(state: &'a crate::state::AppState, actor: &'a Actor) -> Self {
        Self::new(
            state.store.as_ref(),
            &state.master,
            actor,
            hubgate_core::now(),
        )
    }

    /// The actor holds at least `least` in `account` (the operator always
    /// does); another account is not found, so a token never learns it
    /// exists.
    fn require_role(&self, account: AccountId, least: Role, to: &str) -> Result<(), AppError> {
        match self.actor.role_in(account) {
            None if self.actor.is_operator() => Ok(()),
            None => Err(AppError::NotFound("account")),
            Some(role) if role >= least => Ok(()),
            Some(role) => Err(AppError::Forbidden(format!(
                "a {role} of the account cannot {to}"
            ))),
        }
    }

    /// Owners and admins manage an account.
    fn require_manage(&self, account: AccountId) -> Result<(), AppError> {
        self.require_role(
            account,
            Role::Admin,
            "do that: only owners and admins manage it",
        )
    }

    /// Any member may look.
    fn require_member(&self, account: AccountId) -> Result<(), AppError> {
        self.require_role(account, Role::Member, "look")
    }

    /// The store's view of a membership change by this actor. Revocations
    /// it causes are kept until the latest expiry any token can have.
    fn membership_write(&self) -> MembershipWrite {
        MembershipWrite {
            by: match self.actor {
                Actor::Operator => None,
                // Never reached (a user alone manages no account); the
                // narrowest authority if it were.
                Actor::User { .. } => Some(Role::Member),
                Actor::Member { role, .. } | Actor::Integration { role, .. } => Some(*role),
            },
            now: self.now,
            revoke_until: grants_revoked_until(self.now),
        }
    }
}

pub(crate) fn grants_revoked_until(now: OffsetDateTime) -> i64 {
    hubgate_core::grant::Lifetimes::LONGEST.revocation_horizon(now)
}

/// The user an actor acts as, if any (the operator is nobody in particular).
impl Actor {
    pub fn user(&self) -> Option<UserId> {
        match self {
            Actor::Operator => None,
            Actor::User { user, .. }
            | Actor::Member { user, .. }
            | Actor::Integration { user, .. } => Some(*user),
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self, Actor::Operator)
    }

    /// The actor's role in `account`; `None` for the operator or another account.
    pub fn role_in(&self, account: AccountId) -> Option<Role> {
        match self {
            Actor::Operator | Actor::User { .. } => None,
            Actor::Member {
                account: theirs,
                role,
                ..
            }
            | Actor::Integration {
                account: theirs,
                role,
                ..
            } => (*theirs == account).then_some(*role),
        }
    }

    /// The one account this actor acts in (the operator and a user alone, none).
    pub fn account(&self) -> Option<AccountId> {
        match self {
            Actor::Operator | Actor::User { .. } => None,
            Actor::Member { account, .. } | Actor::Integration { account, .. } => Some(*account),
        }
    }
}
