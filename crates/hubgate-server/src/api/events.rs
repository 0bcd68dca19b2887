//! `/api/v1/events`: the account's events as a Server-Sent Events stream
//! that resumes after `Last-Event-ID`, or as JSON pages after `?after=`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::ACCEPT;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use hubgate_api::Page;
use hubgate_core::event::{Event, parse_event_id};
use hubgate_core::ids::AccountId;
use hubgate_core::scope::Scope;
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc};

use super::auth::Principal;
use super::error::ApiError;
use crate::events::{FedEvent, to_sse};
use crate::state::AppState;

pub const DEFAULT_PAGE: u32 = 100;
pub const MAX_PAGE: u32 = 1000;
/// A comment line this often keeps proxies from closing a quiet stream.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// How often an open stream checks that its token still holds.
const RECHECK: Duration = Duration::from_secs(5);
const BACKLOG_PAGE: u32 = 500;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Start after this event (`evt_…`). A stream also takes the
    /// `Last-Event-ID` header, which wins. Without either a page starts at
    /// the oldest event kept and a stream with events from now on.
    after: Option<String>,
    /// Events per page, 1 to 1000 (pages only).
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
}

/// The account's events, oldest first: `hub.state.reported`, `hub.online`,
/// `hub.offline`, `hub.desired.changed`, `hub.updated`, `hub.created`,
/// `hub.deleted`. With `Accept: text/event-stream`, a stream: each event
/// is `id: evt_…`, `event: <type>`, `data: <the event>`, with a `:
/// heartbeat` comment every 15 s; reconnect with `Last-Event-ID` to get
/// exactly the events missed (within the retention window, 72 h by
/// default). The stream ends when the token expires or is revoked.
/// Otherwise a JSON page; pass the last id seen as `after` for the next.
#[utoipa::path(get, path = "/api/v1/events", operation_id = "listEvents", tag = "Events",
    params(EventsQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume a stream after this event")),
    responses(
        (status = 200, description = "A page of events (JSON), or the stream (`text/event-stream`)",
            content(
                (hubgate_api::Page<hubgate_api::Event> = "application/json"),
                (String = "text/event-stream"),
            )),
        (status = 400, description = "`invalid_request`: a bad `after`, `Last-Event-ID` or limit", body = hubgate_api::ErrorBody),
        (status = 401, description = "`invalid_token`: missing, malformed, expired or revoked token", body = hubgate_api::ErrorBody), (status = 403, description = "`insufficient_scope`", body = hubgate_api::ErrorBody), (status = 503, description = "`temporarily_unavailable`", body = hubgate_api::ErrorBody),
    ),
    security(("oauth2" = ["hubs:read"]), ("bearer" = [])),
)]
pub async fn events(
    principal: Principal,
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    principal.require(Scope::HubsRead)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let wants_stream = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"));
    let resume = headers
        .get("last-event-id")
        .filter(|_| wants_stream)
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .or(query.after);
    let after = resume
        .filter(|text| !text.is_empty())
        .map(|text| {
            parse_event_id(&text).ok_or_else(|| {
                ApiError::bad_request("after and Last-Event-ID take an event id (evt_…)")
            })
        })
        .transpose()?;
    if wants_stream {
        let after = match after {
            Some(after) => after,
            None => state.store.last_event_seq().await?,
        };
        let token = super::auth::bearer(&headers)?.to_owned();
        return Ok(stream(state, principal, token, after).into_response());
    }
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let events = state
        .store
        .events_after(Some(principal.account()), after.unwrap_or(0), limit)
        .await?;
    let next_cursor = (events.len() == limit as usize)
        .then(|| events.last().map(Event::id))
        .flatten();
    Ok(Json(Page {
        items: events.iter().map(Event::to_wire).collect(),
        next_cursor,
    })
    .into_response())
}

fn stream(
    state: AppState,
    principal: Principal,
    token: String,
    after: i64,
) -> Sse<impl futures::Stream<Item = Result<SseEvent, Infallible>>> {
    let (sender, receiver) = mpsc::channel(64);
    // Subscribe before reading the backlog, so nothing falls between.
    let feed = state.event_feed.subscribe();
    tokio::spawn(pump(state, principal, token, after, feed, sender));
    let events = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|event| (Ok(event), receiver))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat"))
}

/// Sends the account's events after `position` to one stream: the backlog
/// from the store, then the feed, until the client goes, the token expires
/// or is revoked.
async fn pump(
    state: AppState,
    principal: Principal,
    token: String,
    mut position: i64,
    mut feed: broadcast::Receiver<Arc<FedEvent>>,
    sender: mpsc::Sender<SseEvent>,
) {
    state.metrics.event_streams(1.0);
    let _closed = scopeguard(&state);
    let account = principal.account();
    if send_backlog(&state, account, &mut position, &sender)
        .await
        .is_err()
    {
        return;
    }
    let lifetime = (principal.claims.exp - hubgate_core::now().unix_timestamp()).max(0);
    let expiry = tokio::time::sleep(Duration::from_secs(lifetime.unsigned_abs()));
    tokio::pin!(expiry);
    let mut recheck = tokio::time::interval(RECHECK);
    let mut closing = state.event_feed.closing();
    if *closing.borrow_and_update() {
        return;
    }
    loop {
        tokio::select! {
            () = sender.closed() => return,
            _ = closing.changed() => return,
            () = &mut expiry => return,
            _ = recheck.tick() => {
                if !still_valid(&state, &token).await {
                    return;
                }
            }
            got = feed.recv() => match got {
                Ok(fed) => {
                    if fed.event.account == account && fed.event.seq > position {
                        position = fed.event.seq;
                        if sender.send(fed.sse.clone()).await.is_err() {
                            return;
                        }
                    }
                }
                // Fell behind the feed: the store has everything.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if send_backlog(&state, account, &mut position, &sender).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

/// Counts the stream closed however `pump` returns.
fn scopeguard(state: &AppState) -> impl Drop + '_ {
    struct Closed<'a>(&'a AppState);
    impl Drop for Closed<'_> {
        fn drop(&mut self) {
            self.0.metrics.event_streams(-1.0);
        }
    }
    Closed(state)
}

/// Reads the account's events after `position` from the store and sends
/// them; `Err` when the client has gone or the store cannot be read.
async fn send_backlog(
    state: &AppState,
    account: AccountId,
    position: &mut i64,
    sender: &mpsc::Sender<SseEvent>,
) -> Result<(), ()> {
    loop {
        let events = match state
            .store
            .events_after(Some(account), *position, BACKLOG_PAGE)
            .await
        {
            Ok(events) => events,
            Err(error) => {
                // The client reconnects with Last-Event-ID and loses nothing.
                tracing::warn!(%error, "could not read events for a stream; closing it");
                return Err(());
            }
        };
        let full = events.len() == BACKLOG_PAGE as usize;
        for event in &events {
            *position = event.seq;
            sender.send(to_sse(event)).await.map_err(drop)?;
        }
        if !full {
            return Ok(());
        }
    }
}

async fn still_valid(state: &AppState, token: &str) -> bool {
    super::auth::authenticate(state, token).await.is_ok()
}
