use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// `GET /api/v1/account`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    pub id: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum HubKind {
    Hub,
    Switch,
}

impl HubKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hub => "hub",
            Self::Switch => "switch",
        }
    }
}

/// A hub or switch as the API shows it: what it reported (`state`) beside what
/// integrations asked of it (`desired`), as device twins do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hub {
    pub id: String,
    pub serial: String,
    pub kind: HubKind,
    pub model: String,
    pub firmware: String,
    pub name: String,
    pub room: Option<String>,
    pub online: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen: Option<OffsetDateTime>,
    /// The state the hub last reported, Ochno-shaped: only the relevant keys.
    #[cfg_attr(feature = "openapi", schema(value_type = HubState))]
    pub state: Map<String, Value>,
    /// Settings an integration asked for that the hub may not have applied yet.
    #[cfg_attr(feature = "openapi", schema(value_type = HubState))]
    pub desired: Map<String, Value>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// `GET /api/v1/hubs/{id}/state`: the hub's shadow. `reported` is what the
/// hub last reported (Ochno's documented state object; `state` is the same
/// object under the name earlier clients read), `desired` what integrations
/// asked for, and `delta` the desired settings the hub has not reported yet.
/// Each version grows by one with every change of its document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HubStateView {
    pub id: String,
    pub online: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen: Option<OffsetDateTime>,
    #[cfg_attr(feature = "openapi", schema(value_type = HubState))]
    pub reported: Map<String, Value>,
    pub reported_version: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = HubState))]
    pub desired: Map<String, Value>,
    pub desired_version: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = HubState))]
    pub delta: Map<String, Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = HubState))]
    pub state: Map<String, Value>,
}

/// `PATCH /api/v1/hubs/{id}`. Unknown fields are refused; `desired` keys are
/// validated by type on the server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HubPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `null` clears the room.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub room: Option<Option<String>>,
    /// Desired settings to merge; a `null` value removes that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<DesiredSettings>,
}

/// A page of a list: `{"items": [...], "next_cursor": "…" | null}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
pub(crate) mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(
        value: &Option<Option<T>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

/// Ochno's documented state object, as a hub reports it. Every key is
/// optional (a report may be partial: it merges into what the hub reported
/// before); other keys and wrong types are refused. This is the parser of a
/// device's report as well as its schema.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"connected": [0, 0, 0, 0], "active": 1, "mtrmode": true, "mtrport": 1, "mtrdisable": 0,
    "mtrextension": "disable", "mtrsync": true, "externalmtr": true, "adminmode": false, "otp": "normal"})))]
pub struct HubState {
    /// The upstream ("user") ports: 0 disconnected, 1 connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected: Option<Vec<u8>>,
    /// The active port, 0 for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtrmode: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtrport: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtrdisable: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtrextension: Option<MtrExtension>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtrsync: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub externalmtr: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adminmode: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otp: Option<Otp>,
}

/// The settings an integration may ask a hub to apply, each checked by type
/// (and the server checks the ranges); `null` removes a previous wish; other
/// keys are refused. This is the parser of `desired` as well as its schema.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"mtrmode": true, "mtrport": 2})))]
pub struct DesiredSettings {
    /// The active port, 0 for none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u8>, nullable, minimum = 0, maximum = 4))]
    pub active: Option<Option<u8>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<bool>, nullable))]
    pub mtrmode: Option<Option<bool>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u8>, nullable, minimum = 1, maximum = 4))]
    pub mtrport: Option<Option<u8>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u8>, nullable, minimum = 0, maximum = 1))]
    pub mtrdisable: Option<Option<u8>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<MtrExtension>, nullable))]
    pub mtrextension: Option<Option<MtrExtension>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<bool>, nullable))]
    pub mtrsync: Option<Option<bool>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<bool>, nullable))]
    pub externalmtr: Option<Option<bool>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<bool>, nullable))]
    pub adminmode: Option<Option<bool>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Otp>, nullable))]
    pub otp: Option<Option<Otp>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MtrExtension {
    Enable,
    Disable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Otp {
    Normal,
    Disable,
}

impl DesiredSettings {
    /// The settings as the JSON object stored and shown: a cleared setting
    /// (`null`) stays `null`, for the merge to remove it.
    pub fn to_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }
}
