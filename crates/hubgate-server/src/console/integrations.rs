//! Account → Integrations → Custom Integrations: list, create, view (reveal
//! the secret), rotate with a grace period, disable/enable, delete.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hubgate_core::integration::{Integration, IntegrationSettings};
use hubgate_core::scope::Scope;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

use super::{CsrfForm, Ctx, Nav, show, unavailable};
use crate::manage::{self, ManageError};
use crate::state::AppState;
use crate::web::{Browser, WebForm, error_page, see_other};

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
        nav: ctx.nav(&state, None, None),
        rows,
    };
    show(ctx, &page)
}

fn new_page(
    ctx: &Ctx,
    state: &AppState,
    form: Option<&CreateForm>,
    error: Option<String>,
) -> NewPage {
    let chosen = |scope: Scope| form.is_none_or(|f| f.scope.iter().any(|s| s == scope.as_str()));
    NewPage {
        nav: ctx.nav(state, None, error),
        name: form.map(|f| f.name.clone()).unwrap_or_default(),
        redirect_uris: form.map(|f| f.redirect_uris.clone()).unwrap_or_default(),
        scopes: Scope::ALL
            .iter()
            .map(|s| (s.as_str(), s.description(), chosen(*s)))
            .collect(),
        refresh_on_client_credentials: form
            .is_none_or(|f| f.refresh_on_client_credentials.is_some()),
        require_pkce: form.is_none_or(|f| f.require_pkce.is_some()),
        access_token_ttl: form.map(|f| f.access_token_ttl.clone()).unwrap_or_default(),
        refresh_token_ttl: form
            .map(|f| f.refresh_token_ttl.clone())
            .unwrap_or_default(),
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
    let page = new_page(&ctx, &state, None, None);
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

pub async fn create(
    State(state): State<AppState>,
    browser: Browser,
    Path(account): Path<String>,
    WebForm(form): WebForm<CreateForm>,
) -> Response {
    let ctx = match Ctx::load_to_manage(&state, browser, &account, &form.csrf).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let uris: Vec<String> = form
        .redirect_uris
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let settings = optional_seconds(&form.access_token_ttl, "The access-token lifetime")
        .and_then(|access| {
            Ok((
                access,
                optional_seconds(&form.refresh_token_ttl, "The refresh-token lifetime")?,
            ))
        })
        .and_then(|(access, refresh)| {
            IntegrationSettings::new(
                &form.name,
                &uris,
                &form.scope.join(" "),
                form.refresh_on_client_credentials.is_some(),
                form.require_pkce.is_some(),
            )
            .and_then(|s| s.with_lifetimes(access, refresh))
            .map_err(|e| e.to_string())
        });
    let settings = match settings {
        Ok(settings) => settings,
        Err(message) => {
            let page = new_page(&ctx, &state, Some(&form), Some(message));
            return (
                ctx.browser.jar,
                crate::web::Page::render(&page)
                    .with_scripts()
                    .with_status(StatusCode::UNPROCESSABLE_ENTITY),
            )
                .into_response();
        }
    };
    let now = hubgate_core::now();
    let created = match manage::create_integration(
        state.store.as_ref(),
        &state.master,
        ctx.account.id,
        Some(ctx.user.id),
        settings,
        now,
    )
    .await
    {
        Ok(created) => created,
        Err(error) => return manage_error(error),
    };
    let client_id = created.integration.client_id.to_string();
    ctx.audit(
        &state,
        "integration.created",
        &client_id,
        &created.integration.name,
    )
    .await;
    see_other(&format!("{}/integrations/{client_id}", ctx.base()))
}

fn manage_error(error: ManageError) -> Response {
    match error {
        ManageError::Invalid(message) | ManageError::Conflict(message) => error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not saved",
            &message,
            None,
        ),
        ManageError::NotFound(what) => error_page(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("No such {what}."),
            None,
        ),
        ManageError::Store(error) => {
            tracing::error!(%error, "store error in the console");
            unavailable()
        }
    }
}

/// The account's integration with this client_id; another account's is not found.
async fn find(state: &AppState, ctx: &Ctx, client_id: &str) -> Result<Integration, Response> {
    match manage::integration_by_client_id(state.store.as_ref(), client_id).await {
        Ok(integration) if integration.account_id == ctx.account.id => Ok(integration),
        Ok(_) | Err(ManageError::NotFound(_)) => Err(error_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "This account has no such integration.",
            None,
        )),
        Err(error) => Err(manage_error(error)),
    }
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

pub async fn detail(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id)): Path<(String, String)>,
) -> Response {
    let ctx = match Ctx::load(&state, browser, &account).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    match find(&state, &ctx, &client_id).await {
        Ok(integration) => detail_page(&state, ctx, integration, None, None).await,
        Err(response) => response,
    }
}

/// Loads the context and the integration for a management action.
async fn for_action(
    state: &AppState,
    browser: Browser,
    account: &str,
    client_id: &str,
    csrf: &str,
) -> Result<(Ctx, Integration), Response> {
    let ctx = Ctx::load_to_manage(state, browser, account, csrf).await?;
    let integration = find(state, &ctx, client_id).await?;
    Ok((ctx, integration))
}

