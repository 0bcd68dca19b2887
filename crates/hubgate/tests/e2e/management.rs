//! The three front doors of management — the console, the management API
//! (through the client CLI and curl) and `hubgate admin` — against the real
//! binary: one application layer, so one operation leaves one audit row.

use std::process::{Command, Output};

use hubgate_testkit::browser::{browser, field, page};
use serde_json::Value;

use crate::support::{BIN, Integration, REDIRECT_URI, Server, create_integration, repo_root};

const MANAGE: &str =
    "integrations:read integrations:write members:read members:write audit:read hubs:manage";

fn cli(server: &Server, integration: &Integration, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(["--output", "json"])
        .env("HUBGATE_URL", &server.url)
        .env("HUBGATE_CLIENT_ID", &integration.client_id)
        .env("HUBGATE_CLIENT_SECRET", &integration.client_secret)
        .output()
        .expect("run hubgate")
}

fn cli_json(server: &Server, integration: &Integration, args: &[&str]) -> Value {
    let output = cli(server, integration, args);
    assert!(
        output.status.success(),
        "hubgate {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn owner_password(server: &Server) -> String {
    server
        .banner
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("password"))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the owner's password in the banner")
        .to_owned()
}

/// The console, driven as a browser without JavaScript would.
struct Console {
    http: reqwest::Client,
    base: String,
}

impl Console {
    async fn login(server: &Server) -> Console {
        let http = browser();
        let login = page(&http, &format!("{}/console/login", server.url)).await;
        let response = http
            .post(format!("{}/console/login", server.url))
            .form(&[
                ("email", "admin@localhost"),
                ("password", owner_password(server).as_str()),
                ("csrf", &field(&login, "csrf")),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "console login");
        let account = crate::support::demo_account(&server.banner);
        Console {
            http,
            base: format!("{}/console/a/{account}", server.url),
        }
    }

    /// Posts a form (with the CSRF token of `form_page`); returns the body
    /// and the Location it redirected to, if any.
    async fn post(
        &self,
        form_page: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, String, String) {
        let html = page(&self.http, &format!("{}{form_page}", self.base)).await;
        let csrf = field(&html, "csrf");
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .form(&fields)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, location, response.text().await.unwrap())
    }
}

/// The audit rows of `action`, oldest first, as (actor, subject, detail).
fn audit_rows(
    server: &Server,
    manager: &Integration,
    action: &str,
) -> Vec<(String, String, String)> {
    let page = cli_json(
        server,
        manager,
        &["audit", "--action", action, "--limit", "100"],
    );
    let mut rows: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap().to_owned();
            (text("actor"), text("subject"), text("detail"))
        })
        .collect();
    rows.reverse();
    rows
}

