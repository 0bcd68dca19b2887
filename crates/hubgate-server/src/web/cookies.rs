//! The console's cookies: their names (`__Host-` over https), lifetime and
//! attributes, and the random values they carry.

use axum_extra::extract::cookie::{Cookie, SameSite};
use hubgate_core::crypto;
use time::Duration;

/// Cookie names over plain http; over https they carry the `__Host-` prefix,
/// so a sibling host cannot set them (cookie tossing).
pub const SESSION_COOKIE: &str = "hubgate_session";
pub const CSRF_COOKIE: &str = "hubgate_csrf";
const SECURE_SESSION_COOKIE: &str = "__Host-hubgate_session";
const SECURE_CSRF_COOKIE: &str = "__Host-hubgate_csrf";

pub(super) fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

pub(super) fn csrf_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_CSRF_COOKIE
    } else {
        CSRF_COOKIE
    }
}

/// A seed as this server makes them: 32 random bytes, base64url.
pub(super) fn well_formed_seed(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
pub const SESSION_LIFETIME: Duration = Duration::hours(12);

pub(super) fn cookie(
    name: &'static str,
    value: String,
    secure: bool,
    max_age: Option<Duration>,
) -> Cookie<'static> {
    let mut builder = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure);
    if let Some(age) = max_age {
        builder = builder.max_age(age);
    }
    builder.build()
}

pub(super) fn random_value() -> String {
    crypto::base64url(&rand::random::<[u8; 32]>())
}
