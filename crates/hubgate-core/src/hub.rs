//! Hubs and switches: their reported state and the settings integrations may change.
//!
//! A hub keeps two documents, as device twins do: `state`, what the hub last
//! reported (Ochno-shaped, only the relevant keys), and `desired`, what
//! integrations asked for. PATCH writes only `desired`, the name and the room.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

pub use hubgate_api::HubKind;

use crate::ids::{AccountId, HubId};

pub const MAX_NAME_CHARS: usize = 100;
/// Upstream ("user") ports of the hubs hubgate models.
pub const PORTS: i64 = 4;

#[derive(Debug, Clone, PartialEq)]
pub struct Hub {
    pub id: HubId,
    pub account_id: AccountId,
    pub serial: String,
    pub kind: HubKind,
    pub model: String,
    pub firmware: String,
    pub name: String,
    pub room: Option<String>,
    pub online: bool,
    pub last_seen: Option<OffsetDateTime>,
    pub state: Map<String, Value>,
    pub desired: Map<String, Value>,
    /// Grows by one with every report merged into `state`.
    pub reported_version: i64,
    /// Grows by one with every change of `desired`; sent to the device with it.
    pub desired_version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Hub {
    /// The desired settings the hub has not reported yet.
    pub fn delta(&self) -> Map<String, Value> {
        delta(&self.desired, &self.state)
    }

    /// The hub as the API shows it, borrowed: serializes as
    /// [`hubgate_api::Hub`] does, without copying names, state and settings
    /// (a page of hubs is mostly those copies otherwise).
    pub fn as_wire(&self) -> WireHub<'_> {
        WireHub {
            id: self.id,
            serial: &self.serial,
            kind: self.kind,
            model: &self.model,
            firmware: &self.firmware,
            name: &self.name,
            room: self.room.as_deref(),
            online: self.online,
            last_seen: self.last_seen,
            state: &self.state,
            desired: &self.desired,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    pub fn to_wire(&self) -> hubgate_api::Hub {
        hubgate_api::Hub {
            id: self.id.to_string(),
            serial: self.serial.clone(),
            kind: self.kind,
            model: self.model.clone(),
            firmware: self.firmware.clone(),
            name: self.name.clone(),
            room: self.room.clone(),
            online: self.online,
            last_seen: self.last_seen,
            state: self.state.clone(),
            desired: self.desired.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// See [`Hub::as_wire`]; its fields and their order are those of
/// [`hubgate_api::Hub`] (a test holds them equal).
#[derive(Debug, serde::Serialize)]
pub struct WireHub<'a> {
    id: HubId,
    serial: &'a str,
    kind: HubKind,
    model: &'a str,
    firmware: &'a str,
    name: &'a str,
    room: Option<&'a str>,
    online: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    last_seen: Option<OffsetDateTime>,
    state: &'a Map<String, Value>,
    desired: &'a Map<String, Value>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

pub fn parse_kind(text: &str) -> Option<HubKind> {
    match text {
        "hub" => Some(HubKind::Hub),
        "switch" => Some(HubKind::Switch),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    #[error("name: {0}")]
    Name(crate::account::NameError),
    #[error("room: {0}")]
    Room(crate::account::NameError),
    #[error("serial must be 1 to 64 letters, digits, '-' or '_'")]
    Serial,
    #[error("{0} must be {1}")]
    SettingType(String, &'static str),
    #[error("state must be a JSON object, optionally wrapped as {{\"state\": {{…}}}}")]
    StateShape,
    #[error("the change is empty: give name, room or desired")]
    Empty,
    #[error("{0}")]
    Report(String),
}

/// The ranges serde's types do not say (a `u8` may be 9; a port may not),
/// of the numeric settings a report or a desired change may carry.
fn check_ranges(
    active: Option<u8>,
    mtrport: Option<u8>,
    mtrdisable: Option<u8>,
) -> Result<(), HubError> {
    let ports = u8::try_from(PORTS).unwrap_or(u8::MAX);
    let within = |value: Option<u8>, lo: u8, hi: u8| value.is_none_or(|v| (lo..=hi).contains(&v));
    let checks = [
        (
            "active",
            within(active, 0, ports),
            "an integer from 0 (no port) to 4",
        ),
        (
            "mtrport",
            within(mtrport, 1, ports),
            "an integer from 1 to 4",
        ),
        ("mtrdisable", within(mtrdisable, 0, 1), "0 or 1"),
    ];
    match checks.into_iter().find(|(_, ok, _)| !ok) {
        Some((key, _, expected)) => Err(HubError::SettingType(key.into(), expected)),
        None => Ok(()),
    }
}

/// A validated change to a hub.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HubChange {
    pub name: Option<String>,
    pub room: Option<Option<String>>,
    /// Merged into `desired`; a `null` value removes that key.
    pub desired: Map<String, Value>,
}

impl HubChange {
    pub fn from_patch(patch: hubgate_api::HubPatch) -> Result<Self, HubError> {
        let name = patch
            .name
            .map(|n| crate::account::clean_name(&n, MAX_NAME_CHARS).map_err(HubError::Name))
            .transpose()?;
        let room = match patch.room {
            None => None,
            Some(None) => Some(None),
            Some(Some(r)) if r.trim().is_empty() => Some(None),
            Some(Some(r)) => Some(Some(
                crate::account::clean_name(&r, MAX_NAME_CHARS).map_err(HubError::Room)?,
            )),
        };
        let desired = patch.desired.unwrap_or_default();
        check_ranges(
            desired.active.flatten(),
            desired.mtrport.flatten(),
            desired.mtrdisable.flatten(),
        )?;
        let desired = desired.to_map();
        if name.is_none() && room.is_none() && desired.is_empty() {
            return Err(HubError::Empty);
        }
        Ok(Self {
            name,
            room,
            desired,
        })
    }

    /// Applies the change to a hub, returning the new version.
    pub fn apply(&self, hub: &Hub, now: OffsetDateTime) -> Hub {
        let mut next = hub.clone();
        if let Some(name) = &self.name {
            next.name = name.clone();
        }
        if let Some(room) = &self.room {
            next.room = room.clone();
        }
        for (key, value) in &self.desired {
            if value.is_null() {
                next.desired.remove(key);
            } else {
                next.desired.insert(key.clone(), value.clone());
            }
        }
        if next.desired != hub.desired {
            next.desired_version += 1;
        }
        next.updated_at = now;
        next
    }
}

/// A device's report (`{"state": {…}}` or the bare object), checked by type
/// and range: the keys to merge into what it reported before. The reason of a
/// refusal is meant for the device, on its errors topic.
pub fn parse_report(payload: &[u8]) -> Result<Map<String, Value>, HubError> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| HubError::Report(format!("not JSON: {e}")))?;
    let inner = Value::Object(parse_reported_state(value)?);
    // The typed state is the check; what it accepted is kept as sent, not
    // serialized again (a `null` means no value, as the typed state reads it).
    let report =
        hubgate_api::HubState::deserialize(&inner).map_err(|e| HubError::Report(e.to_string()))?;
    check_report_ranges(&report)?;
    let Value::Object(mut inner) = inner else {
        return Err(HubError::StateShape);
    };
    inner.retain(|_, value| !value.is_null());
    Ok(inner)
}

fn check_report_ranges(report: &hubgate_api::HubState) -> Result<(), HubError> {
    if let Some(connected) = &report.connected
        && (connected.len() != PORTS as usize || connected.iter().any(|&c| c > 1))
    {
        return Err(HubError::SettingType(
            "connected".into(),
            "a list of 4 values, each 0 or 1",
        ));
    }
    check_ranges(report.active, report.mtrport, report.mtrdisable)
}

/// Merges a report into what the hub reported before: a report may be partial.
pub fn merge_report(state: &mut Map<String, Value>, report: &Map<String, Value>) {
    for (key, value) in report {
        state.insert(key.clone(), value.clone());
    }
}

/// The desired settings whose value the hub has not reported (yet).
pub fn delta(desired: &Map<String, Value>, reported: &Map<String, Value>) -> Map<String, Value> {
    desired
        .iter()
        .filter(|(key, value)| reported.get(*key) != Some(*value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// Accepts a reported state as Ochno documents it (`{"state": {…}}`) or bare.
pub fn parse_reported_state(value: Value) -> Result<Map<String, Value>, HubError> {
    match value {
        Value::Object(mut outer)
            if outer.len() == 1 && outer.get("state").is_some_and(Value::is_object) =>
        {
            match outer.remove("state") {
                Some(Value::Object(inner)) => Ok(inner),
                _ => Err(HubError::StateShape),
            }
        }
        Value::Object(map) => Ok(map),
        _ => Err(HubError::StateShape),
    }
}

pub fn clean_serial(raw: &str) -> Result<String, HubError> {
    let serial = raw.trim();
    let ok = (1..=64).contains(&serial.len())
        && serial
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(serial.to_owned())
    } else {
        Err(HubError::Serial)
    }
}

/// A new hub as the admin tool or the demo data creates it.
pub struct NewHub {
    pub serial: String,
    pub kind: HubKind,
    pub model: String,
    pub firmware: String,
    pub name: String,
    pub room: Option<String>,
    pub online: bool,
    pub state: Map<String, Value>,
}

impl NewHub {
    pub fn into_hub(self, account_id: AccountId, now: OffsetDateTime) -> Hub {
        Hub {
            id: HubId::new(),
            account_id,
            serial: self.serial,
            kind: self.kind,
            model: self.model,
            firmware: self.firmware,
            name: self.name,
            room: self.room,
            online: self.online,
            last_seen: self.online.then_some(now),
            state: self.state,
            desired: Map::new(),
            reported_version: 0,
            desired_version: 0,
            created_at: now,
            updated_at: now,
        }
    }
}

/// The demo fleet of a first start: hubs and switches in a few rooms, with
/// state shaped like Ochno's documented state object.
pub fn demo_fleet() -> Vec<NewHub> {
    let state = |connected: [u8; 4], active: u8, mtrmode: bool| -> Map<String, Value> {
        let value = json!({
            "connected": connected, "active": active, "mtrmode": mtrmode, "mtrport": 1,
            "mtrdisable": 0, "mtrextension": "disable", "mtrsync": true,
            "externalmtr": mtrmode, "adminmode": false, "otp": "normal"
        });
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    };
    let hub = |serial: &str, kind, model: &str, name: &str, room: &str, online, st| NewHub {
        serial: serial.to_owned(),
        kind,
        model: model.to_owned(),
        firmware: "2.4.1".to_owned(),
        name: name.to_owned(),
        room: Some(room.to_owned()),
        online,
        state: st,
    };
    vec![
        hub(
            "OPC3-000101",
            HubKind::Hub,
            "O-PC-3",
            "Boardroom hub",
            "Boardroom",
            true,
            state([1, 0, 0, 0], 1, true),
        ),
        hub(
            "OPC3-000102",
            HubKind::Hub,
            "O-PC-3",
            "Huddle A hub",
            "Huddle A",
            true,
            state([0, 1, 0, 0], 2, false),
        ),
        hub(
            "OPC3-000103",
            HubKind::Hub,
            "O-PC-3",
            "Huddle B hub",
            "Huddle B",
            false,
            state([0, 0, 0, 0], 0, false),
        ),
        hub(
            "OPC3-000104",
            HubKind::Hub,
            "O-PC-3",
            "Training room hub",
            "Training room",
            true,
            state([1, 1, 0, 0], 1, true),
        ),
        hub(
            "OSW4-000201",
            HubKind::Switch,
            "O-SW-4",
            "Boardroom switch",
            "Boardroom",
            true,
            state([1, 0, 1, 0], 3, true),
        ),
        hub(
            "OSW4-000202",
            HubKind::Switch,
            "O-SW-4",
            "Auditorium switch",
            "Auditorium",
            true,
            state([0, 0, 0, 1], 4, false),
        ),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_borrowed_wire_form_serializes_as_the_wire_type() {
        let now = time::macros::datetime!(2026-01-01 0:00:07 UTC);
        for new in demo_fleet() {
            let mut hub = new.into_hub(AccountId::new(), now);
            hub.desired
                .insert("mtrmode".into(), serde_json::json!(false));
            hub.last_seen = Some(now);
            assert_eq!(
                serde_json::to_string(&hub.as_wire()).unwrap(),
                serde_json::to_string(&hub.to_wire()).unwrap()
            );
            hub.room = None;
            hub.last_seen = None;
            assert_eq!(
                serde_json::to_string(&hub.as_wire()).unwrap(),
                serde_json::to_string(&hub.to_wire()).unwrap()
            );
        }
    }

    use super::*;

    fn patch(value: Value) -> Result<HubChange, HubError> {
        let patch: hubgate_api::HubPatch = serde_json::from_value(value).expect("patch shape");
        HubChange::from_patch(patch)
    }

    fn parses(value: Value) -> bool {
        serde_json::from_value::<hubgate_api::HubPatch>(value).is_ok()
    }

    #[test]
    fn writable_settings_are_checked_by_type_and_range() {
        assert!(
            patch(json!({"desired": {"mtrmode": true, "mtrport": 2, "otp": "normal"}})).is_ok()
        );
        assert_eq!(
            patch(json!({"desired": {"mtrport": 9}})),
            Err(HubError::SettingType(
                "mtrport".into(),
                "an integer from 1 to 4"
            ))
        );
        assert_eq!(
            patch(json!({"desired": {"active": 5}})),
            Err(HubError::SettingType(
                "active".into(),
                "an integer from 0 (no port) to 4"
            ))
        );
        // The type is the parser: a wrong type or an unknown key does not parse.
        assert!(!parses(json!({"desired": {"mtrmode": "yes"}})));
        assert!(!parses(json!({"desired": {"otp": "sometimes"}})));
        assert!(!parses(json!({"desired": {"mtrport": -1}})));
        assert!(!parses(json!({"desired": {"connected": [1]}})));
        let cleared = patch(json!({"desired": {"mtrport": null}})).unwrap();
        assert_eq!(cleared.desired.get("mtrport"), Some(&Value::Null));
    }

    #[test]
    fn unknown_fields_and_empty_changes_are_refused() {
        let unknown: Result<hubgate_api::HubPatch, _> =
            serde_json::from_value(json!({"serial": "x"}));
        assert!(unknown.is_err());
        assert_eq!(patch(json!({})), Err(HubError::Empty));
    }

    #[test]
    fn a_change_merges_desired_and_clears_the_room() {
        let now = time::macros::datetime!(2026-01-01 0:00 UTC);
        let hub = demo_fleet().remove(0).into_hub(AccountId::new(), now);
        let change = patch(json!({"room": null, "desired": {"adminmode": true}})).unwrap();
        let later = now + time::Duration::seconds(5);
        let next = change.apply(&hub, later);
        assert_eq!(next.room, None);
        assert_eq!(next.desired.get("adminmode"), Some(&json!(true)));
        assert_eq!(next.state, hub.state, "reported state is untouched");
        assert_eq!(next.updated_at, later);
        assert_eq!(next.desired_version, hub.desired_version + 1);
        let cleared = patch(json!({"desired": {"adminmode": null}}))
            .unwrap()
            .apply(&next, later);
        assert!(cleared.desired.is_empty());
        assert_eq!(cleared.desired_version, hub.desired_version + 2);
        let renamed = patch(json!({"name": "Other"}))
            .unwrap()
            .apply(&cleared, later);
        assert_eq!(
            renamed.desired_version, cleared.desired_version,
            "a rename is not a new desired document"
        );
    }

    #[test]
    fn a_report_is_checked_by_type_range_and_key_and_may_be_partial() {
        let report =
            parse_report(br#"{"state": {"active": 2, "connected": [0, 1, 1, 0]}}"#).unwrap();
        assert_eq!(report.len(), 2);
        assert_eq!(parse_report(br#"{"otp": "disable"}"#).unwrap().len(), 1);
        let refused = |payload: &[u8]| parse_report(payload).unwrap_err().to_string();
        assert!(refused(br#"{"colour": "red"}"#).contains("unknown field `colour`"));
        assert!(refused(br#"{"mtrmode": "yes"}"#).contains("invalid type"));
        assert!(refused(br#"{"active": 7}"#).contains("active must be"));
        assert!(refused(br#"{"connected": [1, 1]}"#).contains("connected must be"));
        assert!(refused(br#"{"connected": [0, 2, 0, 0]}"#).contains("connected must be"));
        assert!(refused(b"not json").contains("not JSON"));
        assert!(refused(b"[1]").contains("JSON object"));
    }

    #[test]
    fn the_delta_is_what_the_hub_has_not_reported_yet() {
        let mut reported = parse_report(br#"{"mtrmode": false, "mtrport": 1}"#).unwrap();
        let desired = parse_report(br#"{"mtrmode": true, "mtrport": 1}"#).unwrap();
        assert_eq!(
            Value::Object(delta(&desired, &reported)),
            json!({"mtrmode": true})
        );
        merge_report(
            &mut reported,
            &parse_report(br#"{"mtrmode": true}"#).unwrap(),
        );
        assert!(delta(&desired, &reported).is_empty());
        assert_eq!(
            reported.get("mtrport"),
            Some(&json!(1)),
            "a partial report keeps the rest"
        );
    }

    #[test]
    fn reported_state_is_accepted_wrapped_or_bare() {
        let wrapped = parse_reported_state(json!({"state": {"active": 2}})).unwrap();
        let bare = parse_reported_state(json!({"active": 2})).unwrap();
        assert_eq!(wrapped, bare);
        assert!(parse_reported_state(json!([1, 2])).is_err());
    }
}
