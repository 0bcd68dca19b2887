//! Webhook deliveries: every node takes due deliveries under a lease (so two
//! nodes never send one at once, and a dead node's are taken over when its
//! lease runs out), POSTs each event signed the Standard Webhooks way, and
//! records what came of it. At least once: a node that dies after sending
//! but before recording sends again, with the same `webhook-id`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use hubgate_core::webhook::{self, after_attempt, is_public, signature_header};
use hubgate_store::{ClaimedDelivery, DeliveryAttempt};

use crate::config::EventSettings;
use crate::state::AppState;

/// Deliveries taken per claim.
const CLAIM_BATCH: u32 = 64;
/// Attempts in flight at once on one node.
const IN_FLIGHT: usize = 32;
/// How often a node looks for due deliveries without a signal (retries
/// falling due, resends, another process's writes on SQLite).
const IDLE_POLL: Duration = Duration::from_secs(1);
/// A lease outlasts an attempt by this much, so only a dead node's runs out.
const LEASE_MARGIN: Duration = Duration::from_secs(10);

/// Delivers until aborted.
pub fn spawn_deliveries(state: &AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    hubgate_store::supervisor::supervise("webhook_delivery", move || {
        let state = state.clone();
        async move {
            let client = match http_client(&state.config.events) {
                Ok(client) => client,
                Err(error) => {
                    tracing::error!(%error, "cannot build the webhook HTTP client; no deliveries");
                    return;
                }
            };
            let lease = state.config.events.attempt_timeout + LEASE_MARGIN;
            let mut written = state.store.events_written();
            loop {
                let now = hubgate_core::now();
                match state
                    .store
                    .claim_deliveries(now, now + lease, CLAIM_BATCH)
                    .await
                {
                    Ok(claimed) if !claimed.is_empty() => {
                        let attempts: Vec<DeliveryAttempt> = futures::stream::iter(claimed)
                            .map(|delivery| attempt(&client, &state, delivery))
                            .buffer_unordered(IN_FLIGHT)
                            .collect()
                            .await;
                        if let Err(error) = state.store.record_attempts(&attempts).await {
                            // Their leases run out and they are sent again.
                            tracing::warn!(%error, "could not record webhook attempts");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                        continue;
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "could not claim webhook deliveries; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                let _ = tokio::time::timeout(IDLE_POLL, written.changed()).await;
            }
        }
    })
}

fn http_client(settings: &EventSettings) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(settings.attempt_timeout)
        .connect_timeout(settings.attempt_timeout)
        // A redirect could lead anywhere, a private address included.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("hubgate-webhooks/", env!("CARGO_PKG_VERSION")));
    if !settings.allow_private {
        builder = builder.dns_resolver(Arc::new(PublicAddressesOnly));
    }
    builder.build()
}

/// Resolves a host to its public addresses only, at every delivery, so an
/// endpoint whose name is later pointed at a private address gets nothing.
struct PublicAddressesOnly;

impl reqwest::dns::Resolve for PublicAddressesOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|address| is_public(address.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Sends one delivery and decides what follows.
async fn attempt(
    client: &reqwest::Client,
    state: &AppState,
    delivery: ClaimedDelivery,
) -> DeliveryAttempt {
    let now = hubgate_core::now();
    let started = Instant::now();
    let answer = send(client, state, &delivery, now).await;
    let latency_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
    let (response_status, error) = match answer {
        Ok(status) if webhook::accepted(status) => (Some(status), None),
        Ok(status) => (Some(status), Some(format!("answered {status}"))),
        Err(reason) => (None, Some(reason)),
    };
    let delivered = error.is_none();
    let failing_since = delivery.endpoint.failing_since.or(Some(now));
    let jitter = rand::random_range(-1.0..=1.0);
    let (outcome, disable) =
        after_attempt(delivery.attempts, delivered, failing_since, now, jitter);
    state
        .metrics
        .webhook_attempt(if delivered { "delivered" } else { "failed" });
    let disable_endpoint = disable.then(|| {
        tracing::warn!(endpoint = %delivery.endpoint.id, "webhook endpoint failing for 5 days; disabled");
        format!(
            "disabled on {}: every delivery failed for 5 days (the last: {})",
            crate::console::when(Some(now)),
            error.as_deref().unwrap_or("failed")
        )
    });
    DeliveryAttempt {
        delivery: delivery.id,
        endpoint: delivery.endpoint.id,
        outcome,
        response_status,
        error,
        latency_ms,
        at: now,
        disable_endpoint,
    }
}

/// POSTs the event; the endpoint's HTTP status, or why there is none.
async fn send(
    client: &reqwest::Client,
    state: &AppState,
    delivery: &ClaimedDelivery,
    now: time::OffsetDateTime,
) -> Result<u16, String> {
    let endpoint = &delivery.endpoint;
    let url = webhook::check_url(&endpoint.url).map_err(|e| e.to_string())?;
    if !state.config.events.allow_private
        && let Some(address) = literal_address(&url)
        && !is_public(address)
    {
        return Err(webhook::UrlError::Private(address).to_string());
    }
    let (current, previous) = endpoint
        .signing_secrets(&state.master, now)
        .map_err(|_| "the endpoint's secret does not open with this master key".to_owned())?;
    let id = delivery.event.id();
    let timestamp = now.unix_timestamp();
    let body = serde_json::to_vec(&delivery.event.to_wire()).map_err(|e| e.to_string())?;
    let signature = signature_header(&current, previous.as_ref(), &id, timestamp, &body);
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(|error| describe(&error, state.config.events.attempt_timeout))?;
    Ok(response.status().as_u16())
}

fn literal_address(url: &url::Url) -> Option<std::net::IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(v4.into()),
        url::Host::Ipv6(v6) => Some(v6.into()),
        url::Host::Domain(_) => None,
    }
}

/// A failed attempt's reason for the delivery log: never the URL (it may
/// carry a token of the receiver's).
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", timeout.as_secs());
    }
    let mut reason = String::from(if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    });
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}
