//! The event stream against a scripted server on a local port: each
//! connection is answered by the next entry of the script, and what each
//! connection asked with is recorded.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde_json::json;

use super::Timing;
use crate::{Client, Error, ErrorCode};

/// How one connection is answered.
enum Answer {
    /// A `text/event-stream` of these chunks, then `end`.
    Stream(Vec<String>, End),
    /// An RFC-shaped error.
    Refuse(u16, &'static str),
}

#[derive(Clone, Copy)]
enum End {
    /// The server ends the response (as when the token expires).
    Close,
    /// The connection breaks midway.
    Break,
    /// Nothing more, not even a heartbeat.
    Silence,
}

#[derive(Debug, Clone, PartialEq)]
struct Asked {
    authorization: String,
    last_event_id: Option<String>,
    accept: String,
    query: Option<String>,
}

#[derive(Default)]
struct Script {
    answers: Mutex<VecDeque<Answer>>,
    asked: Mutex<Vec<Asked>>,
    tokens_issued: AtomicUsize,
}

struct Fake {
    client: Client,
    script: Arc<Script>,
}

impl Fake {
    async fn serve(answers: Vec<Answer>) -> Self {
        let script = Arc::new(Script {
            answers: Mutex::new(answers.into()),
            ..Script::default()
        });
        let app = Router::new()
            .route("/identity/oauth/v2/token", post(token))
            .route("/api/v1/events", get(events))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = Client::builder(format!("http://{address}"))
            .client_credentials("hgc_test", "hgs_test")
            .build()
            .unwrap();
        Self { client, script }
    }

    fn stream(
        &self,
        after: Option<&str>,
    ) -> impl futures::Stream<Item = Result<hubgate_api::Event, Error>> + Unpin {
        let timing = Timing {
            first_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            idle_limit: Duration::from_millis(300),
        };
        self.client.event_stream_with(after.map(Into::into), timing)
    }

    fn asked(&self) -> Vec<Asked> {
        self.script.asked.lock().unwrap().clone()
    }

    fn last_event_ids(&self) -> Vec<Option<String>> {
        self.asked().into_iter().map(|a| a.last_event_id).collect()
    }
}

async fn token(State(script): State<Arc<Script>>) -> Json<serde_json::Value> {
    let n = script.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
    Json(json!({
        "access_token": format!("tok-{n}"),
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "hubs:read",
    }))
}

async fn events(
    State(script): State<Arc<Script>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    script.asked.lock().unwrap().push(Asked {
        authorization: header("authorization").unwrap_or_default(),
        last_event_id: header("last-event-id"),
        accept: header("accept").unwrap_or_default(),
        query,
    });
    if header("accept").as_deref() != Some("text/event-stream") {
        let page = json!({"items": [event(5)], "next_cursor": null});
        return Json(page).into_response();
    }
    let answer = script.answers.lock().unwrap().pop_front();
    match answer.unwrap_or(Answer::Stream(Vec::new(), End::Silence)) {
        Answer::Refuse(status, code) => (
            StatusCode::from_u16(status).unwrap(),
            Json(json!({"error": code, "error_description": "scripted"})),
        )
            .into_response(),
        Answer::Stream(chunks, end) => {
            let chunks = futures::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from(c))));
            let end: BoxStream<'static, Result<Bytes, std::io::Error>> = match end {
                End::Close => futures::stream::empty().boxed(),
                // After a pause, or the server drops the chunks before sending them.
                End::Break => futures::stream::once(async {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Err(std::io::Error::other("cut"))
                })
                .boxed(),
                End::Silence => futures::stream::pending().boxed(),
            };
            (
                [(header::CONTENT_TYPE, "text/event-stream")],
                Body::from_stream(chunks.chain(end)),
            )
                .into_response()
        }
    }
}

fn id(n: u64) -> String {
    format!("evt_{n:016}")
}

fn event(n: u64) -> serde_json::Value {
    json!({
        "id": id(n),
        "type": "hub.online",
        "timestamp": "2026-12-02T14:26:51Z",
        "account_id": "acc_1",
        "hub_id": "hub_1",
        "data": {"hub_id": "hub_1", "last_seen": 1796221611},
    })
}

/// One event as the server frames it.
fn sse(n: u64) -> String {
    format!("id: {}\nevent: hub.online\ndata: {}\n\n", id(n), event(n))
}

async fn take(
    stream: impl futures::Stream<Item = Result<hubgate_api::Event, Error>> + Unpin,
    n: usize,
) -> Vec<String> {
    let events = stream.take(n).map_ok(|e| e.id).try_collect();
    tokio::time::timeout(Duration::from_secs(10), events)
        .await
        .expect("the events in time")
        .expect("no error")
}

