//! Access tokens whose signature this node has verified: a client reusing
//! its token pays a hash lookup, not an Ed25519 verification (~40 µs).
//! Keyed by the token's SHA-256 digest, so only an identical token hits
//! (finding another token with the same digest is a second preimage of
//! SHA-256) and an entry holds 32 bytes of key, not the ~450-byte token:
//! with 200k live tokens in use the node's RSS was 150.5 MB with the whole
//! token as key and 92.9 MB with the digest (BENCHMARKS.md).
//! Expiry is re-checked on every hit, and revocation is checked by the
//! caller as for any token.
//!
//! Bounded, and evicting gradually: a full shard drops an eighth of its
//! tokens ([`crate::bounded::make_room`]), not all of them.
//! Emptying a whole shard made every token in it pay a verification again
//! at once, and with more live tokens than room the cache held half its
//! capacity on average; dropping an eighth keeps it nearly full (with 200k
//! tokens used at random, the hit rate goes from about 37 % to 61 %).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, RwLock};

use crate::tokens::AccessClaims;

const SHARDS: usize = 16;
const PER_SHARD: usize = 8192;
/// The verifier's tolerance for clock drift between nodes, in seconds.
const LEEWAY: i64 = 5;

type Digest = [u8; 32];

pub struct VerifiedTokens {
    shards: Vec<RwLock<HashMap<Digest, Arc<AccessClaims>>>>,
    hasher: RandomState,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl VerifiedTokens {
    fn shard(&self, digest: &Digest) -> &RwLock<HashMap<Digest, Arc<AccessClaims>>> {
        let index = usize::try_from(self.hasher.hash_one(digest) % SHARDS as u64).unwrap_or(0);
        &self.shards[index]
    }

    pub fn get(&self, token: &str, now: i64) -> Option<Arc<AccessClaims>> {
        let digest = crate::crypto::sha256(token.as_bytes());
        let shard = self
            .shard(&digest)
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        shard
            .get(&digest)
            .filter(|claims| claims.exp + LEEWAY > now)
            .cloned()
    }

    pub fn insert(&self, token: &str, claims: Arc<AccessClaims>) {
        let digest = crate::crypto::sha256(token.as_bytes());
        let mut shard = self
            .shard(&digest)
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !shard.contains_key(&digest) {
            crate::bounded::make_room(&mut shard, PER_SHARD);
        }
        shard.insert(digest, claims);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, ClientId, IntegrationId, UserId};
    use crate::scope::ScopeSet;

    fn claims(exp: i64) -> Arc<AccessClaims> {
        Arc::new(AccessClaims {
            iss: "i".into(),
            sub: UserId::new(),
            aud: "a".into(),
            exp,
            iat: 0,
            jti: "j".into(),
            client_id: ClientId::generate(),
            scope: ScopeSet::all(),
            account_id: AccountId::new(),
            integration_id: IntegrationId::new(),
            family_id: None,
            epoch: 0,
        })
    }

    fn held(cache: &VerifiedTokens) -> usize {
        cache
            .shards
            .iter()
            .map(|s| {
                s.read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .len()
            })
            .sum()
    }

    #[test]
    fn an_expired_token_is_not_served_from_the_cache() {
        let cache = VerifiedTokens::default();
        cache.insert("t", claims(100));
        assert!(cache.get("t", 100).is_some(), "within the leeway");
        assert!(cache.get("t", 100 + LEEWAY).is_none());
        assert!(cache.get("other", 0).is_none());
    }

    /// Looks up `lookups` tokens drawn by `pick`, inserting on a miss as the
    /// server does after verifying; the hit rate after a warm-up third.
    fn hit_rate(tokens: usize, lookups: usize, mut pick: impl FnMut(usize) -> usize) -> f64 {
        let cache = VerifiedTokens::default();
        let live = claims(i64::MAX / 2);
        let names: Vec<String> = (0..tokens).map(|i| format!("token-{i}")).collect();
        let mut hits = 0;
        for n in 0..lookups {
            let token = &names[pick(n)];
            let hit = cache.get(token, 0).is_some();
            if !hit {
                cache.insert(token, live.clone());
            }
            if n >= lookups / 3 && hit {
                hits += 1;
            }
        }
        assert!(
            held(&cache) <= SHARDS * PER_SHARD,
            "bounded: {}",
            held(&cache)
        );
        hits as f64 / (lookups - lookups / 3) as f64
    }

    #[test]
    fn tokens_that_fit_all_hit_once_verified() {
        let rate = hit_rate(100_000, 400_000, |n| n % 100_000);
        assert!(rate > 0.999, "{rate}");
    }

    #[test]
    fn with_more_live_tokens_than_room_the_cache_stays_nearly_full() {
        // 200k live tokens used at random (a fixed-seed LCG): a cache of
        // 131,072 that stays nearly full hits about 131/200 of the time; one
        // that empties whole shards averages half full and about 37 %.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let rate = hit_rate(200_000, 900_000, |_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            usize::try_from((state >> 33) % 200_000).unwrap_or(0)
        });
        eprintln!("200k live tokens at random: hit rate {rate:.3}");
        assert!(rate > 0.55, "hit rate {rate:.3}");
    }

    #[test]
    fn a_full_shard_drops_an_eighth_not_everything() {
        let cache = VerifiedTokens::default();
        let live = claims(i64::MAX / 2);
        for i in 0..SHARDS * PER_SHARD * 2 {
            cache.insert(&format!("token-{i}"), live.clone());
        }
        let floor = SHARDS * (PER_SHARD - PER_SHARD / 8);
        assert!(held(&cache) >= floor, "{} < {floor}", held(&cache));
    }
}
