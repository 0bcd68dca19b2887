//! JWT access tokens (RFC 9068 `at+jwt`), signed with Ed25519 keys.
//!
//! Signing is a small hand-written JWS over aws-lc-rs's Ed25519: the header of
//! each key is encoded once and the parsed key is kept, where the JWT crate
//! would re-parse the PKCS#8 key on every call. aws-lc-rs signs in about a
//! third of ed25519-dalek's time here (measured: `cargo bench -p hubgate-core`,
//! see BENCHMARKS.md), and signing is most of a client_credentials grant.
//! Verification goes through the `jsonwebtoken` crate, so every token we mint
//! is also checked by an implementation we did not write.

use std::collections::HashMap;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::crypto::{self, MasterKey, OpenError, Purpose};
use crate::ids::{AccountId, ClientId, FamilyId, IntegrationId, KeyId, UserId};
use crate::scope::ScopeSet;

pub const TOKEN_TYPE_HEADER: &str = "at+jwt";

/// The claims of an access token. `account_id`, `integration_id`, `family_id`
/// and `epoch` are hubgate's own; third-party resource servers may ignore them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: UserId,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: ClientId,
    pub scope: ScopeSet,
    pub account_id: AccountId,
    pub integration_id: IntegrationId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_id: Option<FamilyId>,
    pub epoch: u32,
}

/// 128 random bits, base64url: unique per token, so a single token can be revoked.
pub fn new_jti() -> String {
    let bytes: [u8; 16] = rand::random();
    crypto::base64url(&bytes)
}

/// A signing key as stored: the private half sealed with the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub id: KeyId,
    pub public_key: [u8; 32],
    pub sealed_private_key: Vec<u8>,
    pub created_at: OffsetDateTime,
}

/// An Ed25519 key ready to sign: parsed once, header pre-encoded.
pub struct AccessTokenSigner {
    kid: KeyId,
    key: Ed25519KeyPair,
    encoded_header: String,
}

impl AccessTokenSigner {
    pub fn generate(master: &MasterKey, now: OffsetDateTime) -> (Self, StoredKey) {
        let seed: [u8; 32] = rand::random();
        let kid = KeyId::new();
        let signer =
            Self::from_seed(kid, seed).expect("a random 32-byte seed is a valid Ed25519 key");
        let stored = StoredKey {
            id: kid,
            public_key: signer.public_key(),
            sealed_private_key: master.seal(Purpose::SigningKey, &kid.to_bytes(), &seed),
            created_at: now,
        };
        (signer, stored)
    }

    pub fn open(master: &MasterKey, stored: &StoredKey) -> Result<Self, OpenError> {
        let seed = master.open(
            Purpose::SigningKey,
            &stored.id.to_bytes(),
            &stored.sealed_private_key,
        )?;
        let seed: [u8; 32] = seed.try_into().map_err(|_| OpenError)?;
        let signer = Self::from_seed(stored.id, seed).ok_or(OpenError)?;
        if signer.public_key() != stored.public_key {
            return Err(OpenError);
        }
        Ok(signer)
    }

    fn from_seed(kid: KeyId, seed: [u8; 32]) -> Option<Self> {
        let header =
            serde_json::json!({"alg": "EdDSA", "typ": TOKEN_TYPE_HEADER, "kid": kid.to_string()});
        Some(Self {
            kid,
            key: Ed25519KeyPair::from_seed_unchecked(&seed).ok()?,
            encoded_header: crypto::base64url(header.to_string().as_bytes()),
        })
    }

    fn public_key(&self) -> [u8; 32] {
        let mut key = [0u8; 32];
        key.copy_from_slice(self.key.public_key().as_ref());
        key
    }

    pub fn kid(&self) -> KeyId {
        self.kid
    }

    pub fn sign(&self, claims: &AccessClaims) -> String {
        let payload = serde_json::to_vec(claims).expect("claims serialise to JSON");
        let mut token =
            String::with_capacity(self.encoded_header.len() + payload.len() * 4 / 3 + 90);
        token.push_str(&self.encoded_header);
        token.push('.');
        token.push_str(&crypto::base64url(&payload));
        let signature = self.key.sign(token.as_bytes());
        token.push('.');
        token.push_str(&crypto::base64url(signature.as_ref()));
        token
    }
}

