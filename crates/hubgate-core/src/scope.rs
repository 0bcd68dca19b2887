//! The guide's five scopes and hubgate's management scopes, as a small set type.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Sub,
    Email,
    HubsRead,
    HubsWrite,
    AccountsRead,
    IntegrationsRead,
    IntegrationsWrite,
    MembersRead,
    MembersWrite,
    AuditRead,
    HubsManage,
}

impl Scope {
    pub const ALL: [Scope; 11] = [
        Scope::Sub,
        Scope::Email,
        Scope::HubsRead,
        Scope::HubsWrite,
        Scope::AccountsRead,
        Scope::IntegrationsRead,
        Scope::IntegrationsWrite,
        Scope::MembersRead,
        Scope::MembersWrite,
        Scope::AuditRead,
        Scope::HubsManage,
    ];

    /// The scopes of the management API: only an owner or admin may let an
    /// integration use them.
    pub const MANAGEMENT: [Scope; 6] = [
        Scope::IntegrationsRead,
        Scope::IntegrationsWrite,
        Scope::MembersRead,
        Scope::MembersWrite,
        Scope::AuditRead,
        Scope::HubsManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sub => "sub",
            Self::Email => "email",
            Self::HubsRead => "hubs:read",
            Self::HubsWrite => "hubs:write",
            Self::AccountsRead => "accounts:read",
            Self::IntegrationsRead => "integrations:read",
            Self::IntegrationsWrite => "integrations:write",
            Self::MembersRead => "members:read",
            Self::MembersWrite => "members:write",
            Self::AuditRead => "audit:read",
            Self::HubsManage => "hubs:manage",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    /// What the scope allows, in the guide's words; shown on consent pages.
    pub fn description(self) -> &'static str {
        match self {
            Self::Sub => "read the user id of the user authorised on the application",
            Self::Email => "read the email of the user authorised on the application",
            Self::HubsRead => "read hub and switch data",
            Self::HubsWrite => "change hub and switch names, rooms and settings",
            Self::AccountsRead => "read the account information",
            Self::IntegrationsRead => "list the account's integrations and their settings",
            Self::IntegrationsWrite => {
                "create, change, rotate the secrets of and delete the account's integrations"
            }
            Self::MembersRead => "list the account's members and their roles",
            Self::MembersWrite => {
                "add and remove members, change their roles, reset their passwords"
            }
            Self::AuditRead => "read and export the account's audit log",
            Self::HubsManage => "add hubs and switches to the account and remove them",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope \"{0}\"")]
pub struct UnknownScope(pub String);

/// A set of scopes. Its text form is space-separated in a fixed order (RFC 6749 §3.3).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(u16);

impl ScopeSet {
    pub const EMPTY: ScopeSet = ScopeSet(0);

    pub fn all() -> Self {
        Scope::ALL.into_iter().collect()
    }

    /// Parses a space-separated scope string. Repeated spaces and duplicates
    /// are tolerated (clients join lists carelessly); unknown scopes are not.
    pub fn parse(text: &str) -> Result<Self, UnknownScope> {
        text.split(' ')
            .filter(|part| !part.is_empty())
            .map(|part| Scope::parse(part).ok_or_else(|| UnknownScope(part.to_owned())))
            .collect()
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn is_subset_of(self, other: ScopeSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    pub fn bits(self) -> u16 {
        self.0
    }

    pub fn from_bits(bits: u16) -> Option<Self> {
        (bits & !Self::all().0 == 0).then_some(Self(bits))
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().fold(0, |bits, scope| bits | scope.bit()))
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in self.iter() {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
            first = false;
        }
        Ok(())
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScopeSet({self})")
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ScopeSet::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guides_scope_string_parses_and_prints_in_canonical_order() {
        let set = ScopeSet::parse("hubs:read hubs:write accounts:read").unwrap();
        assert_eq!(set.to_string(), "hubs:read hubs:write accounts:read");
        let set = ScopeSet::parse("email  sub sub").unwrap();
        assert_eq!(set.to_string(), "sub email");
    }

    #[test]
    fn an_unknown_scope_is_named_in_the_error() {
        assert_eq!(
            ScopeSet::parse("hubs:read admin"),
            Err(UnknownScope("admin".into()))
        );
        assert!(ScopeSet::parse("HUBS:READ").is_err());
    }

    #[test]
    fn subsets_are_recognised() {
        let all = ScopeSet::all();
        let some = ScopeSet::parse("sub hubs:read").unwrap();
        assert!(some.is_subset_of(all));
        assert!(!all.is_subset_of(some));
        assert!(ScopeSet::EMPTY.is_subset_of(some));
    }

    #[test]
    fn bits_round_trip_and_reject_unknown_bits() {
        let set = ScopeSet::parse("email accounts:read").unwrap();
        assert_eq!(ScopeSet::from_bits(set.bits()), Some(set));
        assert_eq!(ScopeSet::from_bits(0x8000), None);
        let management = ScopeSet::parse("integrations:write hubs:manage").unwrap();
        assert_eq!(ScopeSet::from_bits(management.bits()), Some(management));
    }
}
