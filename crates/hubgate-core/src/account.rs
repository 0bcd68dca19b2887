//! Accounts (organisations), users and the roles that join them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{AccountId, UserId};
use crate::scope::{Scope, ScopeSet};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub password_hash: String,
    /// A one-time password (set by an admin or the operator) must be
    /// replaced at the next login before anything else.
    pub must_change_password: bool,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    /// Owners and admins manage integrations and members; members only look.
    pub fn can_manage(self) -> bool {
        self >= Role::Admin
    }

    /// What a user in this role may let an integration do in the account: by
    /// approving it (authorization code) or as its acting user
    /// (client_credentials). Members only look, so they delegate the read
    /// scopes; writing to hubs takes an admin or an owner.
    pub fn delegable_scopes(self) -> ScopeSet {
        match self {
            // Members look: they may not let an integration change hubs or
            // manage the account.
            Role::Member => ScopeSet::all()
                .iter()
                .filter(|s| *s != Scope::HubsWrite && !Scope::MANAGEMENT.contains(s))
                .collect(),
            Role::Admin | Role::Owner => ScopeSet::all(),
        }
    }

    /// Whether this role may give a member of `target`'s role a new one-time
    /// password: owners and admins may, but only an owner an owner's (or an
    /// admin could take over an owner's login).
    pub fn may_reset_password_of(self, target: Role) -> bool {
        self.can_manage() && (target != Role::Owner || self == Role::Owner)
    }

    /// Whether this role may delegate all of `wanted`.
    pub fn may_delegate(self, wanted: ScopeSet) -> bool {
        wanted.is_subset_of(self.delegable_scopes())
    }

    /// The scopes of `wanted` this role may not delegate (empty when all may be).
    pub fn beyond_delegation(self, wanted: ScopeSet) -> ScopeSet {
        let allowed = self.delegable_scopes();
        wanted.iter().filter(|s| !allowed.contains(*s)).collect()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "owner" => Ok(Self::Owner),
            "admin" => Ok(Self::Admin),
            "member" => Ok(Self::Member),
            other => Err(format!("unknown role \"{other}\" (owner, admin or member)")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub account_id: AccountId,
    pub user_id: UserId,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name must not be empty")]
    Empty,
    #[error("the name must be at most {0} characters")]
    TooLong(usize),
    #[error("the name must not contain control characters")]
    ControlCharacters,
}

/// Trims and checks a display name (accounts, integrations, hubs, rooms).
pub fn clean_name(raw: &str, max_chars: usize) -> Result<String, NameError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.chars().count() > max_chars {
        return Err(NameError::TooLong(max_chars));
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::ControlCharacters);
    }
    Ok(name.to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not an email address")]
pub struct BadEmail(pub String);

/// Normalises an email address for storage and lookup: trimmed, lowercase,
/// one `@` with something on each side. Deliverability is not our business.
pub fn clean_email(raw: &str) -> Result<String, BadEmail> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if valid {
        Ok(email)
    } else {
        Err(BadEmail(raw.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_order_by_power() {
        assert!(Role::Owner.can_manage());
        assert!(Role::Admin.can_manage());
        assert!(!Role::Member.can_manage());
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn members_delegate_only_read_scopes() {
        let all = ScopeSet::all();
        assert_eq!(
            Role::Member.beyond_delegation(all),
            ScopeSet::parse(
                "hubs:write integrations:read integrations:write members:read members:write \
                 audit:read hubs:manage"
            )
            .unwrap()
        );
        assert!(Role::Admin.beyond_delegation(all).is_empty());
        assert!(Role::Admin.may_delegate(all) && !Role::Member.may_delegate(all));
        assert!(Role::Owner.beyond_delegation(all).is_empty());
        assert!(
            Role::Member
                .beyond_delegation(ScopeSet::parse("sub email hubs:read accounts:read").unwrap())
                .is_empty()
        );
    }

    #[test]
    fn only_an_owner_resets_an_owners_password() {
        assert!(Role::Owner.may_reset_password_of(Role::Owner));
        assert!(Role::Admin.may_reset_password_of(Role::Admin));
        assert!(!Role::Admin.may_reset_password_of(Role::Owner));
        assert!(!Role::Member.may_reset_password_of(Role::Member));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(clean_name("  Demo  ", 10), Ok("Demo".into()));
        assert_eq!(clean_name("   ", 10), Err(NameError::Empty));
        assert_eq!(clean_name("abcdefghijk", 10), Err(NameError::TooLong(10)));
        assert_eq!(clean_name("a\nb", 10), Err(NameError::ControlCharacters));
    }

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            clean_email(" Admin@LocalHost "),
            Ok("admin@localhost".into())
        );
        assert!(clean_email("nobody").is_err());
        assert!(clean_email("a@b@c").is_err());
        assert!(clean_email("@b").is_err());
        assert!(clean_email("a b@c").is_err());
    }
}
