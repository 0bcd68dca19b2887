//! hubgate's domain: what an integration, a token and a hub are, and the rules
//! that govern them. Nothing here knows about HTTP or SQL; rules take `now` as
//! an argument so tests can pin the clock.
//!
//! A guided tour:
//! - [`ids`] and [`scope`]: parse-don't-validate newtypes for identifiers and scopes.
//! - [`crypto`]: the master key and the AEAD that seals secrets at rest.
//! - [`secret`] and [`password`]: client secrets (random, sealed, compared in
//!   constant time) and user passwords (Argon2id).
//! - [`integration`], [`account`], [`hub`]: the records and their validation.
//! - [`tokens`] and [`refresh`]: JWT access tokens and sealed refresh tokens.
//! - [`grant`]: the token endpoint's rules as plain functions returning RFC 6749 errors.
//! - [`authorize`]: the authorization-code flow: requests, codes, PKCE.
//! - [`audit`]: the closed list of audited actions.
//! - [`device`]: device credentials and the MQTT topics a hub may use.
//! - [`event`]: the events a hub change causes, for the event stream and webhooks.

// Security code never unwraps: every failure is an error the caller handles.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod account;
pub mod audit;
pub mod authorize;
pub mod bounded;
pub mod crypto;
pub mod device;
pub mod event;
pub mod grant;
pub mod hub;
pub mod ids;
pub mod integration;
pub mod password;
pub mod refresh;
pub mod scope;
pub mod secret;
pub mod token_cache;
pub mod tokens;
pub mod webhook;

pub use time::OffsetDateTime;

/// The current time, truncated to whole seconds as stored and signed.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}
