//! One webhook endpoint's delivery log, newest first and paged by event id,
//! and resending a delivery from it.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use hubgate_core::event::{event_id, parse_event_id};
use hubgate_store::{DeliveryRecord, DeliveryStatus};
use serde::Deserialize;

use super::webhooks::{EndpointRow, silenced};
use super::{find, for_action};
use crate::app::AppError;
use crate::console::{Ctx, Nav, show, when};
use crate::state::AppState;
use crate::web::{Browser, PageResult, WebForm, error_page, see_other, urls};

/// Deliveries on one page of the log.
const PAGE_SIZE: u32 = 50;

/// One delivery as the log shows it.
struct DeliveryRow {
    event_id: String,
    kind: &'static str,
    status: &'static str,
    attempts: u32,
    response_status: String,
    latency_ms: String,
    error: String,
    /// When a pending delivery is tried next; empty for the others.
    next_attempt: String,
    created: String,
}

impl DeliveryRow {
    fn of(record: &DeliveryRecord) -> Self {
        let or_dash = |value: Option<String>| value.unwrap_or_else(|| "–".into());
        Self {
            event_id: event_id(record.event_seq),
            kind: record.kind.as_str(),
            status: record.status.as_str(),
            attempts: record.attempts,
            response_status: or_dash(record.response_status.map(|s| s.to_string())),
            latency_ms: or_dash(record.latency_ms.map(|ms| ms.to_string())),
            error: record.error.clone().unwrap_or_default(),
            next_attempt: match record.status {
                DeliveryStatus::Pending => when(record.next_attempt_at),
                DeliveryStatus::Delivered | DeliveryStatus::Failed => String::new(),
            },
            created: when(Some(record.created_at)),
        }
    }
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct LogPage {
    nav: Nav,
    client_id: String,
    integration_name: String,
    endpoint: EndpointRow,
    /// Why nothing is sent to the endpoint now, resends included.
    held: Option<&'static str>,
    rows: Vec<DeliveryRow>,
    /// This page's `before` (empty for the newest), which Resend comes back to.
    before: String,
    /// The next page's `before`, when there may be one.
    older: Option<String>,
    retention_hours: u64,
}

#[derive(Deserialize, Default)]
pub struct LogQuery {
    before: Option<String>,
    notice: Option<String>,
}

/// The log's URL, on the page before `before`, with a notice.
fn log_url(ctx: &Ctx, client_id: &str, webhook_id: &str, before: &str, notice: &str) -> String {
    let mut url = urls::webhook(ctx.account.id, client_id, webhook_id);
    let query: Vec<String> = [("notice", notice), ("before", before)]
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query.join("&"));
    }
    url
}

pub async fn log(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id, webhook_id)): Path<(String, String, String)>,
    query: Result<Query<LogQuery>, QueryRejection>,
) -> PageResult {
    let ctx = Ctx::load(&state, browser, &account).await?;
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let integration = find(&state, &ctx, &client_id).await?;
    let manager = ctx.manager(&state);
    let endpoint = manager.webhook(&integration, &webhook_id).await?;
    let before = query.before.unwrap_or_default();
    let records = manager
        .webhook_deliveries(
            &integration,
            &webhook_id,
            Some(before.as_str()).filter(|b| !b.is_empty()),
            PAGE_SIZE,
        )
        .await;
    let records = match records {
        Ok(records) => records,
        Err(AppError::Invalid(message)) => {
            let newest = log_url(&ctx, &client_id, &webhook_id, "", "");
            return Ok(error_page(
                StatusCode::BAD_REQUEST,
                "Check the link",
                &message,
                Some((newest, "The newest deliveries".into())),
            ));
        }
        Err(error) => return Err(error.into()),
    };
    let held = if endpoint.enabled {
        silenced(&integration)
    } else {
        Some(
            "The endpoint is disabled: nothing is sent to it, resent deliveries included, until it is enabled.",
        )
    };
    let notice = match query.notice.as_deref() {
        Some("queued") if held.is_some() => {
            Some("Queued. It waits until it can be sent (see above).")
        }
        Some("queued") => Some("Queued. It is sent again within seconds."),
        _ => None,
    };
    let older = (records.len() == PAGE_SIZE as usize)
        .then(|| records.last().map(|r| event_id(r.event_seq)))
        .flatten();
    let page = LogPage {
        nav: ctx.nav(&state, notice.map(str::to_owned), None),
        client_id,
        integration_name: integration.name.clone(),
        endpoint: EndpointRow::of(&endpoint),
        held,
        rows: records.iter().map(DeliveryRow::of).collect(),
        before,
        older,
        retention_hours: state.config.events.retention.as_secs() / 3600,
    };
    Ok(show(ctx, &page))
}

#[derive(Deserialize)]
pub struct ResendForm {
    csrf: String,
    /// The log page the button was on, to come back to.
    #[serde(default)]
    before: String,
}

pub async fn resend(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, client_id, webhook_id, event)): Path<(String, String, String, String)>,
    WebForm(form): WebForm<ResendForm>,
) -> PageResult {
    let (ctx, integration) = for_action(&state, browser, &account, &client_id, &form.csrf).await?;
    ctx.manager(&state)
        .resend_webhook_delivery(&integration, &webhook_id, &event)
        .await?;
    // Only an event id goes back into the Location header.
    let before = if parse_event_id(&form.before).is_some() {
        form.before.as_str()
    } else {
        ""
    };
    Ok(see_other(&log_url(
        &ctx,
        &client_id,
        &webhook_id,
        before,
        "queued",
    )))
}
