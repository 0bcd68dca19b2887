//! `/api/v1/integrations/{client_id}/webhooks`: an integration's webhook
//! endpoints, their delivery logs and resending, for integrations with
//! `integrations:read` / `integrations:write` acting through an owner or admin.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use hubgate_api::{NewWebhook, Webhook, WebhookDelivery, WebhookPatch, WebhookWithSecret};
use hubgate_core::event::event_id;
use hubgate_core::integration::Integration;
use hubgate_core::scope::Scope;
use hubgate_core::webhook::WebhookEndpoint;
use hubgate_store::DeliveryRecord;
use serde::Deserialize;

use super::auth::Principal;
use super::error::{ApiError, ApiJson};
use super::integrations::NoStore;
use crate::app::webhooks::{WebhookChange, WebhookWithSecret as Created};
use crate::app::{Actor, Manager};
use crate::state::AppState;

pub fn to_wire(integration: &Integration, endpoint: &WebhookEndpoint) -> Webhook {
    Webhook {
        id: endpoint.id.to_string(),
        client_id: integration.client_id.to_string(),
        url: endpoint.url.clone(),
        events: endpoint
            .events
            .kinds()
            .iter()
            .map(|k| k.as_str().to_owned())
            .collect(),
        enabled: endpoint.enabled,
        disabled_reason: endpoint.disabled_reason.clone(),
        created_at: endpoint.created_at,
        previous_secret_expires_at: endpoint
            .previous_until
            .filter(|until| *until > hubgate_core::now()),
    }
}

fn with_secret(integration: &Integration, created: &Created) -> WebhookWithSecret {
    WebhookWithSecret {
        webhook: to_wire(integration, &created.endpoint),
        secret: created.secret.expose(),
    }
}

pub fn delivery_to_wire(record: &DeliveryRecord) -> WebhookDelivery {
    WebhookDelivery {
        event_id: event_id(record.event_seq),
        kind: record.kind.as_str().to_owned(),
        status: record.status.as_str().to_owned(),
        attempts: record.attempts,
        response_status: record.response_status,
        error: record.error.clone(),
        latency_ms: record.latency_ms,
        next_attempt_at: record.next_attempt_at,
        created_at: record.created_at,
    }
}

/// The actor and integration a request is about, after the scope check.
async fn integration(
    principal: &Principal,
    state: &AppState,
    scope: Scope,
    client_id: &str,
) -> Result<(Actor, Integration), ApiError> {
    principal.require(scope)?;
    let actor = principal.actor(state).await?;
    let integration = Manager::on(state, &actor).integration(client_id).await?;
    Ok((actor, integration))
}

/// The integration's webhook endpoints.
#[utoipa::path(get, path = "/api/v1/integrations/{client_id}/webhooks", operation_id = "listWebhooks", tag = "Webhooks",
    params(("client_id" = String, Path, description = "The integration's client_id, `hgc_…`")),
    responses(
        (status = 200, description = "Its endpoints, oldest first", body = Vec<hubgate_api::Webhook>),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such integration in this account", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["integrations:read"]), ("bearer" = [])),
)]
pub async fn list(
    principal: Principal,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<Json<Vec<Webhook>>, ApiError> {
    let (actor, integration) =
        integration(&principal, &state, Scope::IntegrationsRead, &client_id).await?;
    let endpoints = Manager::on(&state, &actor).webhooks(&integration).await?;
    Ok(Json(
        endpoints.iter().map(|e| to_wire(&integration, e)).collect(),
    ))
}

/// Add an endpoint. Its events are POSTed signed the Standard Webhooks way
/// with the secret in the answer (shown once). Its URL must not resolve to a
/// loopback, private or link-local address unless the operator allows them.
#[utoipa::path(post, path = "/api/v1/integrations/{client_id}/webhooks", operation_id = "createWebhook", tag = "Webhooks",
    params(("client_id" = String, Path, description = "The integration's client_id, `hgc_…`")),
    request_body = hubgate_api::NewWebhook,
    responses(
        (status = 201, description = "Created, with its signing secret (shown once)", body = hubgate_api::WebhookWithSecret),
        (status = 400, description = "`invalid_request`: not JSON", body = hubgate_api::ErrorBody),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such integration in this account", body = hubgate_api::ErrorBody),
        (status = 422, description = "`validation_failed`: a bad or private URL, an unknown event type, too many endpoints, an integration without `hubs:read`", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["integrations:write"]), ("bearer" = [])),
)]
pub async fn create(
    principal: Principal,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    body: Result<ApiJson<NewWebhook>, ApiError>,
) -> Result<(StatusCode, NoStore<WebhookWithSecret>), ApiError> {
    let (actor, integration) =
        integration(&principal, &state, Scope::IntegrationsWrite, &client_id).await?;
    let ApiJson(new) = body?;
    let created = Manager::on(&state, &actor)
        .create_webhook(
            &integration,
            &new.url,
            &new.events,
            state.config.events.allow_private,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        NoStore(with_secret(&integration, &created)),
    ))
}

