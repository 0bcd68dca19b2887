//! What is done to one integration: reveal or rotate its secret, disable,
//! enable, delete, choose its acting user.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::{detail_page, detail_url, find, for_action};
use crate::app::AppError;
use crate::console::{CsrfForm, Ctx, Nav, show};
use crate::state::AppState;
use crate::web::{Browser, PageResult, WebForm, error_page, see_other};

pub async fn reveal(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id)): Path<(String, String)>,
    WebForm(form): WebForm<CsrfForm>,
) -> PageResult {
    let (ctx, integration) = for_action(&state, browser, &account, &client_id, &form.csrf).await?;
    let secret = ctx.manager(&state).reveal_secret(&integration).await?;
    let secret = secret.expose().to_owned();
    detail_page(&state, ctx, integration, Some(secret), None).await
}

#[derive(Deserialize)]
pub struct RotateForm {
    csrf: String,
    grace: String,
    #[serde(default)]
    grace_seconds: String,
}

pub async fn rotate(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id)): Path<(String, String)>,
    WebForm(form): WebForm<RotateForm>,
) -> PageResult {
    let (ctx, integration) = for_action(&state, browser, &account, &client_id, &form.csrf).await?;
    let chosen = if form.grace_seconds.trim().is_empty() {
        form.grace.trim()
    } else {
        form.grace_seconds.trim()
    };
    let Ok(grace) = chosen.parse::<u32>() else {
        return Ok(error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not rotated",
            "The grace period must be a number of seconds.",
            None,
        ));
    };
    let rotated = ctx
        .manager(&state)
        .rotate_secret(integration, time::Duration::seconds(grace.into()))
        .await?;
    state.catch_up().await;
    let notice = if grace == 0 {
        "Rotated. The old secret and every token issued before no longer work.".to_owned()
    } else {
        format!("Rotated. The old secret keeps working for {grace} seconds.")
    };
    let secret = rotated.secret.expose().to_owned();
    detail_page(&state, ctx, rotated.integration, Some(secret), Some(notice)).await
}

async fn set_enabled(
    state: AppState,
    browser: Browser,
    account: String,
    client_id: String,
    csrf: String,
    enabled: bool,
) -> PageResult {
    let (ctx, integration) = for_action(&state, browser, &account, &client_id, &csrf).await?;
    ctx.manager(&state)
        .set_enabled(integration, enabled)
        .await?;
    state.catch_up().await;
    let notice = if enabled { "enabled" } else { "disabled" };
    Ok(see_other(&detail_url(&ctx, &client_id, notice)))
}

pub async fn disable(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id)): Path<(String, String)>,
    WebForm(form): WebForm<CsrfForm>,
) -> PageResult {
    set_enabled(state, browser, account, client_id, form.csrf, false).await
}

pub async fn enable(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id)): Path<(String, String)>,
    WebForm(form): WebForm<CsrfForm>,
) -> PageResult {
    set_enabled(state, browser, account, client_id, form.csrf, true).await
}

#[derive(Template)]
#[template(path = "integration_delete.html")]
struct DeletePage {
    nav: Nav,
    name: String,
    client_id: String,
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id)): Path<(String, String)>,
) -> PageResult {
    let ctx = Ctx::load(&state, browser, &account).await?;
    ctx.require_role_to_manage()?;
    let integration = find(&state, &ctx, &client_id).await?;
    let page = DeletePage {
        nav: ctx.nav(&state, None, None),
        name: integration.name,
        client_id,
    };
    Ok(show(ctx, &page))
}

pub async fn delete(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id)): Path<(String, String)>,
    WebForm(form): WebForm<CsrfForm>,
) -> PageResult {
    let (ctx, integration) = for_action(&state, browser, &account, &client_id, &form.csrf).await?;
    ctx.manager(&state).delete_integration(&integration).await?;
    // This node stops accepting its tokens now, not at the next poll.
    state.catch_up().await;
    Ok(see_other(&format!(
        "{}/integrations?notice=deleted",
        ctx.base()
    )))
}

#[derive(Deserialize)]
pub struct ActingUserForm {
    csrf: String,
    user: String,
}

/// An owner chooses the member the integration's client_credentials tokens
/// act through.
pub async fn set_acting_user(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id)): Path<(String, String)>,
    WebForm(form): WebForm<ActingUserForm>,
) -> PageResult {
    let (ctx, integration) = for_action(&state, browser, &account, &client_id, &form.csrf).await?;
    let user = form
        .user
        .parse::<hubgate_core::ids::UserId>()
        .map_err(|_| AppError::NotFound("member"))?;
    let changed = ctx
        .manager(&state)
        .set_acting_user(integration, user)
        .await?;
    state.catch_up().await;
    let notice = "Its client_credentials tokens now act through the chosen member.";
    detail_page(&state, ctx, changed, None, Some(notice.into())).await
}
