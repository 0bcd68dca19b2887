//! Read-only views: the account's hubs with state badges, and its audit log.

use askama::Template;
use axum::extract::{Path, Query, State};
use hubgate_core::hub::parse_kind;
use hubgate_store::HubFilter;
use serde::Deserialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

use super::{Ctx, Nav, show, unavailable};
use crate::state::AppState;
use crate::web::{Browser, PageResult};

pub struct HubRow {
    id: String,
    name: String,
    last_seen: String,
    kind: &'static str,
    room: String,
    online: bool,
    connected: String,
    active: String,
    mtrmode: String,
    serial: String,
}

#[derive(Template)]
#[template(path = "hubs.html")]
struct HubsPage {
    nav: Nav,
    hubs: Vec<HubRow>,
    kind: String,
    online: String,
    room: String,
}

#[derive(Deserialize, Default)]
pub struct HubQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    online: String,
    #[serde(default)]
    room: String,
}

fn show_value(value: Option<&Value>) -> String {
    match value {
        None => "–".into(),
        Some(Value::Array(ports)) => {
            let on = ports.iter().filter(|p| p.as_i64() == Some(1)).count();
            format!("{on} of {}", ports.len())
        }
        Some(other) => other.to_string().trim_matches('"').to_owned(),
    }
}

pub async fn hubs(
    State(state): State<AppState>,
    browser: Browser,
    Path(account): Path<String>,
    query: Result<Query<HubQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let ctx = Ctx::load(&state, browser, &account).await?;
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let filter = HubFilter {
        kind: parse_kind(&query.kind),
        online: match query.online.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        room: Some(query.room.trim().to_owned()).filter(|r| !r.is_empty()),
    };
    let Ok(hubs) = state
        .store
        .list_hubs(ctx.account.id, &filter, None, 500)
        .await
    else {
        return Ok(unavailable());
    };
    let rows = hubs
        .into_iter()
        .map(|hub| HubRow {
            id: hub.id.to_string(),
            last_seen: super::when(hub.last_seen),
            kind: hub.kind.as_str(),
            room: hub.room.clone().unwrap_or_default(),
            online: hub.online,
            connected: show_value(hub.state.get("connected")),
            active: show_value(hub.state.get("active")),
            mtrmode: show_value(hub.state.get("mtrmode")),
            serial: hub.serial,
            name: hub.name,
        })
        .collect();
    let page = HubsPage {
        nav: ctx.nav(&state, None, None),
        hubs: rows,
        kind: query.kind,
        online: query.online,
        room: query.room,
    };
    Ok(show(ctx, &page))
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Nav,
    events: Vec<AuditRow>,
}

/// One line of the audit log as the page shows it.
struct AuditRow {
    at: String,
    actor: String,
    action: String,
    subject: String,
    detail: String,
}

pub async fn audit(
    State(state): State<AppState>,
    browser: Browser,
    Path(account): Path<String>,
) -> PageResult {
    let ctx = Ctx::load(&state, browser, &account).await?;
    // Counted token events are written every half second: show them too.
    state.auditor.flush().await;
    let query = hubgate_store::AuditQuery {
        limit: 200,
        ..Default::default()
    };
    let events = ctx
        .manager(&state)
        .audit_log(ctx.account.id, &query)
        .await?;
    let events = events
        .entries
        .into_iter()
        .map(|entry| entry.event)
        .map(|e| AuditRow {
            at: e.at.format(&Rfc3339).unwrap_or_default(),
            actor: e.actor,
            action: e.action.to_string(),
            subject: e.subject,
            detail: e.detail,
        })
        .collect();
    let page = AuditPage {
        nav: ctx.nav(&state, None, None),
        events,
    };
    Ok(show(ctx, &page))
}
