//! Limits on what anonymous callers can make the server do: failed client
//! authentications (per client_id and source address) and password checks
//! (per email and address). Plain data structures, shared by the surfaces
//! that enforce them.

pub mod client_auth;
pub mod logins;

pub use client_auth::ClientAuthLimiter;
pub use logins::LoginThrottle;
