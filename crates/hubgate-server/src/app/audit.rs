//! Who does things, and how it is written down.

use hubgate_core::account::Role;
use hubgate_core::audit::AuditAction;
use hubgate_core::ids::{AccountId, ClientId, UserId};
use hubgate_store::{AuditEntry, AuditEvent, AuditQuery};

use super::{AppError, Manager};

/// Who asks for a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The operator's admin tool (and the first start): any account.
    Operator,
    /// A logged-in user acting on what is theirs alone (their password,
    /// their consents), in no account in particular.
    User { user: UserId, email: String },
    /// A user in the console, with their role in the account they act in.
    Member {
        account: AccountId,
        user: UserId,
        email: String,
        role: Role,
    },
    /// An integration's token on the management API, acting through its
    /// user with that user's current role: what it may do is its scopes and
    /// that role, whichever is narrower.
    Integration {
        account: AccountId,
        client_id: ClientId,
        user: UserId,
        role: Role,
    },
}

impl Actor {
    /// How the audit log names the actor.
    pub fn name(&self) -> String {
        match self {
            Actor::Operator => "admin tool".to_owned(),
            Actor::User { email, .. } | Actor::Member { email, .. } => email.clone(),
            Actor::Integration { client_id, .. } => client_id.to_string(),
        }
    }
}

/// The most events one page of the audit log holds.
pub const MAX_PAGE: u32 = 1000;

impl Manager<'_> {
    /// The audit event of an action this manager's actor takes now. It is
    /// also a structured log line (target `hubgate::audit`).
    pub(crate) fn event(
        &self,
        account: AccountId,
        action: AuditAction,
        subject: &str,
        detail: &str,
    ) -> AuditEvent {
        let actor = self.actor.name();
        tracing::info!(target: "hubgate::audit", account = %account,
            actor = %crate::logsafe::untrusted(&actor), action = %action,
            subject = %crate::logsafe::untrusted(subject), detail = %crate::logsafe::untrusted(detail));
        AuditEvent {
            account_id: account,
            at: self.now,
            actor,
            action,
            subject: subject.to_owned(),
            detail: detail.to_owned(),
        }
    }

    /// A page of an account's audit events, newest first, with the cursor
    /// of the next (older) page when there is one. Any member may read them
    /// in the console; integrations need `audit:read`.
    pub async fn audit_log(
        &self,
        account: AccountId,
        query: &AuditQuery,
    ) -> Result<AuditPage, AppError> {
        self.require_member(account)?;
        let limit = query.limit.clamp(1, MAX_PAGE);
        // One more than the page tells whether another follows.
        let query = AuditQuery {
            limit: limit + 1,
            ..query.clone()
        };
        let mut entries = self.store.audit_events(account, &query).await?;
        let next = if entries.len() > limit as usize {
            entries.truncate(limit as usize);
            entries.last().map(|e| e.seq)
        } else {
            None
        };
        Ok(AuditPage { entries, next })
    }
}

/// A page of the audit log: `next` is the `before` of the page after it.
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next: Option<i64>,
}
