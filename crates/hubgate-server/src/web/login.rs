//! Logging in with an email and a password, throttled (see `throttle`).

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

use super::{Browser, Page, unavailable_page};

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

/// A login that did not go through: the login page again with a message, or
/// the store could not be reached. Shared by the console's and the
/// authorization flow's login, which differ only in the page they render.
pub enum LoginRefused {
    Again {
        browser: Browser,
        message: String,
        status: StatusCode,
        /// A busy moment rather than a lockout: `Retry-After: 1`.
        retry_soon: bool,
    },
    Unavailable,
}

impl LoginOutcome {
    /// The logged-in browser, or what to tell the person at the login page.
    // A Browser in the error is the point: the page is rendered for it.
    #[allow(clippy::result_large_err)]
    pub fn logged_in(self) -> Result<Browser, LoginRefused> {
        let again = |browser, message: String, status, retry_soon| {
            Err(LoginRefused::Again {
                browser,
                message,
                status,
                retry_soon,
            })
        };
        match self {
            LoginOutcome::LoggedIn(browser) => Ok(browser),
            LoginOutcome::Throttled(browser, wait) => again(
                browser,
                format!(
                    "Too many failed attempts. Try again in {} minutes.",
                    wait.as_secs().div_ceil(60)
                ),
                StatusCode::TOO_MANY_REQUESTS,
                false,
            ),
            LoginOutcome::Refused(browser) => again(
                browser,
                "The email or password is wrong.".into(),
                StatusCode::UNAUTHORIZED,
                false,
            ),
            LoginOutcome::Busy(browser) => again(
                browser,
                LOGIN_BUSY.into(),
                StatusCode::TOO_MANY_REQUESTS,
                true,
            ),
            LoginOutcome::Unavailable => Err(LoginRefused::Unavailable),
        }
    }
}

impl LoginRefused {
    /// The login page `page` renders for the browser with the message (and
    /// the browser's cookies), or the store-unavailable page.
    pub fn respond(self, page: impl FnOnce(&Browser, String) -> Page) -> Response {
        match self {
            LoginRefused::Again {
                browser,
                message,
                status,
                retry_soon: soon,
            } => {
                let rendered = page(&browser, message).with_status(status);
                let response = (browser.jar, rendered).into_response();
                if soon { retry_soon(response) } else { response }
            }
            LoginRefused::Unavailable => unavailable_page(),
        }
    }
}

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
    let user = match crate::app::passwords::check_password(state.store.as_ref(), email, password)
        .await
    {
        Ok(user) => user,
        Err(crate::app::passwords::PasswordCheckError::Busy) => return LoginOutcome::Busy(browser),
        Err(crate::app::passwords::PasswordCheckError::Store(_)) => {
            return LoginOutcome::Unavailable;
        }
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

/// The login form, for the console and the authorization pages alike.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub action: &'static str,
    pub app_name: Option<String>,
    pub error: Option<String>,
    pub email: String,
    pub csrf: String,
    pub request: String,
}
