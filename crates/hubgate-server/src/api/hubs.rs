//! `/api/v1/hubs`: list, read, state, and PATCH of name, room and desired settings.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use hubgate_api::{Hub, HubPatch, HubStateView, Page};
use hubgate_core::hub::{HubChange, parse_kind};
use hubgate_core::ids::HubId;
use hubgate_core::scope::Scope;
use hubgate_store::HubFilter;
use serde::Deserialize;

use super::auth::Principal;
use super::error::{ApiError, ApiJson};
use crate::app::Manager;
use crate::state::AppState;

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Hubs per page, 1 to 200.
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only hubs or only switches.
    #[param(value_type = Option<hubgate_api::HubKind>)]
    kind: Option<String>,
    /// Only hubs that are (or are not) online.
    online: Option<bool>,
    /// Only hubs in this room (exact name).
    room: Option<String>,
}

/// A hub of the principal's account, from this node's cache or the store.
/// A cached hub of another account is not found, exactly like a stored one.
async fn account_hub(
    state: &AppState,
    principal: &Principal,
    id: HubId,
) -> Result<std::sync::Arc<hubgate_core::hub::Hub>, ApiError> {
    page_hubs(state, principal.account(), &[id])
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("hub"))
}

/// Ids are opaque; one that does not parse names no hub at all.
fn hub_id(raw: &str) -> Result<HubId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("hub"))
}

/// The account's hubs and switches, oldest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/hubs", operation_id = "listHubs", tag = "Hubs",
    params(ListQuery),
    responses(
        (status = 200, description = "A page; follow `next_cursor` for the next", body = hubgate_api::Page<hubgate_api::Hub>),
        (status = 400, description = "`invalid_request`: a bad filter, limit or cursor", body = hubgate_api::ErrorBody),
        (status = 401, description = "`invalid_token`: missing, malformed, expired or revoked token", body = hubgate_api::ErrorBody), (status = 403, description = "`insufficient_scope`", body = hubgate_api::ErrorBody), (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["hubs:read"]), ("bearer" = [])),
)]
pub async fn list(
    principal: Principal,
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
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
    let mut ids = state
        .store
        .list_hub_ids(principal.account(), &filter, after, limit + 1)
        .await?;
    let next_cursor = if ids.len() > limit as usize {
        ids.truncate(limit as usize);
        ids.last().map(|id| id.to_string())
    } else {
        None
    };
    let hubs = page_hubs(&state, principal.account(), &ids).await?;
    let page = Page {
        items: hubs.iter().map(|h| h.as_wire()).collect(),
        next_cursor,
    };
    Ok(Json(page).into_response())
}

/// These hubs of the account, in the order asked: from this node's cache,
/// the rest read in one query and remembered. (A row per hub through sqlx's
/// SQLite worker was most of a list page's cost.) One not found (deleted,
/// or another account's) is left out.
async fn page_hubs(
    state: &AppState,
    account: hubgate_core::ids::AccountId,
    ids: &[HubId],
) -> Result<Vec<std::sync::Arc<hubgate_core::hub::Hub>>, ApiError> {
    let mut found: Vec<Option<std::sync::Arc<hubgate_core::hub::Hub>>> = ids
        .iter()
        .map(|id| state.registry.hub(*id).filter(|h| h.account_id == account))
        .collect();
    let missing: Vec<HubId> = ids
        .iter()
        .zip(&found)
        .filter(|(_, hub)| hub.is_none())
        .map(|(id, _)| *id)
        .collect();
    if !missing.is_empty() {
        let read: std::collections::HashMap<HubId, std::sync::Arc<hubgate_core::hub::Hub>> = state
            .store
            .hubs_by_ids(account, &missing)
            .await?
            .into_iter()
            .map(|hub| (hub.id, std::sync::Arc::new(hub)))
            .collect();
        for (slot, id) in found.iter_mut().zip(ids) {
            if slot.is_none()
                && let Some(hub) = read.get(id)
            {
                state.registry.remember_hub(hub.clone());
                *slot = Some(hub.clone());
            }
        }
    }
    Ok(found.into_iter().flatten().collect())
}

