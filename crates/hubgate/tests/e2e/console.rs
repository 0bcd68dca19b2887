//! The admin console in headless Chromium, against the real binary: the
//! guide's first step, then rotation with a grace period, then deletion;
//! and passwords: changed, refused when weak, reset, changed at first login.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::{
    Integration, Server, client_credentials, demo_account, get_status, repo_root,
};

fn console(server: &Server, env: &[(&str, &str)]) -> Value {
    chromium(server, "console.js", env)
}

/// Runs a script of `tests/clients/node` in Chromium as the first owner
/// (unless `env` names another user); its JSON summary.
fn chromium(server: &Server, script: &str, env: &[(&str, &str)]) -> Value {
    let password = owner_password(server);
    let screenshots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    let output = Command::new("node")
        .arg(repo_root().join("tests/clients/node").join(script))
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
        "{script} failed:\n{stdout}\n{}",
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

/// The first owner's password, from the banner.
fn owner_password(server: &Server) -> String {
    server
        .banner
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("password"))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the owner's password in the banner")
        .to_owned()
}

/// Logs in to the console over plain HTTP (another browser); the status
/// and the client holding the session.
async fn http_login(server: &Server, email: &str, password: &str) -> (u16, reqwest::Client) {
    use hubgate_testkit::browser::{browser, field, page};
    let http = browser();
    let login = page(&http, &format!("{}/console/login", server.url)).await;
    let response = http
        .post(format!("{}/console/login", server.url))
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf", &field(&login, "csrf")),
        ])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), http)
}

const NEW_PASSWORD: &str = "plum orchard lantern 42";

#[tokio::test]
async fn a_user_changes_their_password_in_the_browser_and_a_weak_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let password = owner_password(&server);
    let (status, elsewhere) = http_login(&server, "admin@localhost", &password).await;
    assert_eq!(status, 303);

    let changed = chromium(
        &server,
        "passwords.js",
        &[("ACTION", "change"), ("NEW_PASSWORD", NEW_PASSWORD)],
    );
    let weak = changed["weak_error"].as_str().unwrap();
    assert!(weak.contains("too common"), "{weak}");
    assert_eq!(changed["form_kept"], true);
    assert!(
        changed["notice"]
            .as_str()
            .unwrap()
            .contains("Password changed"),
        "{changed}"
    );
    assert_eq!(
        changed["still_logged_in"], true,
        "the browser stays logged in"
    );
    assert_eq!(
        changed["hubs_filters_one_line"], true,
        "the hubs filters sit on one line"
    );

    let other = elsewhere
        .get(format!("{}/console/consents", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 303, "the other session ended");
    assert_eq!(other.headers()["location"], "/console/login");
    assert_eq!(
        http_login(&server, "admin@localhost", &password).await.0,
        401
    );
    assert_eq!(
        http_login(&server, "admin@localhost", NEW_PASSWORD).await.0,
        303
    );
}

#[tokio::test]
async fn an_owner_resets_a_members_password_and_the_member_changes_it_at_first_login() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let account = demo_account(&server.banner);
    let member = "robin@example.com";
    server.admin(&[
        "user",
        "create",
        "--email",
        member,
        "--password",
        "robin's first passphrase",
        "--account",
        &account,
        "--role",
        "member",
    ]);

    let reset = chromium(
        &server,
        "passwords.js",
        &[("ACTION", "reset"), ("MEMBER", member)],
    );
    let one_time = reset["one_time_password"].as_str().unwrap().to_owned();
    assert!(
        reset["notice"]
            .as_str()
            .unwrap()
            .contains("password was reset"),
        "{reset}"
    );
    assert_eq!(
        http_login(&server, member, "robin's first passphrase")
            .await
            .0,
        401,
        "the old password no longer works"
    );

    let first = chromium(
        &server,
        "passwords.js",
        &[
            ("ACTION", "first-login"),
            ("EMAIL", member),
            ("PASSWORD", &one_time),
            ("NEW_PASSWORD", NEW_PASSWORD),
        ],
    );
    assert_eq!(first["landed_on"], "/console/password");
    assert_eq!(
        first["sent_back_to"], "/console/password",
        "other pages wait"
    );
    assert!(
        first["notice"]
            .as_str()
            .unwrap()
            .contains("Password changed")
    );
    assert_eq!(first["console_reached"], true);
    assert_eq!(http_login(&server, member, &one_time).await.0, 401);
    assert_eq!(http_login(&server, member, NEW_PASSWORD).await.0, 303);
}
