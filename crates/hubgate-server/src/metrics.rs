//! Prometheus metrics, kept per app (no global recorder), so several servers
//! can run in one process (tests) and each reports only its own traffic.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

const METADATA: Metadata<'static> = Metadata::new("hubgate", Level::INFO, Some(module_path!()));
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// How often histogram samples are folded into their buckets. The recorder
/// keeps every sample until then: without upkeep a node nobody scrapes
/// would grow by 8 bytes a request, without bound.
pub const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Method label and status, per route template: all from fixed sets.
type RequestHandles = Vec<((&'static str, u16), (Counter, Histogram))>;

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// Registered handles per route, then (method, status): registering
    /// builds label vectors, which the hot path should not do per request,
    /// and a lookup by `&str` allocates nothing.
    requests: RwLock<HashMap<String, RequestHandles>>,
    /// `hubgate_tokens_issued_total` per grant type, registered once.
    tokens_issued: [Counter; GrantKind::ALL.len()],
}

pub use hubgate_core::grant::GrantKind;

impl Default for Metrics {
    fn default() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .expect("static bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        let tokens_issued = GrantKind::ALL.map(|grant| {
            recorder.register_counter(
                &Key::from_parts(
                    "hubgate_tokens_issued_total",
                    vec![Label::new("grant_type", grant.as_str())],
                ),
                &METADATA,
            )
        });
        Self {
            recorder,
            handle,
            requests: RwLock::default(),
            tokens_issued,
        }
    }
}

impl Metrics {
    fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
    }

    fn histogram(&self, name: &'static str, labels: Vec<Label>) -> Histogram {
        self.recorder
            .register_histogram(&Key::from_parts(name, labels), &METADATA)
    }

    pub fn token_issued(&self, grant: GrantKind) {
        self.tokens_issued[grant as usize].increment(1);
    }

    /// Folds the histograms' pending samples into their buckets (see
    /// [`UPKEEP_INTERVAL`]); a scrape does it too.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }

    pub fn client_auth_failed(&self, endpoint: &'static str) {
        self.counter(
            "hubgate_client_auth_failures_total",
            vec![Label::new("endpoint", endpoint)],
        )
        .increment(1);
    }

    pub fn client_auth_limited(&self, endpoint: &'static str) {
        self.counter(
            "hubgate_client_auth_limited_total",
            vec![Label::new("endpoint", endpoint)],
        )
        .increment(1);
    }

    /// A device connected (`+1`) or disconnected (`-1`) on this node.
    pub fn devices_connected(&self, delta: f64) {
        self.recorder
            .register_gauge(&Key::from_name("hubgate_mqtt_devices_connected"), &METADATA)
            .increment(delta);
    }

    /// What became of one MQTT message or subscription from a device:
    /// `accepted`, `invalid` (a report refused with a reason) or `forbidden`
    /// (a topic outside the device's own).
    pub fn device_message(&self, kind: &'static str, outcome: &'static str) {
        self.counter(
            "hubgate_mqtt_messages_total",
            vec![Label::new("kind", kind), Label::new("outcome", outcome)],
        )
        .increment(1);
    }

    /// One webhook attempt: `delivered` or `failed`.
    pub fn webhook_attempt(&self, result: &'static str) {
        self.counter(
            "hubgate_webhook_attempts_total",
            vec![Label::new("result", result)],
        )
        .increment(1);
    }

    /// An event stream opened (`+1`) or closed (`-1`) on this node.
    pub fn event_streams(&self, delta: f64) {
        self.recorder
            .register_gauge(&Key::from_name("hubgate_event_streams_open"), &METADATA)
            .increment(delta);
    }

    pub fn device_auth_failed(&self) {
        self.counter("hubgate_mqtt_auth_failures_total", vec![])
            .increment(1);
    }

    pub fn refresh_reuse_detected(&self) {
        self.counter("hubgate_refresh_token_reuse_total", vec![])
            .increment(1);
    }

    pub fn connection_event(&self, event: crate::connections::ConnectionEvent) {
        use crate::connections::ConnectionEvent;
        match event {
            ConnectionEvent::Opened => {
                self.counter("hubgate_connections_opened_total", vec![])
                    .increment(1);
                self.recorder
                    .register_gauge(&Key::from_name("hubgate_connections_open"), &METADATA)
                    .increment(1.0);
            }
            ConnectionEvent::Refused => self
                .counter("hubgate_connections_refused_total", vec![])
                .increment(1),
            ConnectionEvent::AcceptError => self
                .counter("hubgate_accept_errors_total", vec![])
                .increment(1),
            ConnectionEvent::Closed(reason) => {
                self.counter(
                    "hubgate_connections_closed_total",
                    vec![Label::new("reason", reason.as_str())],
                )
                .increment(1);
                self.recorder
                    .register_gauge(&Key::from_name("hubgate_connections_open"), &METADATA)
                    .decrement(1.0);
            }
        }
    }

    fn request_handles(
        &self,
        method: &'static str,
        route: &str,
        status: u16,
    ) -> (Counter, Histogram) {
        let key = (method, status);
        let find = |handles: &RequestHandles| {
            handles
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, handles)| handles.clone())
        };
        if let Some(handles) = self
            .requests
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(route)
            .and_then(find)
        {
            return handles;
        }
        let counter = self.counter(
            "hubgate_http_requests_total",
            vec![
                Label::new("method", method),
                Label::new("route", route.to_owned()),
                Label::new("status", status.to_string()),
            ],
        );
        let histogram = self.histogram(
            "hubgate_http_request_duration_seconds",
            vec![
                Label::new("method", method),
                Label::new("route", route.to_owned()),
            ],
        );
        let mut requests = self
            .requests
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let per_route = requests.entry(route.to_owned()).or_default();
        if let Some(handles) = find(per_route) {
            return handles;
        }
        per_route.push((key, (counter.clone(), histogram.clone())));
        (counter, histogram)
    }

    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        let mut text = self.handle.render();
        // Restarts of the supervised background tasks (process-wide).
        text.push_str("# TYPE hubgate_task_restarts_total counter\n");
        for (task, restarts) in hubgate_store::supervisor::restarts() {
            text.push_str(&format!(
                "hubgate_task_restarts_total{{task=\"{task}\"}} {restarts}\n"
            ));
        }
        text
    }
}