/// One endpoint of the integration.
#[utoipa::path(get, path = "/api/v1/integrations/{client_id}/webhooks/{webhook_id}", operation_id = "getWebhook", tag = "Webhooks",
    params(("client_id" = String, Path, description = "The integration's client_id, `hgc_…`"),
        ("webhook_id" = String, Path, description = "The endpoint's id, `whk_…`")),
    responses(
        (status = 200, description = "The endpoint", body = hubgate_api::Webhook),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such integration or endpoint in this account", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["integrations:read"]), ("bearer" = [])),
)]
pub async fn get(
    principal: Principal,
    State(state): State<AppState>,
    Path((client_id, webhook_id)): Path<(String, String)>,
) -> Result<Json<Webhook>, ApiError> {
    let (actor, integration) =
        integration(&principal, &state, Scope::IntegrationsRead, &client_id).await?;
    let endpoint = Manager::on(&state, &actor)
        .webhook(&integration, &webhook_id)
        .await?;
    Ok(Json(to_wire(&integration, &endpoint)))
}

/// Change an endpoint's URL or event types, or disable or enable it.
#[utoipa::path(patch, path = "/api/v1/integrations/{client_id}/webhooks/{webhook_id}", operation_id = "updateWebhook", tag = "Webhooks",
    params(("client_id" = String, Path, description = "The integration's client_id, `hgc_…`"),
        ("webhook_id" = String, Path, description = "The endpoint's id, `whk_…`")),
    request_body = hubgate_api::WebhookPatch,
    responses(
        (status = 200, description = "The changed endpoint", body = hubgate_api::Webhook),
        (status = 400, description = "`invalid_request`: not JSON", body = hubgate_api::ErrorBody),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such integration or endpoint in this account", body = hubgate_api::ErrorBody),
        (status = 422, description = "`validation_failed`: a bad or private URL, an unknown event type", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["integrations:write"]), ("bearer" = [])),
)]
pub async fn update(
    principal: Principal,
    State(state): State<AppState>,
    Path((client_id, webhook_id)): Path<(String, String)>,
    body: Result<ApiJson<WebhookPatch>, ApiError>,
) -> Result<Json<Webhook>, ApiError> {
    let (actor, integration) =
        integration(&principal, &state, Scope::IntegrationsWrite, &client_id).await?;
    let ApiJson(patch) = body?;
    let change = WebhookChange {
        url: patch.url,
        events: patch.events,
        enabled: patch.enabled,
    };
    let endpoint = Manager::on(&state, &actor)
        .update_webhook(
            &integration,
            &webhook_id,
            change,
            state.config.events.allow_private,
        )
        .await?;
    Ok(Json(to_wire(&integration, &endpoint)))
}

