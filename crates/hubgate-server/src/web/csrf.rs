//! CSRF tokens: a MAC of the session once there is one, of the seed cookie
//! before; compared in constant time.

use axum::http::StatusCode;
use axum::response::Response;
use hubgate_core::crypto;
use subtle::ConstantTimeEq;

use super::browser::Browser;
use super::cookies::{cookie, csrf_cookie_name, random_value};
use super::error_page;
use crate::state::AppState;

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
    pub(super) fn rotate_csrf_seed(&mut self) {
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
}
