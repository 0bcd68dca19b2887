//! What every server-rendered page shares: the browser's cookies (session
//! and CSRF seed), CSRF tokens, login throttling, security headers and the
//! stylesheet. Used by the authorization pages and the console.

mod throttle;

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use hubgate_core::crypto;
use hubgate_core::ids::UserId;
use subtle::ConstantTimeEq;
use time::Duration;

use crate::state::AppState;

pub use throttle::LoginThrottle;

/// Cookie names over plain http; over https they carry the `__Host-` prefix,
/// so a sibling host cannot set them (cookie tossing).
pub const SESSION_COOKIE: &str = "hubgate_session";
pub const CSRF_COOKIE: &str = "hubgate_csrf";
const SECURE_SESSION_COOKIE: &str = "__Host-hubgate_session";
const SECURE_CSRF_COOKIE: &str = "__Host-hubgate_csrf";

fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

fn csrf_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_CSRF_COOKIE
    } else {
        CSRF_COOKIE
    }
}

/// A seed as this server makes them: 32 random bytes, base64url.
fn well_formed_seed(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
pub const SESSION_LIFETIME: Duration = Duration::hours(12);
pub const STYLESHEET: &str = include_str!("../../assets/hubgate.css");

/// The browser making a request: its cookies, its CSRF seed (created on the
/// first visit) and, with a live session, its user.
///
/// CSRF tokens are bound to the session once there is one (a MAC of the
/// session cookie), so a seed planted by someone else is worthless after
/// login; before login they are a MAC of the seed cookie. Both change at
/// login and logout: the session is new and the seed is replaced.
pub struct Browser {
    pub jar: CookieJar,
    csrf_seed: String,
    /// The session cookie's value, when it names a live session.
    session: Option<String>,
    pub user: Option<UserId>,
    secure: bool,
}

fn cookie(
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

fn random_value() -> String {
    crypto::base64url(&rand::random::<[u8; 32]>())
}

impl FromRequestParts<AppState> for Browser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let mut jar = CookieJar::from_headers(&parts.headers);
        let secure = state.config.public_url.starts_with("https://");
        let csrf_seed = match jar
            .get(csrf_cookie_name(secure))
            .map(|c| c.value().to_owned())
            .filter(|v| well_formed_seed(v))
        {
            Some(seed) => seed,
            None => {
                let seed = random_value();
                jar = jar.add(cookie(csrf_cookie_name(secure), seed.clone(), secure, None));
                seed
            }
        };
        let session = jar
            .get(session_cookie_name(secure))
            .map(|c| c.value().to_owned());
        let user = match &session {
            Some(session) => {
                let hash = crypto::sha256(session.as_bytes());
                state
                    .store
                    .session_user(&hash, hubgate_core::now())
                    .await
                    .map_err(|_| {
                        error_page(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "Try again",
                            "The server cannot reach its store right now.",
                            None,
                        )
                    })?
            }
            None => None,
        };
        Ok(Browser {
            jar,
            csrf_seed,
            session: session.filter(|_| user.is_some()),
            user,
            secure,
        })
    }
}

impl Browser {
    /// The token every form of this browser carries.
    pub fn csrf_token(&self, state: &AppState) -> String {
        let mac = match &self.session {
            Some(session) => state.master.mac(b"csrf-session", session.as_bytes()),
            None => state.master.mac(b"csrf", self.csrf_seed.as_bytes()),
        };
        crypto::base64url(&mac)
    }

    /// A new seed, so a token shown before the session changed is dead after.
    fn rotate_csrf_seed(&mut self) {
        self.csrf_seed = random_value();
        self.jar = self.jar.clone().add(cookie(
            csrf_cookie_name(self.secure),
            self.csrf_seed.clone(),
            self.secure,
            None,
        ));
    }

    /// Compares in constant time; a form without the token fails.
    pub fn csrf_ok(&self, state: &AppState, presented: &str) -> bool {
        let expected = self.csrf_token(state);
        expected.len() == presented.len()
            && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
    }

    /// [`Browser::csrf_ok`], or the page a form without a valid token gets.
    // A Response in the error is the point: handlers return it as it is.
    #[allow(clippy::result_large_err)]
    pub fn require_csrf(&self, state: &AppState, presented: &str) -> Result<(), Response> {
        if self.csrf_ok(state, presented) {
            return Ok(());
        }
        Err(error_page(
            StatusCode::FORBIDDEN,
            "Form expired",
            "The form had no valid CSRF token. Reload the page and try again.",
            None,
        ))
    }

