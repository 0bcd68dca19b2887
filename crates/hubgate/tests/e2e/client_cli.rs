//! `hubgate token | hubs | account | whoami | completions`, against a live server.

use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{ALL_SCOPES, BIN, Integration, Server, create_integration};

fn run(server_url: &str, integration: &Integration, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("HUBGATE_URL", server_url)
        .env("HUBGATE_CLIENT_ID", &integration.client_id)
        .env("HUBGATE_CLIENT_SECRET", &integration.client_secret)
        .output()
        .expect("run hubgate")
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn text(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn each_client_command_prints_a_table_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let integration = create_integration(&server, ALL_SCOPES);
    let cli = |args: &[&str]| run(&server.url, &integration, args);

    let token = text(&cli(&["token", "--scope", "hubs:read"]));
    assert_eq!(token.trim().split('.').count(), 3, "a JWT: {token}");
    let token = json(&cli(&[
        "token",
        "--scope",
        "hubs:read accounts:read",
        "--output",
        "json",
    ]));
    assert_eq!(token["scope"], "hubs:read accounts:read");
    assert_eq!(token["token_type"], "Bearer");

    let table = text(&cli(&["hubs", "list"]));
    assert!(table.starts_with("ID"), "{table}");
    assert_eq!(table.lines().count(), 7, "header and six hubs: {table}");
    let hubs = json(&cli(&[
        "hubs", "list", "--kind", "switch", "--output", "json",
    ]));
    assert_eq!(hubs.as_array().unwrap().len(), 2);
    let first_page = json(&cli(&["hubs", "list", "--limit", "2", "--output", "json"]));
    assert_eq!(first_page.as_array().unwrap().len(), 2);
    let id = hubs[0]["id"].as_str().unwrap();

    assert!(text(&cli(&["hubs", "get", id])).contains("Boardroom switch"));
    assert_eq!(
        json(&cli(&["hubs", "get", id, "--output", "json"]))["id"],
        id
    );
    let state = text(&cli(&["hubs", "state", id]));
    assert!(
        state.contains("REPORTED") && state.contains("connected"),
        "{state}"
    );
    let changed = json(&cli(&[
        "hubs",
        "set",
        id,
        "--name",
        "Lab switch",
        "--clear-room",
        "--desired",
        "mtrmode=false",
        "--desired",
        "otp=normal",
        "--output",
        "json",
    ]));
    assert_eq!(changed["name"], "Lab switch");
    assert_eq!(changed["room"], Value::Null);
    assert_eq!(
        changed["desired"],
        serde_json::json!({"mtrmode": false, "otp": "normal"})
    );

    assert!(text(&cli(&["account"])).contains("Demo"));
    assert_eq!(json(&cli(&["account", "--output", "json"]))["name"], "Demo");
    let me = json(&cli(&["whoami", "--output", "json"]));
    assert_eq!(me["client_id"], integration.client_id.as_str());
    assert_eq!(me["email"], "admin@localhost");
    assert!(text(&cli(&["whoami"])).contains("admin@localhost"));
}

#[tokio::test]
async fn client_commands_exit_with_documented_codes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let integration = create_integration(&server, "hubs:read");
    let code = |output: Output| output.status.code().unwrap_or(-1);

    assert_eq!(
        code(run(
            &server.url,
            &integration,
            &["hubs", "get", "hub_00000000000000000000000000000000"]
        )),
        3
    );
    assert_eq!(
        code(run(
            &server.url,
            &integration,
            &["hubs", "set", "x", "--desired", "oops"]
        )),
        2
    );
    assert_eq!(
        code(run(&server.url, &integration, &["account"])),
        5,
        "hubs:read lacks accounts:read"
    );
    let wrong = Integration {
        client_id: integration.client_id.clone(),
        client_secret: "hgs_wrong".into(),
    };
    let refused = run(&server.url, &wrong, &["hubs", "list", "--output", "json"]);
    assert_eq!(refused.status.code(), Some(5));
    let error: Value = serde_json::from_slice(&refused.stderr).expect("JSON error on stderr");
    assert_eq!(error["error"], "invalid_client");
    assert_eq!(
        code(run("http://127.0.0.1:9", &integration, &["account"])),
        6
    );
    let no_credentials = Command::new(BIN)
        .args(["account"])
        .env_remove("HUBGATE_CLIENT_ID")
        .output()
        .unwrap();
    assert_eq!(no_credentials.status.code(), Some(2));
    assert_eq!(
        code(run(&server.url, &integration, &["hubs", "frobnicate"])),
        2
    );
}

#[tokio::test]
async fn shell_completions_are_printed() {
    for shell in ["bash", "zsh", "fish"] {
        let output = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(output.status.success());
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("hubgate"),
            "{shell}"
        );
    }
}
