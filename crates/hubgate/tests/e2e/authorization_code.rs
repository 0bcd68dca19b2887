//! The authorization-code flow with the real binary: in headless Chromium
//! (with a screenshot of the consent page) and with authlib's PKCE client.

use std::process::Command;

use hubgate_core::authorize::s256;
use serde_json::Value;

use crate::support::{
    ALL_SCOPES, REDIRECT_URI, Server, create_integration, demo_account, repo_root,
};

const PASSWORD: &str = "correct horse battery";

fn add_user(server: &Server, email: &str) {
    let account = demo_account(&server.banner);
    server.admin(&[
        "user",
        "create",
        "--email",
        email,
        "--password",
        PASSWORD,
        "--account",
        &account,
        "--role",
        "member",
    ]);
}

#[tokio::test]
async fn a_user_authorizes_in_chromium_and_the_code_becomes_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let integration = create_integration(&server, ALL_SCOPES);
    add_user(&server, "browser@example.com");
    let verifier = "Ad3Tbqz8rV0m9FqXl2WcZy5NpQe7HuKsJx4GvB1tYo6";
    let mut url = url::Url::parse(&format!("{}/identity/oauth/v2/authorize", server.url)).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &integration.client_id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("response_type", "code")
        .append_pair("scope", "sub email hubs:read")
        .append_pair("state", "chromium-state")
        .append_pair("code_challenge", &s256(verifier))
        .append_pair("code_challenge_method", "S256");
    let screenshots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    let screenshot = screenshots.join("consent.png");
    let output = Command::new("node")
        .arg(repo_root().join("tests/clients/node/authorize.js"))
        .env("AUTHORIZE_URL", url.as_str())
        .env("EMAIL", "browser@example.com")
        .env("PASSWORD", PASSWORD)
        .env("SCREENSHOT", &screenshot)
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "authorize.js failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).expect("JSON summary");
    assert_eq!(result["outside_requests"], serde_json::json!([]));
    assert!(
        result["consent_text"]
            .as_str()
            .unwrap()
            .contains("read hub and switch data")
    );
    assert!(
        std::fs::metadata(&screenshot).unwrap().len() > 5_000,
        "consent screenshot at {}",
        screenshot.display()
    );

    let landed = url::Url::parse(
        result["redirected_to"]
            .as_str()
            .expect("redirected to the client"),
    )
    .unwrap();
    let query: std::collections::HashMap<_, _> = landed.query_pairs().into_owned().collect();
    assert_eq!(query["state"], "chromium-state");
    let response = reqwest::Client::new()
        .post(format!("{}/identity/oauth/v2/token", server.url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", query["code"].as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
            ("client_id", integration.client_id.as_str()),
            ("client_secret", integration.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    let me: Value = reqwest::Client::new()
        .get(format!("{}/identity/oauth/v2/userinfo", server.url))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "browser@example.com");
}

#[tokio::test]
async fn authlib_completes_the_flow_with_pkce() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let integration = create_integration(&server, ALL_SCOPES);
    add_user(&server, "authlib@example.com");
    let python = std::env::var_os("HUBGATE_TEST_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_root().join("tests/clients/python/.venv/bin/python"));
    let output = Command::new(python)
        .arg(repo_root().join("tests/clients/python/authorization_code.py"))
        .env("HUBGATE_URL", &server.url)
        .env("CLIENT_ID", &integration.client_id)
        .env("CLIENT_SECRET", &integration.client_secret)
        .env("REDIRECT_URI", REDIRECT_URI)
        .env("EMAIL", "authlib@example.com")
        .env("PASSWORD", PASSWORD)
        .output()
        .expect("python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "authlib flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(result["email"], "authlib@example.com");
    assert_eq!(result["hubs"], 6);
    assert_eq!(result["has_refresh_token"], true);
    assert_eq!(result["iss_in_callback"], true);

    // The consent it gave is listed, and can be withdrawn.
    let consents = server.admin(&["user", "consents", "--email", "authlib@example.com"]);
    assert_eq!(consents.as_array().unwrap().len(), 1);
    assert_eq!(consents[0]["client_id"], integration.client_id.as_str());
    assert_eq!(consents[0]["scope"], "sub email hubs:read");
    let account = consents[0]["account"].as_str().unwrap().to_owned();
    server.admin(&[
        "user",
        "withdraw-consent",
        "--email",
        "authlib@example.com",
        "--client-id",
        &integration.client_id,
        "--account",
        &account,
    ]);
    assert_eq!(
        server.admin(&["user", "consents", "--email", "authlib@example.com"]),
        serde_json::json!([])
    );
}
