//! Account → Integrations → Custom Integrations: list, create, view (reveal
//! the secret), edit, rotate with a grace period, disable/enable, delete.
//! Each handler parses the form, calls the application layer and renders.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hubgate_core::integration::{Integration, IntegrationSettings};
use hubgate_core::scope::Scope;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

use super::{CsrfForm, Ctx, Nav, show, unavailable};
use crate::app::AppError;
use crate::state::AppState;
use crate::web::{Browser, PageError, PageResult, WebForm, error_page, see_other};

pub struct Row {
    name: String,
    client_id: String,
    scope: String,
    enabled: bool,
    last_used: String,
}

#[derive(Template)]
#[template(path = "integrations.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "integration_new.html")]
struct NewPage {
    nav: Nav,
    /// Where the form posts, and its heading: create, or edit one.
    action: String,
    heading: String,
    name: String,
    redirect_uris: String,
    scopes: Vec<(&'static str, &'static str, bool)>,
    refresh_on_client_credentials: bool,
    require_pkce: bool,
    access_token_ttl: String,
    refresh_token_ttl: String,
}

#[derive(Template)]
#[template(path = "integration.html")]
struct DetailPage {
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
}

/// A member whose role covers the integration's scopes.
struct ActingChoice {
    id: String,
    email: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "integration_delete.html")]
struct DeletePage {
    nav: Nav,
    name: String,
    client_id: String,
}

fn when(t: Option<time::OffsetDateTime>) -> String {
    t.and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "never".into())
}

pub async fn list(
    State(state): State<AppState>,
    browser: Browser,
    Path(account): Path<String>,
    axum::extract::Query(query): axum::extract::Query<NoticeQuery>,
) -> Response {
    let ctx = match Ctx::load(&state, browser, &account).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let (Ok(integrations), Ok(last_used)) = (
        state.store.list_integrations(Some(ctx.account.id)).await,
        state.store.integrations_last_used(ctx.account.id).await,
    ) else {
        return unavailable();
    };
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
    show(ctx, &page)
}

/// The settings form: empty for a new integration, filled from `form` after
/// a refusal, or from `editing` to change one.
fn new_page(
    ctx: &Ctx,
    state: &AppState,
    form: Option<&CreateForm>,
    editing: Option<&Integration>,
    error: Option<String>,
) -> NewPage {
    let chosen = |scope: Scope| match (form, editing) {
        (Some(f), _) => f.scope.iter().any(|s| s == scope.as_str()),
        (None, Some(i)) => i.scopes.contains(scope),
        (None, None) => !Scope::MANAGEMENT.contains(&scope),
    };
    let (action, heading) = match editing {
        Some(i) => (
            format!("{}/integrations/{}/edit", ctx.base(), i.client_id),
            format!("Edit {}", i.name),
        ),
        None => (
            format!("{}/integrations", ctx.base()),
            "Create a custom integration".to_owned(),
        ),
    };
    let seconds = |ttl: Option<u32>| ttl.map(|t| t.to_string()).unwrap_or_default();
    NewPage {
        nav: ctx.nav(state, None, error),
        action,
        heading,
        name: form
            .map(|f| f.name.clone())
            .or_else(|| editing.map(|i| i.name.clone()))
            .unwrap_or_default(),
        redirect_uris: form
            .map(|f| f.redirect_uris.clone())
            .or_else(|| {
                editing.map(|i| {
                    i.redirect_uris
                        .iter()
                        .map(|u| u.as_str())
                        .collect::<Vec<_>>()
                        .join("\n")
                })
            })
            .unwrap_or_default(),
        scopes: Scope::ALL
            .iter()
            .map(|s| (s.as_str(), s.description(), chosen(*s)))
            .collect(),
        refresh_on_client_credentials: match (form, editing) {
            (Some(f), _) => f.refresh_on_client_credentials.is_some(),
            (None, Some(i)) => i.refresh_on_client_credentials,
            (None, None) => true,
        },
        require_pkce: match (form, editing) {
            (Some(f), _) => f.require_pkce.is_some(),
            (None, Some(i)) => i.require_pkce,
            (None, None) => true,
        },
        access_token_ttl: form
            .map(|f| f.access_token_ttl.clone())
            .unwrap_or_else(|| seconds(editing.and_then(|i| i.access_token_ttl))),
        refresh_token_ttl: form
            .map(|f| f.refresh_token_ttl.clone())
            .unwrap_or_else(|| seconds(editing.and_then(|i| i.refresh_token_ttl))),
    }
}

pub async fn new(
    State(state): State<AppState>,
    browser: Browser,
    Path(account): Path<String>,
) -> Response {
    let ctx = match Ctx::load(&state, browser, &account).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    if !ctx.role.can_manage() {
        return error_page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Only owners and admins can create integrations.",
            None,
        );
    }
    let page = new_page(&ctx, &state, None, None, None);
    show(ctx, &page)
}

#[derive(Deserialize)]
pub struct CreateForm {
    csrf: String,
    name: String,
    redirect_uris: String,
    #[serde(default)]
    scope: Vec<String>,
    refresh_on_client_credentials: Option<String>,
    require_pkce: Option<String>,
    #[serde(default)]
    access_token_ttl: String,
    #[serde(default)]
    refresh_token_ttl: String,
}

fn optional_seconds(text: &str, what: &str) -> Result<Option<u32>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| format!("{what} must be a whole number of seconds"))
}

