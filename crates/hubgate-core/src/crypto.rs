//! The master key and the sealing of secrets at rest.
//!
//! Everything hubgate must be able to read back (client secrets, which the
//! guide lets an admin view again; signing keys; refresh tokens) is sealed
//! with XChaCha20-Poly1305 under a key derived from the master key for that
//! one purpose. Its 192-bit random nonces never need a counter, which matters
//! for refresh tokens: billions may be sealed under one key.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 24;

/// What a sealed value is for; each purpose has its own derived key, so a
/// value sealed for one purpose never opens as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    ClientSecret,
    SigningKey,
    RefreshToken,
    Session,
    WebhookSecret,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::ClientSecret => b"hubgate/v1/client-secret",
            Self::SigningKey => b"hubgate/v1/signing-key",
            Self::RefreshToken => b"hubgate/v1/refresh-token",
            Self::Session => b"hubgate/v1/session",
            Self::WebhookSecret => b"hubgate/v1/webhook-secret",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the master key must be 32 bytes, base64-encoded")]
    Malformed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("sealed value could not be opened (wrong key, purpose or binding, or tampered)")]
pub struct OpenError;

/// The root secret of a hubgate installation. Never logged: `Debug` is redacted.
pub struct MasterKey {
    client_secret: XChaCha20Poly1305,
    signing_key: XChaCha20Poly1305,
    refresh_token: XChaCha20Poly1305,
    session: XChaCha20Poly1305,
    webhook_secret: XChaCha20Poly1305,
    /// For keyed hashes (MACs) that are not encryption, e.g. CSRF tokens.
    mac_key: [u8; 32],
}

impl MasterKey {
    pub fn generate() -> ([u8; 32], Self) {
        let bytes: [u8; 32] = rand::random();
        (bytes, Self::from_bytes(&bytes))
    }

    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let derive = |label: &[u8]| {
            let mut mac =
                <Hmac<Sha256> as Mac>::new_from_slice(bytes).expect("HMAC takes any key length");
            mac.update(label);
            let key: [u8; 32] = mac.finalize().into_bytes().into();
            key
        };
        let cipher = |purpose: Purpose| XChaCha20Poly1305::new(&derive(purpose.label()).into());
        Self {
            client_secret: cipher(Purpose::ClientSecret),
            signing_key: cipher(Purpose::SigningKey),
            refresh_token: cipher(Purpose::RefreshToken),
            session: cipher(Purpose::Session),
            webhook_secret: cipher(Purpose::WebhookSecret),
            mac_key: derive(b"hubgate/v1/mac"),
        }
    }

    /// Parses the text form kept in the key file or `HUBGATE_MASTER_KEY`.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = STANDARD
            .decode(text.trim())
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim()))
            .map_err(|_| KeyError::Malformed)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Malformed)?;
        Ok(Self::from_bytes(&bytes))
    }

    pub fn encode(bytes: &[u8; 32]) -> String {
        STANDARD.encode(bytes)
    }

    fn cipher(&self, purpose: Purpose) -> &XChaCha20Poly1305 {
        match purpose {
            Purpose::ClientSecret => &self.client_secret,
            Purpose::SigningKey => &self.signing_key,
            Purpose::RefreshToken => &self.refresh_token,
            Purpose::Session => &self.session,
            Purpose::WebhookSecret => &self.webhook_secret,
        }
    }

    /// Seals `plaintext`, bound to `binding` (e.g. the owning record's id) so a
    /// sealed value copied onto another record does not open there.
    /// Layout: nonce (24 bytes) ‖ ciphertext ‖ tag (16 bytes).
    pub fn seal(&self, purpose: Purpose, binding: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = XNonce::from_slice(&nonce_bytes);
        let ciphertext = self
            .cipher(purpose)
            .encrypt(
                nonce,
                Payload {
                    msg: plaintext,
                    aad: binding,
                },
            )
            .expect("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ciphertext);
        out
    }

    pub fn open(
        &self,
        purpose: Purpose,
        binding: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.cipher(purpose)
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: binding,
                },
            )
            .map_err(|_| OpenError)
    }

    /// A keyed hash, for values that must be unforgeable but need not be secret.
    pub fn mac(&self, label: &[u8], message: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.mac_key)
            .expect("HMAC takes any key length");
        mac.update(label);
        mac.update(&[0]);
        mac.update(message);
        mac.finalize().into_bytes().into()
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// SHA-256, for fingerprints and for storing random tokens as hashes.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub fn base64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

pub fn from_base64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_the_same_purpose_and_binding() {
        let (_, key) = MasterKey::generate();
        let sealed = key.seal(Purpose::ClientSecret, b"int_1", b"s3cret");
        assert_eq!(
            key.open(Purpose::ClientSecret, b"int_1", &sealed).unwrap(),
            b"s3cret"
        );
        assert_eq!(
            key.open(Purpose::ClientSecret, b"int_2", &sealed),
            Err(OpenError)
        );
        assert_eq!(
            key.open(Purpose::SigningKey, b"int_1", &sealed),
            Err(OpenError)
        );
        let (_, other) = MasterKey::generate();
        assert_eq!(
            other.open(Purpose::ClientSecret, b"int_1", &sealed),
            Err(OpenError)
        );
    }

    #[test]
    fn a_tampered_or_short_value_does_not_open() {
        let (_, key) = MasterKey::generate();
        let mut sealed = key.seal(Purpose::RefreshToken, b"", b"payload");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(
            key.open(Purpose::RefreshToken, b"", &sealed),
            Err(OpenError)
        );
        assert_eq!(
            key.open(Purpose::RefreshToken, b"", &[0; 10]),
            Err(OpenError)
        );
    }

    #[test]
    fn the_master_key_text_form_round_trips() {
        let (bytes, key) = MasterKey::generate();
        let again = MasterKey::from_base64(&MasterKey::encode(&bytes)).unwrap();
        let sealed = key.seal(Purpose::Session, b"x", b"y");
        assert_eq!(again.open(Purpose::Session, b"x", &sealed).unwrap(), b"y");
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert_eq!(format!("{key:?}"), "MasterKey(<redacted>)");
    }
}
