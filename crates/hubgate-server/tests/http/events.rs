//! Events for integrations over HTTP: the JSON pages and the event stream
//! (resumed after `Last-Event-ID`), webhook endpoints through the
//! management API, and deliveries signed, in order and retried.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hubgate_api::{Event, Page, Webhook, WebhookDelivery, WebhookWithSecret};
use hubgate_core::webhook::WebhookSecret;
use hubgate_testkit::{TestApp, error_of};
use serde_json::{Value, json};

const READ_WRITE: &str = "hubs:read hubs:write";
const MANAGE: &str = "integrations:read integrations:write hubs:read hubs:write";

async fn patch_desired(app: &TestApp, token: &str, hub: &str, mode: bool) {
    let response = app
        .patch::<Value>(
            &format!("/api/v1/hubs/{hub}"),
            token,
            &json!({"desired": {"mtrmode": mode}}),
        )
        .await;
    assert_eq!(response.status(), 200, "{}", response.text());
}

async fn first_hub(app: &TestApp, token: &str) -> String {
    app.hubs(token).await.ok().items[0].id.clone()
}

async fn page(app: &TestApp, token: &str, query: &str) -> Page<Event> {
    let response = app
        .get::<Page<Event>>(&format!("/api/v1/events{query}"), token)
        .await;
    assert_eq!(response.status(), 200, "{}", response.text());
    response.ok()
}

/// An open event stream, read event by event.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(app: &TestApp, token: &str, last_event_id: Option<&str>) -> Self {
        let mut request = app
            .http
            .get(format!("{}/api/v1/events", app.url))
            .bearer_auth(token)
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (skipping comments), or `None` after `limit`.
    async fn next(&mut self, limit: Duration) -> Option<(String, String, Event)> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|line| line.strip_prefix(name))
                        .map(|v| v.trim().to_owned())
                };
                if let (Some(id), Some(kind), Some(data)) =
                    (field("id:"), field("event:"), field("data:"))
                {
                    let event: Event = serde_json::from_str(&data).unwrap();
                    return Some((id, kind, event));
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .unwrap()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

#[tokio::test]
async fn events_are_paged_and_streamed_per_account_and_a_stream_resumes_exactly() {
    let app = TestApp::spawn().await;
    let token = app.token(READ_WRITE).await.access_token;
    let (_, other) = app.other_account().await;
    let other_token = app.client_credentials(&other, None).await.access_token;
    let hub = first_hub(&app, &token).await;

    let created = page(&app, &token, "?limit=1000").await.items;
    assert!(
        created.iter().all(|e| e.kind == "hub.created"),
        "{created:?}"
    );
    assert!(created.len() >= 6, "the demo fleet's");
    let account = created[0].account_id.clone();
    let foreign = page(&app, &other_token, "").await.items;
    assert_eq!(foreign.len(), 1, "the other account sees its own hub only");
    assert_ne!(foreign[0].account_id, account);

    patch_desired(&app, &token, &hub, false).await;
    let all = page(&app, &token, "?limit=1000").await.items;
    let last = all.last().unwrap();
    assert_eq!(
        (last.kind.as_str(), last.hub_id.as_str()),
        ("hub.desired.changed", hub.as_str())
    );
    assert_eq!(last.data["desired"], json!({"mtrmode": false}));
    let two = page(&app, &token, "?limit=2").await;
    assert_eq!(two.items, all[..2]);
    assert_eq!(two.next_cursor.as_deref(), Some(all[1].id.as_str()));
    let rest = page(&app, &token, &format!("?after={}&limit=1000", all[1].id)).await;
    assert_eq!(rest.items, all[2..]);
    assert_eq!(rest.next_cursor, None);

    // A stream from an event on: the backlog, then live events.
    let mut stream = Stream::open(&app, &token, Some(&all[all.len() - 2].id)).await;
    let (id, kind, event) = stream.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        (id.as_str(), kind.as_str()),
        (last.id.as_str(), "hub.desired.changed")
    );
    assert_eq!(&event, last);
    let other_hub = first_hub(&app, &other_token).await;
    patch_desired(&app, &other_token, &other_hub, true).await;
    patch_desired(&app, &token, &hub, true).await;
    let (live_id, _, live) = stream.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(live.data["desired"], json!({"mtrmode": true}));
    assert_eq!(live.account_id, account, "never another account's event");
    drop(stream);

    patch_desired(&app, &token, &hub, false).await;
    patch_desired(&app, &token, &hub, true).await;
    let mut resumed = Stream::open(&app, &token, Some(&live_id)).await;
    let mut missed = Vec::new();
    while let Some((_, _, event)) = resumed.next(Duration::from_millis(1500)).await {
        missed.push(event);
    }
    let modes: Vec<&Value> = missed
        .iter()
        .map(|e| &e.data["desired"]["mtrmode"])
        .collect();
    assert_eq!(
        modes,
        [&json!(false), &json!(true)],
        "exactly the missed events"
    );
    assert!(missed.windows(2).all(|w| w[0].id < w[1].id));

    let mut fresh = Stream::open(&app, &token, None).await;
    assert!(
        fresh.next(Duration::from_millis(500)).await.is_none(),
        "without Last-Event-ID a stream starts from now"
    );
    patch_desired(&app, &token, &hub, false).await;
    assert!(fresh.next(Duration::from_secs(5)).await.is_some());
}

