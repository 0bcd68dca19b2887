//! Reports from devices, coalesced per hub and written in batches: a device
//! may report many times a second, and one transaction per report would cap
//! ingestion at the disk's flush rate. What a node heard in one interval is
//! one write (a group commit), in arrival order per hub.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hubgate_core::ids::HubId;
use hubgate_store::{HubReport, Store};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// How long a report may wait for its batch: well inside the 1 s within
/// which a report must be persisted and visible on every node.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Default)]
pub struct ReportBuffer {
    pending: Mutex<HashMap<HubId, HubReport>>,
}

impl ReportBuffer {
    fn with_entry(&self, hub: HubId, seen: OffsetDateTime, change: impl FnOnce(&mut HubReport)) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = pending.entry(hub).or_insert_with(|| HubReport {
            hub,
            state: Map::new(),
            reports: 0,
            online: None,
            seen,
        });
        entry.seen = seen;
        change(entry);
    }

    /// A checked report: merged over what is still waiting for this hub.
    pub fn report(&self, hub: HubId, state: Map<String, Value>, seen: OffsetDateTime) {
        self.with_entry(hub, seen, |entry| {
            hubgate_core::hub::merge_report(&mut entry.state, &state);
            entry.reports += 1;
        });
    }

    /// The device connected (`true`) or its last connection ended (`false`).
    pub fn presence(&self, hub: HubId, online: bool, seen: OffsetDateTime) {
        self.with_entry(hub, seen, |entry| entry.online = Some(online));
    }

    fn take(&self) -> Vec<HubReport> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.drain().map(|(_, report)| report).collect()
    }

    /// Puts a batch that could not be written back in front of what arrived
    /// since, so nothing heard is lost while the store is away.
    fn restore(&self, batch: Vec<HubReport>) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        for mut older in batch {
            if let Some(newer) = pending.remove(&older.hub) {
                hubgate_core::hub::merge_report(&mut older.state, &newer.state);
                older.reports += newer.reports;
                older.online = newer.online.or(older.online);
                older.seen = newer.seen;
            }
            pending.insert(older.hub, older);
        }
    }

    /// Writes what waits every `FLUSH_INTERVAL` until aborted; a failed
    /// write is kept and retried with backoff.
    pub async fn flush_forever(self: Arc<Self>, store: Arc<dyn Store>) {
        let mut delay = FLUSH_INTERVAL;
        loop {
            tokio::time::sleep(delay).await;
            delay = match self.flush(store.as_ref()).await {
                Ok(()) => FLUSH_INTERVAL,
                Err(error) => {
                    tracing::warn!(%error, "could not write device reports; retrying");
                    (delay * 2).min(Duration::from_secs(5))
                }
            };
        }
    }

    /// Writes what waits now (also at shutdown).
    pub async fn flush(&self, store: &dyn Store) -> Result<(), hubgate_store::StoreError> {
        let batch = self.take();
        if batch.is_empty() {
            return Ok(());
        }
        if let Err(error) = store.record_hub_reports(&batch).await {
            self.restore(batch);
            return Err(error);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn reports_of_one_hub_coalesce_in_arrival_order_and_a_failed_batch_goes_back_first() {
        let buffer = ReportBuffer::default();
        let hub = HubId::new();
        let at = hubgate_core::now();
        buffer.presence(hub, true, at);
        buffer.report(hub, map(json!({"active": 1, "mtrmode": true})), at);
        buffer.report(hub, map(json!({"active": 2})), at);
        let batch = buffer.take();
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].state, map(json!({"active": 2, "mtrmode": true})));
        assert_eq!((batch[0].reports, batch[0].online), (2, Some(true)));

        // The write failed; meanwhile the hub reported again and went away.
        buffer.report(hub, map(json!({"active": 3})), at);
        buffer.presence(hub, false, at);
        buffer.restore(batch);
        let retried = buffer.take();
        assert_eq!(retried[0].state, map(json!({"active": 3, "mtrmode": true})));
        assert_eq!((retried[0].reports, retried[0].online), (3, Some(false)));
    }
}