/// One hub: what it reported (`state`) beside what integrations asked of it (`desired`).
#[utoipa::path(get, path = "/api/v1/hubs/{id}", operation_id = "getHub", tag = "Hubs",
    params(("id" = String, Path, description = "The hub's id, `hub_…`")),
    responses(
        (status = 200, description = "The hub", body = hubgate_api::Hub),
        (status = 401, description = "`invalid_token`: missing, malformed, expired or revoked token", body = hubgate_api::ErrorBody), (status = 403, description = "`insufficient_scope`", body = hubgate_api::ErrorBody), (status = 404, description = "No such hub in this account (another account's hub is not found either)", body = hubgate_api::ErrorBody), (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["hubs:read"]), ("bearer" = [])),
)]
pub async fn get(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Hub>, ApiError> {
    principal.require(Scope::HubsRead)?;
    let hub = account_hub(&state, &principal, hub_id(&id)?).await?;
    Ok(Json(hub.to_wire()))
}

/// A hub's shadow: what it reported (Ochno's state object), what integrations
/// asked for, and the difference the hub has yet to apply, with versions.
#[utoipa::path(get, path = "/api/v1/hubs/{id}/state", operation_id = "getHubState", tag = "Hubs",
    params(("id" = String, Path, description = "The hub's id, `hub_…`")),
    responses(
        (status = 200, description = "The state", body = hubgate_api::HubStateView),
        (status = 401, description = "`invalid_token`: missing, malformed, expired or revoked token", body = hubgate_api::ErrorBody), (status = 403, description = "`insufficient_scope`", body = hubgate_api::ErrorBody), (status = 404, description = "No such hub in this account (another account's hub is not found either)", body = hubgate_api::ErrorBody), (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["hubs:read"]), ("bearer" = [])),
)]
pub async fn state(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<HubStateView>, ApiError> {
    principal.require(Scope::HubsRead)?;
    let hub = account_hub(&state, &principal, hub_id(&id)?).await?;
    Ok(Json(HubStateView {
        id: hub.id.to_string(),
        online: hub.online,
        last_seen: hub.last_seen,
        reported: hub.state.clone(),
        reported_version: hub.reported_version,
        desired: hub.desired.clone(),
        desired_version: hub.desired_version,
        delta: hub.delta(),
        state: hub.state.clone(),
    }))
}

/// Change a hub's name, room or desired settings. The reported `state` stays
/// what the hub last reported.
#[utoipa::path(patch, path = "/api/v1/hubs/{id}", operation_id = "updateHub", tag = "Hubs",
    params(("id" = String, Path, description = "The hub's id, `hub_…`")),
    request_body = hubgate_api::HubPatch,
    responses(
        (status = 200, description = "The changed hub", body = hubgate_api::Hub),
        (status = 400, description = "`invalid_request`: not JSON", body = hubgate_api::ErrorBody),
        (status = 401, description = "`invalid_token`: missing, malformed, expired or revoked token", body = hubgate_api::ErrorBody), (status = 403, description = "`insufficient_scope`", body = hubgate_api::ErrorBody), (status = 404, description = "No such hub in this account (another account's hub is not found either)", body = hubgate_api::ErrorBody),
        (status = 422, description = "`validation_failed`: an unknown field, a value of the wrong type or range, or an empty change", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["hubs:write"]), ("bearer" = [])),
)]
pub async fn patch(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<HubPatch>, JsonRejection>,
) -> Result<Json<Hub>, ApiError> {
    principal.require(Scope::HubsWrite)?;
    let id = hub_id(&id)?;
    let Json(patch) = body.map_err(json_rejection)?;
    let change =
        HubChange::from_patch(patch).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let hub = state
        .store
        .patch_hub(principal.account(), id, &change, hubgate_core::now())
        .await?
        .ok_or_else(|| ApiError::not_found("hub"))?;
    state
        .registry
        .remember_hub(std::sync::Arc::new(hub.clone()));
    // A device connected here gets the new desired state now; other nodes
    // learn of it from the change log.
    state.registry.hub_changes.note(hub.id);
    tracing::info!(client_id = %principal.claims.client_id, hub = %hub.id, "hub changed");
    Ok(Json(hub.to_wire()))
}

/// A body that is JSON but not a hub patch (an unknown field, a wrong type)
/// is `422` with serde's reason alone, as unknown `desired` keys are; a body
/// that is not JSON at all stays `400`.
pub(super) fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(error) => {
            let text = error.body_text();
            let reason = text
                .strip_prefix("Failed to deserialize the JSON body into the target type: ")
                .unwrap_or(&text);
            let reason = reason.split(" at line ").next().unwrap_or(reason);
            ApiError::unprocessable(reason.to_owned())
        }
        other => ApiError::bad_request(other.body_text()),
    }
}

