//! One hub: what it reported beside what integrations asked of it, whether
//! it is connected, and its device credential (issued, replaced, revoked).

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Path, State};
use hubgate_core::hub::Hub;
use hubgate_core::ids::HubId;
use serde_json::Value;

use super::{CsrfForm, Ctx, Nav, show};
use crate::app::AppError;
use crate::state::AppState;
use crate::web::{Browser, PageResult, WebForm};

/// One setting's row: its reported and desired values.
pub struct SettingRow {
    key: String,
    reported: String,
    desired: String,
    /// Desired but not reported (yet).
    pending: bool,
}

#[derive(Template)]
#[template(path = "hub.html")]
struct HubPage {
    nav: Nav,
    id: String,
    name: String,
    serial: String,
    kind: &'static str,
    room: String,
    online: bool,
    last_seen: String,
    has_credential: bool,
    /// A credential just issued, shown once.
    secret: Option<String>,
    reported_version: i64,
    desired_version: i64,
    settings: Vec<SettingRow>,
}

fn shown(value: Option<&Value>) -> String {
    match value {
        None => "–".into(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// Every key either document has, reported beside desired.
fn setting_rows(hub: &Hub) -> Vec<SettingRow> {
    let delta = hub.delta();
    let keys: BTreeSet<&String> = hub.state.keys().chain(hub.desired.keys()).collect();
    keys.into_iter()
        .map(|key| SettingRow {
            key: key.clone(),
            reported: shown(hub.state.get(key)),
            desired: shown(hub.desired.get(key)),
            pending: delta.contains_key(key),
        })
        .collect()
}

async fn hub_page(
    state: &AppState,
    ctx: Ctx,
    id: HubId,
    secret: Option<String>,
    notice: Option<String>,
) -> PageResult {
    let hub = state
        .store
        .hub(ctx.account.id, id)
        .await
        .map_err(AppError::from)?
        .ok_or(AppError::NotFound("hub"))?;
    let has_credential = state
        .store
        .device_of_hub(id)
        .await
        .map_err(AppError::from)?
        .is_some_and(|d| d.credential_digest.is_some());
    let page = HubPage {
        nav: ctx.nav(state, notice, None),
        id: hub.id.to_string(),
        settings: setting_rows(&hub),
        name: hub.name,
        serial: hub.serial,
        kind: hub.kind.as_str(),
        room: hub.room.unwrap_or_default(),
        online: hub.online,
        last_seen: super::when(hub.last_seen),
        has_credential,
        secret,
        reported_version: hub.reported_version,
        desired_version: hub.desired_version,
    };
    Ok(show(ctx, &page))
}

fn parse_hub(raw: &str) -> Result<HubId, AppError> {
    raw.parse().map_err(|_| AppError::NotFound("hub"))
}

pub async fn detail(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, hub)): Path<(String, String)>,
) -> PageResult {
    let ctx = Ctx::load(&state, browser, &account).await?;
    hub_page(&state, ctx, parse_hub(&hub)?, None, None).await
}

/// Issues (or replaces) the device credential and shows it once.
pub async fn issue_credential(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, hub)): Path<(String, String)>,
    WebForm(form): WebForm<CsrfForm>,
) -> PageResult {
    let ctx = Ctx::load_to_manage(&state, browser, &account, &form.csrf).await?;
    let id = parse_hub(&hub)?;
    let (_, secret) = ctx.manager(&state).issue_device_credential(id).await?;
    // A device connected here with the old credential goes now.
    state.catch_up().await;
    let secret = Some(secret.expose().to_owned());
    let notice = Some("Issued. A device that used an earlier credential is disconnected.".into());
    hub_page(&state, ctx, id, secret, notice).await
}

pub async fn revoke_credential(
    State(state): State<AppState>,
    browser: Browser,
    Path((account, hub)): Path<(String, String)>,
    WebForm(form): WebForm<CsrfForm>,
) -> PageResult {
    let ctx = Ctx::load_to_manage(&state, browser, &account, &form.csrf).await?;
    let id = parse_hub(&hub)?;
    ctx.manager(&state).revoke_device_credential(id).await?;
    state.catch_up().await;
    let notice = Some("Revoked. The device is disconnected and cannot connect again.".into());
    hub_page(&state, ctx, id, None, notice).await
}
