//! The admin console at `/console`: server-rendered pages (no JavaScript
//! needed but for copy buttons), sharing the login, session and CSRF
//! machinery of the authorization pages. Role checks happen on the server:
//! owners and admins manage; members look.
//!
//! Checks return `Result<_, Response>`: the error is the page to send, built
//! once where the check fails.
#![allow(clippy::result_large_err)]

mod hubs;
mod integrations;
mod password;
mod people;
mod views;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hubgate_core::account::{Account, Role, User};
use hubgate_core::ids::AccountId;
use serde::Deserialize;

use crate::app::{Actor, Manager};
use crate::client_origin::ClientOrigin;
use crate::state::AppState;
use crate::web::{Browser, LoginPage, Page, WebForm, error_page, see_other, urls};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(urls::CONSOLE, get(root))
        .route(urls::LOGIN, get(login_page).post(login))
        .route(urls::LOGOUT, post(logout))
        .route(urls::PASSWORD, get(password::page).post(password::change))
        .route(urls::CONSENTS, get(people::consents))
        .route(urls::CONSENTS_WITHDRAW, post(people::withdraw_consent))
        .nest("/console/a/{account}", account_pages())
}

/// The pages of one account: `/console/a/{account}/…`.
fn account_pages() -> Router<AppState> {
    Router::new()
        .route(
            "/integrations",
            get(integrations::list).post(integrations::create),
        )
        .route("/integrations/new", get(integrations::new))
        .nest("/integrations/{client_id}", integration_pages())
        .route("/members", get(people::members).post(people::add_member))
        .route("/members/{user}/role", post(people::set_role))
        .route("/members/{user}/remove", post(people::remove_member))
        .route(
            "/members/{user}/reset-password",
            post(people::reset_password),
        )
        .route("/hubs", get(views::hubs))
        .route("/hubs/{hub}", get(hubs::detail))
        .route("/hubs/{hub}/credential", post(hubs::issue_credential))
        .route(
            "/hubs/{hub}/credential/revoke",
            post(hubs::revoke_credential),
        )
        .route("/audit", get(views::audit))
}

/// The pages of one integration: `/console/a/{account}/integrations/{client_id}/…`.
fn integration_pages() -> Router<AppState> {
    Router::new()
        .route("/", get(integrations::detail))
        .route("/edit", get(integrations::edit).post(integrations::update))
        .route("/reveal", post(integrations::reveal))
        .route("/rotate", post(integrations::rotate))
        .route("/acting-user", post(integrations::set_acting_user))
        .route("/disable", post(integrations::disable))
        .route("/enable", post(integrations::enable))
        .route(
            "/delete",
            get(integrations::confirm_delete).post(integrations::delete),
        )
        .route("/webhooks", post(integrations::webhooks::create))
        .nest("/webhooks/{webhook_id}", webhook_pages())
}

/// One webhook endpoint of an integration: its delivery log and what is
/// done to it, `…/integrations/{client_id}/webhooks/{webhook_id}/…`.
fn webhook_pages() -> Router<AppState> {
    use integrations::{deliveries, webhooks};
    Router::new()
        .route("/", get(deliveries::log))
        .route("/rotate", post(webhooks::rotate))
        .route("/disable", post(webhooks::disable))
        .route("/enable", post(webhooks::enable))
        .route(
            "/delete",
            get(webhooks::confirm_delete).post(webhooks::delete),
        )
        .route("/deliveries/{event_id}/resend", post(deliveries::resend))
}

/// An account in the frame's switcher.
pub struct AccountLink {
    pub id: String,
    pub name: String,
    pub href: String,
}

fn account_links(accounts: &[(Account, Role)]) -> Vec<AccountLink> {
    accounts
        .iter()
        .map(|(a, _)| AccountLink {
            id: a.id.to_string(),
            name: a.name.clone(),
            href: urls::integrations(a.id),
        })
        .collect()
}