    /// Starts a session for `user`: a new random cookie, its hash stored.
    pub async fn log_in(
        mut self,
        state: &AppState,
        user: UserId,
    ) -> Result<Self, hubgate_store::StoreError> {
        let value = random_value();
        let now = hubgate_core::now();
        state
            .store
            .insert_session(
                &crypto::sha256(value.as_bytes()),
                user,
                now + SESSION_LIFETIME,
                now,
            )
            .await?;
        self.jar = self.jar.add(cookie(
            session_cookie_name(self.secure),
            value.clone(),
            self.secure,
            Some(SESSION_LIFETIME),
        ));
        self.session = Some(value);
        self.user = Some(user);
        self.rotate_csrf_seed();
        Ok(self)
    }

    pub async fn log_out(mut self, state: &AppState) -> Self {
        let name = session_cookie_name(self.secure);
        if let Some(session) = self.jar.get(name) {
            let _ = state
                .store
                .delete_session(&crypto::sha256(session.value().as_bytes()))
                .await;
        }
        self.jar = self
            .jar
            .remove(Cookie::build(name).path("/").secure(self.secure));
        self.session = None;
        self.user = None;
        self.rotate_csrf_seed();
        self
    }
}

/// An HTML page with the headers every page gets: a strict CSP (no script,
/// no framing), `no-store`, no referrer (codes and secrets stay out of
/// Referer headers).
pub struct Page {
    pub status: StatusCode,
    pub html: String,
    /// Origins forms on this page may end up at (a redirect after POST).
    pub form_targets: Vec<String>,
    /// The console's own script (copy buttons); other pages run none.
    pub scripts: bool,
}

impl Page {
    pub fn render(template: &impl Template) -> Page {
        match template.render() {
            Ok(html) => Page {
                status: StatusCode::OK,
                html,
                form_targets: Vec::new(),
                scripts: false,
            },
            Err(error) => {
                tracing::error!(%error, "a page failed to render");
                Page {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    html: "<h1>Something went wrong</h1>".into(),
                    form_targets: Vec::new(),
                    scripts: false,
                }
            }
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> Page {
        self.status = status;
        self
    }

    pub fn allowing_form_target(mut self, origin: Option<String>) -> Page {
        self.form_targets.extend(origin);
        self
    }

    pub fn with_scripts(mut self) -> Page {
        self.scripts = true;
        self
    }
}

pub fn security_headers(response: &mut Response, form_targets: &[String], scripts: bool) {
    let form_action = std::iter::once("'self'".to_owned())
        .chain(form_targets.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let script = if scripts { " script-src 'self';" } else { "" };
    let csp = format!(
        "default-src 'none';{script} style-src 'self'; img-src 'self' data:; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::response::Html(self.html)).into_response();
        security_headers(&mut response, &self.form_targets, self.scripts);
        response
    }
}

/// A 303 to `location` with the pages' headers.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    security_headers(&mut response, &[], false);
    response
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate<'a> {
    title: &'a str,
    message: &'a str,
    back: Option<(String, String)>,
}

/// A readable error page; `back` is an optional (href, label) link.
pub fn error_page(
    status: StatusCode,
    title: &str,
    message: &str,
    back: Option<(String, String)>,
) -> Response {
    Page::render(&ErrorTemplate {
        title,
        message,
        back,
    })
    .with_status(status)
    .into_response()
}

pub const CONSOLE_SCRIPT: &str = include_str!("../../assets/console.js");

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

pub async fn stylesheet() -> Response {
    asset(STYLESHEET, "text/css; charset=utf-8")
}

pub async fn console_script() -> Response {
    asset(CONSOLE_SCRIPT, "text/javascript; charset=utf-8")
}

/// A form body; a malformed one gets a readable page, not a bare 4xx.
pub struct WebForm<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for WebForm<T> {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Response> {
        axum_extra::extract::Form::<T>::from_request(request, state)
            .await
            .map(|axum_extra::extract::Form(value)| WebForm(value))
            .map_err(|_| {
                error_page(
                    StatusCode::BAD_REQUEST,
                    "Check the form",
                    "The form was incomplete or malformed.",
                    None,
                )
            })
    }
}

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

/// The origin (`scheme://host[:port]`) of a URL, for CSP.
pub fn origin_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
}
