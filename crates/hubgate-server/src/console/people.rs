//! Members of an account, and the consents a user gave.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hubgate_core::account::Role;
use hubgate_core::ids::{AccountId, IntegrationId, UserId};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

use super::{CsrfForm, Ctx, Nav, show, unavailable};
use crate::app::{Actor, AppError, Manager};
use crate::state::AppState;
use crate::web::{Browser, Page, PageError, WebForm, error_page, see_other};

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    nav: Nav,
    members: Vec<MemberRow>,
    one_time_password: Option<String>,
}

struct MemberRow {
    id: String,
    email: String,
    role: String,
}

async fn members_page(
    state: &AppState,
    ctx: Ctx,
    notice: Option<String>,
    error: Option<String>,
    password: Option<String>,
) -> Response {
    let Ok(members) = state.store.account_members(ctx.account.id).await else {
        return unavailable();
    };
    let page = MembersPage {
        nav: ctx.nav(state, notice, error),
        members: members
            .into_iter()
            .map(|(u, r)| MemberRow {
                id: u.id.to_string(),
                email: u.email,
                role: r.to_string(),
            })
            .collect(),
        one_time_password: password,
    };
    show(ctx, &page)
}

pub async fn members(
    State(state): State<AppState>,
    browser: Browser,
    Path(account): Path<String>,
) -> Response {
    match Ctx::load(&state, browser, &account).await {
        Ok(ctx) => members_page(&state, ctx, None, None, None).await,
        Err(response) => response,
    }
}

#[derive(Deserialize)]
pub struct AddForm {
    csrf: String,
    email: String,
    role: String,
    create_user: Option<String>,
}

pub async fn add_member(
    State(state): State<AppState>,
    browser: Browser,
    Path(account): Path<String>,
    WebForm(form): WebForm<AddForm>,
) -> Response {
    let ctx = match Ctx::load_to_manage(&state, browser, &account, &form.csrf).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let Ok(role) = form.role.parse::<Role>() else {
        return members_page(&state, ctx, None, Some("Pick a role.".into()), None).await;
    };
    let invite = form.create_user.is_some();
    let added = ctx
        .manager(&state)
        .add_member(ctx.account.id, &form.email, role, invite)
        .await;
    match added {
        Ok(added) => {
            state.catch_up().await;
            let notice = format!("{} is now {role}.", added.user.email);
            members_page(&state, ctx, Some(notice), None, added.one_time_password).await
        }
        Err(AppError::NotFound("user")) => {
            let message = "No user has that email. Tick \"Create the user\" to create one with a one-time password.";
            members_page(&state, ctx, None, Some(message.into()), None).await
        }
        Err(AppError::Store(error)) => PageError::from(error).into_response(),
        Err(error) => members_page(&state, ctx, None, Some(error.to_string()), None).await,
    }
}

#[derive(Deserialize)]
pub struct RoleForm {
    csrf: String,
    role: String,
}

pub async fn set_role(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, user)): Path<(String, String)>,
    WebForm(form): WebForm<RoleForm>,
) -> Response {
    let ctx = match Ctx::load_to_manage(&state, browser, &account, &form.csrf).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let (Ok(user), Ok(role)) = (user.parse::<UserId>(), form.role.parse::<Role>()) else {
        let message = "Pick a member and a role.";
        return members_page(&state, ctx, None, Some(message.into()), None).await;
    };
    let changed = ctx
        .manager(&state)
        .set_role(ctx.account.id, user, role)
        .await;
    member_changed(
        &state,
        ctx,
        changed.map(|user| format!("{} is now {role}.", user.email)),
    )
    .await
}

pub async fn remove_member(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, user)): Path<(String, String)>,
    WebForm(form): WebForm<CsrfForm>,
) -> Response {
    let ctx = match Ctx::load_to_manage(&state, browser, &account, &form.csrf).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let Ok(user) = user.parse::<UserId>() else {
        return members_page(&state, ctx, None, Some("No such member.".into()), None).await;
    };
    let removed = ctx
        .manager(&state)
        .remove_member(ctx.account.id, user)
        .await;
    member_changed(
        &state,
        ctx,
        removed.map(|user| format!("{} was removed.", user.email)),
    )
    .await
}

