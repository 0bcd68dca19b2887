//! Sessions: logging in starts one (a random cookie, its hash stored),
//! logging out ends it; both replace the CSRF seed.

use axum_extra::extract::cookie::Cookie;
use hubgate_core::crypto;
use hubgate_core::ids::UserId;

use super::browser::Browser;
use super::cookies::{SESSION_LIFETIME, cookie, random_value, session_cookie_name};
use crate::state::AppState;

impl Browser {
    /// password change keeps while it ends the user's others.
    pub fn session_hash(&self) -> Option<[u8; 32]> {
        self.session
            .as_ref()
            .map(|session| crypto::sha256(session.as_bytes()))
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
