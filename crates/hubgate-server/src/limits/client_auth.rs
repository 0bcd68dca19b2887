//! Limits failed client authentications at the token, introspection and
//! revocation endpoints, per presented `client_id` and per source address,
//! on this node (counts are not shared between nodes).
//!
//! Only failures are limited: a client that presents its correct secret is
//! always let through, however often others fail with its id or from its
//! address. Past the limit within a window, a failure is answered `429` with
//! `Retry-After` (`{"error": "rate_limited", …}`) instead of `401`, and
//! counted in `hubgate_client_auth_limited_total`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

pub use crate::config::ClientAuthLimits;

/// Keys tracked per map at most; past it, expired windows are dropped, then
/// the whole map (an attacker inventing ids cannot grow memory).
const MAX_KEYS: usize = 100_000;
/// Presented client ids are counted by at most this many characters.
const MAX_KEY_LEN: usize = 64;

#[derive(Default)]
pub struct ClientAuthLimiter {
    clients: Mutex<HashMap<String, Window>>,
    addresses: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

fn count<K: std::hash::Hash + Eq>(
    map: &Mutex<HashMap<K, Window>>,
    key: K,
    limit: u32,
    window: Duration,
    now: Instant,
) -> Option<Duration> {
    if limit == 0 {
        return None;
    }
    let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
    if map.len() >= MAX_KEYS {
        map.retain(|_, w| now.duration_since(w.started) < window);
        if map.len() >= MAX_KEYS {
            map.clear();
        }
    }
    let entry = map.entry(key).or_insert(Window {
        started: now,
        failures: 0,
    });
    if now.duration_since(entry.started) >= window {
        *entry = Window {
            started: now,
            failures: 0,
        };
    }
    entry.failures = entry.failures.saturating_add(1);
    (entry.failures > limit).then(|| window.saturating_sub(now.duration_since(entry.started)))
}

/// Whether `key` is past `limit` in its current window, without counting.
fn over<K: std::hash::Hash + Eq>(
    map: &Mutex<HashMap<K, Window>>,
    key: &K,
    limit: u32,
    window: Duration,
    now: Instant,
) -> Option<Duration> {
    if limit == 0 {
        return None;
    }
    let map = map.lock().unwrap_or_else(PoisonError::into_inner);
    let entry = map.get(key)?;
    let elapsed = now.duration_since(entry.started);
    (elapsed < window && entry.failures >= limit).then(|| window.saturating_sub(elapsed))
}

impl ClientAuthLimiter {
    /// `Some(wait)` when the next failure would be past a limit: for checks
    /// that cost enough (a store read) to refuse before making them.
    pub fn blocked(
        &self,
        limits: &ClientAuthLimits,
        client_id: Option<&str>,
        address: Option<IpAddr>,
    ) -> Option<Duration> {
        let now = Instant::now();
        let by_client = client_id.and_then(|id| {
            let key: String = id.chars().take(MAX_KEY_LEN).collect();
            over(&self.clients, &key, limits.per_client, limits.window, now)
        });
        let by_address = address
            .and_then(|ip| over(&self.addresses, &ip, limits.per_address, limits.window, now));
        by_client.max(by_address)
    }

    /// Records a failure; `Some(wait)` when it is past a limit.
    pub fn failed(
        &self,
        limits: &ClientAuthLimits,
        client_id: Option<&str>,
        address: Option<IpAddr>,
    ) -> Option<Duration> {
        let now = Instant::now();
        let by_client = client_id.and_then(|id| {
            let key: String = id.chars().take(MAX_KEY_LEN).collect();
            count(&self.clients, key, limits.per_client, limits.window, now)
        });
        let by_address = address
            .and_then(|ip| count(&self.addresses, ip, limits.per_address, limits.window, now));
        by_client.max(by_address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_past_a_limit_wait_for_the_window_and_others_are_untouched() {
        let limits = ClientAuthLimits {
            per_client: 3,
            per_address: 4,
            window: Duration::from_secs(60),
        };
        let limiter = ClientAuthLimiter::default();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limiter.failed(&limits, Some("hgc_x"), Some(a)), None);
        }
        let wait = limiter.failed(&limits, Some("hgc_x"), Some(b)).unwrap();
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(50));
        // Another client from another address is not affected.
        assert_eq!(limiter.failed(&limits, Some("hgc_y"), Some(b)), None);
        // Per address: four failures, whatever the ids.
        assert!(limiter.failed(&limits, Some("hgc_z"), Some(a)).is_none());
        assert!(limiter.failed(&limits, Some("hgc_w"), Some(a)).is_some());
        // Off when 0.
        let off = ClientAuthLimits {
            per_client: 0,
            per_address: 0,
            ..limits
        };
        assert_eq!(limiter.failed(&off, Some("hgc_x"), Some(a)), None);
    }

    #[test]
    fn blocked_tells_ahead_without_counting() {
        let limits = ClientAuthLimits {
            per_client: 2,
            per_address: 100,
            window: Duration::from_secs(60),
        };
        let limiter = ClientAuthLimiter::default();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(limiter.blocked(&limits, Some("HUB-1"), Some(a)), None);
        limiter.failed(&limits, Some("HUB-1"), Some(a));
        assert_eq!(limiter.blocked(&limits, Some("HUB-1"), Some(a)), None);
        assert_eq!(
            limiter.blocked(&limits, Some("HUB-1"), Some(a)),
            None,
            "asking counts nothing"
        );
        limiter.failed(&limits, Some("HUB-1"), Some(a));
        assert!(limiter.blocked(&limits, Some("HUB-1"), Some(a)).is_some());
        assert_eq!(
            limiter.blocked(&limits, Some("HUB-2"), Some(a)),
            None,
            "another hub is not"
        );
    }
}
