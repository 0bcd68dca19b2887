//! Devices: how a hub or switch proves who it is over MQTT, and the topics it
//! may use.
//!
//! A device credential is 256 random bits behind a recognisable prefix
//! (`hgd_`), shown once and kept only as its SHA-256 digest: unlike a client
//! secret nobody needs to see it again, and a 256-bit random value needs no
//! key stretching. Rotating replaces the digest; revoking clears it.
//!
//! One hub per connection: the MQTT username is the hub's serial. A device
//! publishes its reports to `hubs/{serial}/state/reported` and subscribes to
//! `hubs/{serial}/state/desired` (retained, versioned) and
//! `hubs/{serial}/errors` (why a report was refused). Nothing else.

use subtle::ConstantTimeEq;

use crate::crypto;

pub const DEVICE_SECRET_PREFIX: &str = "hgd_";

/// A device secret in plain text: only ever in memory, shown once.
pub struct DeviceSecret(String);

impl DeviceSecret {
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(format!(
            "{DEVICE_SECRET_PREFIX}{}",
            crypto::base64url(&bytes)
        ))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps.
    pub fn digest(&self) -> [u8; 32] {
        crypto::sha256(self.0.as_bytes())
    }
}

impl std::fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceSecret(<redacted>)")
    }
}

/// Whether a presented password is the credential whose digest is stored.
/// Constant time in the password's content: its digest is compared in full.
pub fn credential_matches(stored_digest: &[u8; 32], presented: &[u8]) -> bool {
    crypto::sha256(presented).ct_eq(stored_digest).into()
}

/// The topics of one hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    pub reported: String,
    pub desired: String,
    pub errors: String,
}

impl Topics {
    pub fn of(serial: &str) -> Self {
        Self {
            reported: format!("hubs/{serial}/state/reported"),
            desired: format!("hubs/{serial}/state/desired"),
            errors: format!("hubs/{serial}/errors"),
        }
    }
}

/// What follows `hubs/{serial}` in a topic of this hub's.
fn own_suffix<'a>(serial: &str, topic: &'a str) -> Option<&'a str> {
    topic.strip_prefix("hubs/")?.strip_prefix(serial)
}

/// A device publishes its reports and nothing else. (Checked for every
/// message: no topic name is built.)
pub fn may_publish(serial: &str, topic: &str) -> bool {
    own_suffix(serial, topic) == Some("/state/reported")
}

/// A device subscribes to its desired state and its errors, by exact name:
/// a wildcard could reach past its own topics.
pub fn may_subscribe(serial: &str, filter: &str) -> bool {
    matches!(
        own_suffix(serial, filter),
        Some("/state/desired" | "/errors")
    )
}

/// What the server publishes, retained, on the desired topic.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DesiredMessage {
    pub version: i64,
    pub state: serde_json::Map<String, serde_json::Value>,
}

/// What the server publishes on the errors topic when it refuses a report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReportRefused {
    pub topic: String,
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_matches_only_itself_and_its_debug_is_redacted() {
        let secret = DeviceSecret::generate();
        assert!(secret.expose().starts_with("hgd_"));
        assert_eq!(secret.expose().len(), 4 + 43);
        let digest = secret.digest();
        assert!(credential_matches(&digest, secret.expose().as_bytes()));
        assert!(!credential_matches(&digest, b""));
        assert!(!credential_matches(
            &digest,
            DeviceSecret::generate().expose().as_bytes()
        ));
        assert_eq!(format!("{secret:?}"), "DeviceSecret(<redacted>)");
    }

    #[test]
    fn a_device_uses_only_its_own_topics() {
        let serial = "OPC3-1";
        assert!(may_publish(serial, "hubs/OPC3-1/state/reported"));
        assert!(!may_publish(serial, "hubs/OPC3-1/state/desired"));
        assert!(!may_publish(serial, "hubs/OPC3-2/state/reported"));
        assert!(may_subscribe(serial, "hubs/OPC3-1/state/desired"));
        assert!(may_subscribe(serial, "hubs/OPC3-1/errors"));
        assert!(!may_subscribe(serial, "hubs/+/state/desired"));
        assert!(!may_subscribe(serial, "hubs/OPC3-1/#"));
        assert!(!may_subscribe(serial, "#"));
        assert!(!may_subscribe(serial, "hubs/OPC3-2/state/desired"));
        // A serial that is a prefix of another names only its own topics.
        assert!(!may_publish("OPC3", "hubs/OPC3-1/state/reported"));
        let topics = Topics::of(serial);
        assert!(may_publish(serial, &topics.reported));
        assert!(may_subscribe(serial, &topics.desired) && may_subscribe(serial, &topics.errors));
    }
}