/// Remove an endpoint; its pending deliveries go with it.
#[utoipa::path(delete, path = "/api/v1/integrations/{client_id}/webhooks/{webhook_id}", operation_id = "deleteWebhook", tag = "Webhooks",
    params(("client_id" = String, Path, description = "The integration's client_id, `hgc_…`"),
        ("webhook_id" = String, Path, description = "The endpoint's id, `whk_…`")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such integration or endpoint in this account", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["integrations:write"]), ("bearer" = [])),
)]
pub async fn delete(
    principal: Principal,
    State(state): State<AppState>,
    Path((client_id, webhook_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (actor, integration) =
        integration(&principal, &state, Scope::IntegrationsWrite, &client_id).await?;
    Manager::on(&state, &actor)
        .delete_webhook(&integration, &webhook_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret (shown once). For 24 hours deliveries carry the
/// signatures of both, so the receiver can switch without refusing one.
#[utoipa::path(post, path = "/api/v1/integrations/{client_id}/webhooks/{webhook_id}/rotate-secret", operation_id = "rotateWebhookSecret", tag = "Webhooks",
    params(("client_id" = String, Path, description = "The integration's client_id, `hgc_…`"),
        ("webhook_id" = String, Path, description = "The endpoint's id, `whk_…`")),
    responses(
        (status = 200, description = "Rotated, with the new secret (shown once)", body = hubgate_api::WebhookWithSecret),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such integration or endpoint in this account", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["integrations:write"]), ("bearer" = [])),
)]
pub async fn rotate_secret(
    principal: Principal,
    State(state): State<AppState>,
    Path((client_id, webhook_id)): Path<(String, String)>,
) -> Result<NoStore<WebhookWithSecret>, ApiError> {
    let (actor, integration) =
        integration(&principal, &state, Scope::IntegrationsWrite, &client_id).await?;
    let rotated = Manager::on(&state, &actor)
        .rotate_webhook_secret(&integration, &webhook_id)
        .await?;
    Ok(NoStore(with_secret(&integration, &rotated)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Deliveries of events before this one (`evt_…`): the next page.
    before: Option<String>,
    /// Deliveries per page, 1 to 200.
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<u32>,
}

/// The endpoint's delivery log, newest first: status, attempts, the last
/// answer and how long it took.
#[utoipa::path(get, path = "/api/v1/integrations/{client_id}/webhooks/{webhook_id}/deliveries", operation_id = "listWebhookDeliveries", tag = "Webhooks",
    params(("client_id" = String, Path, description = "The integration's client_id, `hgc_…`"),
        ("webhook_id" = String, Path, description = "The endpoint's id, `whk_…`"), DeliveriesQuery),
    responses(
        (status = 200, description = "A page of deliveries", body = hubgate_api::Page<hubgate_api::WebhookDelivery>),
        (status = 400, description = "`invalid_request`: a bad limit", body = hubgate_api::ErrorBody),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such integration or endpoint in this account", body = hubgate_api::ErrorBody),
        (status = 422, description = "`validation_failed`: `before` is not an event id", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["integrations:read"]), ("bearer" = [])),
)]
pub async fn deliveries(
    principal: Principal,
    State(state): State<AppState>,
    Path((client_id, webhook_id)): Path<(String, String)>,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> Result<Json<hubgate_api::Page<WebhookDelivery>>, ApiError> {
    let (actor, integration) =
        integration(&principal, &state, Scope::IntegrationsRead, &client_id).await?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 200"));
    }
    let records = Manager::on(&state, &actor)
        .webhook_deliveries(&integration, &webhook_id, query.before.as_deref(), limit)
        .await?;
    let next_cursor = (records.len() == limit as usize)
        .then(|| records.last().map(|r| event_id(r.event_seq)))
        .flatten();
    Ok(Json(hubgate_api::Page {
        items: records.iter().map(delivery_to_wire).collect(),
        next_cursor,
    }))
}

/// Send an event to the endpoint again now, whatever became of it before:
/// one more attempt (retried on the schedule if a failure leaves attempts).
/// A disabled endpoint's resend waits until it is enabled.
#[utoipa::path(post, path = "/api/v1/integrations/{client_id}/webhooks/{webhook_id}/deliveries/{event_id}/resend", operation_id = "resendWebhookDelivery", tag = "Webhooks",
    params(("client_id" = String, Path, description = "The integration's client_id, `hgc_…`"),
        ("webhook_id" = String, Path, description = "The endpoint's id, `whk_…`"),
        ("event_id" = String, Path, description = "The event's id, `evt_…`")),
    responses(
        (status = 202, description = "Queued; it goes out within a second (once enabled, if the endpoint is disabled)"),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such integration, endpoint or delivery in this account", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["integrations:write"]), ("bearer" = [])),
)]
pub async fn resend(
    principal: Principal,
    State(state): State<AppState>,
    Path((client_id, webhook_id, event_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let (actor, integration) =
        integration(&principal, &state, Scope::IntegrationsWrite, &client_id).await?;
    Manager::on(&state, &actor)
        .resend_webhook_delivery(&integration, &webhook_id, &event_id)
        .await?;
    Ok(StatusCode::ACCEPTED)
}
