//! What the server writes to disk and to its log: private files, and log
//! lines no client can forge or fill with secrets.

use std::os::unix::fs::PermissionsExt;

use crate::support::{ALL_SCOPES, Server, client_credentials, create_integration};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn the_data_directory_and_database_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let integration = create_integration(&server, ALL_SCOPES);
    client_credentials(&server, &integration).await;
    assert_eq!(mode(&data), 0o700);
    for file in [
        "hubgate.db",
        "hubgate.db-wal",
        "hubgate.db-shm",
        "master.key",
    ] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    assert!(!server.logs().contains("readable by other users"));
    server.terminate();
    // Existing files made wider are reported at the next start.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        data.join("hubgate.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let server = Server::start(&data, &[]);
    let logs = server.logs();
    assert!(
        logs.matches("readable by other users").count() >= 2,
        "{logs}"
    );
}

#[tokio::test]
async fn client_supplied_values_cannot_forge_log_lines_or_leak_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let integration = create_integration(&server, ALL_SCOPES);
    let http = reqwest::Client::new();
    let forged =
        "hgc_x\n2026-12-02T06:00:00.000000Z  INFO hubgate: FORGED admin login ok\u{1b}[31m";
    for client_id in [forged, integration.client_secret.as_str()] {
        let response = http
            .post(format!("{}/identity/oauth/v2/token", server.url))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", "whatever"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let logs = server.logs();
    assert!(logs.contains("client authentication failed"), "{logs}");
    assert!(
        !logs
            .lines()
            .any(|l| l.contains("FORGED") && !l.contains("client authentication failed")),
        "a forged line:\n{logs}"
    );
    assert!(!logs.contains('\u{1b}'), "an escape byte reached the log");
    let secret_body = &integration.client_secret[4..];
    assert!(
        !logs.contains(secret_body),
        "a secret reached the log:\n{logs}"
    );
    assert!(logs.contains("[secret-like hgs_… sha256:"), "{logs}");
}

#[test]
fn serve_refuses_bad_settings_at_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hubgate.toml");
    std::fs::write(&config, "acces_token_ttl = 60\n").unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["--access-token-ttl", "0"],
            "access_token_ttl: accepted values are",
        ),
        (
            &["--public-url", "not-a-url"],
            "public_url: accepted values are",
        ),
        (
            &["--header-read-timeout", "0"],
            "header_read_timeout: accepted values are",
        ),
        (&["--config", config.to_str().unwrap()], "acces_token_ttl"),
    ];
    for (args, expected) in cases {
        let output = std::process::Command::new(crate::support::BIN)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    assert!(!dir.path().join("data").exists(), "nothing created");
}
