//! Refresh tokens: records sealed with the master key, never stored.
//!
//! A token carries its family, its generation in that family, who it acts for
//! and until when, sealed with XChaCha20-Poly1305. Issuing one writes nothing;
//! the store keeps one row per family, written only when the family is first
//! refreshed or revoked, which records the generation currently valid. Using
//! a token whose generation is older than the family's is reuse (RFC 9700
//! §4.14.2): the family is revoked.

use time::OffsetDateTime;

use crate::crypto::{self, MasterKey, Purpose};
use crate::ids::{AccountId, FamilyId, IntegrationId, UserId};
use crate::scope::ScopeSet;

pub const PREFIX: &str = "hgr_";
/// Version 2 carries the scope in two bytes (version 1, one byte, predates
/// the management scopes and is still read).
const VERSION: u8 = 2;
const PLAINTEXT_LEN: usize = 1 + 16 + 4 + 16 + 16 + 16 + 2 + 4 + 8 + 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshClaims {
    pub family: FamilyId,
    pub generation: u32,
    pub integration: IntegrationId,
    pub account: AccountId,
    pub user: UserId,
    pub scope: ScopeSet,
    pub epoch: u32,
    pub issued_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a refresh token issued by this server")]
pub struct BadRefreshToken;

impl RefreshClaims {
    /// The token's text: `hgr_` and the sealed record, base64url.
    pub fn seal(&self, master: &MasterKey) -> String {
        let mut plain = Vec::with_capacity(PLAINTEXT_LEN);
        plain.push(VERSION);
        plain.extend_from_slice(&self.family.to_bytes());
        plain.extend_from_slice(&self.generation.to_be_bytes());
        plain.extend_from_slice(&self.integration.to_bytes());
        plain.extend_from_slice(&self.account.to_bytes());
        plain.extend_from_slice(&self.user.to_bytes());
        plain.extend_from_slice(&self.scope.bits().to_be_bytes());
        plain.extend_from_slice(&self.epoch.to_be_bytes());
        plain.extend_from_slice(&self.issued_at.to_be_bytes());
        plain.extend_from_slice(&self.expires_at.to_be_bytes());
        let sealed = master.seal(Purpose::RefreshToken, PREFIX.as_bytes(), &plain);
        format!("{PREFIX}{}", crypto::base64url(&sealed))
    }

    pub fn open(master: &MasterKey, token: &str) -> Result<Self, BadRefreshToken> {
        let encoded = token.strip_prefix(PREFIX).ok_or(BadRefreshToken)?;
        if encoded.len() > 512 {
            return Err(BadRefreshToken);
        }
        let sealed = crypto::from_base64url(encoded).ok_or(BadRefreshToken)?;
        let plain = master
            .open(Purpose::RefreshToken, PREFIX.as_bytes(), &sealed)
            .map_err(|_| BadRefreshToken)?;
        let version = match (plain.first(), plain.len()) {
            (Some(&VERSION), PLAINTEXT_LEN) => VERSION,
            (Some(1), len) if len == PLAINTEXT_LEN - 1 => 1,
            _ => return Err(BadRefreshToken),
        };
        let mut reader = Reader(&plain[1..]);
        Ok(Self {
            family: FamilyId::from_bytes(reader.take()?),
            generation: u32::from_be_bytes(reader.take()?),
            integration: IntegrationId::from_bytes(reader.take()?),
            account: AccountId::from_bytes(reader.take()?),
            user: UserId::from_bytes(reader.take()?),
            scope: {
                let bits = if version == 1 {
                    u16::from(reader.take::<1>()?[0])
                } else {
                    u16::from_be_bytes(reader.take()?)
                };
                ScopeSet::from_bits(bits).ok_or(BadRefreshToken)?
            },
            epoch: u32::from_be_bytes(reader.take()?),
            issued_at: i64::from_be_bytes(reader.take()?),
            expires_at: i64::from_be_bytes(reader.take()?),
        })
    }

    pub fn expired_at(&self, now: OffsetDateTime) -> bool {
        self.expires_at <= now.unix_timestamp()
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], BadRefreshToken> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or(BadRefreshToken)?;
        self.0 = rest;
        Ok(*head)
    }
}

/// What the store answers when a family is asked to move past a generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The presented generation was current; the family now expects the next.
    Rotated,
    /// The presented generation was already used: the family is now revoked.
    Reused,
    /// The family had been revoked before.
    Revoked,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> RefreshClaims {
        RefreshClaims {
            family: FamilyId::new(),
            generation: 3,
            integration: IntegrationId::new(),
            account: AccountId::new(),
            user: UserId::new(),
            scope: ScopeSet::parse("hubs:read accounts:read").expect("scope"),
            epoch: 7,
            issued_at: 1_700_000_000,
            expires_at: 1_702_592_000,
        }
    }

    #[test]
    fn a_sealed_token_opens_to_the_same_claims() {
        let (_, master) = MasterKey::generate();
        let claims = claims();
        let token = claims.seal(&master);
        assert!(token.starts_with("hgr_"));
        assert!(token.len() < 200, "token is {} chars", token.len());
        assert_eq!(RefreshClaims::open(&master, &token), Ok(claims));
    }

    #[test]
    fn forged_tampered_and_foreign_tokens_do_not_open() {
        let (_, master) = MasterKey::generate();
        let token = claims().seal(&master);
        let (_, other) = MasterKey::generate();
        assert_eq!(RefreshClaims::open(&other, &token), Err(BadRefreshToken));
        let mut tampered = token.clone().into_bytes();
        tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert_eq!(
            RefreshClaims::open(&master, &tampered),
            Err(BadRefreshToken)
        );
        assert_eq!(RefreshClaims::open(&master, "hgr_"), Err(BadRefreshToken));
        assert_eq!(
            RefreshClaims::open(&master, &token[4..]),
            Err(BadRefreshToken)
        );
        assert_eq!(
            RefreshClaims::open(&master, "hgr_!!!"),
            Err(BadRefreshToken)
        );
    }

    #[test]
    fn a_version_1_token_issued_before_the_management_scopes_still_opens() {
        let (_, master) = MasterKey::generate();
        let claims = claims();
        let mut plain = vec![1];
        plain.extend_from_slice(&claims.family.to_bytes());
        plain.extend_from_slice(&claims.generation.to_be_bytes());
        plain.extend_from_slice(&claims.integration.to_bytes());
        plain.extend_from_slice(&claims.account.to_bytes());
        plain.extend_from_slice(&claims.user.to_bytes());
        plain.push(u8::try_from(claims.scope.bits()).expect("the guide's scopes fit a byte"));
        plain.extend_from_slice(&claims.epoch.to_be_bytes());
        plain.extend_from_slice(&claims.issued_at.to_be_bytes());
        plain.extend_from_slice(&claims.expires_at.to_be_bytes());
        let sealed = master.seal(Purpose::RefreshToken, PREFIX.as_bytes(), &plain);
        let token = format!("{PREFIX}{}", crypto::base64url(&sealed));
        assert_eq!(RefreshClaims::open(&master, &token), Ok(claims));
    }

    #[test]
    fn two_seals_of_the_same_claims_differ() {
        let (_, master) = MasterKey::generate();
        let claims = claims();
        assert_ne!(claims.seal(&master), claims.seal(&master));
    }
}
