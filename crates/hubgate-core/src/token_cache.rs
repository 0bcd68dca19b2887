//! Access tokens whose signature this node has verified: a client reusing
//! its token pays a hash lookup, not an Ed25519 verification (~40 µs).
//! Keyed by the whole token, so only an identical token hits; expiry is
//! re-checked on every hit, and revocation is checked by the caller as for
//! any token. Bounded: a full shard is emptied (verification refills it).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, RwLock};

use crate::tokens::AccessClaims;

const SHARDS: usize = 16;
const PER_SHARD: usize = 8192;
/// The verifier's tolerance for clock drift between nodes, in seconds.
const LEEWAY: i64 = 5;

pub struct VerifiedTokens {
    shards: Vec<RwLock<HashMap<Box<str>, Arc<AccessClaims>>>>,
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
    fn shard(&self, token: &str) -> &RwLock<HashMap<Box<str>, Arc<AccessClaims>>> {
        let index = usize::try_from(self.hasher.hash_one(token) % SHARDS as u64).unwrap_or(0);
        &self.shards[index]
    }

    pub fn get(&self, token: &str, now: i64) -> Option<Arc<AccessClaims>> {
        let shard = self
            .shard(token)
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        shard
            .get(token)
            .filter(|claims| claims.exp + LEEWAY > now)
            .cloned()
    }

    pub fn insert(&self, token: &str, claims: Arc<AccessClaims>) {
        let mut shard = self
            .shard(token)
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if shard.len() >= PER_SHARD {
            shard.clear();
        }
        shard.insert(token.into(), claims);
    }
}
