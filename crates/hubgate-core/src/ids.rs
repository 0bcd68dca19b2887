//! Opaque identifiers with a type prefix (`acc_`, `usr_`, `int_`, `hub_`, `key_`).
//!
//! Each wraps a UUIDv7, so ids sort by creation time (cursor pagination relies
//! on that) and pack into 16 bytes inside sealed refresh tokens.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {kind} id")]
pub struct BadId {
    pub kind: &'static str,
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub fn uuid(&self) -> Uuid {
                self.0
            }

            pub fn to_bytes(&self) -> [u8; 16] {
                *self.0.as_bytes()
            }

            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.0.simple())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = BadId;

            fn from_str(s: &str) -> Result<Self, BadId> {
                let hex = s.strip_prefix($prefix).ok_or(BadId { kind: $kind })?;
                // Only the canonical form: 32 lowercase hex digits, so one id has one spelling.
                if hex.len() != 32 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    return Err(BadId { kind: $kind });
                }
                Uuid::parse_str(hex).map(Self).map_err(|_| BadId { kind: $kind })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(
    /// An organisation account: the tenant boundary.
    AccountId, "acc_", "account"
);
prefixed_id!(
    /// A person who logs in to the console or approves an authorization.
    UserId, "usr_", "user"
);
prefixed_id!(
    /// A custom integration (an OAuth client) owned by one account.
    IntegrationId, "int_", "integration"
);
prefixed_id!(
    /// A hub or switch.
    HubId, "hub_", "hub"
);
prefixed_id!(
    /// A webhook endpoint of an integration.
    WebhookId, "whk_", "webhook endpoint"
);
prefixed_id!(
    /// A signing key; its id is the JWT `kid`.
    KeyId, "key_", "key"
);
prefixed_id!(
    /// A refresh-token family: every token rotated from one grant.
    FamilyId, "fam_", "family"
);

/// The public identifier of an integration's OAuth client: `hgc_` and 32
/// random hex digits. Not a secret, but unguessable so ids can't be enumerated.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    pub const PREFIX: &'static str = "hgc_";

    pub fn generate() -> Self {
        let bytes: [u8; 16] = rand::random();
        let mut s = String::with_capacity(36);
        s.push_str(Self::PREFIX);
        for b in bytes {
            s.push_str(&format!("{b:02x}"));
        }
        Self(s)
    }

    /// Accepts any client id that is printable and of sane length; an unknown
    /// one simply fails authentication. Clients of other servers may use
    /// other formats, so the shape is not enforced beyond that.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom("malformed client_id"))
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_round_trips_through_its_text_form() {
        let id = HubId::new();
        let text = id.to_string();
        assert!(text.starts_with("hub_"));
        assert_eq!(text.len(), 36);
        assert_eq!(text.parse::<HubId>(), Ok(id));
    }

    #[test]
    fn an_id_of_another_type_or_spelling_is_refused() {
        let id = AccountId::new().to_string();
        assert!(id.parse::<HubId>().is_err());
        assert!(id.to_uppercase().parse::<AccountId>().is_err());
        assert!("acc_".parse::<AccountId>().is_err());
        assert!("acc_../../etc/passwd".parse::<AccountId>().is_err());
    }

    #[test]
    fn ids_sort_by_creation() {
        let first = HubId::new();
        let second = HubId::new();
        assert!(first.to_string() < second.to_string());
    }

    #[test]
    fn client_ids_are_unique_and_prefixed() {
        let a = ClientId::generate();
        assert!(a.as_str().starts_with("hgc_"));
        assert_ne!(a, ClientId::generate());
        assert!(ClientId::parse("has space").is_none());
    }
}
