//! Clients nobody at hubgate wrote: the guide's own axios snippet run by Node,
//! Python's requests-oauthlib and authlib, and the Rust `oauth2` crate.
//! `scripts/test` installs the Node and Python packages first.

use std::process::Command;

use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, RefreshToken, Scope, TokenResponse, TokenUrl};
use serde_json::Value;

use crate::support::{ALL_SCOPES, REDIRECT_URI, Server, create_integration, get_status, repo_root};

fn run_json(command: &mut Command, what: &str) -> Value {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e} (run scripts/test, which installs it)"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("{what} printed no JSON: {stdout}"))
}

#[tokio::test]
async fn the_guides_axios_snippet_gets_tokens_reads_hubs_and_refreshes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let integration = create_integration(&server, ALL_SCOPES);
    let client_dir = repo_root().join("tests/clients/node");
    assert!(
        client_dir.join("node_modules/axios").exists(),
        "axios is not installed: run scripts/test"
    );
    let summary = run_json(
        Command::new("node")
            .arg(client_dir.join("guide.js"))
            .env("HUBGATE_URL", &server.url)
            .env("clientID", &integration.client_id)
            .env("clientSecret", &integration.client_secret)
            .env("redirectURI", REDIRECT_URI),
        "node guide.js",
    );
    assert_eq!(summary["token_type"], "Bearer");
    assert_eq!(summary["has_access_token"], true);
    assert_eq!(summary["has_refresh_token"], true);
    assert_eq!(summary["hubs"], 6);
    assert_eq!(summary["refreshed_refresh_token_differs"], true);
    assert_eq!(summary["hubs_after_refresh"], 6);
}

fn python() -> std::path::PathBuf {
    std::env::var_os("HUBGATE_TEST_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| repo_root().join("tests/clients/python/.venv/bin/python"))
}

#[tokio::test]
async fn python_requests_oauthlib_and_authlib_complete_client_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let integration = create_integration(&server, ALL_SCOPES);
    for library in ["requests-oauthlib", "authlib"] {
        let summary = run_json(
            Command::new(python())
                .arg(repo_root().join("tests/clients/python/client_credentials.py"))
                .arg(library)
                .env("HUBGATE_URL", &server.url)
                .env("CLIENT_ID", &integration.client_id)
                .env("CLIENT_SECRET", &integration.client_secret),
            library,
        );
        assert_eq!(summary["hubs"], 6, "{library}: {summary}");
        assert_eq!(summary["account"], "Demo", "{library}: {summary}");
        assert_eq!(summary["has_refresh_token"], true, "{library}: {summary}");
    }
}

#[tokio::test]
async fn the_rust_oauth2_crate_completes_client_credentials_and_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let integration = create_integration(&server, ALL_SCOPES);
    let client = BasicClient::new(ClientId::new(integration.client_id.clone()))
        .set_client_secret(ClientSecret::new(integration.client_secret.clone()))
        .set_token_uri(TokenUrl::new(format!("{}/identity/oauth/v2/token", server.url)).unwrap());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("hubs:read".into()))
        .add_scope(Scope::new("accounts:read".into()))
        .request_async(&http)
        .await
        .expect("client_credentials with the oauth2 crate");
    assert_eq!(
        get_status(&server, "/api/v1/hubs", token.access_token().secret()).await,
        200
    );
    let refresh = token
        .refresh_token()
        .expect("a refresh token, as the guide promises");
    let refreshed = client
        .exchange_refresh_token(&RefreshToken::new(refresh.secret().clone()))
        .request_async(&http)
        .await
        .expect("refresh with the oauth2 crate");
    assert_eq!(
        get_status(
            &server,
            "/api/v1/account",
            refreshed.access_token().secret()
        )
        .await,
        200
    );
}
