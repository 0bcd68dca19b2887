//! Logging in with an email and a password, throttled (see `throttle`).

use axum::http::{HeaderValue, header};
use axum::response::Response;

use crate::state::AppState;

use super::Browser;

/// What a login attempt came to.
pub enum LoginOutcome {
    LoggedIn(Browser),
    Throttled(Browser, std::time::Duration),
    Refused(Browser),
    /// Too many password checks are running: try again in a moment (429).
    Busy(Browser),
    Unavailable,
}

/// What the login pages say to [`LoginOutcome::Busy`].
pub const LOGIN_BUSY: &str = "Too many login attempts right now. Try again in a few seconds.";

/// Checks an email and password with throttling, and starts a session.
pub async fn attempt_login(
    state: &AppState,
    browser: Browser,
    email: &str,
    password: &str,
    address: Option<std::net::IpAddr>,
) -> LoginOutcome {
    let attempt = match state.login_throttle.reserve(email, address) {
        Ok(attempt) => attempt,
        Err(wait) => return LoginOutcome::Throttled(browser, wait),
    };
    // Busy: the reservation is dropped unused, as for an unavailable store.
    let user = match crate::manage::check_password(state.store.as_ref(), email, password).await {
        Ok(user) => user,
        Err(crate::manage::PasswordCheckError::Busy) => return LoginOutcome::Busy(browser),
        Err(crate::manage::PasswordCheckError::Store(_)) => return LoginOutcome::Unavailable,
    };
    let Some(user) = user else {
        attempt.failed();
        tracing::info!("failed login");
        return LoginOutcome::Refused(browser);
    };
    attempt.succeeded();
    match browser.log_in(state, user.id).await {
        Ok(browser) => LoginOutcome::LoggedIn(browser),
        Err(_) => LoginOutcome::Unavailable,
    }
}

/// Adds `Retry-After: 1` (a busy moment, not a lockout).
pub fn retry_soon(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}
