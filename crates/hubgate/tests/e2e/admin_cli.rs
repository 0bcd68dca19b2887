use serde_json::Value;

use crate::support::{REDIRECT_URI, Server, admin, admin_ok, demo_account};

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<_> = value.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn admin_commands_print_the_json_shapes_scripts_rely_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    Server::start(&data, &["--no-demo"]).kill9();

    let account = admin_ok(&data, &["account", "create", "--name", "Acme"]);
    assert_eq!(keys(&account), ["id", "name"]);
    assert_eq!(account["name"], "Acme");
    let account_id = account["id"].as_str().unwrap();
    let listed = admin_ok(&data, &["account", "list"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == account_id)
    );

    let user = admin_ok(
        &data,
        &[
            "user",
            "create",
            "--email",
            "Dev@Acme.example",
            "--password",
            "s3cret-passphrase",
            "--account",
            account_id,
            "--role",
            "admin",
        ],
    );
    assert_eq!(user["email"], "dev@acme.example");
    assert_eq!(user["role"], "admin");
    assert!(
        user.get("password").is_none(),
        "a given password is not echoed"
    );

    let created = admin_ok(
        &data,
        &[
            "integration",
            "create",
            "--account",
            account_id,
            "--name",
            "Room sync",
            "--redirect-uri",
            REDIRECT_URI,
            "--scope",
            "sub email hubs:read hubs:write accounts:read",
        ],
    );
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(client_id.starts_with("hgc_") && secret.starts_with("hgs_"));
    assert_eq!(
        created["scope"],
        "sub email hubs:read hubs:write accounts:read"
    );
    assert_eq!(created["created_by"], user["id"]);

    let shown = admin_ok(&data, &["integration", "show", &client_id]);
    assert_eq!(shown["client_secret"], secret.as_str());
    let listed = admin_ok(&data, &["integration", "list", "--account", account_id]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(
        listed[0].get("client_secret").is_none(),
        "list never shows secrets"
    );

    let rotated = admin_ok(
        &data,
        &["integration", "rotate-secret", &client_id, "--grace", "600"],
    );
    assert_ne!(rotated["client_secret"], secret.as_str());
    assert!(rotated["previous_secret_expires_at"].is_string());
    // Without --grace, the old secret keeps working for an hour, as in the
    // console; --grace 0 ends it at once.
    let default_grace = admin_ok(&data, &["integration", "rotate-secret", &client_id]);
    let expires = time::OffsetDateTime::parse(
        default_grace["previous_secret_expires_at"]
            .as_str()
            .unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let left = (expires - time::OffsetDateTime::now_utc()).whole_seconds();
    assert!((3500..=3600).contains(&left), "{left} s of grace");
    let immediate = admin_ok(
        &data,
        &["integration", "rotate-secret", &client_id, "--grace", "0"],
    );
    assert!(
        immediate["previous_secret_expires_at"].is_null(),
        "{immediate}"
    );
    assert_eq!(
        admin_ok(&data, &["integration", "disable", &client_id])["enabled"],
        false
    );
    assert_eq!(
        admin_ok(&data, &["integration", "enable", &client_id])["enabled"],
        true
    );

    let hub = admin_ok(
        &data,
        &[
            "hub",
            "create",
            "--account",
            account_id,
            "--serial",
            "OSW4-9",
            "--name",
            "Lab",
            "--kind",
            "switch",
        ],
    );
    assert_eq!(hub["kind"], "switch");
    let hub_id = hub["id"].as_str().unwrap();
    let reported = admin_ok(
        &data,
        &[
            "hub",
            "set-state",
            hub_id,
            "--json",
            r#"{"state": {"connected": [1, 0, 0, 0], "active": 1}}"#,
        ],
    );
    assert_eq!(reported["state"]["active"], 1);
    assert_eq!(reported["online"], true);

    let deleted = admin_ok(&data, &["integration", "delete", &client_id]);
    assert_eq!(deleted["deleted"], true);
}

#[tokio::test]
async fn admin_exit_codes_tell_invalid_input_from_missing_and_duplicate_things() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let account = demo_account(&server.banner);
    server.kill9();
    let (code, _, stderr) = admin(&data, &["integration", "show", "hgc_missing"]);
    assert_eq!(code, 3, "{stderr}");
    let (code, _, _) = admin(
        &data,
        &[
            "integration",
            "create",
            "--account",
            &account,
            "--name",
            "x",
            "--redirect-uri",
            "http://insecure.example/cb",
            "--scope",
            "sub",
        ],
    );
    assert_eq!(code, 2);
    let (code, _, _) = admin(
        &data,
        &[
            "user",
            "create",
            "--email",
            "admin@localhost",
            "--password",
            "long-enough-password",
        ],
    );
    assert_eq!(code, 4);
    let (code, _, _) = admin(&data, &["account", "create", "--name", "  "]);
    assert_eq!(code, 2);
    let (code, _, stderr) = admin(&dir.path().join("nowhere"), &["account", "list"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no hubgate store"), "{stderr}");
}

/// `hubgate admin` with a given `HUBGATE_MASTER_KEY`.
fn admin_with_key(data_dir: &std::path::Path, key: &str, args: &[&str]) -> (i32, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hubgate"))
        .arg("admin")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("HUBGATE_MASTER_KEY", key)
        .output()
        .expect("run hubgate admin");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn every_admin_command_refuses_a_master_key_that_does_not_open_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let account = demo_account(&server.banner);
    server.kill9();
    let (bytes, _) = hubgate_core::crypto::MasterKey::generate();
    let wrong = hubgate_core::crypto::MasterKey::encode(&bytes);
    let create = [
        "integration",
        "create",
        "--account",
        account.as_str(),
        "--name",
        "Sealed wrong",
        "--redirect-uri",
        REDIRECT_URI,
        "--scope",
        "sub",
    ];
    let (code, stderr) = admin_with_key(&data, &wrong, &create);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("master key does not open"), "{stderr}");
    let (code, _) = admin_with_key(&data, &wrong, &["account", "list"]);
    assert_eq!(code, 2);
    // Nothing was written under the wrong key.
    let listed = admin_ok(&data, &["integration", "list"]);
    assert!(
        !listed
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "Sealed wrong")
    );
}

