//! `hubgate admin` run beside a live server: its changes reach the server
//! through the store's change log within a second.

use std::time::{Duration, Instant};

use crate::support::{ALL_SCOPES, Server, client_credentials, create_integration, get_status};

async fn rejected_within(server: &Server, token: &str, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if get_status(server, "/api/v1/hubs", token).await == 401 {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test]
async fn disabling_or_deleting_from_another_process_takes_effect_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);

    for action in ["disable", "delete", "rotate-secret"] {
        let integration = create_integration(&server, ALL_SCOPES);
        let token = client_credentials(&server, &integration).await;
        let token = token.access_token.as_str();
        assert_eq!(get_status(&server, "/api/v1/hubs", token).await, 200);
        // The admin process has exited before the clock starts.
        let mut args = vec!["integration", action, &integration.client_id];
        if action == "rotate-secret" {
            // Immediate: the default keeps the old secret for an hour.
            args.extend(["--grace", "0"]);
        }
        server.admin(&args);
        let took = rejected_within(&server, token, Duration::from_secs(1)).await;
        assert!(took.is_some(), "{action}: token still accepted after 1 s");
    }
}
