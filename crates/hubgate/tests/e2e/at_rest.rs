//! No client secret, refresh token or access token sits in plain text in the
//! database files or the logs.

use crate::support::{ALL_SCOPES, Server, client_credentials, create_integration, refresh};
use hubgate_api::TokenResponse;

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn the_database_and_logs_hold_no_secret_or_token_in_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let integration = create_integration(&server, ALL_SCOPES);
    let issued = client_credentials(&server, &integration).await;
    let rotated: TokenResponse = refresh(
        &server,
        &integration,
        issued.refresh_token.as_deref().unwrap(),
    )
    .await
    .json()
    .await
    .unwrap();
    let _ = refresh(
        &server,
        &integration,
        issued.refresh_token.as_deref().unwrap(),
    )
    .await;

    let secrets = [
        integration.client_secret.clone(),
        issued.access_token.as_str().to_owned(),
        issued.refresh_token.as_deref().unwrap().to_owned(),
        rotated.access_token.as_str().to_owned(),
        rotated.refresh_token.as_deref().unwrap().to_owned(),
    ];
    let logs = server.logs();
    server.kill9();

    let mut files = 0;
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("hubgate.db"))
        {
            files += 1;
            let bytes = std::fs::read(&path).unwrap();
            for secret in &secrets {
                // The middle of each value, so no prefix shared by chance matches.
                let probe = &secret[secret.len() / 2 - 8..secret.len() / 2 + 8];
                assert!(
                    !contains(&bytes, probe),
                    "{} holds a secret in plain text",
                    path.display()
                );
            }
        }
    }
    assert!(files >= 2, "expected the database and its WAL");
    assert!(!logs.is_empty());
    for secret in &secrets {
        assert!(
            !logs.contains(&secret[4..20]),
            "the log holds a secret or token"
        );
    }
}