pub async fn reveal(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id)): Path<(String, String)>,
    WebForm(form): WebForm<CsrfForm>,
) -> Response {
    let (ctx, integration) =
        match for_action(&state, browser, &account, &client_id, &form.csrf).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    let secret = match manage::reveal_secret(&state.master, &integration) {
        Ok(secret) => secret.expose().to_owned(),
        Err(error) => return manage_error(error),
    };
    ctx.audit(&state, "integration.secret_revealed", &client_id, "")
        .await;
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
) -> Response {
    let (ctx, integration) =
        match for_action(&state, browser, &account, &client_id, &form.csrf).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    let chosen = if form.grace_seconds.trim().is_empty() {
        form.grace.trim()
    } else {
        form.grace_seconds.trim()
    };
    let Ok(grace) = chosen.parse::<u32>() else {
        return error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not rotated",
            "The grace period must be a number of seconds.",
            None,
        );
    };
    let now = hubgate_core::now();
    let rotated = match manage::rotate_secret(
        state.store.as_ref(),
        &state.master,
        integration,
        time::Duration::seconds(grace.into()),
        now,
    )
    .await
    {
        Ok(rotated) => rotated,
        Err(error) => return manage_error(error),
    };
    let _ = state
        .registry
        .refresh_integration(state.store.as_ref(), &state.master, rotated.integration.id)
        .await;
    let detail = if grace == 0 {
        "no grace: earlier tokens revoked".to_owned()
    } else {
        format!("old secret valid {grace} s")
    };
    ctx.audit(&state, "integration.secret_rotated", &client_id, &detail)
        .await;
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
) -> Response {
    let (ctx, integration) = match for_action(&state, browser, &account, &client_id, &csrf).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let id = integration.id;
    if let Err(error) = manage::set_enabled(state.store.as_ref(), integration, enabled).await {
        return manage_error(error);
    }
    let _ = state
        .registry
        .refresh_integration(state.store.as_ref(), &state.master, id)
        .await;
    let action = if enabled {
        "integration.enabled"
    } else {
        "integration.disabled"
    };
    ctx.audit(&state, action, &client_id, "").await;
    see_other(&format!("{}/integrations/{client_id}", ctx.base()))
}

pub async fn disable(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id)): Path<(String, String)>,
    WebForm(form): WebForm<CsrfForm>,
) -> Response {
    set_enabled(state, browser, account, client_id, form.csrf, false).await
}

pub async fn enable(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id)): Path<(String, String)>,
    WebForm(form): WebForm<CsrfForm>,
) -> Response {
    set_enabled(state, browser, account, client_id, form.csrf, true).await
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id)): Path<(String, String)>,
) -> Response {
    let ctx = match Ctx::load(&state, browser, &account).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    if !ctx.role.can_manage() {
        return error_page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Only owners and admins can delete integrations.",
            None,
        );
    }
    let integration = match find(&state, &ctx, &client_id).await {
        Ok(integration) => integration,
        Err(response) => return response,
    };
    let page = DeletePage {
        nav: ctx.nav(&state, None, None),
        name: integration.name,
        client_id,
    };
    show(ctx, &page)
}

pub async fn delete(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id)): Path<(String, String)>,
    WebForm(form): WebForm<CsrfForm>,
) -> Response {
    let (ctx, integration) =
        match for_action(&state, browser, &account, &client_id, &form.csrf).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    if let Err(error) = manage::delete_integration(state.store.as_ref(), &integration).await {
        return manage_error(error);
    }
    // This node stops accepting its tokens now, not at the next poll.
    let _ = state
        .registry
        .refresh_integration(state.store.as_ref(), &state.master, integration.id)
        .await;
    ctx.audit(&state, "integration.deleted", &client_id, &integration.name)
        .await;
    see_other(&format!("{}/integrations", ctx.base()))
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
) -> Response {
    let (ctx, integration) =
        match for_action(&state, browser, &account, &client_id, &form.csrf).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    if ctx.role != hubgate_core::account::Role::Owner {
        return error_page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Only owners choose who an integration acts through.",
            None,
        );
    }
    let Ok(user) = form.user.parse::<hubgate_core::ids::UserId>() else {
        return manage_error(ManageError::NotFound("member"));
    };
    let changed = match manage::set_acting_user(state.store.as_ref(), integration, user).await {
        Ok(changed) => changed,
        Err(error) => return manage_error(error),
    };
    let _ = state
        .registry
        .refresh_integration(state.store.as_ref(), &state.master, changed.id)
        .await;
    ctx.audit(
        &state,
        "integration.acting_user_changed",
        &client_id,
        &user.to_string(),
    )
    .await;
    detail_page(
        &state,
        ctx,
        changed,
        None,
        Some("Its client_credentials tokens now act through the chosen member.".into()),
    )
    .await
}
