//! The account's events (`GET /api/v1/events`, scope `hubs:read`): a JSON
//! page to poll, or a `text/event-stream` followed live and resumed by id.

use std::time::Duration;

use futures::Stream;
use hubgate_api::{ErrorCode, Event, Page};
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE};

use crate::sse;
use crate::{Client, Error};

/// Waits between reconnects: doubled after each failed try, back to the
/// start after a successful connect.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// The server sends a comment every 15 s: this long without a byte, the
    /// connection is dead even if no FIN came (a NAT forgot it, a laptop slept).
    pub idle_limit: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(15),
            idle_limit: Duration::from_secs(45),
        }
    }
}

impl Client {
    /// One page of the account's events, oldest first, after the event
    /// `after` (from the oldest retained without it); `limit` 1–1000,
    /// default 100. To poll, pass the id of the last event seen as `after`;
    /// `next_cursor` is set when the page was full and more may follow at once.
    pub async fn events(
        &self,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<Event>, Error> {
        let mut query = Vec::new();
        if let Some(after) = after {
            query.push(("after", after.to_owned()));
        }
        if let Some(limit) = limit {
            query.push(("limit", limit.to_string()));
        }
        self.call(Method::GET, &self.api("/events"), &query, None)
            .await
    }

    /// The account's events as they happen, from just after the event
    /// `after` or, without it, from now on.
    ///
    /// The stream does not end by itself: when the connection drops, stalls
    /// or the server closes it (as it does when the token expires), it
    /// reconnects after a backoff (0.5 s doubling to 15 s) with
    /// `Last-Event-ID` set to the last event it yielded, so no event is
    /// yielded twice or skipped. A `401 invalid_token` gets a new token, once.
    ///
    /// An `Err` is always the last item. Before the first connection any
    /// failure is one, so a wrong URL or credentials show at once; after it
    /// only what retrying cannot mend is (credentials or scope refused, a
    /// 4xx, an answer that is not an event stream): transport failures and
    /// 5xx, 408 and 429 answers are retried forever.
    pub fn event_stream(
        &self,
        after: Option<String>,
    ) -> impl Stream<Item = Result<Event, Error>> + Send + Unpin + 'static {
        self.event_stream_with(after, Timing::default())
    }

    pub(crate) fn event_stream_with(
        &self,
        after: Option<String>,
        timing: Timing,
    ) -> impl Stream<Item = Result<Event, Error>> + Send + Unpin + 'static {
        let tail = Tail {
            client: self.clone(),
            timing,
            last_id: after,
            connection: None,
            delay: timing.first_delay,
            connected: false,
            finished: false,
        };
        Box::pin(futures::stream::unfold(tail, |mut tail| async move {
            let item = tail.next().await?;
            Some((item, tail))
        }))
    }
}

/// The state of one [`Client::event_stream`].
struct Tail {
    client: Client,
    timing: Timing,
    /// The id of the last event yielded: where a reconnect resumes.
    last_id: Option<String>,
    connection: Option<Connection>,
    /// The wait before the next reconnect.
    delay: Duration,
    /// Connected at least once: from then on failures are retried.
    connected: bool,
    finished: bool,
}

impl Tail {
    async fn next(&mut self) -> Option<Result<Event, Error>> {
        if self.finished {
            return None;
        }
        loop {
            let connection = match &mut self.connection {
                Some(connection) => connection,
                None => match self.connect().await {
                    Ok(connection) => self.connection.insert(connection),
                    Err(error) if self.connected && retryable(&error) => {
                        self.back_off().await;
                        continue;
                    }
                    Err(error) => return self.finish(error),
                },
            };
            match connection.next_message(self.timing.idle_limit).await {
                Some(message) => match self.accept(message) {
                    Ok(Some(event)) => return Some(Ok(event)),
                    Ok(None) => {}
                    Err(error) => return self.finish(error),
                },
                None => {
                    self.connection = None;
                    self.back_off().await;
                }
            }
        }
    }

    fn finish(&mut self, error: Error) -> Option<Result<Event, Error>> {
        self.finished = true;
        self.connection = None;
        Some(Err(error))
    }

    async fn back_off(&mut self) {
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 2).min(self.timing.max_delay);
    }

    async fn connect(&mut self) -> Result<Connection, Error> {
        let url = self.client.api("/events");
        let mut retried = false;
        loop {
            let token = self.client.tokens().token().await?;
            let mut request = self
                .client
                .stream_http()
                .get(&url)
                .bearer_auth(token.secret())
                .header(ACCEPT, "text/event-stream");
            if let Some(last_id) = &self.last_id {
                request = request.header("Last-Event-ID", last_id);
            }
            let response = request.send().await?;
            let status = response.status().as_u16();
            if response.status().is_success() {
                let content_type = response
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if !content_type.starts_with("text/event-stream") {
                    return Err(Error::Unexpected {
                        status,
                        detail: format!("expected text/event-stream, got {content_type:?}"),
                    });
                }
                self.connected = true;
                self.delay = self.timing.first_delay;
                return Ok(Connection {
                    response,
                    parser: sse::Parser::default(),
                });
            }
            let error = Error::from_response(response, false).await;
            // A token revoked or expired while connected: a new one, once.
            if status == 401 && !retried && matches!(error.code(), Some(ErrorCode::InvalidToken)) {
                self.client.tokens().reject(&token).await;
                retried = true;
                continue;
            }
            return Err(error);
        }
    }

    /// The event a message carries, or `None` for one already yielded.
    fn accept(&mut self, message: sse::Message) -> Result<Option<Event>, Error> {
        let event: Event = serde_json::from_str(&message.data).map_err(|e| Error::Unexpected {
            status: 200,
            detail: format!("an event stream message that is not an event: {e}"),
        })?;
        if self
            .last_id
            .as_deref()
            .is_some_and(|last| is_repeat(&event.id, last))
        {
            return Ok(None);
        }
        self.last_id = Some(event.id.clone());
        Ok(Some(event))
    }
}

/// Ids are fixed width and sort as their events happened, so one at or
/// before the last yielded was yielded already (a server that resent it).
fn is_repeat(id: &str, last: &str) -> bool {
    id == last || (id.len() == last.len() && id < last)
}

/// Failures that may pass: the network, an overloaded or restarting server.
fn retryable(error: &Error) -> bool {
    match error {
        Error::Transport(_) => true,
        Error::OAuth { status, .. }
        | Error::Api { status, .. }
        | Error::Unexpected { status, .. } => *status >= 500 || *status == 408 || *status == 429,
        Error::Config(_) => false,
    }
}

struct Connection {
    response: reqwest::Response,
    parser: sse::Parser,
}

impl Connection {
    /// The next message, or `None` when the connection ended, failed or
    /// stayed silent past `idle_limit`: all of them mean reconnect.
    async fn next_message(&mut self, idle_limit: Duration) -> Option<sse::Message> {
        loop {
            if let Some(message) = self.parser.next_message() {
                return Some(message);
            }
            match tokio::time::timeout(idle_limit, self.response.chunk()).await {
                Ok(Ok(Some(bytes))) => self.parser.feed(&bytes),
                Ok(Ok(None) | Err(_)) | Err(_) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests;