/// What the console's frame shows: accounts to switch between, who is
/// logged in, the CSRF token, and a message from the last action.
pub struct Nav {
    pub accounts: Vec<AccountLink>,
    pub account_id: String,
    /// The account's pages (`web::urls::account`), empty outside an account.
    pub base: String,
    pub email: String,
    pub csrf: String,
    pub can_manage: bool,
    /// A one-time password is in use: the frame offers only the password
    /// page and logging out.
    pub must_change: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
}

/// A logged-in user looking at one of their accounts.
pub struct Ctx {
    pub browser: Browser,
    pub user: User,
    pub account: Account,
    pub role: Role,
    pub accounts: Vec<(Account, Role)>,
    /// The user as the application layer sees them: a member of this account.
    pub actor: Actor,
}

use crate::web::unavailable_page as unavailable;

/// A moment as the console shows it: RFC 3339, or "never".
pub(crate) fn when(t: Option<time::OffsetDateTime>) -> String {
    use time::format_description::well_known::Rfc3339;
    t.and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "never".into())
}

/// A logged-in user in no account in particular: their password, their consents.
pub struct Me {
    pub browser: Browser,
    pub user: User,
    pub accounts: Vec<(Account, Role)>,
    /// The user as the application layer sees them: in no account.
    pub actor: Actor,
}

impl Me {
    /// The user behind the browser, or a redirect to the login page; one
    /// with a one-time password is sent to change it first.
    pub async fn load(state: &AppState, browser: Browser) -> Result<Me, Response> {
        let me = Self::load_any(state, browser).await?;
        if me.user.must_change_password {
            return Err(see_other(urls::PASSWORD));
        }
        Ok(me)
    }

    /// [`Me::load`] that lets a one-time password through (the password page).
    pub async fn load_any(state: &AppState, browser: Browser) -> Result<Me, Response> {
        let Some(user_id) = browser.user else {
            return Err(see_other(urls::LOGIN));
        };
        let (Ok(Some(user)), Ok(accounts)) = (
            state.store.user_by_id(user_id).await,
            state.store.accounts_of_user(user_id).await,
        ) else {
            return Err(unavailable());
        };
        let actor = Actor::User {
            user: user.id,
            email: user.email.clone(),
        };
        Ok(Me {
            browser,
            user,
            accounts,
            actor,
        })
    }

    /// The frame of a page about the user: framed by their first account.
    pub fn nav(&self, state: &AppState, notice: Option<String>, error: Option<String>) -> Nav {
        let first = self.accounts.first().map(|(a, _)| a.id);
        Nav {
            accounts: account_links(&self.accounts),
            account_id: first.map(|id| id.to_string()).unwrap_or_default(),
            base: first.map(urls::account).unwrap_or_default(),
            email: self.user.email.clone(),
            csrf: self.browser.csrf_token(state),
            can_manage: false,
            must_change: self.user.must_change_password,
            notice,
            error,
        }
    }

    /// The application layer, acting as this user now.
    pub fn manager<'a>(&'a self, state: &'a AppState) -> Manager<'a> {
        Manager::new(
            state.store.as_ref(),
            &state.master,
            &self.actor,
            hubgate_core::now(),
        )
    }
}

impl Ctx {
    /// Resolves the account in the path; another account is not found.
    pub async fn load(state: &AppState, browser: Browser, account: &str) -> Result<Ctx, Response> {
        let Me {
            browser,
            user,
            accounts,
            ..
        } = Me::load(state, browser).await?;
        let found = account
            .parse::<AccountId>()
            .ok()
            .and_then(|id| accounts.iter().find(|(a, _)| a.id == id).cloned());
        let Some((account, role)) = found else {
            return Err(error_page(
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such account among yours.",
                None,
            ));
        };
        let actor = Actor::Member {
            account: account.id,
            user: user.id,
            email: user.email.clone(),
            role,
        };
        Ok(Ctx {
            browser,
            user,
            account,
            role,
            accounts,
            actor,
        })
    }

