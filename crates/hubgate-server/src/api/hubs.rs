//! `/api/v1/hubs`: list, read, state, and PATCH of name, room and desired settings.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use hubgate_api::{Hub, HubPatch, HubStateView, Page};
use hubgate_core::hub::{HubChange, parse_kind};
use hubgate_core::ids::HubId;
use hubgate_core::scope::Scope;
use hubgate_store::HubFilter;
use serde::Deserialize;

use super::auth::Principal;
use super::error::ApiError;
use crate::state::AppState;

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    kind: Option<String>,
    online: Option<bool>,
    room: Option<String>,
}

/// Ids are opaque; one that does not parse names no hub at all.
fn hub_id(raw: &str) -> Result<HubId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("hub"))
}

pub async fn list(
    principal: Principal,
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<Hub>>, ApiError> {
    principal.require(Scope::HubsRead)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let after = query
        .cursor
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse::<HubId>()
                .map_err(|_| ApiError::bad_request("the cursor is not one this API returned"))
        })
        .transpose()?;
    let kind = query
        .kind
        .map(|k| parse_kind(&k).ok_or_else(|| ApiError::bad_request("kind must be hub or switch")))
        .transpose()?;
    let filter = HubFilter {
        kind,
        online: query.online,
        room: query.room,
    };
    let mut hubs = state
        .store
        .list_hubs(principal.account(), &filter, after, limit + 1)
        .await?;
    let next_cursor = if hubs.len() > limit as usize {
        hubs.truncate(limit as usize);
        hubs.last().map(|h| h.id.to_string())
    } else {
        None
    };
    Ok(Json(Page {
        items: hubs.iter().map(|h| h.to_wire()).collect(),
        next_cursor,
    }))
}

pub async fn get(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Hub>, ApiError> {
    principal.require(Scope::HubsRead)?;
    let hub = state
        .store
        .hub(principal.account(), hub_id(&id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("hub"))?;
    Ok(Json(hub.to_wire()))
}

pub async fn state(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<HubStateView>, ApiError> {
    principal.require(Scope::HubsRead)?;
    let hub = state
        .store
        .hub(principal.account(), hub_id(&id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("hub"))?;
    Ok(Json(HubStateView {
        id: hub.id.to_string(),
        online: hub.online,
        last_seen: hub.last_seen,
        state: hub.state,
        desired: hub.desired,
    }))
}

pub async fn patch(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<HubPatch>, JsonRejection>,
) -> Result<Json<Hub>, ApiError> {
    principal.require(Scope::HubsWrite)?;
    let id = hub_id(&id)?;
    let Json(patch) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let change =
        HubChange::from_patch(patch).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let hub = state
        .store
        .patch_hub(principal.account(), id, &change, hubgate_core::now())
        .await?
        .ok_or_else(|| ApiError::not_found("hub"))?;
    tracing::info!(client_id = %principal.claims.client_id, hub = %hub.id, "hub changed");
    Ok(Json(hub.to_wire()))
}
