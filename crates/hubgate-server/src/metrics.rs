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

/// Method label, route template, status: all from fixed sets.
type RequestKey = (&'static str, String, u16);

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// Registered handles per (method, route, status): registering builds
    /// label vectors, which the hot path should not do per request.
    requests: RwLock<HashMap<RequestKey, (Counter, Histogram)>>,
}

pub use hubgate_core::grant::GrantKind;

impl Default for Metrics {
    fn default() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .expect("static bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        Self {
            recorder,
            handle,
            requests: RwLock::default(),
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
        self.counter(
            "hubgate_tokens_issued_total",
            vec![Label::new("grant_type", grant.as_str())],
        )
        .increment(1);
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
        let key = (method, route.to_owned(), status);
        if let Some(handles) = self
            .requests
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            return handles.clone();
        }
        let counter = self.counter(
            "hubgate_http_requests_total",
            vec![
                Label::new("method", key.0),
                Label::new("route", key.1.clone()),
                Label::new("status", status.to_string()),
            ],
        );
        let histogram = self.histogram(
            "hubgate_http_request_duration_seconds",
            vec![
                Label::new("method", key.0),
                Label::new("route", key.1.clone()),
            ],
        );
        let handles = (counter, histogram);
        self.requests
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, handles.clone());
        handles
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
