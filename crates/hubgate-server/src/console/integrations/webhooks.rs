//! The Webhooks section of an integration's page: its endpoints, adding one
//! (its signing secret shown once), rotating a secret, disabling, enabling
//! and deleting one. An endpoint's delivery log is in `deliveries`.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hubgate_core::event::EventType;
use hubgate_core::integration::Integration;
use hubgate_core::scope::Scope;
use hubgate_core::webhook::{ROTATION_OVERLAP, WebhookEndpoint, WebhookSecret};
use serde::Deserialize;

use super::{Shown, detail_page_with, detail_url, find, for_action};
use crate::app::AppError;
use crate::app::webhooks::{WebhookChange, describe_filter};
use crate::console::{CsrfForm, Ctx, Nav, show, when};
use crate::state::AppState;
use crate::web::{Browser, PageError, PageResult, WebForm, see_other};

/// One endpoint as the console shows it.
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub events: String,
    pub enabled: bool,
    /// Why the server disabled it: its owner must see this.
    pub disabled_reason: Option<String>,
    /// Until when its rotated-out secret still signs beside the new one.
    pub previous_until: Option<String>,
    pub created: String,
}

impl EndpointRow {
    pub fn of(endpoint: &WebhookEndpoint) -> Self {
        Self {
            id: endpoint.id.to_string(),
            url: endpoint.url.clone(),
            events: describe_filter(&endpoint.events),
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason.clone(),
            previous_until: endpoint
                .previous_until
                .filter(|until| *until > hubgate_core::now())
                .map(|until| when(Some(until))),
            created: when(Some(endpoint.created_at)),
        }
    }
}

/// A signing secret just issued (created or rotated), shown this once.
pub struct IssuedSecret {
    pub endpoint: String,
    pub secret: String,
}

/// What the section shows besides the endpoints after an action: a secret
/// just issued, or the add form as it was refused.
#[derive(Default)]
pub struct WebhookExtras {
    issued: Option<IssuedSecret>,
    refused: Option<AddForm>,
}

/// The section as the template reads it.
pub struct WebhookSection {
    pub endpoints: Vec<EndpointRow>,
    pub issued: Option<IssuedSecret>,
    /// The add form's URL and every event type, checked or not: empty for a
    /// new form, as typed after a refusal.
    pub url: String,
    pub event_types: Vec<(&'static str, bool)>,
    /// The server delivers to private addresses (`--webhook-allow-private`).
    pub allow_private: bool,
    /// Why no endpoint of the integration receives anything now.
    pub silenced: Option<&'static str>,
    pub overlap_hours: u64,
}

/// Why an integration's endpoints receive nothing now: deliveries are made
/// and sent only for enabled integrations that may read hubs.
pub fn silenced(integration: &Integration) -> Option<&'static str> {
    if !integration.enabled {
        Some("The integration is disabled: its endpoints receive no events until it is enabled.")
    } else if !integration.scopes.contains(Scope::HubsRead) {
        Some(
            "The integration lacks the hubs:read scope: its endpoints receive no events until it has it.",
        )
    } else {
        None
    }
}

/// The section of `integration`'s page (any member may look).
pub async fn section(
    state: &AppState,
    ctx: &Ctx,
    integration: &Integration,
    extras: WebhookExtras,
) -> Result<WebhookSection, PageError> {
    let endpoints = ctx.manager(state).webhooks(integration).await?;
    let checked = |kind: &EventType| {
        extras
            .refused
            .as_ref()
            .is_some_and(|form| form.events.iter().any(|e| e == kind.as_str()))
    };
    Ok(WebhookSection {
        endpoints: endpoints.iter().map(EndpointRow::of).collect(),
        issued: extras.issued,
        url: extras
            .refused
            .as_ref()
            .map(|form| form.url.clone())
            .unwrap_or_default(),
        event_types: EventType::ALL
            .iter()
            .map(|kind| (kind.as_str(), checked(kind)))
            .collect(),
        allow_private: state.config.events.allow_private,
        silenced: silenced(integration),
        overlap_hours: ROTATION_OVERLAP.as_secs() / 3600,
    })
}

fn issued(endpoint: &WebhookEndpoint, secret: &WebhookSecret) -> WebhookExtras {
    WebhookExtras {
        issued: Some(IssuedSecret {
            endpoint: endpoint.id.to_string(),
            secret: secret.expose(),
        }),
        refused: None,
    }
}

#[derive(Deserialize)]
pub struct AddForm {
    csrf: String,
    url: String,
    /// Checked event types; none means all.
    #[serde(default)]
    events: Vec<String>,
}