#[tokio::test]
async fn the_event_api_refuses_what_it_cannot_serve() {
    let app = TestApp::spawn().await;
    let writer = app.token("hubs:write").await.access_token;
    let (status, code) = error_of(
        app.http
            .get(format!("{}/api/v1/events", app.url))
            .bearer_auth(&writer)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (403, "insufficient_scope"));
    let token = app.token("hubs:read").await.access_token;
    for query in ["?after=hub_1", "?limit=0", "?limit=1001", "?cursor=x"] {
        let response = app
            .get::<Value>(&format!("/api/v1/events{query}"), &token)
            .await;
        assert_eq!(response.status(), 400, "{query}: {}", response.text());
    }
    let response = app
        .http
        .get(format!("{}/api/v1/events", app.url))
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .header("last-event-id", "not-an-id")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

/// What a receiver got: the headers that matter and the body.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) id: String,
    pub(crate) timestamp: i64,
    pub(crate) signature: String,
    pub(crate) body: String,
}

/// A webhook receiver in the test: answers 500 to the first `failures`
/// deliveries, then 204.
pub(crate) async fn receiver(failures: usize) -> (String, Arc<Mutex<Vec<Received>>>) {
    use axum::http::{HeaderMap, StatusCode};
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let header = |name: &str| headers[name].to_str().unwrap().to_owned();
                let mut seen = seen.lock().unwrap();
                seen.push(Received {
                    id: header("webhook-id"),
                    timestamp: header("webhook-timestamp").parse().unwrap(),
                    signature: header("webhook-signature"),
                    body,
                });
                if seen.len() <= failures {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

async fn create_webhook(
    app: &TestApp,
    token: &str,
    client_id: &str,
    body: Value,
) -> reqwest::Response {
    app.http
        .post(format!(
            "{}/api/v1/integrations/{client_id}/webhooks",
            app.url
        ))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn webhooks_arrive_signed_in_order_per_hub_and_a_failure_is_retried() {
    let app = TestApp::spawn_with(|config| config.events.allow_private = true).await;
    let manager = app.token(MANAGE).await;
    let token = manager.access_token.clone();
    let client_id = manager.creds.client_id.clone();
    let (url, received) = receiver(1).await;
    let response = create_webhook(
        &app,
        &token,
        &client_id,
        json!({"url": url, "events": ["hub.desired.changed"]}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let created: WebhookWithSecret = response.json().await.unwrap();
    let secret = WebhookSecret::parse(&created.secret).unwrap();

    let hub = first_hub(&app, &token).await;
    for mode in [false, true, false] {
        patch_desired(&app, &token, &hub, mode).await;
    }
    let arrived = app
        .eventually(Duration::from_secs(15), || async {
            received.lock().unwrap().len() >= 4
        })
        .await;
    assert!(arrived.is_some(), "{:?}", received.lock().unwrap());
    let received = received.lock().unwrap().clone();
    for delivery in &received {
        assert_eq!(
            delivery.signature,
            secret.sign(&delivery.id, delivery.timestamp, delivery.body.as_bytes()),
            "signed with the endpoint's secret"
        );
        assert!((hubgate_core::now().unix_timestamp() - delivery.timestamp).abs() < 60);
    }
    assert_eq!(
        received[0].id, received[1].id,
        "the failed first delivery came again before any later event"
    );
    let modes: Vec<Value> = received[1..]
        .iter()
        .map(|d| serde_json::from_str::<Event>(&d.body).unwrap().data["desired"]["mtrmode"].clone())
        .collect();
    assert_eq!(modes, [json!(false), json!(true), json!(false)], "in order");

    let log: Page<WebhookDelivery> = app
        .get(
            &format!(
                "/api/v1/integrations/{client_id}/webhooks/{}/deliveries",
                created.webhook.id
            ),
            &token,
        )
        .await
        .ok();
    assert_eq!(log.items.len(), 3);
    let first = log.items.last().unwrap();
    assert_eq!(
        (first.status.as_str(), first.attempts, first.response_status),
        ("delivered", 2, Some(204))
    );
    assert!(log.items.iter().all(|d| d.status == "delivered"));
    let resend = app
        .http
        .post(format!(
            "{}/api/v1/integrations/{client_id}/webhooks/{}/deliveries/{}/resend",
            app.url, created.webhook.id, first.event_id
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resend.status(), 202);
}

#[tokio::test]
async fn webhook_endpoints_are_managed_within_their_account_and_private_urls_refused() {
    let app = TestApp::spawn().await;
    let manager = app.token(MANAGE).await;
    let token = manager.access_token;
    let client_id = manager.creds.client_id;
    for (url, reason) in [
        ("http://127.0.0.1:9/hook", "loopback, private or link-local"),
        (
            "http://169.254.169.254/latest",
            "loopback, private or link-local",
        ),
        ("ftp://example.com/x", "http:// or https://"),
        ("https://user:pw@example.com/", "user name or password"),
    ] {
        let response = create_webhook(&app, &token, &client_id, json!({"url": url})).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 422, "{url}: {body}");
        assert!(
            body["error_description"].as_str().unwrap().contains(reason),
            "{url}: {body}"
        );
    }
    let blind = app.integration("accounts:read").await;
    let refused = create_webhook(
        &app,
        &token,
        &blind.client_id,
        json!({"url": "https://93.184.216.34/hook"}),
    )
    .await;
    assert_eq!(
        refused.status(),
        422,
        "an integration without hubs:read gets no events"
    );
    let unknown_type = create_webhook(
        &app,
        &token,
        &client_id,
        json!({"url": "https://93.184.216.34/hook", "events": ["hub.exploded"]}),
    )
    .await;
    assert_eq!(unknown_type.status(), 422);

    let created: WebhookWithSecret = create_webhook(
        &app,
        &token,
        &client_id,
        json!({"url": "https://93.184.216.34/hook", "events": ["hub.online", "hub.offline"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(created.secret.starts_with("whsec_"));
    let path = format!(
        "/api/v1/integrations/{client_id}/webhooks/{}",
        created.webhook.id
    );
    let listed: Vec<Webhook> = app
        .get(
            &format!("/api/v1/integrations/{client_id}/webhooks"),
            &token,
        )
        .await
        .ok();
    assert_eq!(listed, std::slice::from_ref(&created.webhook));

    let rotated: WebhookWithSecret = app
        .http
        .post(format!("{}{path}/rotate-secret", app.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(rotated.secret, created.secret);
    assert!(rotated.webhook.previous_secret_expires_at.is_some());

    let disabled = app
        .patch::<Webhook>(&path, &token, &json!({"enabled": false, "events": []}))
        .await
        .ok();
    assert!(!disabled.enabled);
    assert!(disabled.events.is_empty(), "all events");

    // Another account's token sees none of it.
    let (_, other) = app.other_account().await;
    let other_manager = app
        .integration_in(other.integration.account_id, MANAGE, true)
        .await;
    let other_token = app
        .client_credentials(&other_manager, None)
        .await
        .access_token;
    for response in [
        app.http
            .get(format!("{}{path}", app.url))
            .bearer_auth(&other_token)
            .send()
            .await
            .unwrap(),
        app.http
            .delete(format!("{}{path}", app.url))
            .bearer_auth(&other_token)
            .send()
            .await
            .unwrap(),
        create_webhook(
            &app,
            &other_token,
            &client_id,
            json!({"url": "https://93.184.216.34/"}),
        )
        .await,
    ] {
        assert_eq!(response.status(), 404);
    }
    let reader = app.token("integrations:read").await;
    let refused = app
        .http
        .delete(format!("{}{path}", app.url))
        .bearer_auth(&reader.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    let deleted = app
        .http
        .delete(format!("{}{path}", app.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.get::<Value>(&path, &token).await.status(), 404);
}

#[tokio::test]
async fn a_delivery_to_a_private_address_is_refused_at_send_time_too() {
    // The operator has not allowed private addresses; endpoints that point
    // at one anyway (made by the admin tool with --allow-private, or a name
    // that resolved elsewhere when it was created) get nothing.
    let app = TestApp::spawn().await;
    let manager = app.token(MANAGE).await;
    let (url, received) = receiver(0).await;
    let port = url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/hook")
        .to_owned();
    let by_name = format!("http://localhost:{port}/hook");
    let integration = app
        .manager()
        .integration(&manager.creds.client_id)
        .await
        .unwrap();
    let mut endpoints = Vec::new();
    for target in [&url, &by_name] {
        let created = app
            .manager()
            .create_webhook(&integration, target, &[], true)
            .await
            .unwrap();
        endpoints.push(created.endpoint.id.to_string());
    }
    let hub = first_hub(&app, &manager.access_token).await;
    patch_desired(&app, &manager.access_token, &hub, false).await;

    for (endpoint, reason) in endpoints
        .iter()
        .zip(["loopback, private or link-local", "no public address"])
    {
        let path = format!(
            "/api/v1/integrations/{}/webhooks/{endpoint}/deliveries",
            manager.creds.client_id
        );
        let failed = app
            .eventually(Duration::from_secs(5), || async {
                let log: Page<WebhookDelivery> = app.get(&path, &manager.access_token).await.ok();
                log.items.first().is_some_and(|d| d.attempts == 1)
            })
            .await;
        assert!(failed.is_some(), "{endpoint} was not attempted");
        let log: Page<WebhookDelivery> = app.get(&path, &manager.access_token).await.ok();
        let delivery = &log.items[0];
        assert_eq!(
            (delivery.status.as_str(), delivery.response_status),
            ("pending", None)
        );
        let error = delivery.error.as_deref().unwrap();
        assert!(error.contains(reason), "{endpoint}: {error}");
        assert!(
            !error.contains(&port),
            "the URL stays out of the log: {error}"
        );
    }
    assert!(
        received.lock().unwrap().is_empty(),
        "nothing reached the receiver"
    );
}

#[tokio::test]
async fn a_stream_ends_when_its_integration_is_disabled() {
    let app = TestApp::spawn().await;
    let reader = app.token("hubs:read").await;
    let mut stream = Stream::open(&app, &reader.access_token, None).await;
    app.manager()
        .set_enabled(reader.creds.integration.clone(), false)
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while stream.response.chunk().await.ok().flatten().is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived its integration");
}
