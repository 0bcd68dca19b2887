//! Events for integrations (`/api/v1/events`, webhooks): the one shape an
//! event has wherever it is told, and the webhook endpoints that receive them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

/// Something that changed in the account's fleet. The same JSON is a
/// webhook's body, an event stream's `data:` and an item of the JSON page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// `evt_` and 16 digits; ids sort as the events happened. Resume after
    /// one with `Last-Event-ID` or `?after=`; a webhook's `webhook-id`.
    #[cfg_attr(feature = "openapi", schema(example = "evt_0000000000000042"))]
    pub id: String,
    /// `hub.state.reported`, `hub.online`, `hub.offline`,
    /// `hub.desired.changed`, `hub.updated`, `hub.created` or `hub.deleted`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(example = "hub.online"))]
    pub kind: String,
    /// When the change happened.
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    pub account_id: String,
    pub hub_id: String,
    /// What changed; its shape depends on `type` (for `hub.state.reported`,
    /// `changed` holds only the reported keys that changed).
    pub data: Value,
}

/// A webhook endpoint of an integration. Its signing secret is shown only
/// when it is made or rotated (see [`WebhookWithSecret`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhook {
    /// `whk_…`
    pub id: String,
    /// The integration whose account's events it receives.
    pub client_id: String,
    pub url: String,
    /// The event types it receives; empty: all of them.
    pub events: Vec<String>,
    pub enabled: bool,
    /// Why the server disabled it (after failing for days), if it did.
    pub disabled_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Until when deliveries are also signed with the secret rotated out.
    #[serde(with = "time::serde::rfc3339::option")]
    pub previous_secret_expires_at: Option<OffsetDateTime>,
}

/// A webhook endpoint with its signing secret, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_` and the base64 of the HMAC key (Standard Webhooks 1.0).
    #[cfg_attr(
        feature = "openapi",
        schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    )]
    pub secret: String,
}

/// `POST /api/v1/integrations/{client_id}/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// `https://` (or `http://`) URL the events are POSTed to.
    pub url: String,
    /// Event types to receive; absent or empty: all.
    #[serde(default)]
    pub events: Vec<String>,
}

/// One delivery of an event to an endpoint, as its delivery log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDelivery {
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending` (waiting or retrying), `delivered` or `failed` (gave up).
    pub status: String,
    pub attempts: u32,
    /// The last attempt's HTTP status, if it got one.
    pub response_status: Option<u16>,
    /// Why the last attempt failed, if it did.
    pub error: Option<String>,
    /// The last attempt's duration in milliseconds.
    pub latency_ms: Option<u32>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `PATCH …/webhooks/{webhook_id}`: what to change; absent fields stay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Event types to receive; empty: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// Enabling an endpoint the server disabled clears its reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}
