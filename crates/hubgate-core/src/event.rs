//! Events for integrations: what changed in an account's fleet, as the event
//! stream and webhooks tell it. A change and the events it causes are
//! written in one transaction (a transactional outbox), so no event is lost
//! in a crash nor told of a change that did not happen. Which events a change
//! causes is decided here, from the hub before and after it.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::hub::Hub;
use crate::ids::{AccountId, HubId};

macro_rules! event_types {
    ($($variant:ident => $text:literal,)*) => {
        /// One kind of event. Its text (`hub.online`) is the wire name: never
        /// rename one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventType {
            $($variant,)*
        }

        impl EventType {
            pub const ALL: &[EventType] = &[$(EventType::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $text,)*
                }
            }
        }
    };
}

event_types! {
    HubStateReported => "hub.state.reported",
    HubOnline => "hub.online",
    HubOffline => "hub.offline",
    HubDesiredChanged => "hub.desired.changed",
    HubUpdated => "hub.updated",
    HubCreated => "hub.created",
    HubDeleted => "hub.deleted",
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type \"{0}\"")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(text: &str) -> Result<Self, UnknownEventType> {
        Self::ALL
            .iter()
            .copied()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| UnknownEventType(text.to_owned()))
    }
}

/// An event about to be written with the change that causes it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub account: AccountId,
    pub kind: EventType,
    pub hub: HubId,
    pub at: OffsetDateTime,
    pub data: Value,
}

/// A stored event: `id` is `evt_` and its position in the log, which orders
/// an account's events and is where a reader resumes.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub seq: i64,
    pub account: AccountId,
    pub hub: HubId,
    pub kind: EventType,
    pub at: OffsetDateTime,
    pub data: Value,
}

pub const EVENT_ID_PREFIX: &str = "evt_";

impl Event {
    pub fn id(&self) -> String {
        event_id(self.seq)
    }

    /// The event as integrations receive it (webhook body, stream, page).
    pub fn to_wire(&self) -> hubgate_api::Event {
        hubgate_api::Event {
            id: self.id(),
            kind: self.kind.as_str().to_owned(),
            timestamp: self.at,
            account_id: self.account.to_string(),
            hub_id: self.hub.to_string(),
            data: self.data.clone(),
        }
    }
}

/// The id of the event at `seq`; fixed width, so ids sort as their events do.
pub fn event_id(seq: i64) -> String {
    format!("{EVENT_ID_PREFIX}{seq:016}")
}

/// The position an event id names; `None` for text that is not one.
pub fn parse_event_id(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(EVENT_ID_PREFIX)?;
    (digits.len() == 16 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn event(hub: &Hub, kind: EventType, at: OffsetDateTime, data: Value) -> NewEvent {
    NewEvent {
        account: hub.account_id,
        kind,
        hub: hub.id,
        at,
        data,
    }
}

pub fn hub_created(hub: &Hub) -> NewEvent {
    let data = json!({"hub": hub.to_wire()});
    event(hub, EventType::HubCreated, hub.created_at, data)
}

pub fn hub_deleted(hub: &Hub, at: OffsetDateTime) -> NewEvent {
    let data = json!({"hub_id": hub.id.to_string(), "serial": hub.serial});
    event(hub, EventType::HubDeleted, at, data)
}

/// The events a change of one hub causes, from the hub before and after it:
/// a rename or move, a new desired state, reported keys that changed, and
/// the hub going online or offline.
pub fn hub_changed(before: &Hub, after: &Hub, at: OffsetDateTime) -> Vec<NewEvent> {
    let id = after.id.to_string();
    let mut events = Vec::new();
    if before.name != after.name || before.room != after.room {
        let data = json!({"hub_id": id, "name": after.name, "room": after.room});
        events.push(event(after, EventType::HubUpdated, at, data));
    }
    if before.desired != after.desired {
        let data = json!({
            "hub_id": id, "desired": after.desired, "desired_version": after.desired_version
        });
        events.push(event(after, EventType::HubDesiredChanged, at, data));
    }
    let changed: Map<String, Value> = after
        .state
        .iter()
        .filter(|(key, value)| before.state.get(*key) != Some(*value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if !changed.is_empty() {
        let data = json!({
            "hub_id": id, "changed": changed, "reported_version": after.reported_version
        });
        events.push(event(after, EventType::HubStateReported, at, data));
    }
    if before.online != after.online {
        let kind = if after.online {
            EventType::HubOnline
        } else {
            EventType::HubOffline
        };
        let data = json!({"hub_id": id, "last_seen": after.last_seen.map(|t| t.unix_timestamp())});
        events.push(event(after, kind, at, data));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::demo_fleet;

    #[test]
    fn every_event_type_reads_back_from_its_text() {
        for kind in EventType::ALL {
            assert_eq!(kind.as_str().parse::<EventType>(), Ok(*kind));
        }
        assert!("hub.exploded".parse::<EventType>().is_err());
    }

    #[test]
    fn event_ids_sort_as_their_positions_and_parse_back() {
        assert_eq!(parse_event_id(&event_id(42)), Some(42));
        assert!(event_id(9) < event_id(10));
        for bad in ["evt_12", "hub_0000000000000001", "evt_00000000000000x1", ""] {
            assert_eq!(parse_event_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_change_causes_one_event_per_kind_of_difference() {
        let now = time::macros::datetime!(2026-01-01 0:00 UTC);
        let before = demo_fleet().remove(0).into_hub(AccountId::new(), now);
        assert!(
            hub_changed(&before, &before, now).is_empty(),
            "no change, no event"
        );

        let mut after = before.clone();
        after.name = "Renamed".into();
        after.desired.insert("mtrmode".into(), json!(false));
        after.state.insert("active".into(), json!(3));
        after.online = !before.online;
        let kinds: Vec<EventType> = hub_changed(&before, &after, now)
            .iter()
            .map(|e| e.kind)
            .collect();
        let went = if after.online {
            EventType::HubOnline
        } else {
            EventType::HubOffline
        };
        assert_eq!(
            kinds,
            [
                EventType::HubUpdated,
                EventType::HubDesiredChanged,
                EventType::HubStateReported,
                went
            ]
        );
        let reported = hub_changed(&before, &after, now).remove(2);
        assert_eq!(
            reported.data["changed"],
            json!({"active": 3}),
            "only the changed keys"
        );
        assert_eq!(reported.account, before.account_id);
    }
}
