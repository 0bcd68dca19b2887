use serde_json::Value;

use crate::support::{Server, client_credentials, create_integration, demo_account};

#[tokio::test]
async fn the_first_start_bootstraps_an_owner_and_prints_how_to_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--admin-email", "ops@example.com"]);
    let banner = &server.banner;
    assert!(
        banner.contains(&format!("serving at {}", server.url)),
        "{banner}"
    );
    assert!(banner.contains("listening       127.0.0.1:"), "{banner}");
    assert!(banner.contains("/identity/oauth/v2/token"), "{banner}");
    assert!(banner.contains("/doc/swagger"), "{banner}");
    assert!(
        banner.contains(&format!("console         {}/console", server.url)),
        "{banner}"
    );
    assert!(banner.contains("log in as  ops@example.com"), "{banner}");
    let password = banner
        .lines()
        .find(|l| l.trim_start().starts_with("password"))
        .expect("password line");
    assert!(
        password
            .split_whitespace()
            .nth(1)
            .is_some_and(|p| p.len() >= 16),
        "{password}"
    );
    assert!(
        banner.contains("demo fleet 6 hubs and switches"),
        "{banner}"
    );
    assert!(demo_account(banner).starts_with("acc_"));
    let master_key = std::fs::metadata(data.join("master.key")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&master_key.permissions()) & 0o777,
        0o600
    );

    // A clean stop on SIGTERM, and no second bootstrap on the next start.
    assert!(server.terminate().success());
    let again = Server::start(&data, &[]);
    assert!(!again.banner.contains("First start"), "{}", again.banner);
    assert!(!again.banner.contains("password"), "{}", again.banner);
}

#[tokio::test]
async fn no_demo_leaves_the_fleet_empty() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--no-demo"]);
    let integration = create_integration(&server, "hubs:read");
    let token = client_credentials(&server, &integration).await;
    let page: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/hubs", server.url))
        .bearer_auth(token.access_token.as_str())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"], serde_json::json!([]));
}

#[tokio::test]
async fn a_database_without_its_master_key_is_refused_rather_than_silently_rekeyed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    Server::start(&data, &[]).kill9();
    std::fs::remove_file(data.join("master.key")).unwrap();
    let output = std::process::Command::new(crate::support::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env_remove("HUBGATE_MASTER_KEY")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("master.key is missing"));
}