/// Register a hub or switch by its serial (offline until it reports).
/// Renaming it or moving it to another room is a PATCH (`hubs:write`).
#[utoipa::path(post, path = "/api/v1/hubs", operation_id = "createHub", tag = "Hubs",
    request_body = hubgate_api::NewHub,
    responses(
        (status = 201, description = "The new hub", body = hubgate_api::Hub),
        (status = 400, description = "`invalid_request`: not JSON", body = hubgate_api::ErrorBody),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope`, or `access_denied`: the token's user is not an owner or admin", body = hubgate_api::ErrorBody),
        (status = 409, description = "`conflict`: a hub with this serial exists", body = hubgate_api::ErrorBody),
        (status = 422, description = "`validation_failed`: a bad serial, name or room", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["hubs:manage"]), ("bearer" = [])),
)]
pub async fn create(
    principal: Principal,
    State(state): State<AppState>,
    body: Result<ApiJson<hubgate_api::NewHub>, ApiError>,
) -> Result<(axum::http::StatusCode, Json<Hub>), ApiError> {
    principal.require(Scope::HubsManage)?;
    let ApiJson(new) = body?;
    let actor = principal.actor(&state).await?;
    let kind = match new.kind {
        hubgate_api::HubKind::Hub => hubgate_core::hub::HubKind::Hub,
        hubgate_api::HubKind::Switch => hubgate_core::hub::HubKind::Switch,
    };
    let hub = Manager::on(&state, &actor)
        .create_hub(
            principal.account(),
            &new.serial,
            &new.name,
            kind,
            new.room.as_deref(),
        )
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(hub.to_wire())))
}

/// Remove a hub or switch from the account.
#[utoipa::path(delete, path = "/api/v1/hubs/{id}", operation_id = "deleteHub", tag = "Hubs",
    params(("id" = String, Path, description = "The hub's id, `hub_…`")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such hub in this account (another account's hub is not found either)", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["hubs:manage"]), ("bearer" = [])),
)]
pub async fn delete(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    principal.require(Scope::HubsManage)?;
    let id = hub_id(&id)?;
    let actor = principal.actor(&state).await?;
    Manager::on(&state, &actor)
        .delete_hub(principal.account(), id)
        .await?;
    state.registry.forget_hub(id);
    state.catch_up().await;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Issue the hub's device credential (its MQTT password; the username is its
/// serial), replacing any before: a device connected with the old one is
/// disconnected. Shown once.
#[utoipa::path(post, path = "/api/v1/hubs/{id}/credential", operation_id = "issueHubCredential", tag = "Hubs",
    params(("id" = String, Path, description = "The hub's id, `hub_…`")),
    responses(
        (status = 201, description = "The new credential, shown once", body = hubgate_api::DeviceCredential),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such hub in this account (another account's hub is not found either)", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["hubs:manage"]), ("bearer" = [])),
)]
pub async fn issue_credential(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<(axum::http::StatusCode, Json<hubgate_api::DeviceCredential>), ApiError> {
    principal.require(Scope::HubsManage)?;
    let id = hub_id(&id)?;
    let actor = principal.actor(&state).await?;
    let (device, secret) = Manager::on(&state, &actor)
        .issue_device_credential(id)
        .await?;
    state.catch_up().await;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(hubgate_api::DeviceCredential {
            hub_id: device.hub.to_string(),
            serial: device.serial,
            secret: secret.expose().to_owned(),
        }),
    ))
}

/// Revoke the hub's device credential: its device is disconnected within a
/// second on every node and cannot connect until a new one is issued.
#[utoipa::path(delete, path = "/api/v1/hubs/{id}/credential", operation_id = "revokeHubCredential", tag = "Hubs",
    params(("id" = String, Path, description = "The hub's id, `hub_…`")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such hub in this account (another account's hub is not found either)", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["hubs:manage"]), ("bearer" = [])),
)]
pub async fn revoke_credential(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    principal.require(Scope::HubsManage)?;
    let id = hub_id(&id)?;
    let actor = principal.actor(&state).await?;
    Manager::on(&state, &actor)
        .revoke_device_credential(id)
        .await?;
    state.catch_up().await;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
