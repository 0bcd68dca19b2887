//! The management API's wire types (`/api/v1/integrations`, `/members`,
//! `/audit`, and creating hubs).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::HubKind;

/// An integration as the management API shows it; its secret is never part
/// of it (see [`IntegrationWithSecret`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Integration {
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// Space-separated, as in OAuth.
    pub scope: String,
    pub enabled: bool,
    pub refresh_on_client_credentials: bool,
    pub require_pkce: bool,
    /// Seconds; `null`: the server's default.
    pub access_token_ttl: Option<u32>,
    pub refresh_token_ttl: Option<u32>,
    /// The member (`usr_…`) its client_credentials tokens act through.
    pub acting_user: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Until when a rotated-out secret still works, if one does.
    #[serde(with = "time::serde::rfc3339::option")]
    pub previous_secret_expires_at: Option<OffsetDateTime>,
}

/// An integration just created or rotated, with its secret: shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IntegrationWithSecret {
    #[serde(flatten)]
    pub integration: Integration,
    pub client_secret: String,
}

/// `POST /api/v1/integrations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewIntegration {
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// Space-separated scopes.
    pub scope: String,
    #[serde(default = "yes")]
    pub refresh_on_client_credentials: bool,
    #[serde(default = "yes")]
    pub require_pkce: bool,
    #[serde(default)]
    pub access_token_ttl: Option<u32>,
    #[serde(default)]
    pub refresh_token_ttl: Option<u32>,
    /// The member its client_credentials tokens act through; by default the
    /// caller's user.
    #[serde(default)]
    pub acting_user: Option<String>,
}

fn yes() -> bool {
    true
}

/// `PATCH /api/v1/integrations/{client_id}`: the fields to change. A
/// lifetime set to `null` goes back to the server's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IntegrationPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_on_client_credentials: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pkce: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::resources::double_option"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
    pub access_token_ttl: Option<Option<u32>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::resources::double_option"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
    pub refresh_token_ttl: Option<Option<u32>>,
    /// A member (`usr_…`) to act through; owners only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acting_user: Option<String>,
}

/// `POST /api/v1/integrations/{client_id}/rotate-secret`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the old secret keeps working (0 to 2,592,000 seconds); 0
    /// also revokes every token issued so far.
    #[serde(default)]
    pub grace_seconds: u32,
}

/// `POST /api/v1/integrations/{client_id}/reveal-secret`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientSecret {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

/// A member of the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    /// The user's id, `usr_…`.
    pub id: String,
    pub email: String,
    pub role: Role,
    /// Must replace a one-time password at the next login.
    pub must_change_password: bool,
}

/// `POST /api/v1/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    pub email: String,
    pub role: Role,
    /// An email with no user yet becomes a new user with a one-time
    /// password; without it such an email is `404`.
    #[serde(default)]
    pub invite: bool,
}

/// A member just added (or invited, with a one-time password shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddedMember {
    #[serde(flatten)]
    pub member: Member,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_time_password: Option<String>,
}

/// `PATCH /api/v1/members/{user_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MemberPatch {
    pub role: Role,
}

/// `POST /api/v1/members/{user_id}/reset-password`: the new one-time
/// password, shown once; it must be changed at the next login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordReset {
    pub id: String,
    pub email: String,
    pub one_time_password: String,
}

/// `POST /api/v1/hubs`: a hub or switch to register by its serial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewHub {
    pub serial: String,
    pub name: String,
    pub kind: HubKind,
    #[serde(default)]
    pub room: Option<String>,
}

/// `POST /api/v1/hubs/{id}/credential`: the hub's device credential, its
/// MQTT password (the username is the serial). Shown once: only a digest is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceCredential {
    pub hub_id: String,
    pub serial: String,
    #[cfg_attr(feature = "openapi", schema(example = "hgd_3q2-7wEXAMPLE"))]
    pub secret: String,
}

/// One event of the account's audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    /// Increases with every event; pass it as `cursor` to read older ones.
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// An email, a client_id, or "admin tool".
    pub actor: String,
    /// `integration.created`, `member.removed`, `token.issued`, …
    pub action: String,
    pub subject: String,
    pub detail: String,
}
