//! `/api/v1/members`: the account's members over HTTP, for integrations
//! with `members:read` / `members:write` acting through an owner or admin.
//! The account keeps an owner, and only owners make or unmake owners.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hubgate_api::{AddedMember, Member, MemberPatch, NewMember, PasswordReset, Role as WireRole};
use hubgate_core::account::{Role, User};
use hubgate_core::ids::UserId;
use hubgate_core::scope::Scope;

use super::auth::Principal;
use super::error::{ApiError, ApiJson};
use super::integrations::NoStore;
use crate::app::Manager;
use crate::state::AppState;

fn wire_role(role: Role) -> WireRole {
    match role {
        Role::Member => WireRole::Member,
        Role::Admin => WireRole::Admin,
        Role::Owner => WireRole::Owner,
    }
}

fn role_of(role: WireRole) -> Role {
    match role {
        WireRole::Member => Role::Member,
        WireRole::Admin => Role::Admin,
        WireRole::Owner => Role::Owner,
    }
}

fn to_wire(user: &User, role: Role) -> Member {
    Member {
        id: user.id.to_string(),
        email: user.email.clone(),
        role: wire_role(role),
        must_change_password: user.must_change_password,
    }
}

/// Ids are opaque; one that does not parse names no member.
fn user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("member"))
}

/// The account's members, owners first.
#[utoipa::path(get, path = "/api/v1/members", operation_id = "listMembers", tag = "Management",
    responses(
        (status = 200, description = "Every member with their role", body = Vec<hubgate_api::Member>),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["members:read"]), ("bearer" = [])),
)]
pub async fn list(
    principal: Principal,
    State(state): State<AppState>,
) -> Result<Json<Vec<Member>>, ApiError> {
    principal.require(Scope::MembersRead)?;
    let actor = principal.actor(&state).await?;
    let members = Manager::on(&state, &actor)
        .members(principal.account())
        .await?;
    Ok(Json(members.iter().map(|(u, r)| to_wire(u, *r)).collect()))
}

/// Add a user to the account by email, or change the role of one already
/// there; with `invite`, an unknown email becomes a user with a one-time
/// password, in this answer only.
#[utoipa::path(post, path = "/api/v1/members", operation_id = "addMember", tag = "Management",
    request_body = hubgate_api::NewMember,
    responses(
        (status = 201, description = "Added (with a one-time password when invited)", body = hubgate_api::AddedMember),
        (status = 400, description = "`invalid_request`: not JSON", body = hubgate_api::ErrorBody),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No user has that email (and `invite` was not set)", body = hubgate_api::ErrorBody),
        (status = 409, description = "`conflict`: an owner rule refuses it", body = hubgate_api::ErrorBody),
        (status = 422, description = "`validation_failed`: a bad email or role", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["members:write"]), ("bearer" = [])),
)]
pub async fn add(
    principal: Principal,
    State(state): State<AppState>,
    body: Result<ApiJson<NewMember>, ApiError>,
) -> Result<(StatusCode, NoStore<AddedMember>), ApiError> {
    principal.require(Scope::MembersWrite)?;
    let ApiJson(new) = body?;
    let actor = principal.actor(&state).await?;
    let added = Manager::on(&state, &actor)
        .add_member(
            principal.account(),
            &new.email,
            role_of(new.role),
            new.invite,
        )
        .await?;
    state.catch_up().await;
    let body = AddedMember {
        member: to_wire(&added.user, added.role),
        one_time_password: added.one_time_password,
    };
    Ok((StatusCode::CREATED, NoStore(body)))
}

/// Change a member's role. A role that may delegate less revokes the tokens
/// acting for the member in the account.
#[utoipa::path(patch, path = "/api/v1/members/{user_id}", operation_id = "updateMember", tag = "Management",
    params(("user_id" = String, Path, description = "The member's user id, `usr_…`")),
    request_body = hubgate_api::MemberPatch,
    responses(
        (status = 200, description = "The member with their new role", body = hubgate_api::Member),
        (status = 400, description = "`invalid_request`: not JSON", body = hubgate_api::ErrorBody),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such member of this account", body = hubgate_api::ErrorBody),
        (status = 409, description = "`conflict`: the last owner, an owner rule, or an acting user's role", body = hubgate_api::ErrorBody),
        (status = 422, description = "`validation_failed`", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["members:write"]), ("bearer" = [])),
)]
pub async fn update(
    principal: Principal,
    State(state): State<AppState>,
    Path(user): Path<String>,
    body: Result<ApiJson<MemberPatch>, ApiError>,
) -> Result<Json<Member>, ApiError> {
    principal.require(Scope::MembersWrite)?;
    let ApiJson(patch) = body?;
    let actor = principal.actor(&state).await?;
    let role = role_of(patch.role);
    let user = Manager::on(&state, &actor)
        .set_role(principal.account(), user_id(&user)?, role)
        .await?;
    state.catch_up().await;
    Ok(Json(to_wire(&user, role)))
}

/// Remove a member; every token acting for them in the account stops working.
#[utoipa::path(delete, path = "/api/v1/members/{user_id}", operation_id = "removeMember", tag = "Management",
    params(("user_id" = String, Path, description = "The member's user id, `usr_…`")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such member of this account", body = hubgate_api::ErrorBody),
        (status = 409, description = "`conflict`: the last owner, an owner rule, or an acting user", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["members:write"]), ("bearer" = [])),
)]
pub async fn remove(
    principal: Principal,
    State(state): State<AppState>,
    Path(user): Path<String>,
) -> Result<StatusCode, ApiError> {
    principal.require(Scope::MembersWrite)?;
    let actor = principal.actor(&state).await?;
    Manager::on(&state, &actor)
        .remove_member(principal.account(), user_id(&user)?)
        .await?;
    state.catch_up().await;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a member a new one-time password (in this answer only) and end
/// their sessions; only an owner resets an owner's.
#[utoipa::path(post, path = "/api/v1/members/{user_id}/reset-password", operation_id = "resetMemberPassword", tag = "Management",
    params(("user_id" = String, Path, description = "The member's user id, `usr_…`")),
    responses(
        (status = 200, description = "The one-time password (`Cache-Control: no-store`)", body = hubgate_api::PasswordReset),
        (status = 401, description = "`invalid_token`", body = hubgate_api::ErrorBody),
        (status = 403, description = "`insufficient_scope` or `access_denied`", body = hubgate_api::ErrorBody),
        (status = 404, description = "No such member of this account", body = hubgate_api::ErrorBody),
        (status = 422, description = "`validation_failed`: the token's own user (change it with the current password instead)", body = hubgate_api::ErrorBody),
        (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["members:write"]), ("bearer" = [])),
)]
pub async fn reset_password(
    principal: Principal,
    State(state): State<AppState>,
    Path(user): Path<String>,
) -> Result<NoStore<PasswordReset>, ApiError> {
    principal.require(Scope::MembersWrite)?;
    let actor = principal.actor(&state).await?;
    let (user, one_time_password) = Manager::on(&state, &actor)
        .reset_password(principal.account(), user_id(&user)?)
        .await?;
    Ok(NoStore(PasswordReset {
        id: user.id.to_string(),
        email: user.email,
        one_time_password,
    }))
}
