//! Members of an account (add, change a role, remove, reset a password),
//! and the consents a user gave.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use hubgate_core::account::Role;
use hubgate_core::ids::{AccountId, IntegrationId, UserId};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

use super::{CsrfForm, Ctx, Me, Nav, show};
use crate::app::AppError;
use crate::state::AppState;
use crate::web::{Browser, Page, PageResult, WebForm, error_page};

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    nav: Nav,
    members: Vec<MemberRow>,
    /// Whose one-time password it is, and the password: shown once.
    one_time_password: Option<(String, String)>,
}

struct MemberRow {
    id: String,
    email: String,
    role: String,
    /// The viewer may reset this member's password: not their own (they
    /// change it with the current one), and an owner's only as an owner.
    can_reset: bool,
}

async fn members_page(
    state: &AppState,
    ctx: Ctx,
    notice: Option<String>,
    error: Option<String>,
    password: Option<(String, String)>,
) -> PageResult {
    let members = ctx.manager(state).members(ctx.account.id).await?;
    let may_reset = |user, role| user != ctx.user.id && ctx.role.may_reset_password_of(role);
    let page = MembersPage {
        nav: ctx.nav(state, notice, error),
        members: members
            .into_iter()
            .map(|(u, r)| MemberRow {
                can_reset: may_reset(u.id, r),
                id: u.id.to_string(),
                email: u.email,
                role: r.to_string(),
            })
            .collect(),
        one_time_password: password,
    };
    Ok(show(ctx, &page))
}

pub async fn members(
    State(state): State<AppState>,
    browser: Browser,
    Path(account): Path<String>,
) -> PageResult {
    let ctx = Ctx::load(&state, browser, &account).await?;
    members_page(&state, ctx, None, None, None).await
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
) -> PageResult {
    let ctx = Ctx::load_to_manage(&state, browser, &account, &form.csrf).await?;
    let Ok(role) = form.role.parse::<Role>() else {
        return members_page(&state, ctx, None, Some("Pick a role.".into()), None).await;
    };
    let invite = form.create_user.is_some();
    let added = ctx
        .manager(&state)
        .add_member(ctx.account.id, &form.email, role, invite)
        .await;
    Ok(match added {
        Ok(added) => {
            state.catch_up().await;
            let notice = format!("{} is now {role}.", added.user.email);
            let password = added.one_time_password.map(|p| (added.user.email, p));
            members_page(&state, ctx, Some(notice), None, password).await?
        }
        Err(AppError::NotFound("user")) => {
            let message = "No user has that email. Tick \"Create the user\" to create one with a one-time password.";
            members_page(&state, ctx, None, Some(message.into()), None).await?
        }
        Err(AppError::Store(error)) => return Err(error.into()),
        Err(error) => members_page(&state, ctx, None, Some(error.to_string()), None).await?,
    })
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
) -> PageResult {
    let ctx = Ctx::load_to_manage(&state, browser, &account, &form.csrf).await?;
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
) -> PageResult {
    let ctx = Ctx::load_to_manage(&state, browser, &account, &form.csrf).await?;
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

/// An owner or admin gives a member a new one-time password, shown once.
pub async fn reset_password(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, user)): Path<(String, String)>,
    WebForm(form): WebForm<CsrfForm>,
) -> PageResult {
    let ctx = Ctx::load_to_manage(&state, browser, &account, &form.csrf).await?;
    let user = user
        .parse::<UserId>()
        .map_err(|_| AppError::NotFound("member"))?;
    let (member, one_time) = ctx
        .manager(&state)
        .reset_password(ctx.account.id, user)
        .await?;
    let notice = format!(
        "{}'s password was reset and their sessions ended. They choose a new one when they log in with the one-time password.",
        member.email
    );
    let password = Some((member.email, one_time));
    members_page(&state, ctx, Some(notice), None, password).await
}

/// The members page after a change: its notice, or why it was refused.
async fn member_changed(
    state: &AppState,
    ctx: Ctx,
    outcome: Result<String, AppError>,
) -> PageResult {
    match outcome {
        Ok(notice) => {
            state.catch_up().await;
            members_page(state, ctx, Some(notice), None, None).await
        }
        Err(AppError::Store(error)) => Err(error.into()),
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
async fn consents_page(state: &AppState, me: Me, notice: Option<String>) -> PageResult {
    let consents = state.store.consents_of_user(me.user.id).await?;
    // Application names, read once per account the consents are in (an
    // integration acts only in its own account), not once per row.
    let mut names = std::collections::HashMap::new();
    let mut accounts: Vec<_> = consents.iter().map(|c| c.account_id).collect();
    accounts.sort_unstable();
    accounts.dedup();
    for account in accounts {
        for integration in state.store.list_integrations(Some(account)).await? {
            names.insert(integration.id, integration.name);
        }
    }
    let rows = consents
        .into_iter()
        .map(|consent| ConsentRow {
            application: names
                .get(&consent.integration_id)
                .cloned()
                .unwrap_or_default(),
            account_name: me
                .accounts
                .iter()
                .find(|(a, _)| a.id == consent.account_id)
                .map(|(a, _)| a.name.clone())
                .unwrap_or_default(),
            integration_id: consent.integration_id.to_string(),
            account_id: consent.account_id.to_string(),
            scope: consent.scope.to_string(),
            since: consent.granted_at.format(&Rfc3339).unwrap_or_default(),
        })
        .collect();
    let page = ConsentsPage {
        nav: me.nav(state, notice, None),
        consents: rows,
    };
    Ok((me.browser.jar, Page::render(&page).with_scripts()).into_response())
}

pub async fn consents(State(state): State<AppState>, browser: Browser) -> PageResult {
    let me = Me::load(&state, browser).await?;
    consents_page(&state, me, None).await
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
) -> PageResult {
    let me = Me::load(&state, browser).await?;
    me.browser.require_csrf(&state, &form.csrf)?;
    let (Ok(integration), Ok(account)) = (
        form.integration.parse::<IntegrationId>(),
        form.account.parse::<AccountId>(),
    ) else {
        return Ok(error_page(
            StatusCode::BAD_REQUEST,
            "Check the form",
            "No such consent.",
            None,
        ));
    };
    me.manager(&state)
        .withdraw_consent(me.user.id, account, integration)
        .await?;
    state.catch_up().await;
    let notice = "Withdrawn: the application will have to ask you again.";
    consents_page(&state, me, Some(notice.into())).await
}