/// The method as a label: one of the standard methods, or `other`, so made-up
/// methods cannot create series.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// Counts every request and its latency by route template (never the raw
/// path, which would let clients create unbounded series) and method (the
/// standard ones or `other`).
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let (count, latency) =
        metrics.request_handles(method_label(&method), route, response.status().as_u16());
    count.increment(1);
    latency.record(started.elapsed().as_secs_f64());
    response
}

/// Runs [`Metrics::run_upkeep`] every [`UPKEEP_INTERVAL`] while the node
/// serves, supervised like the other background tasks: if it stopped, the
/// samples would pile up again.
pub fn spawn_upkeep(state: &crate::state::AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    hubgate_store::supervisor::supervise("metrics_upkeep", move || {
        let state = state.clone();
        async move {
            loop {
                tokio::time::sleep(UPKEEP_INTERVAL).await;
                state.metrics.run_upkeep();
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_per_route_method_and_status_and_grants_per_type() {
        let metrics = Metrics::default();
        for status in [200, 200, 404] {
            let (count, latency) = metrics.request_handles("GET", "/api/v1/hubs/{id}", status);
            count.increment(1);
            latency.record(0.001);
        }
        metrics.token_issued(GrantKind::RefreshToken);
        metrics.run_upkeep();
        let text = metrics.render();
        for line in [
            r#"hubgate_http_requests_total{method="GET",route="/api/v1/hubs/{id}",status="200"} 2"#,
            r#"hubgate_http_requests_total{method="GET",route="/api/v1/hubs/{id}",status="404"} 1"#,
            r#"hubgate_http_request_duration_seconds_count{method="GET",route="/api/v1/hubs/{id}"} 3"#,
            r#"hubgate_tokens_issued_total{grant_type="refresh_token"} 1"#,
            r#"hubgate_tokens_issued_total{grant_type="client_credentials"} 0"#,
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
