//! The settings form of an integration: create one, or edit one's settings.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hubgate_core::integration::{Integration, IntegrationSettings};
use hubgate_core::scope::Scope;
use serde::Deserialize;

use super::{detail_url, find, for_action};
use crate::app::AppError;
use crate::console::{Ctx, Nav, show};
use crate::state::AppState;
use crate::web::{Browser, PageResult, WebForm, error_page, see_other};

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
) -> PageResult {
    let ctx = Ctx::load(&state, browser, &account).await?;
    if !ctx.role.can_manage() {
        return Ok(error_page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Only owners and admins can create integrations.",
            None,
        ));
    }
    let page = new_page(&ctx, &state, None, None, None);
    Ok(show(ctx, &page))
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
    Ok(see_other(&detail_url(
        &ctx,
        &client_id.to_string(),
        "created",
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
            Ok(see_other(&detail_url(
                &ctx,
                &client_id.to_string(),
                "updated",
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
