//! `/api/v1/integrations`: an account's integrations over HTTP, for
//! integrations with `integrations:read` / `integrations:write` acting
//! through an owner or admin.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hubgate_api::{
    ClientSecret, Integration as WireIntegration, IntegrationPatch, IntegrationWithSecret,
    NewIntegration, RotateSecret,
};
use hubgate_core::ids::UserId;
use hubgate_core::integration::{Integration, IntegrationSettings};
use hubgate_core::scope::Scope;

use super::auth::Principal;
use super::error::{ApiError, ApiJson};
use crate::app::Manager;
use crate::app::integrations::WithSecret;
use crate::state::AppState;

/// The wire form of an integration (its secret is never part of it).
pub fn to_wire(integration: &Integration) -> WireIntegration {
    WireIntegration {
        id: integration.id.to_string(),
        client_id: integration.client_id.to_string(),
        name: integration.name.clone(),
        redirect_uris: integration
            .redirect_uris
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect(),
        scope: integration.scopes.to_string(),
        enabled: integration.enabled,
        refresh_on_client_credentials: integration.refresh_on_client_credentials,
        require_pkce: integration.require_pkce,
        access_token_ttl: integration.access_token_ttl,
        refresh_token_ttl: integration.refresh_token_ttl,
        acting_user: integration.acting_user.to_string(),
        created_at: integration.created_at,
        previous_secret_expires_at: integration
            .previous_secret_expires_at
            .filter(|_| integration.sealed_previous_secret.is_some()),
    }
}

fn with_secret(created: &WithSecret) -> IntegrationWithSecret {
    IntegrationWithSecret {
        integration: to_wire(&created.integration),
        client_secret: created.secret.expose().to_owned(),
    }
}

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::unprocessable("acting_user must be a member's id, usr_…"))
}

fn invalid(error: impl std::fmt::Display) -> ApiError {
    ApiError::unprocessable(error.to_string())
}

/// The account's integrations.
#[utoipa::path(get, path = "/api/v1/integrations", operation_id = "listIntegrations", tag = "Management",
    responses(
        (status = 200, description = "Every integration of the account", body = Vec<hubgate_api::Integration>),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope`, or `access_denied`: the token's user is not an owner or admin", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["integrations:read"]), ("bearer" = [])),
)]
pub async fn list(
    principal: Principal,
    State(state): State<AppState>,
) -> Result<Json<Vec<WireIntegration>>, ApiError> {
    principal.require(Scope::IntegrationsRead)?;
    let actor = principal.actor(&state).await?;
    let integrations = Manager::on(&state, &actor)
        .integrations(principal.account())
        .await?;
    Ok(Json(integrations.iter().map(to_wire).collect()))
}

/// Create an integration; its secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/integrations", operation_id = "createIntegration", tag = "Management",
    request_body = hubgate_api::NewIntegration,
    responses(
        (status = 201, description = "Created, with its client_secret (shown once)", body = hubgate_api::IntegrationWithSecret),
        (status = 400, description = "`invalid_request`: not JSON", body = hubgate_api::ErrorBody),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope`, or `access_denied`: the token's user is not an owner or admin", body = hubgate_api::ErrorBody),
        (status = 409, description = "`conflict`: the acting user's role does not cover the scopes", body = hubgate_api::ErrorBody),
        (status = 422, description = "`validation_failed`: a bad name, redirect URI, scope or lifetime", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["integrations:write"]), ("bearer" = [])),
)]
pub async fn create(
    principal: Principal,
    State(state): State<AppState>,
    body: Result<ApiJson<NewIntegration>, ApiError>,
) -> Result<(StatusCode, NoStore<IntegrationWithSecret>), ApiError> {
    principal.require(Scope::IntegrationsWrite)?;
    let ApiJson(new) = body?;
    let actor = principal.actor(&state).await?;
    let settings = IntegrationSettings::new(
        &new.name,
        &new.redirect_uris,
        &new.scope,
        new.refresh_on_client_credentials,
        new.require_pkce,
    )
    .and_then(|s| s.with_lifetimes(new.access_token_ttl, new.refresh_token_ttl))
    .map_err(invalid)?;
    let acting_user = new.acting_user.as_deref().map(user_id).transpose()?;
    let created = Manager::on(&state, &actor)
        .create_integration(principal.account(), settings, acting_user)
        .await?;
    state.catch_up().await;
    Ok((StatusCode::CREATED, NoStore(with_secret(&created))))
}

async fn find(
    state: &AppState,
    actor: &crate::app::Actor,
    client_id: &str,
) -> Result<Integration, ApiError> {
    Ok(Manager::on(state, actor).integration(client_id).await?)
}

