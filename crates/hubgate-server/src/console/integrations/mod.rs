//! Account → Integrations → Custom Integrations: the list and the detail
//! page here; the settings form (create, edit) in `form`; what is done to
//! one (reveal, rotate, disable, enable, delete, acting user) in `actions`;
//! its webhook endpoints in `webhooks` and their delivery logs in
//! `deliveries`. Each handler parses the form, calls the application layer
//! and renders.

mod actions;
pub(super) mod deliveries;
mod form;
pub(super) mod webhooks;

use askama::Template;
use axum::extract::{Path, State};
use hubgate_core::integration::Integration;
use serde::Deserialize;

use super::{Ctx, Nav, show, when};
use crate::state::AppState;
use crate::web::{Browser, PageError, PageResult};

pub use actions::{confirm_delete, delete, disable, enable, reveal, rotate, set_acting_user};
pub use form::{create, edit, new, update};

pub struct Row {
    name: String,
    client_id: String,
    scope: String,
    enabled: bool,
    last_used: String,
}

#[derive(Template)]
#[template(path = "integrations.html")]
pub(super) struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "integration.html")]
pub(super) struct DetailPage {
    nav: Nav,
    name: String,
    client_id: String,
    secret: Option<String>,
    previous_until: Option<String>,
    redirect_uris: Vec<String>,
    scope: String,
    enabled: bool,
    refresh_on_cc: bool,
    require_pkce: bool,
    last_used: String,
    token_url: String,
    /// Who client_credentials tokens act through.
    acting_user: String,
    /// Members an owner may choose as acting user.
    acting_choices: Vec<ActingChoice>,
    is_owner: bool,
    webhooks: webhooks::WebhookSection,
}

/// A member whose role covers the integration's scopes.
pub(super) struct ActingChoice {
    id: String,
    email: String,
    current: bool,
}

pub async fn list(
    State(state): State<AppState>,
    browser: Browser,
    Path(account): Path<String>,
    axum::extract::Query(query): axum::extract::Query<NoticeQuery>,
) -> PageResult {
    let ctx = Ctx::load(&state, browser, &account).await?;
    let integrations = state.store.list_integrations(Some(ctx.account.id)).await?;
    let last_used = state.store.integrations_last_used(ctx.account.id).await?;
    let last_used: std::collections::HashMap<_, _> = last_used.into_iter().collect();
    let rows = integrations
        .into_iter()
        .map(|integration| Row {
            last_used: when(last_used.get(&integration.id).copied()),
            name: integration.name,
            client_id: integration.client_id.to_string(),
            scope: integration.scopes.to_string(),
            enabled: integration.enabled,
        })
        .collect();
    let page = ListPage {
        nav: ctx.nav(&state, notice_text(query.notice.as_deref()), None),
        rows,
    };
    Ok(show(ctx, &page))
}

/// The account's integration with this client_id; another account's is not found.
pub(super) async fn find(
    state: &AppState,
    ctx: &Ctx,
    client_id: &str,
) -> Result<Integration, PageError> {
    Ok(ctx.manager(state).integration(client_id).await?)
}

/// What the detail page shows after an action besides the integration.
#[derive(Default)]
pub(super) struct Shown {
    /// The client secret, revealed or just rotated.
    secret: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    webhooks: webhooks::WebhookExtras,
}

pub(super) async fn detail_page(
    state: &AppState,
    ctx: Ctx,
    integration: Integration,
    secret: Option<String>,
    notice: Option<String>,
) -> PageResult {
    let shown = Shown {
        secret,
        notice,
        ..Shown::default()
    };
    detail_page_with(state, ctx, integration, shown).await
}

pub(super) async fn detail_page_with(
    state: &AppState,
    ctx: Ctx,
    integration: Integration,
    shown: Shown,
) -> PageResult {
    let last_used = state.store.integration_last_used(integration.id).await?;
    let members = state.store.account_members(ctx.account.id).await?;
    let acting_user = members
        .iter()
        .find(|(u, _)| u.id == integration.acting_user)
        .map_or_else(
            || integration.acting_user.to_string(),
            |(u, _)| u.email.clone(),
        );
    let acting_choices = members
        .iter()
        .filter(|(_, role)| role.may_delegate(integration.scopes))
        .map(|(u, _)| ActingChoice {
            id: u.id.to_string(),
            email: u.email.clone(),
            current: u.id == integration.acting_user,
        })
        .collect();
    let webhooks = webhooks::section(state, &ctx, &integration, shown.webhooks).await?;
    let page = DetailPage {
        acting_user,
        acting_choices,
        is_owner: ctx.role == hubgate_core::account::Role::Owner,
        nav: ctx.nav(state, shown.notice, shown.error),
        name: integration.name.clone(),
        client_id: integration.client_id.to_string(),
        secret: shown.secret,
        previous_until: integration
            .previous_secret_expires_at
            .filter(|_| integration.sealed_previous_secret.is_some())
            .map(|t| when(Some(t))),
        redirect_uris: integration
            .redirect_uris
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect(),
        scope: integration.scopes.to_string(),
        enabled: integration.enabled,
        refresh_on_cc: integration.refresh_on_client_credentials,
        require_pkce: integration.require_pkce,
        last_used: when(last_used),
        token_url: state.config.url("/identity/oauth/v2/token"),
        webhooks,
    };
    Ok(show(ctx, &page))
}

/// What the list and the detail page say after a redirect (`?notice=`).
#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub(super) fn notice_text(notice: Option<&str>) -> Option<String> {
    let text = match notice? {
        "created" => "Created. Reveal the secret below and keep it somewhere safe.",
        "updated" => "Saved. Narrower scopes apply to tokens already issued too.",
        "enabled" => "Enabled. Tokens issued before it was disabled stay revoked.",
        "disabled" => "Disabled. Its client cannot authenticate and its tokens no longer work.",
        "deleted" => "Deleted. Its tokens no longer work.",
        "webhook_enabled" => "Endpoint enabled. Events from now on are delivered to it.",
        "webhook_disabled" => {
            "Endpoint disabled. Events from now until it is enabled are not delivered to it, not even later."
        }
        "webhook_deleted" => "Endpoint deleted, with its delivery log.",
        _ => return None,
    };
    Some(text.to_owned())
}

pub async fn detail(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id)): Path<(String, String)>,
    axum::extract::Query(query): axum::extract::Query<NoticeQuery>,
) -> PageResult {
    let ctx = Ctx::load(&state, browser, &account).await?;
    let integration = find(&state, &ctx, &client_id).await?;
    let notice = notice_text(query.notice.as_deref());
    detail_page(&state, ctx, integration, None, notice).await
}

/// Loads the context and the integration for a management action.
pub(super) async fn for_action(
    state: &AppState,
    browser: Browser,
    account: &str,
    client_id: &str,
    csrf: &str,
) -> Result<(Ctx, Integration), PageError> {
    let ctx = Ctx::load_to_manage(state, browser, account, csrf).await?;
    let integration = find(state, &ctx, client_id).await?;
    Ok((ctx, integration))
}

/// The detail page's URL, with the notice it shows after a redirect.
pub(super) fn detail_url(ctx: &Ctx, client_id: &str, notice: &str) -> String {
    crate::web::urls::integration(ctx.account.id, client_id, notice)
}
