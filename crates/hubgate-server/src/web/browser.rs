//! The browser behind a request: its cookies (session and CSRF seed), the
//! CSRF tokens its forms carry, and logging in and out.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use hubgate_core::crypto;
use hubgate_core::ids::UserId;
use subtle::ConstantTimeEq;
use time::Duration;

use crate::state::AppState;

use super::{error_page, unavailable_page};

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
                    .map_err(|error| {
                        tracing::warn!(%error, "cannot read a session");
                        unavailable_page()
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

    /// The stored hash of this browser's live session: the session a
    /// password change keeps while it ends the user's others.
    pub fn session_hash(&self) -> Option<[u8; 32]> {
        self.session
            .as_ref()
            .map(|session| crypto::sha256(session.as_bytes()))
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
