//! Traces over OTLP/HTTP, received by a real receiver decoding them with the
//! OpenTelemetry project's own protobuf definitions (Python).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{ALL_SCOPES, Server, client_credentials, create_integration, repo_root};

fn python() -> std::path::PathBuf {
    std::env::var_os("HUBGATE_TEST_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| repo_root().join("tests/clients/python/.venv/bin/python"))
}

/// The receiver, and the spans it prints, one JSON object each.
struct Receiver {
    child: Child,
    port: u16,
    spans: mpsc::Receiver<Value>,
}

impl Receiver {
    fn start() -> Receiver {
        let mut child = Command::new(python())
            .arg(repo_root().join("tests/clients/python/otlp_receiver.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run the OTLP receiver (scripts/install-test-deps makes its venv)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("the receiver's port").unwrap();
        let port = first
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the receiver said {first:?}"));
        let (sender, spans) = mpsc::channel();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if sender.send(serde_json::from_str(&line).unwrap()).is_err() {
                    break;
                }
            }
        });
        Receiver { child, port, spans }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_token_request_is_traced_through_the_handler_the_store_and_the_signing() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("http://127.0.0.1:{}", receiver.port);
    let server = Server::start_with_env(
        &dir.path().join("data"),
        &["--otlp-endpoint", &endpoint],
        &[("OTEL_BSP_SCHEDULE_DELAY", "200")],
    );
    let integration = create_integration(&server, ALL_SCOPES);
    let issued = client_credentials(&server, &integration).await;
    let refreshed = crate::support::refresh(
        &server,
        &integration,
        issued.refresh_token.as_deref().unwrap(),
    )
    .await;
    assert_eq!(refreshed.status(), 200);
    let request_id = refreshed.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    // The three spans of that request, whenever the batch arrives.
    let wanted = ["request", "store.rotate_family", "sign_access_token"];
    let mut found: Vec<Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while found.len() < wanted.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let span = receiver
            .spans
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("spans of request {request_id} missing; got {found:?}"));
        if span["attributes"]["request_id"] == request_id.as_str()
            && wanted.contains(&span["name"].as_str().unwrap())
        {
            found.push(span);
        }
    }
    let by_name = |name: &str| found.iter().find(|s| s["name"] == name).unwrap().clone();
    let handler = by_name("request");
    let store = by_name("store.rotate_family");
    let signing = by_name("sign_access_token");
    assert_eq!(handler["service"], "hubgate");
    assert_eq!(handler["attributes"]["route"], "/identity/oauth/v2/token");
    assert_eq!(handler["attributes"]["method"], "POST");
    for child in [&store, &signing] {
        assert_eq!(child["trace_id"], handler["trace_id"], "{child}");
        assert_eq!(child["parent_span_id"], handler["span_id"], "{child}");
    }
    // The log goes on as without traces: the request's line is there.
    assert!(server.logs().contains(&request_id), "{}", server.logs());
    // Nothing secret rides along.
    for span in &found {
        let text = span.to_string();
        assert!(!text.contains("hgs_") && !text.contains("hgr_"), "{text}");
    }
}
