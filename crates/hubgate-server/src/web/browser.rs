//! The browser behind a request: its cookies read once per request. Its
//! CSRF tokens are in `csrf.rs`, logging in and out in `session.rs`, the
//! cookies themselves in `cookies.rs`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use hubgate_core::crypto;
use hubgate_core::ids::UserId;

use crate::state::AppState;

use super::cookies::{
    cookie, csrf_cookie_name, random_value, session_cookie_name, well_formed_seed,
};
use super::unavailable_page;

/// The browser making a request: its cookies, its CSRF seed (created on the
/// first visit) and, with a live session, its user.
///
/// CSRF tokens are bound to the session once there is one (a MAC of the
/// session cookie), so a seed planted by someone else is worthless after
/// login; before login they are a MAC of the seed cookie. Both change at
/// login and logout: the session is new and the seed is replaced.
pub struct Browser {
    pub jar: CookieJar,
    pub(super) csrf_seed: String,
    /// The session cookie's value, when it names a live session.
    pub(super) session: Option<String>,
    pub user: Option<UserId>,
    pub(super) secure: bool,
}

impl FromRequestParts<AppState> for Browser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let mut jar = CookieJar::from_headers(&parts.headers);
        // Secure (and `__Host-` names) when the browser speaks https to us
        // or to a trusted proxy, or the public URL says it must.
        let origin =
            match crate::client_origin::ClientOrigin::from_request_parts(parts, state).await {
                Ok(origin) => origin,
                Err(never) => match never {},
            };
        let secure = origin.https || state.config.public_url.starts_with("https://");
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
