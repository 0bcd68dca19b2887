//! Slows password guessing: after too many failures for one email, or from
//! one address, logins are refused until the window has passed. Per node,
//! in memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(15 * 60);
const PER_EMAIL: u32 = 5;
const PER_ADDRESS: u32 = 30;

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    fn keys(email: &str, address: Option<IpAddr>) -> [(String, u32); 2] {
        let address = address.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
        [
            (format!("email:{}", email.trim().to_lowercase()), PER_EMAIL),
            (format!("addr:{address}"), PER_ADDRESS),
        ]
    }

    /// How long to wait before trying again, if this login is refused.
    pub fn retry_after(&self, email: &str, address: Option<IpAddr>) -> Option<Duration> {
        let failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Self::keys(email, address).iter().find_map(|(key, limit)| {
            let (count, since) = failures.get(key)?;
            let elapsed = since.elapsed();
            (*count >= *limit && elapsed < WINDOW).then(|| WINDOW - elapsed)
        })
    }

    pub fn failed(&self, email: &str, address: Option<IpAddr>) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if failures.len() > 100_000 {
            failures.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
        for (key, _) in Self::keys(email, address) {
            let entry = failures.entry(key).or_insert((0, Instant::now()));
            if entry.1.elapsed() >= WINDOW {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
        }
    }

    pub fn succeeded(&self, email: &str) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        failures.remove(&format!("email:{}", email.trim().to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_for_one_email_lock_it_and_success_resets() {
        let throttle = LoginThrottle::default();
        for _ in 0..4 {
            throttle.failed("a@x", None);
        }
        assert!(throttle.retry_after("a@x", None).is_none());
        throttle.failed("A@x ", None);
        assert!(throttle.retry_after("a@x", None).is_some());
        assert!(throttle.retry_after("b@x", None).is_none());
        throttle.succeeded("a@x");
        assert!(throttle.retry_after("a@x", None).is_none());
    }
}