pub async fn create(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id)): Path<(String, String)>,
    WebForm(form): WebForm<AddForm>,
) -> PageResult {
    let (ctx, integration) = for_action(&state, browser, &account, &client_id, &form.csrf).await?;
    let created = ctx
        .manager(&state)
        .create_webhook(
            &integration,
            &form.url,
            &form.events,
            state.config.events.allow_private,
        )
        .await;
    match created {
        Ok(created) => {
            let shown = Shown {
                notice: Some("Added. Its signing secret is below, shown only this once.".into()),
                webhooks: issued(&created.endpoint, &created.secret),
                ..Shown::default()
            };
            detail_page_with(&state, ctx, integration, shown).await
        }
        // A bad or private URL, an unknown type, too many: the form again.
        Err(AppError::Invalid(message)) => {
            let shown = Shown {
                error: Some(format!("The endpoint was not added: {message}.")),
                webhooks: WebhookExtras {
                    issued: None,
                    refused: Some(form),
                },
                ..Shown::default()
            };
            let mut page = detail_page_with(&state, ctx, integration, shown).await?;
            *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(page)
        }
        Err(error) => Err(error.into()),
    }
}

pub async fn rotate(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id, webhook_id)): Path<(String, String, String)>,
    WebForm(form): WebForm<CsrfForm>,
) -> PageResult {
    let (ctx, integration) = for_action(&state, browser, &account, &client_id, &form.csrf).await?;
    let rotated = ctx
        .manager(&state)
        .rotate_webhook_secret(&integration, &webhook_id)
        .await?;
    let hours = ROTATION_OVERLAP.as_secs() / 3600;
    let shown = Shown {
        notice: Some(format!(
            "Rotated. The new secret is below, shown only this once; the old one keeps \
             signing deliveries beside it for {hours} hours, so your receiver can switch over."
        )),
        webhooks: issued(&rotated.endpoint, &rotated.secret),
        ..Shown::default()
    };
    detail_page_with(&state, ctx, integration, shown).await
}

async fn set_enabled(
    state: AppState,
    browser: Browser,
    (account, client_id, webhook_id): (String, String, String),
    csrf: String,
    enabled: bool,
) -> PageResult {
    let (ctx, integration) = for_action(&state, browser, &account, &client_id, &csrf).await?;
    let change = WebhookChange {
        enabled: Some(enabled),
        ..WebhookChange::default()
    };
    ctx.manager(&state)
        .update_webhook(
            &integration,
            &webhook_id,
            change,
            state.config.events.allow_private,
        )
        .await?;
    let notice = if enabled {
        "webhook_enabled"
    } else {
        "webhook_disabled"
    };
    Ok(see_other(&detail_url(&ctx, &client_id, notice)))
}

pub async fn disable(
    State(state): State<AppState>,
    browser: Browser,
    Path(path): Path<(String, String, String)>,
    WebForm(form): WebForm<CsrfForm>,
) -> PageResult {
    set_enabled(state, browser, path, form.csrf, false).await
}

pub async fn enable(
    State(state): State<AppState>,
    browser: Browser,
    Path(path): Path<(String, String, String)>,
    WebForm(form): WebForm<CsrfForm>,
) -> PageResult {
    set_enabled(state, browser, path, form.csrf, true).await
}

#[derive(Template)]
#[template(path = "webhook_delete.html")]
struct DeletePage {
    nav: Nav,
    client_id: String,
    id: String,
    url: String,
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id, webhook_id)): Path<(String, String, String)>,
) -> PageResult {
    let ctx = Ctx::load(&state, browser, &account).await?;
    ctx.require_role_to_manage()?;
    let integration = find(&state, &ctx, &client_id).await?;
    let endpoint = ctx
        .manager(&state)
        .webhook(&integration, &webhook_id)
        .await?;
    let page = DeletePage {
        nav: ctx.nav(&state, None, None),
        client_id,
        id: endpoint.id.to_string(),
        url: endpoint.url,
    };
    Ok(show(ctx, &page))
}

pub async fn delete(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id, webhook_id)): Path<(String, String, String)>,
    WebForm(form): WebForm<CsrfForm>,
) -> PageResult {
    let (ctx, integration) = for_action(&state, browser, &account, &client_id, &form.csrf).await?;
    ctx.manager(&state)
        .delete_webhook(&integration, &webhook_id)
        .await?;
    Ok(see_other(&detail_url(&ctx, &client_id, "webhook_deleted")))
}
