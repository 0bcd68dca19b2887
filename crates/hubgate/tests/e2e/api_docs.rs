//! The OpenAPI document fuzzed by schemathesis, and Swagger UI driven in
//! headless Chromium, both against the real binary.

use std::process::Command;

use crate::support::{ALL_SCOPES, Server, client_credentials, create_integration, repo_root};

/// Generated examples per operation and phase: fixed, like the seed, so a run
/// is reproducible; `HUBGATE_FUZZ_EXAMPLES` / `HUBGATE_FUZZ_SEED` change them.
const EXAMPLES_PER_OPERATION: &str = "30";
const SEED: &str = "20261130";

fn python_bin(name: &str) -> std::path::PathBuf {
    let python = std::env::var_os("HUBGATE_TEST_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_root().join("tests/clients/python/.venv/bin/python"));
    python.with_file_name(name)
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_response_off_the_documented_schema() {
    let dir = tempfile::tempdir().unwrap();
    // Fuzzing fails client authentication thousands of times: without the
    // limits, so the endpoints' own logic is what gets fuzzed.
    let server = Server::start(
        &dir.path().join("data"),
        &[
            "--client-auth-failures-per-client",
            "0",
            "--client-auth-failures-per-address",
            "0",
        ],
    );
    // Every scope, the management ones too, so the management API is fuzzed
    // past its scope check (the owner acts for it).
    let scopes = format!(
        "{ALL_SCOPES} integrations:read integrations:write members:read members:write audit:read hubs:manage"
    );
    let integration = create_integration(&server, &scopes);
    let token = client_credentials(&server, &integration).await;
    let token = token.access_token.as_str();
    let examples =
        std::env::var("HUBGATE_FUZZ_EXAMPLES").unwrap_or_else(|_| EXAMPLES_PER_OPERATION.into());
    let seed = std::env::var("HUBGATE_FUZZ_SEED").unwrap_or_else(|_| SEED.into());
    let output = Command::new(python_bin("schemathesis"))
        .arg("run")
        .arg(format!("{}/doc/openapi.json", server.url))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance",
        ])
        .args(["--max-examples", &examples, "--seed", &seed])
        .args([
            "--generation-database",
            "none",
            "--no-color",
            "--workers",
            "2",
        ])
        // Its crash cache lands in the working directory: keep it out of the repo.
        .current_dir(dir.path())
        .output()
        .expect("schemathesis is not installed: run scripts/test, which installs it");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(|c: char| c.is_ascii_digit()) && l.contains(" generated, "))
        .unwrap_or_default();
    assert!(
        summary.contains("passed") && !summary.contains("failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Tested: 44"),
        "every operation is exercised: {stdout}"
    );
    eprintln!("schemathesis: {}", summary.trim());
}

#[tokio::test]
async fn swagger_ui_authorizes_with_client_credentials_and_lists_hubs_offline() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let integration = create_integration(&server, ALL_SCOPES);
    let screenshots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    let screenshot = screenshots.join("swagger-ui.png");
    let _ = std::fs::remove_file(&screenshot);
    let output = Command::new("node")
        .arg(repo_root().join("tests/clients/node/swagger.js"))
        .env("HUBGATE_URL", &server.url)
        .env("CLIENT_ID", &integration.client_id)
        .env("CLIENT_SECRET", &integration.client_secret)
        .env("SCREENSHOT", &screenshot)
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "swagger.js failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON summary");
    assert_eq!(result["status"], "200");
    assert_eq!(result["hubs"], 6);
    assert_eq!(
        result["outside_requests"],
        serde_json::json!([]),
        "the page reached outside the server"
    );
    // It worked under the CSP the pages carry, and kept no secret in localStorage.
    assert_eq!(result["csp_violations"], serde_json::json!([]), "{result}");
    let stored = result["local_storage"].as_str().unwrap();
    assert!(
        !stored.contains(&integration.client_secret) && !stored.contains("hgr_"),
        "authorization persisted in localStorage: {stored}"
    );
    let page = reqwest::get(format!("{}/doc/swagger/", server.url))
        .await
        .unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let initializer = reqwest::get(format!("{}/doc/swagger/swagger-initializer.js", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        initializer.contains("\"persistAuthorization\": false"),
        "{initializer}"
    );
    assert!(
        std::fs::metadata(&screenshot).unwrap().len() > 10_000,
        "screenshot saved at {}",
        screenshot.display()
    );
}
