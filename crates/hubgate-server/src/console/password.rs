//! The user's own password: changed with the current one, this browser
//! staying logged in and every other session ending. A one-time password
//! (an invitation, a reset) must be changed here before anything else.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Me, Nav};
use crate::app::AppError;
use crate::app::passwords::WRONG_CURRENT_PASSWORD;
use crate::client_origin::ClientOrigin;
use crate::state::AppState;
use crate::web::{Browser, Page, PageResult, WebForm};

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    nav: Nav,
    /// A one-time password is in use: say why the user is here.
    forced: bool,
    /// The password was just changed from a one-time one: the way on.
    continue_link: bool,
}

fn render(me: Me, page: PasswordPage, status: StatusCode) -> Response {
    (
        me.browser.jar,
        Page::render(&page).with_scripts().with_status(status),
    )
        .into_response()
}

pub async fn page(State(state): State<AppState>, browser: Browser) -> PageResult {
    let me = Me::load_any(&state, browser).await?;
    let page = PasswordPage {
        nav: me.nav(&state, None, None),
        forced: me.user.must_change_password,
        continue_link: false,
    };
    Ok(render(me, page, StatusCode::OK))
}

#[derive(Deserialize)]
pub struct ChangeForm {
    csrf: String,
    current: String,
    new: String,
    repeat: String,
}

/// The form again with why it was refused; the passwords are not echoed back.
fn refused(state: &AppState, me: Me, message: &str, status: StatusCode) -> Response {
    let page = PasswordPage {
        nav: me.nav(state, None, Some(sentence(message))),
        forced: me.user.must_change_password,
        continue_link: false,
    };
    render(me, page, status)
}

/// The application layer's lower-case reason as a sentence for the page.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut text: String = chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

pub async fn change(
    State(state): State<AppState>,
    browser: Browser,
    origin: ClientOrigin,
    WebForm(form): WebForm<ChangeForm>,
) -> PageResult {
    let mut me = Me::load_any(&state, browser).await?;
    me.browser.require_csrf(&state, &form.csrf)?;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    if form.new != form.repeat {
        let message = "The new password and its repeat do not match.";
        return Ok(refused(&state, me, message, unprocessable));
    }
    // The current password is a login secret: a stolen session must not
    // guess it faster here than at the login page.
    let address = origin.address;
    let attempt = match state.login_throttle.reserve(&me.user.email, address) {
        Ok(attempt) => attempt,
        Err(wait) => {
            let message = format!(
                "Too many wrong passwords. Try again in {} minutes.",
                wait.as_secs().div_ceil(60)
            );
            return Ok(refused(&state, me, &message, StatusCode::TOO_MANY_REQUESTS));
        }
    };
    let keep = me.browser.session_hash();
    let changed = me
        .manager(&state)
        .change_own_password(&me.user, &form.current, &form.new, keep.as_ref())
        .await;
    match changed {
        Ok(()) => attempt.succeeded(),
        Err(AppError::Invalid(message)) if message == WRONG_CURRENT_PASSWORD => {
            attempt.failed();
            return Ok(refused(&state, me, &message, unprocessable));
        }
        Err(AppError::Invalid(message) | AppError::Conflict(message)) => {
            return Ok(refused(&state, me, &message, unprocessable));
        }
        Err(error) => return Err(error.into()),
    }
    let was_forced = std::mem::take(&mut me.user.must_change_password);
    let notice = "Password changed. You stay logged in here; your other sessions have ended.";
    let page = PasswordPage {
        nav: me.nav(&state, Some(notice.into()), None),
        forced: false,
        continue_link: was_forced,
    };
    Ok(render(me, page, StatusCode::OK))
}