#[tokio::test]
async fn a_broken_connection_resumes_after_the_last_event_yielded_without_repeats() {
    let half_of_3 = sse(3)[..40].to_owned();
    let fake = Fake::serve(vec![
        Answer::Stream(
            vec![
                sse(1).replace('\n', "\r\n"),
                ": heartbeat\n\n".into(),
                sse(2),
                half_of_3,
            ],
            End::Break,
        ),
        Answer::Refuse(503, "temporarily_unavailable"),
        // A server that resends the last event: the client drops it.
        Answer::Stream(vec![sse(2), sse(3)], End::Close),
        Answer::Stream(vec![": heartbeat\n\n".into(), sse(4)], End::Silence),
    ])
    .await;

    let ids = take(fake.stream(None), 4).await;

    assert_eq!(ids, [id(1), id(2), id(3), id(4)]);
    assert_eq!(
        fake.last_event_ids(),
        [None, Some(id(2)), Some(id(2)), Some(id(3))]
    );
    assert!(fake.asked().iter().all(|a| a.accept == "text/event-stream"));
    assert_eq!(fake.script.tokens_issued.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_stream_gone_silent_is_reconnected_from_where_it_started() {
    let fake = Fake::serve(vec![
        Answer::Stream(Vec::new(), End::Silence),
        Answer::Stream(vec![sse(8)], End::Silence),
    ])
    .await;

    let ids = take(fake.stream(Some(&id(7))), 1).await;

    assert_eq!(ids, [id(8)]);
    assert_eq!(fake.last_event_ids(), [Some(id(7)), Some(id(7))]);
}

#[tokio::test]
async fn a_token_refused_midway_is_replaced_and_the_stream_resumes() {
    let fake = Fake::serve(vec![
        Answer::Stream(vec![sse(1)], End::Close),
        Answer::Refuse(401, "invalid_token"),
        Answer::Stream(vec![sse(2)], End::Silence),
    ])
    .await;

    let ids = take(fake.stream(None), 2).await;

    assert_eq!(ids, [id(1), id(2)]);
    let asked = fake.asked();
    let authorizations: Vec<&str> = asked.iter().map(|a| a.authorization.as_str()).collect();
    assert_eq!(
        authorizations,
        ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    );
    assert_eq!(fake.last_event_ids(), [None, Some(id(1)), Some(id(1))]);
}

#[tokio::test]
async fn a_second_401_in_a_row_ends_the_stream_with_it() {
    let fake = Fake::serve(vec![
        Answer::Refuse(401, "invalid_token"),
        Answer::Refuse(401, "invalid_token"),
    ])
    .await;
    let mut stream = fake.stream(None);

    let first = stream.next().await.expect("an item");

    assert!(
        matches!(
            &first,
            Err(Error::Api {
                status: 401,
                code: ErrorCode::InvalidToken,
                ..
            })
        ),
        "{first:?}"
    );
    assert!(stream.next().await.is_none(), "the error is the last item");
    assert_eq!(fake.asked().len(), 2);
    assert_eq!(fake.script.tokens_issued.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_refusal_retrying_cannot_mend_ends_the_stream_after_the_events_before_it() {
    let fake = Fake::serve(vec![
        Answer::Stream(vec![sse(1)], End::Close),
        Answer::Refuse(403, "insufficient_scope"),
    ])
    .await;

    let items: Vec<_> = tokio::time::timeout(Duration::from_secs(10), fake.stream(None).collect())
        .await
        .expect("the stream ends");

    assert_eq!(items.len(), 2, "{items:?}");
    assert!(matches!(&items[0], Ok(event) if event.id == id(1)));
    assert!(matches!(
        &items[1],
        Err(Error::Api {
            status: 403,
            code: ErrorCode::InsufficientScope,
            ..
        })
    ));
}

#[tokio::test]
async fn an_unreachable_server_is_reported_at_once() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = Client::builder(format!("http://127.0.0.1:{port}"))
        .client_credentials("hgc_test", "hgs_test")
        .build()
        .unwrap();

    let first = tokio::time::timeout(Duration::from_secs(10), client.event_stream(None).next())
        .await
        .expect("an answer in time");

    assert!(matches!(first, Some(Err(Error::Transport(_)))), "{first:?}");
}

#[tokio::test]
async fn a_page_of_events_is_asked_after_an_id_with_a_limit() {
    let fake = Fake::serve(Vec::new()).await;

    let page = fake.client.events(Some(&id(4)), Some(10)).await.unwrap();

    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, id(5));
    assert_eq!(page.next_cursor, None);
    let asked = fake.asked();
    assert_eq!(
        asked[0].query.as_deref(),
        Some("after=evt_0000000000000004&limit=10")
    );
    assert_ne!(asked[0].accept, "text/event-stream");
}