#[tokio::test]
async fn members_acting_users_and_revealed_secrets_through_the_admin_tool() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let account = demo_account(&server.banner);
    server.kill9();
    let created = admin_ok(
        &data,
        &[
            "integration",
            "create",
            "--account",
            &account,
            "--name",
            "Writer",
            "--redirect-uri",
            REDIRECT_URI,
            "--scope",
            "hubs:read hubs:write",
        ],
    );
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    let owner = created["acting_user"].clone();
    assert_eq!(owner, created["created_by"]);
    let second = admin_ok(
        &data,
        &[
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--account",
            &account,
            "--role",
            "member",
        ],
    );
    // A member cannot act for an integration that writes.
    let (code, _, stderr) = admin(
        &data,
        &[
            "integration",
            "set-acting-user",
            &client_id,
            "--email",
            "ops@example.com",
        ],
    );
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("hubs:write"), "{stderr}");
    admin_ok(
        &data,
        &[
            "user",
            "add-member",
            "--email",
            "ops@example.com",
            "--account",
            &account,
            "--role",
            "owner",
        ],
    );
    let changed = admin_ok(
        &data,
        &[
            "integration",
            "set-acting-user",
            &client_id,
            "--email",
            "ops@example.com",
        ],
    );
    assert_eq!(changed["acting_user"], second["id"]);
    // The acting user cannot be removed; another member can.
    let (code, _, stderr) = admin(
        &data,
        &[
            "user",
            "remove-member",
            "--email",
            "ops@example.com",
            "--account",
            &account,
        ],
    );
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("Writer"), "{stderr}");
    let removed = admin_ok(
        &data,
        &[
            "user",
            "remove-member",
            "--email",
            "admin@localhost",
            "--account",
            &account,
        ],
    );
    assert_eq!(removed["removed"], true);

    // Showing the secret is audited, as the console's Reveal is.
    admin_ok(&data, &["integration", "show", &client_id]);
    let store = hubgate_store::open_sqlite(&data).await.unwrap();
    let query = hubgate_store::AuditQuery {
        limit: 20,
        ..Default::default()
    };
    let events = hubgate_store::Audit::audit_events(&store, account.parse().unwrap(), &query)
        .await
        .unwrap();
    assert!(
        events.iter().any(|e| e.event.action
            == hubgate_core::audit::AuditAction::IntegrationSecretRevealed
            && e.event.actor == "admin tool"),
        "{events:?}"
    );
}
