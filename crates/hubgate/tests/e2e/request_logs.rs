//! The request log at the default level: one line per request, naming the
//! route template, status and client, and never a secret.

use crate::support::{ALL_SCOPES, Server, client_credentials, create_integration};

#[tokio::test]
async fn a_token_request_is_one_log_line_with_its_client_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--no-demo"]);
    let integration = create_integration(&server, ALL_SCOPES);
    let tokens = client_credentials(&server, &integration).await;
    let refresh = tokens.refresh_token.clone().expect("a refresh token");
    let wrong = reqwest::Client::new()
        .post(format!("{}/identity/oauth/v2/token", server.url))
        .header("x-request-id", "trace-me-42")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", integration.client_id.as_str()),
            ("client_secret", "hgs_wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    // The log is written as requests end; give the writer a moment.
    let mut logs = String::new();
    for _ in 0..50 {
        logs = server.logs();
        if logs.contains("trace-me-42") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let token_lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("hubgate::request") && l.contains("/identity/oauth/v2/token"))
        .collect();
    assert_eq!(token_lines.len(), 2, "one line per request:\n{logs}");
    let issued = token_lines[0];
    assert!(
        issued.contains("status=200") && issued.contains(&integration.client_id),
        "{issued}"
    );
    assert!(issued.contains("latency_ms="), "{issued}");
    let refused = token_lines[1];
    assert!(
        refused.contains("status=401") && refused.contains("trace-me-42"),
        "{refused}"
    );
    for secret in [
        integration.client_secret.as_str(),
        tokens.access_token.as_str(),
        refresh.as_str(),
        "hgs_wrong",
    ] {
        assert!(!logs.contains(secret), "a secret reached the log");
    }
}