#[tokio::test]
async fn the_console_the_api_and_the_admin_tool_write_the_same_audit_rows() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--no-demo"]);
    let manager = create_integration(&server, MANAGE);
    let console = Console::login(&server).await;
    let account = crate::support::demo_account(&server.banner);

    // Create: the same name, redirect URI and scope through each door.
    let (status, location, _) = console
        .post(
            "/integrations/new",
            "/integrations",
            &[
                ("name", "Doors"),
                ("redirect_uris", REDIRECT_URI),
                ("scope", "hubs:read"),
                ("refresh_on_client_credentials", "on"),
                ("require_pkce", "on"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let by_console = location
        .split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let by_api = cli_json(
        &server,
        &manager,
        &[
            "integrations",
            "create",
            "--name",
            "Doors",
            "--redirect-uri",
            REDIRECT_URI,
            "--scope",
            "hubs:read",
        ],
    )["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_admin = server.admin(&[
        "integration",
        "create",
        "--account",
        &account,
        "--name",
        "Doors",
        "--redirect-uri",
        REDIRECT_URI,
        "--scope",
        "hubs:read",
    ])["client_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Rotate, each with a one-minute grace period.
    let (status, _, _) = console
        .post(
            &format!("/integrations/{by_console}"),
            &format!("/integrations/{by_console}/rotate"),
            &[("grace", "60")],
        )
        .await;
    assert_eq!(status, 200);
    cli_json(
        &server,
        &manager,
        &["integrations", "rotate-secret", &by_api, "--grace", "60"],
    );
    server.admin(&["integration", "rotate-secret", &by_admin, "--grace", "60"]);

    // Delete.
    let (status, _, _) = console
        .post(
            &format!("/integrations/{by_console}/delete"),
            &format!("/integrations/{by_console}/delete"),
            &[],
        )
        .await;
    assert_eq!(status, 303);
    cli_json(&server, &manager, &["integrations", "delete", &by_api]);
    server.admin(&["integration", "delete", &by_admin]);

    // Add member: three existing users, each added as an admin.
    for email in ["c@doors.example", "a@doors.example", "t@doors.example"] {
        server.admin(&[
            "user",
            "create",
            "--email",
            email,
            "--password",
            "correct horse battery",
        ]);
    }
    let (status, _, body) = console
        .post(
            "/members",
            "/members",
            &[("email", "c@doors.example"), ("role", "admin")],
        )
        .await;
    assert!(
        status == 200 && body.contains("is now admin"),
        "{status} {body}"
    );
    cli_json(
        &server,
        &manager,
        &["members", "add", "a@doors.example", "--role", "admin"],
    );
    server.admin(&[
        "user",
        "add-member",
        "--email",
        "t@doors.example",
        "--account",
        &account,
        "--role",
        "admin",
    ]);

    let console_actor = "admin@localhost".to_owned();
    let api_actor = manager.client_id.clone();
    let admin_actor = "admin tool".to_owned();
    for (action, subjects, detail) in [
        (
            "integration.created",
            [&by_console, &by_api, &by_admin],
            "Doors (hubs:read)",
        ),
        (
            "integration.secret_rotated",
            [&by_console, &by_api, &by_admin],
            "old secret valid for 60 s more",
        ),
        (
            "integration.deleted",
            [&by_console, &by_api, &by_admin],
            "Doors",
        ),
    ] {
        let rows = audit_rows(&server, &manager, action);
        let expected: Vec<_> = [&console_actor, &api_actor, &admin_actor]
            .into_iter()
            .zip(subjects)
            .map(|(actor, subject)| (actor.clone(), subject.clone(), detail.to_owned()))
            .collect();
        let of_doors: Vec<_> = rows
            .into_iter()
            .filter(|(_, s, _)| subjects.contains(&s))
            .collect();
        assert_eq!(
            of_doors, expected,
            "{action}: one row per door, alike but for the actor"
        );
    }
    let members = audit_rows(&server, &manager, "member.added");
    let members: Vec<_> = members
        .into_iter()
        .filter(|(_, s, _)| s.ends_with("@doors.example"))
        .collect();
    assert_eq!(
        members,
        [
            (
                console_actor,
                "c@doors.example".to_owned(),
                "admin".to_owned()
            ),
            (api_actor, "a@doors.example".to_owned(), "admin".to_owned()),
            (
                admin_actor,
                "t@doors.example".to_owned(),
                "admin".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn the_readme_script_provisions_an_integration_with_curl_alone() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let script =
        std::fs::read_to_string(repo_root().join("scripts/provision-integration.sh")).unwrap();
    let block = readme
        .split("<!-- provision-script -->\n```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the script in README.md");
    assert_eq!(
        block, script,
        "README.md shows the script the repository ships"
    );

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--no-demo"]);
    let manager = create_integration(&server, MANAGE);
    let output = Command::new("sh")
        .arg(repo_root().join("scripts/provision-integration.sh"))
        .args([
            "Provisioned by curl",
            REDIRECT_URI,
            "hubs:read accounts:read",
        ])
        .env("HUBGATE_URL", &server.url)
        .env("CLIENT_ID", &manager.client_id)
        .env("CLIENT_SECRET", &manager.client_secret)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in {stdout}"))
            .to_owned()
    };
    let provisioned = Integration {
        client_id: value("client_id"),
        client_secret: value("client_secret"),
    };
    assert!(
        provisioned.client_id.starts_with("hgc_") && provisioned.client_secret.starts_with("hgs_")
    );
    let token = crate::support::client_credentials(&server, &provisioned).await;
    assert_eq!(
        token.scope, "hubs:read accounts:read",
        "the new credentials work"
    );
}

#[tokio::test]
async fn the_client_cli_manages_integrations_and_members_and_exports_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--no-demo"]);
    let manager = create_integration(&server, MANAGE);
    let created = cli_json(
        &server,
        &manager,
        &[
            "integrations",
            "create",
            "--name",
            "CLI",
            "--redirect-uri",
            REDIRECT_URI,
            "--scope",
            "hubs:read sub",
        ],
    );
    let client_id = created["client_id"].as_str().unwrap();
    let updated = cli_json(
        &server,
        &manager,
        &[
            "integrations",
            "update",
            client_id,
            "--scope",
            "hubs:read",
            "--access-token-ttl",
            "600",
        ],
    );
    assert_eq!(
        (
            updated["scope"].as_str(),
            updated["access_token_ttl"].as_u64()
        ),
        (Some("hubs:read"), Some(600))
    );
    let shown = cli_json(&server, &manager, &["integrations", "show", client_id]);
    assert_eq!(shown["name"], "CLI");
    let listed = cli_json(&server, &manager, &["integrations", "list"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["client_id"] == client_id)
    );
    let disabled = cli_json(&server, &manager, &["integrations", "disable", client_id]);
    assert_eq!(disabled["enabled"], false);
    cli_json(&server, &manager, &["integrations", "enable", client_id]);
    let revealed = cli_json(
        &server,
        &manager,
        &["integrations", "reveal-secret", client_id],
    );
    assert_eq!(revealed["client_secret"], created["client_secret"]);

    let invited = cli_json(
        &server,
        &manager,
        &[
            "members",
            "add",
            "new@cli.example",
            "--role",
            "member",
            "--invite",
        ],
    );
    let user = invited["id"].as_str().unwrap();
    assert!(
        invited["one_time_password"]
            .as_str()
            .is_some_and(|p| p.len() >= 12)
    );
    cli_json(
        &server,
        &manager,
        &["members", "set-role", user, "--role", "admin"],
    );
    let reset = cli_json(&server, &manager, &["members", "reset-password", user]);
    assert_ne!(reset["one_time_password"], invited["one_time_password"]);
    cli_json(&server, &manager, &["members", "remove", user]);
    let gone = cli(&server, &manager, &["members", "remove", user]);
    assert_eq!(gone.status.code(), Some(3), "not found");
    let deleted = cli_json(&server, &manager, &["integrations", "delete", client_id]);
    assert_eq!(deleted["deleted"], true);
    let again = cli(&server, &manager, &["integrations", "show", client_id]);
    assert_eq!(again.status.code(), Some(3));

    let csv = cli(
        &server,
        &manager,
        &[
            "audit",
            "--format",
            "csv",
            "--action",
            "integration.updated",
        ],
    );
    let csv = String::from_utf8_lossy(&csv.stdout);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("seq,at,actor,action,subject,detail"));
    let row = lines.next().expect("the update's row");
    assert!(
        row.contains("integration.updated") && row.contains(client_id),
        "{row}"
    );
    let jsonl = cli(
        &server,
        &manager,
        &["audit", "--format", "jsonl", "--actor", &manager.client_id],
    );
    let events: Vec<Value> = String::from_utf8_lossy(&jsonl.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.len() >= 9, "every change the CLI made: {events:?}");
    assert!(
        events
            .iter()
            .all(|e| e["actor"] == manager.client_id.as_str())
    );

    // Without the scope: exit 5 (permission refused).
    let plain = create_integration(&server, "hubs:read");
    let refused = cli(&server, &plain, &["integrations", "list"]);
    assert_eq!(
        refused.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
