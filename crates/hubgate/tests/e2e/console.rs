//! The admin console in headless Chromium, against the real binary: the
//! guide's first step, then rotation with a grace period, then deletion.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Integration, Server, client_credentials, get_status, repo_root};

fn console(server: &Server, env: &[(&str, &str)]) -> Value {
    let password = server
        .banner
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("password"))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the owner's password in the banner")
        .to_owned();
    let screenshots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    let output = Command::new("node")
        .arg(repo_root().join("tests/clients/node/console.js"))
        .env("HUBGATE_URL", &server.url)
        .env("EMAIL", "admin@localhost")
        .env("PASSWORD", password)
        .env("SCREENSHOTS", &screenshots)
        .envs(env.iter().copied())
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "console.js failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).expect("JSON summary");
    assert_eq!(
        result["outside_requests"],
        serde_json::json!([]),
        "the console reached outside"
    );
    result
}

async fn token_status(server: &Server, client_id: &str, secret: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/identity/oauth/v2/token", server.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_admin_creates_reveals_rotates_and_deletes_an_integration_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);

    let created = console(&server, &[("ACTION", "create")]);
    assert_eq!(created["listed"], true);
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    let first_secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(first_secret.starts_with("hgs_"));
    let integration = Integration {
        client_id: client_id.clone(),
        client_secret: first_secret.clone(),
    };
    let tokens = client_credentials(&server, &integration).await;
    assert_eq!(
        tokens.scope, "sub email hubs:read accounts:read",
        "hubs:write was unticked"
    );

    // Rotation with a 4-second grace period: both secrets work, then only the new one.
    let rotated = console(
        &server,
        &[
            ("ACTION", "rotate"),
            ("CLIENT_ID", &client_id),
            ("GRACE", "4"),
        ],
    );
    let second_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(second_secret, first_secret);
    assert!(rotated["notice"].as_str().unwrap().contains("4 seconds"));
    assert_eq!(
        token_status(&server, &client_id, &first_secret).await,
        200,
        "old secret during the grace period"
    );
    assert_eq!(
        token_status(&server, &client_id, &second_secret).await,
        200,
        "new secret"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        token_status(&server, &client_id, &first_secret).await,
        401,
        "old secret after the grace period"
    );
    assert_eq!(token_status(&server, &client_id, &second_secret).await, 200);

    // Deletion: its tokens are rejected on the next call.
    let access = tokens.access_token.as_str();
    assert_eq!(get_status(&server, "/api/v1/hubs", access).await, 200);
    let deleted = console(&server, &[("ACTION", "delete"), ("CLIENT_ID", &client_id)]);
    assert_eq!(deleted["still_listed"], false);
    assert_eq!(get_status(&server, "/api/v1/hubs", access).await, 401);

    let screenshots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    for name in ["console-integrations.png", "console-integration-detail.png"] {
        assert!(
            std::fs::metadata(screenshots.join(name)).unwrap().len() > 5_000,
            "{name}"
        );
    }
}
