//! Client secrets: 256 random bits behind a permanent, recognisable prefix
//! (`hgs_`) so secret scanners can find leaked ones.
//!
//! The guide lets an admin view the secret again, so it is kept sealed with
//! the master key rather than hashed. Verification compares SHA-256 digests in
//! constant time: a 256-bit random secret needs no key stretching, so the check
//! costs microseconds, not a bcrypt round.

use subtle::ConstantTimeEq;

use crate::crypto::{self, MasterKey, OpenError, Purpose};
use crate::ids::IntegrationId;

pub const SECRET_PREFIX: &str = "hgs_";

/// A client secret in plain text: only ever in memory, shown once to the admin
/// or the admin tool. `Debug` is redacted and it is not `Clone`.
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(format!("{SECRET_PREFIX}{}", crypto::base64url(&bytes)))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Seals the secret for storage, bound to its integration.
    pub fn seal(&self, master: &MasterKey, integration: IntegrationId) -> Vec<u8> {
        master.seal(
            Purpose::ClientSecret,
            &integration.to_bytes(),
            self.0.as_bytes(),
        )
    }

    pub fn open(
        master: &MasterKey,
        integration: IntegrationId,
        sealed: &[u8],
    ) -> Result<Self, OpenError> {
        let bytes = master.open(Purpose::ClientSecret, &integration.to_bytes(), sealed)?;
        String::from_utf8(bytes).map(Self).map_err(|_| OpenError)
    }

    pub fn verifier(&self) -> SecretVerifier {
        SecretVerifier(crypto::sha256(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// What a node keeps in memory to check a presented secret: its digest.
#[derive(Clone, Copy)]
pub struct SecretVerifier([u8; 32]);

impl SecretVerifier {
    /// Constant time in the presented secret's content: the digest of any
    /// input is compared in full.
    pub fn matches(&self, presented: &str) -> bool {
        let digest = crypto::sha256(presented.as_bytes());
        digest.ct_eq(&self.0).into()
    }
}

impl std::fmt::Debug for SecretVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretVerifier(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_has_the_prefix_and_256_bits() {
        let secret = ClientSecret::generate();
        assert!(secret.expose().starts_with("hgs_"));
        assert_eq!(secret.expose().len(), 4 + 43);
        assert_ne!(secret.expose(), ClientSecret::generate().expose());
        assert_eq!(format!("{secret:?}"), "ClientSecret(<redacted>)");
    }

    #[test]
    fn the_verifier_accepts_only_the_exact_secret() {
        let secret = ClientSecret::generate();
        let verifier = secret.verifier();
        assert!(verifier.matches(secret.expose()));
        assert!(!verifier.matches(&secret.expose()[..20]));
        assert!(!verifier.matches(""));
        assert!(!verifier.matches(ClientSecret::generate().expose()));
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_integration() {
        let (_, master) = MasterKey::generate();
        let id = IntegrationId::new();
        let secret = ClientSecret::generate();
        let sealed = secret.seal(&master, id);
        assert!(!String::from_utf8_lossy(&sealed).contains(secret.expose()));
        let opened = ClientSecret::open(&master, id, &sealed).unwrap();
        assert_eq!(opened.expose(), secret.expose());
        assert!(ClientSecret::open(&master, IntegrationId::new(), &sealed).is_err());
    }
}
