//! Slows password guessing. A login first *reserves* an attempt under each of
//! its keys, atomically, and only then checks the password; the reservation
//! becomes a failure or is released. So however many logins run at once, no
//! key gets more password checks per window than its limit.
//!
//! The keys: an email from one source address (5 failures per 15 minutes:
//! someone guessing one user's password), a source address (30: someone
//! guessing many users'), and an email from anywhere (50: guessing spread
//! over addresses). A stranger at one address reaches their own limits long
//! before the email's, so they cannot lock a named user out. Per node, in
//! memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(15 * 60);
const PER_EMAIL_AND_ADDRESS: u32 = 5;
const PER_ADDRESS: u32 = 30;
const PER_EMAIL: u32 = 50;
/// How long to wait when the limit is taken by attempts still being checked.
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(1);
/// Entries kept before expired ones are swept.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    in_flight: u32,
    since: Instant,
}

#[derive(Default)]
pub struct LoginThrottle {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

fn lock(entries: &Mutex<HashMap<String, Entry>>) -> MutexGuard<'_, HashMap<String, Entry>> {
    entries
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn keys(email: &str, address: Option<IpAddr>) -> [(String, u32); 3] {
    let email = email.trim().to_lowercase();
    let address = address.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
    [
        (format!("pair:{email}|{address}"), PER_EMAIL_AND_ADDRESS),
        (format!("addr:{address}"), PER_ADDRESS),
        (format!("email:{email}"), PER_EMAIL),
    ]
}

/// An attempt counted against its keys until it is settled. Dropping it
/// unsettled (the store failed) releases it without counting a failure.
pub struct Attempt {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
    keys: Vec<String>,
    settled: bool,
}

impl LoginThrottle {
    /// Reserves one password check for this email and address, or says how
    /// long to wait when a limit is reached (failures and checks under way
    /// both count).
    pub fn reserve(&self, email: &str, address: Option<IpAddr>) -> Result<Attempt, Duration> {
        let keys = keys(email, address);
        let mut entries = lock(&self.entries);
        if entries.len() > MAX_ENTRIES {
            entries.retain(|_, e| e.in_flight > 0 || e.since.elapsed() < WINDOW);
        }
        for (key, limit) in &keys {
            let Some(entry) = entries.get_mut(key) else {
                continue;
            };
            if entry.since.elapsed() >= WINDOW {
                entry.failures = 0;
                entry.since = Instant::now();
            }
            if entry.failures + entry.in_flight >= *limit {
                return Err(if entry.failures >= *limit {
                    WINDOW.saturating_sub(entry.since.elapsed())
                } else {
                    IN_FLIGHT_WAIT
                });
            }
        }
        for (key, _) in &keys {
            entries
                .entry(key.clone())
                .or_insert(Entry {
                    failures: 0,
                    in_flight: 0,
                    since: Instant::now(),
                })
                .in_flight += 1;
        }
        Ok(Attempt {
            entries: self.entries.clone(),
            keys: keys.into_iter().map(|(key, _)| key).collect(),
            settled: false,
        })
    }
}

impl Attempt {
    /// The password was wrong: the reservation becomes a failure.
    pub fn failed(mut self) {
        self.settle(|entry| entry.failures += 1);
    }

    /// The password was right: this email's failures are forgotten.
    pub fn succeeded(mut self) {
        let (pair, email) = (self.keys[0].clone(), self.keys[2].clone());
        self.settle(|_| {});
        let mut entries = lock(&self.entries);
        entries.remove(&pair);
        entries.remove(&email);
    }

    fn settle(&mut self, outcome: impl Fn(&mut Entry)) {
        self.settled = true;
        let mut entries = lock(&self.entries);
        for key in &self.keys {
            if let Some(entry) = entries.get_mut(key) {
                entry.in_flight = entry.in_flight.saturating_sub(1);
                outcome(entry);
            }
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.settled {
            self.settle(|_| {});
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn five_failures_for_one_email_from_one_address_lock_it_and_success_resets() {
        let throttle = LoginThrottle::default();
        for _ in 0..4 {
            throttle.reserve("a@x", address(1)).unwrap().failed();
        }
        let fifth = throttle.reserve("A@x ", address(1)).unwrap();
        fifth.failed();
        assert!(throttle.reserve("a@x", address(1)).is_err());
        assert!(throttle.reserve("b@x", address(1)).is_ok());
        // The stranger's guesses do not lock the user out from elsewhere,
        // and the user's success does not unlock the stranger.
        let owner = throttle.reserve("a@x", address(2)).unwrap();
        owner.succeeded();
        assert!(throttle.reserve("a@x", address(1)).is_err());
        // A success from the same address clears that pair's failures.
        let throttle = LoginThrottle::default();
        for _ in 0..4 {
            throttle.reserve("a@x", address(1)).unwrap().failed();
        }
        throttle.reserve("a@x", address(1)).unwrap().succeeded();
        for _ in 0..4 {
            throttle.reserve("a@x", address(1)).unwrap().failed();
        }
        assert!(throttle.reserve("a@x", address(1)).is_ok());
    }

    #[test]
    fn attempts_under_way_count_so_concurrent_logins_cannot_exceed_the_limit() {
        let throttle = LoginThrottle::default();
        let reserved: Vec<Attempt> = (0..40)
            .filter_map(|_| throttle.reserve("a@x", address(1)).ok())
            .collect();
        assert_eq!(reserved.len(), 5);
        assert_eq!(
            throttle.reserve("a@x", address(1)).err(),
            Some(IN_FLIGHT_WAIT)
        );
        for attempt in reserved {
            attempt.failed();
        }
        let wait = throttle.reserve("a@x", address(1)).err().unwrap();
        assert!(wait > Duration::from_secs(14 * 60));
    }

    #[test]
    fn an_unsettled_attempt_is_released_without_a_failure() {
        let throttle = LoginThrottle::default();
        for _ in 0..10 {
            drop(throttle.reserve("a@x", address(1)).unwrap());
        }
        assert!(throttle.reserve("a@x", address(1)).is_ok());
    }

    #[test]
    fn one_address_guessing_many_emails_is_limited_too() {
        let throttle = LoginThrottle::default();
        for n in 0..30 {
            throttle
                .reserve(&format!("user{n}@x"), address(1))
                .unwrap()
                .failed();
        }
        assert!(throttle.reserve("someone@x", address(1)).is_err());
        assert!(throttle.reserve("someone@x", address(2)).is_ok());
    }
}