/// The members page after a change: its notice, or why it was refused.
async fn member_changed(state: &AppState, ctx: Ctx, outcome: Result<String, AppError>) -> Response {
    match outcome {
        Ok(notice) => {
            state.catch_up().await;
            members_page(state, ctx, Some(notice), None, None).await
        }
        Err(AppError::Store(error)) => PageError::from(error).into_response(),
        Err(error) => members_page(state, ctx, None, Some(error.to_string()), None).await,
    }
}

#[derive(Template)]
#[template(path = "consents.html")]
struct ConsentsPage {
    nav: Nav,
    consents: Vec<ConsentRow>,
}

struct ConsentRow {
    integration_id: String,
    application: String,
    account_id: String,
    account_name: String,
    scope: String,
    since: String,
}

/// The consents page is per user, not per account: frame it with the first account.
async fn consents_page(state: &AppState, browser: Browser, notice: Option<String>) -> Response {
    let Some(user_id) = browser.user else {
        return see_other("/console/login");
    };
    let (Ok(Some(user)), Ok(accounts), Ok(consents)) = (
        state.store.user_by_id(user_id).await,
        state.store.accounts_of_user(user_id).await,
        state.store.consents_of_user(user_id).await,
    ) else {
        return unavailable();
    };
    let mut rows = Vec::new();
    for consent in consents {
        let app = state
            .store
            .integration_by_id(consent.integration_id)
            .await
            .ok()
            .flatten()
            .map(|i| i.name)
            .unwrap_or_default();
        let account = accounts
            .iter()
            .find(|(a, _)| a.id == consent.account_id)
            .map(|(a, _)| a.name.clone())
            .unwrap_or_default();
        rows.push(ConsentRow {
            integration_id: consent.integration_id.to_string(),
            application: app,
            account_id: consent.account_id.to_string(),
            account_name: account,
            scope: consent.scope.to_string(),
            since: consent.granted_at.format(&Rfc3339).unwrap_or_default(),
        });
    }
    let nav = Nav {
        accounts: accounts
            .iter()
            .map(|(a, _)| (a.id.to_string(), a.name.clone()))
            .collect(),
        account_id: accounts
            .first()
            .map(|(a, _)| a.id.to_string())
            .unwrap_or_default(),
        email: user.email,
        csrf: browser.csrf_token(state),
        can_manage: false,
        notice,
        error: None,
    };
    let page = ConsentsPage {
        nav,
        consents: rows,
    };
    (browser.jar, Page::render(&page).with_scripts()).into_response()
}

pub async fn consents(State(state): State<AppState>, browser: Browser) -> Response {
    consents_page(&state, browser, None).await
}

#[derive(Deserialize)]
pub struct WithdrawForm {
    csrf: String,
    integration: String,
    account: String,
}

pub async fn withdraw_consent(
    State(state): State<AppState>,
    browser: Browser,
    WebForm(form): WebForm<WithdrawForm>,
) -> Response {
    if let Err(response) = browser.require_csrf(&state, &form.csrf) {
        return response;
    }
    let Some(user) = browser.user else {
        return see_other("/console/login");
    };
    let (Ok(integration), Ok(account)) = (
        form.integration.parse::<IntegrationId>(),
        form.account.parse::<AccountId>(),
    ) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Check the form",
            "No such consent.",
            None,
        );
    };
    let Ok(Some(user)) = state.store.user_by_id(user).await else {
        return unavailable();
    };
    let actor = Actor::User {
        user: user.id,
        email: user.email.clone(),
    };
    let manager = Manager::new(
        state.store.as_ref(),
        &state.master,
        &actor,
        hubgate_core::now(),
    );
    if let Err(error) = manager
        .withdraw_consent(user.id, account, integration)
        .await
    {
        return PageError::from(error).into_response();
    }
    state.catch_up().await;
    consents_page(
        &state,
        browser,
        Some("Withdrawn: the application will have to ask you again.".into()),
    )
    .await
}