    pub fn nav(&self, state: &AppState, notice: Option<String>, error: Option<String>) -> Nav {
        Nav {
            accounts: account_links(&self.accounts),
            account_id: self.account.id.to_string(),
            base: urls::account(self.account.id),
            email: self.user.email.clone(),
            csrf: self.browser.csrf_token(state),
            can_manage: self.role.can_manage(),
            must_change: false,
            notice,
            error,
        }
    }

    /// Owners and admins only; and every form must carry the CSRF token.
    pub fn require_manage(&self, state: &AppState, csrf: &str) -> Result<(), Response> {
        self.require_csrf(state, csrf)?;
        self.require_role_to_manage()
    }

    /// Owners and admins only (pages that show a management form).
    pub fn require_role_to_manage(&self) -> Result<(), Response> {
        if !self.role.can_manage() {
            return Err(error_page(
                StatusCode::FORBIDDEN,
                "Not allowed",
                "Only owners and admins of this account can do that.",
                None,
            ));
        }
        Ok(())
    }

    /// [`Ctx::load`] for a form that changes something: owners and admins
    /// only, with the CSRF token.
    pub async fn load_to_manage(
        state: &AppState,
        browser: Browser,
        account: &str,
        csrf: &str,
    ) -> Result<Ctx, Response> {
        let ctx = Self::load(state, browser, account).await?;
        ctx.require_manage(state, csrf)?;
        Ok(ctx)
    }

    /// The application layer, acting as this user now.
    pub fn manager<'a>(&'a self, state: &'a AppState) -> Manager<'a> {
        Manager::new(
            state.store.as_ref(),
            &state.master,
            &self.actor,
            hubgate_core::now(),
        )
    }

    pub fn require_csrf(&self, state: &AppState, csrf: &str) -> Result<(), Response> {
        self.browser.require_csrf(state, csrf)
    }

    pub fn base(&self) -> String {
        urls::account(self.account.id)
    }
}

/// A form that carries only the CSRF token.
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

/// Renders a console page (with its script) and keeps the browser's cookies.
pub fn show(ctx: Ctx, page: &impl askama::Template) -> Response {
    (ctx.browser.jar, Page::render(page).with_scripts()).into_response()
}

async fn root(State(state): State<AppState>, browser: Browser) -> Response {
    let jar = browser.jar.clone();
    match Me::load(&state, browser).await {
        Ok(me) => match me.accounts.first() {
            Some((account, _)) => see_other(&urls::integrations(account.id)),
            None => see_other(urls::CONSENTS),
        },
        Err(response) => (jar, response).into_response(),
    }
}

fn login_form(
    state: &AppState,
    browser: &Browser,
    email: &str,
    error: Option<String>,
) -> LoginPage {
    LoginPage {
        action: urls::LOGIN,
        app_name: None,
        error,
        email: email.to_owned(),
        csrf: browser.csrf_token(state),
        request: String::new(),
    }
}

async fn login_page(State(state): State<AppState>, browser: Browser) -> Response {
    if browser.user.is_some() {
        return see_other(urls::CONSOLE);
    }
    let page = login_form(&state, &browser, "", None);
    (browser.jar, Page::render(&page)).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    csrf: String,
}

async fn login(
    State(state): State<AppState>,
    browser: Browser,
    origin: ClientOrigin,
    WebForm(form): WebForm<LoginForm>,
) -> Response {
    if let Err(response) = browser.require_csrf(&state, &form.csrf) {
        return response;
    }
    let address = origin.address;
    let outcome =
        crate::web::attempt_login(&state, browser, &form.email, &form.password, address).await;
    match outcome.logged_in() {
        Ok(browser) => (browser.jar, see_other(urls::CONSOLE)).into_response(),
        Err(refused) => refused.respond(|browser, message| {
            Page::render(&login_form(&state, browser, &form.email, Some(message)))
        }),
    }
}

async fn logout(
    State(state): State<AppState>,
    browser: Browser,
    WebForm(form): WebForm<CsrfForm>,
) -> Response {
    if let Err(response) = browser.require_csrf(&state, &form.csrf) {
        return response;
    }
    let browser = browser.log_out(&state).await;
    (browser.jar, see_other(urls::LOGIN)).into_response()
}
