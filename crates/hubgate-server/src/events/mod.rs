//! Events for integrations on this node: the feed that tells this node's
//! event streams of new events, webhook deliveries ([`delivery`]), and the
//! retention of events.
//!
//! Events are written by the store with the hub changes that cause them
//! (a transactional outbox), and their positions become visible in order,
//! so a reader that remembers the last position it saw misses nothing.

pub mod delivery;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use hubgate_core::event::Event;
use tokio::sync::broadcast;

use crate::state::AppState;

/// How many events a slow stream may fall behind before it reads the store
/// instead of the feed.
const FEED_CAPACITY: usize = 4096;
/// How often the feed looks for events without a signal (writes by another
/// process on SQLite).
const FEED_POLL: Duration = Duration::from_millis(250);
const FEED_PAGE: u32 = 1000;

/// An event as the feed hands it to the streams: encoded once, however many
/// streams send it.
pub struct FedEvent {
    pub event: Event,
    pub sse: axum::response::sse::Event,
}

/// An event as one server-sent event: `id`, `event` and `data` (the event).
pub fn to_sse(event: &Event) -> axum::response::sse::Event {
    let data = serde_json::to_string(&event.to_wire()).unwrap_or_else(|_| "{}".into());
    axum::response::sse::Event::default()
        .id(event.id())
        .event(event.kind.as_str())
        .data(data)
}

/// Every event any node writes, in order, to this node's streams.
pub struct EventFeed {
    sender: broadcast::Sender<Arc<FedEvent>>,
    /// The position up to which the feed has read.
    read_up_to: AtomicI64,
    /// Set when the server shuts down: streams never end by themselves, and
    /// a graceful shutdown waits for every open request.
    closing: tokio::sync::watch::Sender<bool>,
}

impl Default for EventFeed {
    fn default() -> Self {
        Self {
            sender: broadcast::Sender::new(FEED_CAPACITY),
            read_up_to: AtomicI64::new(0),
            closing: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl EventFeed {
    /// New events from now on; subscribe before reading the store's backlog
    /// so nothing falls between the two.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<FedEvent>> {
        self.sender.subscribe()
    }

    /// The newest position the feed has read.
    pub fn position(&self) -> i64 {
        self.read_up_to.load(Ordering::Acquire)
    }

    /// Ends every stream (clients reconnect, to another node or after the
    /// restart, and resume with `Last-Event-ID`).
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }

    /// Becomes `true` when streams are to end.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Streams held open on this node.
    pub fn streams(&self) -> usize {
        self.sender.receiver_count()
    }
}

/// Reads new events from the store and sends them to this node's streams,
/// until aborted.
pub fn spawn_feed(state: &AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    hubgate_store::supervisor::supervise("event_feed", move || {
        let state = state.clone();
        async move {
            let mut written = state.store.events_written();
            let mut cursor = loop {
                match state.store.last_event_seq().await {
                    Ok(seq) => break seq,
                    Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            };
            state.event_feed.read_up_to.store(cursor, Ordering::Release);
            loop {
                match state.store.events_after(None, cursor, FEED_PAGE).await {
                    Ok(events) => {
                        let full = events.len() == FEED_PAGE as usize;
                        let listened = state.event_feed.sender.receiver_count() > 0;
                        for event in events {
                            cursor = event.seq;
                            // No stream listening is fine: they read the store.
                            if listened {
                                let sse = to_sse(&event);
                                let _ = state
                                    .event_feed
                                    .sender
                                    .send(Arc::new(FedEvent { event, sse }));
                            }
                        }
                        state.event_feed.read_up_to.store(cursor, Ordering::Release);
                        if full {
                            continue;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "could not read events; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                let _ = tokio::time::timeout(FEED_POLL, written.changed()).await;
            }
        }
    })
}

/// Drops events older than the retention window, at start and then every
/// ten minutes, until aborted.
pub fn spawn_retention(state: &AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    hubgate_store::supervisor::supervise("event_retention", move || {
        let state = state.clone();
        async move {
            loop {
                let retention = time::Duration::try_from(state.config.events.retention)
                    .unwrap_or(time::Duration::days(3));
                match state
                    .store
                    .purge_events(hubgate_core::now() - retention)
                    .await
                {
                    Ok(0) => {}
                    Ok(gone) => tracing::info!(gone, "dropped events past their retention"),
                    Err(error) => tracing::warn!(%error, "could not drop old events"),
                }
                tokio::time::sleep(Duration::from_secs(600)).await;
            }
        }
    })
}