impl std::fmt::Debug for AccessTokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokenSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The public JWK of a stored key (RFC 8037 OKP).
pub fn public_jwk(key: &StoredKey) -> hubgate_api::Jwk {
    hubgate_api::Jwk {
        kty: "OKP".into(),
        crv: "Ed25519".into(),
        x: crypto::base64url(&key.public_key),
        kid: key.id.to_string(),
        use_: "sig".into(),
        alg: "EdDSA".into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token is not an access token (typ must be at+jwt)")]
    WrongType,
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    #[error("the token's signature, issuer or audience is invalid")]
    Invalid,
    #[error("the token has expired")]
    Expired,
}

/// Verifies access tokens against every published key.
pub struct AccessTokenVerifier {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

impl AccessTokenVerifier {
    pub fn new<'a>(
        issuer: &str,
        audience: &str,
        keys: impl IntoIterator<Item = &'a StoredKey>,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        // Nodes' clocks may drift a little; tokens live an hour.
        validation.leeway = 5;
        let keys = keys
            .into_iter()
            .map(|key| {
                (
                    key.id.to_string(),
                    DecodingKey::from_ed_der(&key.public_key),
                )
            })
            .collect();
        Self { keys, validation }
    }

    /// Checks form, type, key, signature, issuer, audience and expiry at `now`.
    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Result<AccessClaims, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        if header.typ.as_deref() != Some(TOKEN_TYPE_HEADER) {
            return Err(VerifyError::WrongType);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.get(kid))
            .ok_or(VerifyError::UnknownKey)?;
        let mut validation = self.validation.clone();
        // Expiry is checked below against the caller's clock, not the crate's.
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<AccessClaims>(token, key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidToken
                | ErrorKind::Base64(_)
                | ErrorKind::Json(_)
                | ErrorKind::Utf8(_) => VerifyError::Malformed,
                _ => VerifyError::Invalid,
            }
        })?;
        if data.claims.exp + i64::try_from(self.validation.leeway).unwrap_or(0)
            <= now.unix_timestamp()
        {
            return Err(VerifyError::Expired);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: OffsetDateTime) -> AccessClaims {
        AccessClaims {
            iss: "https://hubgate.test".into(),
            sub: UserId::new(),
            aud: "https://hubgate.test/api".into(),
            exp: now.unix_timestamp() + 3600,
            iat: now.unix_timestamp(),
            jti: new_jti(),
            client_id: ClientId::generate(),
            scope: ScopeSet::parse("hubs:read").expect("scope"),
            account_id: AccountId::new(),
            integration_id: IntegrationId::new(),
            family_id: Some(FamilyId::new()),
            epoch: 0,
        }
    }

    #[test]
    fn a_signed_token_verifies_with_the_crate_and_round_trips_its_claims() {
        let (_, master) = MasterKey::generate();
        let now = crate::now();
        let (signer, stored) = AccessTokenSigner::generate(&master, now);
        let verifier = AccessTokenVerifier::new(
            "https://hubgate.test",
            "https://hubgate.test/api",
            [&stored],
        );
        let claims = claims(now);
        let token = signer.sign(&claims);
        assert_eq!(verifier.verify(&token, now), Ok(claims));
    }

    #[test]
    fn a_stored_key_reopens_as_the_same_signer() {
        let (_, master) = MasterKey::generate();
        let now = crate::now();
        let (signer, stored) = AccessTokenSigner::generate(&master, now);
        let reopened = AccessTokenSigner::open(&master, &stored).unwrap();
        let claims = claims(now);
        assert_eq!(
            signer.sign(&claims),
            reopened.sign(&claims),
            "Ed25519 signatures are deterministic"
        );
        let (_, other_master) = MasterKey::generate();
        assert!(AccessTokenSigner::open(&other_master, &stored).is_err());
    }

    #[test]
    fn expired_tampered_foreign_and_misaddressed_tokens_fail() {
        let (_, master) = MasterKey::generate();
        let now = crate::now();
        let (signer, stored) = AccessTokenSigner::generate(&master, now);
        let verifier = AccessTokenVerifier::new(
            "https://hubgate.test",
            "https://hubgate.test/api",
            [&stored],
        );
        let token = signer.sign(&claims(now));

        let later = now + time::Duration::seconds(3700);
        assert_eq!(verifier.verify(&token, later), Err(VerifyError::Expired));

        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(verifier.verify(&tampered, now).is_err());

        let (foreign, _) = AccessTokenSigner::generate(&master, now);
        assert_eq!(
            verifier.verify(&foreign.sign(&claims(now)), now),
            Err(VerifyError::UnknownKey)
        );

        let mut wrong_aud = claims(now);
        wrong_aud.aud = "https://elsewhere".into();
        assert_eq!(
            verifier.verify(&signer.sign(&wrong_aud), now),
            Err(VerifyError::Invalid)
        );

        assert_eq!(
            verifier.verify("not.a.jwt", now),
            Err(VerifyError::Malformed)
        );
        assert_eq!(verifier.verify("", now), Err(VerifyError::Malformed));
    }
}