/// One integration of the account; another account's is not found.
#[utoipa::path(get, path = "/api/v1/integrations/{client_id}", operation_id = "getIntegration", tag = "Management",
    params(("client_id" = String, Path, description = "The integration's client_id, `hgc_…`")),
    responses(
        (status = 200, description = "The integration", body = hubgate_api::Integration),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such integration in this account", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["integrations:read"]), ("bearer" = [])),
)]
pub async fn get(
    principal: Principal,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<Json<WireIntegration>, ApiError> {
    principal.require(Scope::IntegrationsRead)?;
    let actor = principal.actor(&state).await?;
    let integration = find(&state, &actor, &client_id).await?;
    Ok(Json(to_wire(&integration)))
}

/// Change an integration's settings. Narrower scopes apply to tokens already
/// issued (those carrying a removed scope stop working); a removed redirect
/// URI serves no new authorization.
#[utoipa::path(patch, path = "/api/v1/integrations/{client_id}", operation_id = "updateIntegration", tag = "Management",
    params(("client_id" = String, Path, description = "The integration's client_id, `hgc_…`")),
    request_body = hubgate_api::IntegrationPatch,
    responses(
        (status = 200, description = "The changed integration", body = hubgate_api::Integration),
        (status = 400, description = "`invalid_request`: not JSON", body = hubgate_api::ErrorBody),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied` (only owners choose the acting user)", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such integration in this account", body = hubgate_api::ErrorBody),
        (status = 409, description = "`conflict`: the acting user's role does not cover the scopes", body = hubgate_api::ErrorBody),
        (status = 422, description = "`validation_failed`", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["integrations:write"]), ("bearer" = [])),
)]
pub async fn update(
    principal: Principal,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    body: Result<ApiJson<IntegrationPatch>, ApiError>,
) -> Result<Json<WireIntegration>, ApiError> {
    principal.require(Scope::IntegrationsWrite)?;
    let ApiJson(patch) = body?;
    let actor = principal.actor(&state).await?;
    let manager = Manager::on(&state, &actor);
    let mut integration = find(&state, &actor, &client_id).await?;
    if patch == IntegrationPatch::default() {
        return Err(ApiError::unprocessable("the patch changes nothing"));
    }
    // Every change is checked before any is made.
    let settings_patch = IntegrationPatch {
        acting_user: None,
        ..patch.clone()
    };
    let settings = (settings_patch != IntegrationPatch::default())
        .then(|| patched_settings(&integration, &settings_patch))
        .transpose()?;
    let acting_user = patch.acting_user.as_deref().map(user_id).transpose()?;
    if let Some(user) = acting_user {
        integration = manager.set_acting_user(integration, user).await?;
    }
    if let Some(settings) = settings {
        integration = manager.update_integration(integration, settings).await?;
    }
    state.catch_up().await;
    Ok(Json(to_wire(&integration)))
}

/// The integration's settings with the patch's fields in place of theirs.
fn patched_settings(
    integration: &Integration,
    patch: &IntegrationPatch,
) -> Result<IntegrationSettings, ApiError> {
    let current: Vec<String> = integration
        .redirect_uris
        .iter()
        .map(|u| u.as_str().to_owned())
        .collect();
    IntegrationSettings::new(
        patch.name.as_deref().unwrap_or(&integration.name),
        patch.redirect_uris.as_deref().unwrap_or(&current),
        &patch
            .scope
            .clone()
            .unwrap_or_else(|| integration.scopes.to_string()),
        patch
            .refresh_on_client_credentials
            .unwrap_or(integration.refresh_on_client_credentials),
        patch.require_pkce.unwrap_or(integration.require_pkce),
    )
    .and_then(|s| {
        s.with_lifetimes(
            patch
                .access_token_ttl
                .unwrap_or(integration.access_token_ttl),
            patch
                .refresh_token_ttl
                .unwrap_or(integration.refresh_token_ttl),
        )
    })
    .map_err(invalid)
}

/// Delete an integration; its tokens stop working at once.
#[utoipa::path(delete, path = "/api/v1/integrations/{client_id}", operation_id = "deleteIntegration", tag = "Management",
    params(("client_id" = String, Path, description = "The integration's client_id, `hgc_…`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such integration in this account", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["integrations:write"]), ("bearer" = [])),
)]
pub async fn delete(
    principal: Principal,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    principal.require(Scope::IntegrationsWrite)?;
    let actor = principal.actor(&state).await?;
    let integration = find(&state, &actor, &client_id).await?;
    Manager::on(&state, &actor)
        .delete_integration(&integration)
        .await?;
    state.catch_up().await;
    Ok(StatusCode::NO_CONTENT)
}

/// The integration's current secret (audited).
#[utoipa::path(post, path = "/api/v1/integrations/{client_id}/reveal-secret", operation_id = "revealIntegrationSecret", tag = "Management",
    params(("client_id" = String, Path, description = "The integration's client_id, `hgc_…`")),
    responses(
        (status = 200, description = "The secret (`Cache-Control: no-store`)", body = hubgate_api::ClientSecret),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such integration in this account", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["integrations:write"]), ("bearer" = [])),
)]
pub async fn reveal_secret(
    principal: Principal,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<NoStore<ClientSecret>, ApiError> {
    principal.require(Scope::IntegrationsWrite)?;
    let actor = principal.actor(&state).await?;
    let integration = find(&state, &actor, &client_id).await?;
    let secret = Manager::on(&state, &actor)
        .reveal_secret(&integration)
        .await?;
    Ok(NoStore(ClientSecret {
        client_id: integration.client_id.to_string(),
        client_secret: secret.expose().to_owned(),
    }))
}

/// Replace the secret. With a grace period the old secret keeps working
/// until it ends; with none, the old secret and every token issued so far
/// stop working at once.
#[utoipa::path(post, path = "/api/v1/integrations/{client_id}/rotate-secret", operation_id = "rotateIntegrationSecret", tag = "Management",
    params(("client_id" = String, Path, description = "The integration's client_id, `hgc_…`")),
    request_body = hubgate_api::RotateSecret,
    responses(
        (status = 200, description = "Rotated, with the new client_secret (shown once)", body = hubgate_api::IntegrationWithSecret),
        (status = 400, description = "`invalid_request`: not JSON", body = hubgate_api::ErrorBody),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such integration in this account", body = hubgate_api::ErrorBody),
        (status = 422, description = "`validation_failed`: the grace period is over 30 days", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["integrations:write"]), ("bearer" = [])),
)]
pub async fn rotate_secret(
    principal: Principal,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    body: Result<ApiJson<RotateSecret>, ApiError>,
) -> Result<NoStore<IntegrationWithSecret>, ApiError> {
    principal.require(Scope::IntegrationsWrite)?;
    let ApiJson(rotate) = body?;
    let actor = principal.actor(&state).await?;
    let integration = find(&state, &actor, &client_id).await?;
    let grace = time::Duration::seconds(rotate.grace_seconds.into());
    let rotated = Manager::on(&state, &actor)
        .rotate_secret(integration, grace)
        .await?;
    state.catch_up().await;
    Ok(NoStore(with_secret(&rotated)))
}

/// Disable an integration: its client cannot authenticate and its tokens
/// stop working, for good (enabling again lets only new tokens work).
#[utoipa::path(post, path = "/api/v1/integrations/{client_id}/disable", operation_id = "disableIntegration", tag = "Management",
    params(("client_id" = String, Path, description = "The integration's client_id, `hgc_…`")),
    responses(
        (status = 200, description = "The disabled integration", body = hubgate_api::Integration),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such integration in this account", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["integrations:write"]), ("bearer" = [])),
)]
pub async fn disable(
    principal: Principal,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<Json<WireIntegration>, ApiError> {
    set_enabled(principal, state, client_id, false).await
}

/// Enable an integration again.
#[utoipa::path(post, path = "/api/v1/integrations/{client_id}/enable", operation_id = "enableIntegration", tag = "Management",
    params(("client_id" = String, Path, description = "The integration's client_id, `hgc_…`")),
    responses(
        (status = 200, description = "The enabled integration", body = hubgate_api::Integration),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such integration in this account", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["integrations:write"]), ("bearer" = [])),
)]
pub async fn enable(
    principal: Principal,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<Json<WireIntegration>, ApiError> {
    set_enabled(principal, state, client_id, true).await
}

async fn set_enabled(
    principal: Principal,
    state: AppState,
    client_id: String,
    enabled: bool,
) -> Result<Json<WireIntegration>, ApiError> {
    principal.require(Scope::IntegrationsWrite)?;
    let actor = principal.actor(&state).await?;
    let integration = find(&state, &actor, &client_id).await?;
    let integration = Manager::on(&state, &actor)
        .set_enabled(integration, enabled)
        .await?;
    state.catch_up().await;
    Ok(Json(to_wire(&integration)))
}

/// JSON with `Cache-Control: no-store`, for answers that carry a secret.
pub struct NoStore<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for NoStore<T> {
    fn into_response(self) -> axum::response::Response {
        let mut response = Json(self.0).into_response();
        response.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        response
    }
}