/// The settings the form asks for, or why they are refused.
fn settings_of(form: &CreateForm) -> Result<IntegrationSettings, String> {
    let uris: Vec<String> = form
        .redirect_uris
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let access = optional_seconds(&form.access_token_ttl, "The access-token lifetime")?;
    let refresh = optional_seconds(&form.refresh_token_ttl, "The refresh-token lifetime")?;
    IntegrationSettings::new(
        &form.name,
        &uris,
        &form.scope.join(" "),
        form.refresh_on_client_credentials.is_some(),
        form.require_pkce.is_some(),
    )
    .and_then(|s| s.with_lifetimes(access, refresh))
    .map_err(|e| e.to_string())
}

/// The form again, with what was typed and why it was refused (422).
fn refused_form(
    ctx: Ctx,
    state: &AppState,
    form: &CreateForm,
    editing: Option<&Integration>,
    message: String,
) -> Response {
    let page = new_page(&ctx, state, Some(form), editing, Some(message));
    (
        ctx.browser.jar,
        crate::web::Page::render(&page)
            .with_scripts()
            .with_status(StatusCode::UNPROCESSABLE_ENTITY),
    )
        .into_response()
}

pub async fn create(
    State(state): State<AppState>,
    browser: Browser,
    Path(account): Path<String>,
    WebForm(form): WebForm<CreateForm>,
) -> PageResult {
    let ctx = Ctx::load_to_manage(&state, browser, &account, &form.csrf).await?;
    let settings = match settings_of(&form) {
        Ok(settings) => settings,
        Err(message) => return Ok(refused_form(ctx, &state, &form, None, message)),
    };
    let created = match ctx
        .manager(&state)
        .create_integration(ctx.account.id, settings, None)
        .await
    {
        Ok(created) => created,
        Err(AppError::Invalid(message) | AppError::Conflict(message)) => {
            return Ok(refused_form(ctx, &state, &form, None, message));
        }
        Err(error) => return Err(error.into()),
    };
    state.catch_up().await;
    let client_id = created.integration.client_id;
    Ok(see_other(&format!(
        "{}/integrations/{client_id}?notice=created",
        ctx.base()
    )))
}

pub async fn edit(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id)): Path<(String, String)>,
) -> PageResult {
    let ctx = Ctx::load(&state, browser, &account).await?;
    ctx.require_role_to_manage()?;
    let integration = find(&state, &ctx, &client_id).await?;
    let page = new_page(&ctx, &state, None, Some(&integration), None);
    Ok(show(ctx, &page))
}

pub async fn update(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id)): Path<(String, String)>,
    WebForm(form): WebForm<CreateForm>,
) -> PageResult {
    let (ctx, integration) = for_action(&state, browser, &account, &client_id, &form.csrf).await?;
    let settings = match settings_of(&form) {
        Ok(settings) => settings,
        Err(message) => {
            return Ok(refused_form(
                ctx,
                &state,
                &form,
                Some(&integration),
                message,
            ));
        }
    };
    let updated = ctx
        .manager(&state)
        .update_integration(integration.clone(), settings)
        .await;
    match updated {
        Ok(_) => {
            state.catch_up().await;
            Ok(see_other(&format!(
                "{}/integrations/{client_id}?notice=updated",
                ctx.base()
            )))
        }
        Err(AppError::Invalid(message) | AppError::Conflict(message)) => Ok(refused_form(
            ctx,
            &state,
            &form,
            Some(&integration),
            message,
        )),
        Err(error) => Err(error.into()),
    }
}

/// The account's integration with this client_id; another account's is not found.
async fn find(state: &AppState, ctx: &Ctx, client_id: &str) -> Result<Integration, PageError> {
    Ok(ctx
        .manager(state)
        .integration(Some(ctx.account.id), client_id)
        .await?)
}

async fn detail_page(
    state: &AppState,
    ctx: Ctx,
    integration: Integration,
    secret: Option<String>,
    notice: Option<String>,
) -> Response {
    let last_used = state
        .store
        .integration_last_used(integration.id)
        .await
        .ok()
        .flatten();
    let members = state
        .store
        .account_members(ctx.account.id)
        .await
        .unwrap_or_default();
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
    let page = DetailPage {
        acting_user,
        acting_choices,
        is_owner: ctx.role == hubgate_core::account::Role::Owner,
        nav: ctx.nav(state, notice, None),
        name: integration.name.clone(),
        client_id: integration.client_id.to_string(),
        secret,
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
    };
    show(ctx, &page)
}

/// What the list and the detail page say after a redirect (`?notice=`).
#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn notice_text(notice: Option<&str>) -> Option<String> {
    let text = match notice? {
        "created" => "Created. Reveal the secret below and keep it somewhere safe.",
        "updated" => "Saved. Narrower scopes apply to tokens already issued too.",
        "enabled" => "Enabled. Tokens issued before it was disabled stay revoked.",
        "disabled" => "Disabled. Its client cannot authenticate and its tokens no longer work.",
        "deleted" => "Deleted. Its tokens no longer work.",
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
    Ok(detail_page(&state, ctx, integration, None, notice).await)
}

/// Loads the context and the integration for a management action.
async fn for_action(
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

pub async fn reveal(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id)): Path<(String, String)>,
    WebForm(form): WebForm<CsrfForm>,
) -> PageResult {
    let (ctx, integration) = for_action(&state, browser, &account, &client_id, &form.csrf).await?;
    let secret = ctx.manager(&state).reveal_secret(&integration).await?;
    let secret = secret.expose().to_owned();
    Ok(detail_page(&state, ctx, integration, Some(secret), None).await)
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
    Ok(detail_page(&state, ctx, rotated.integration, Some(secret), Some(notice)).await)
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
    Ok(see_other(&format!(
        "{}/integrations/{client_id}?notice={notice}",
        ctx.base()
    )))
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
    Ok(detail_page(&state, ctx, changed, None, Some(notice.into())).await)
}
