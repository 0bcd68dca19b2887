//! The management API: integrations, members, hubs and the audit log over
//! HTTP, for integrations given a management scope, with the scope and the
//! acting user's role both required.

use hubgate_store::prelude::*;
use std::time::Duration;

use hubgate_api::{AddedMember, Integration, IntegrationWithSecret, Member, Page, PasswordReset};
use hubgate_core::account::Role;
use hubgate_server::app::{Actor, AppError, Manager};
use hubgate_testkit::{ALL_SCOPES, Creds, REDIRECT_URI, TestApp, error_of};
use serde_json::{Value, json};

const MANAGE: &str =
    "integrations:read integrations:write members:read members:write audit:read hubs:manage";

/// A token of an integration with every management scope (acting through
/// the account's owner).
async fn manager_token(app: &TestApp) -> String {
    let creds = app.integration(MANAGE).await;
    app.client_credentials(&creds, None).await.access_token
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", app.url))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn ok<T: serde::de::DeserializeOwned>(response: reqwest::Response, status: u16) -> T {
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test]
async fn an_integration_with_integrations_write_creates_updates_rotates_and_deletes_another() {
    let app = TestApp::spawn().await;
    let token = manager_token(&app).await;
    use reqwest::Method;

    let created: IntegrationWithSecret = ok(
        send(
            &app,
            Method::POST,
            "/api/v1/integrations",
            &token,
            Some(json!({
                "name": "Provisioned",
                "redirect_uris": [REDIRECT_URI],
                "scope": "hubs:read accounts:read",
            })),
        )
        .await,
        201,
    )
    .await;
    assert!(created.client_secret.starts_with("hgs_"));
    assert_eq!(created.integration.scope, "hubs:read accounts:read");
    let client_id = created.integration.client_id.clone();
    let creds = Creds {
        client_id: client_id.clone(),
        secret: created.client_secret.clone(),
        integration: app.manager().integration(&client_id).await.unwrap(),
    };
    let provisioned = app.client_credentials(&creds, None).await;
    assert_eq!(provisioned.scope, "hubs:read accounts:read");
    assert_eq!(
        app.get::<hubgate_api::Account>("/api/v1/account", &provisioned.access_token)
            .await
            .status(),
        200
    );

    // Narrowing the scopes stops tokens that carry a removed one within 1 s.
    let path = format!("/api/v1/integrations/{client_id}");
    let updated: Integration = ok(
        send(
            &app,
            Method::PATCH,
            &path,
            &token,
            Some(json!({"scope": "hubs:read", "name": "Renamed"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (updated.scope.as_str(), updated.name.as_str()),
        ("hubs:read", "Renamed")
    );
    let stopped = app
        .eventually(Duration::from_secs(1), || async {
            app.hubs(&provisioned.access_token).await.status() == 401
        })
        .await;
    assert!(
        stopped.is_some(),
        "a token with a withdrawn scope stops working"
    );
    let narrower = app.client_credentials(&creds, None).await;
    assert_eq!(narrower.scope, "hubs:read");
    let refreshed = app
        .refresh(&creds, provisioned.refresh_token.as_deref().unwrap())
        .await;
    assert_eq!(refreshed.status(), 400, "its refresh token is refused too");

    let shown: Integration = ok(send(&app, Method::GET, &path, &token, None).await, 200).await;
    assert_eq!(shown.name, "Renamed");
    let listed: Vec<Integration> = ok(
        send(&app, Method::GET, "/api/v1/integrations", &token, None).await,
        200,
    )
    .await;
    assert!(listed.iter().any(|i| i.client_id == client_id));

    let rotated = send(
        &app,
        Method::POST,
        &format!("{path}/rotate-secret"),
        &token,
        Some(json!({"grace_seconds": 0})),
    )
    .await;
    assert_eq!(rotated.headers()["cache-control"], "no-store");
    let rotated: IntegrationWithSecret = ok(rotated, 200).await;
    assert_ne!(rotated.client_secret, created.client_secret);
    let old = app
        .token_form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &created.client_secret),
        ])
        .await;
    assert_eq!(old.status(), 401, "the old secret no longer works");
    let revealed: hubgate_api::ClientSecret = ok(
        send(
            &app,
            Method::POST,
            &format!("{path}/reveal-secret"),
            &token,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(revealed.client_secret, rotated.client_secret);

    let disabled: Integration = ok(
        send(&app, Method::POST, &format!("{path}/disable"), &token, None).await,
        200,
    )
    .await;
    assert!(!disabled.enabled);
    let enabled: Integration = ok(
        send(&app, Method::POST, &format!("{path}/enable"), &token, None).await,
        200,
    )
    .await;
    assert!(enabled.enabled);

    let deleted = send(&app, Method::DELETE, &path, &token, None).await;
    assert_eq!(deleted.status(), 204);
    let (status, error) = error_of(send(&app, Method::GET, &path, &token, None).await).await;
    assert_eq!((status, error.as_str()), (404, "not_found"));

    // Every step is in the audit log, readable over the API.
    let log: Page<hubgate_api::AuditEvent> = ok(
        send(&app, Method::GET, "/api/v1/audit?limit=50", &token, None).await,
        200,
    )
    .await;
    let actions: Vec<&str> = log
        .items
        .iter()
        .filter(|e| e.subject == client_id)
        .map(|e| e.action.as_str())
        .collect();
    for action in [
        "integration.created",
        "integration.updated",
        "integration.secret_rotated",
        "integration.secret_revealed",
        "integration.disabled",
        "integration.enabled",
        "integration.deleted",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
}

#[tokio::test]
async fn without_the_scope_it_is_403_insufficient_scope_and_another_accounts_integration_is_404() {
    let app = TestApp::spawn().await;
    let plain = app.integration(ALL_SCOPES).await;
    let token = app.client_credentials(&plain, None).await.access_token;
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/integrations"),
        (reqwest::Method::POST, "/api/v1/integrations"),
        (reqwest::Method::GET, "/api/v1/members"),
        (reqwest::Method::GET, "/api/v1/audit"),
        (reqwest::Method::POST, "/api/v1/hubs"),
    ] {
        let body = (method == reqwest::Method::POST).then(|| json!({}));
        let response = send(&app, method.clone(), path, &token, body).await;
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("insufficient_scope")
        );
        let (status, error) = error_of(response).await;
        assert_eq!(
            (status, error.as_str()),
            (403, "insufficient_scope"),
            "{method} {path}"
        );
    }

    let manager = manager_token(&app).await;
    let (_, other) = app.other_account().await;
    let takeover = json!({"name": "taken over"});
    let grace = json!({"grace_seconds": 60});
    for (method, suffix, body) in [
        (reqwest::Method::GET, "", None),
        (reqwest::Method::PATCH, "", Some(&takeover)),
        (reqwest::Method::DELETE, "", None),
        (reqwest::Method::POST, "/rotate-secret", Some(&grace)),
        (reqwest::Method::POST, "/reveal-secret", None),
        (reqwest::Method::POST, "/disable", None),
    ] {
        let path = format!("/api/v1/integrations/{}{suffix}", other.client_id);
        let response = send(&app, method.clone(), &path, &manager, body.cloned()).await;
        let (status, error) = error_of(response).await;
        assert_eq!(
            (status, error.as_str()),
            (404, "not_found"),
            "{method} {path}"
        );
    }
    let still = app.manager().integration(&other.client_id).await.unwrap();
    assert!(
        still.enabled && still.name == "Test integration",
        "untouched"
    );
}

#[tokio::test]
async fn a_member_role_actor_cannot_manage_even_with_the_scope() {
    let app = TestApp::spawn().await;
    let creds = app.integration(MANAGE).await;
    let member = app
        .manager()
        .create_user(
            "mo@example.com",
            "correct horse battery",
            false,
            Some((app.account, Role::Member)),
        )
        .await
        .unwrap();
    // The store never lets a member act for an integration with management
    // scopes, so the application layer is asked directly, as the API would
    // if a member's token carried the scope.
    let actor = Actor::Integration {
        account: app.account,
        client_id: creds.integration.client_id.clone(),
        user: member.id,
        role: Role::Member,
    };
    let manager = Manager::new(app.store.as_ref(), &app.master, &actor, hubgate_core::now());
    let settings = hubgate_core::integration::IntegrationSettings::new(
        "Sneaky",
        &[REDIRECT_URI.to_owned()],
        "hubs:read",
        true,
        true,
    )
    .unwrap();
    assert!(matches!(
        manager
            .create_integration(app.account, settings, None)
            .await,
        Err(AppError::Forbidden(_))
    ));
    assert!(matches!(
        manager.delete_integration(&creds.integration).await,
        Err(AppError::Forbidden(_))
    ));
    assert!(matches!(
        manager.remove_member(app.account, app.owner.id).await,
        Err(AppError::Forbidden(_))
    ));
    assert!(matches!(
        manager.reset_password(app.account, app.owner.id).await,
        Err(AppError::Forbidden(_))
    ));
    // And over HTTP: once the owner who approved is a member, a token that
    // carried management scopes is refused (the grant ended with the role).
    let store_refuses = app
        .manager()
        .set_role(app.account, app.owner.id, Role::Member)
        .await;
    assert!(
        matches!(store_refuses, Err(AppError::Conflict(_))),
        "the acting user of a management integration keeps a role that covers it"
    );
}

#[tokio::test]
async fn members_are_listed_invited_changed_reset_and_removed_and_the_last_owner_stays() {
    let app = TestApp::spawn().await;
    let token = manager_token(&app).await;
    use reqwest::Method;
    let invited: AddedMember = ok(
        send(
            &app,
            Method::POST,
            "/api/v1/members",
            &token,
            Some(json!({
                "email": "new@example.com", "role": "member", "invite": true
            })),
        )
        .await,
        201,
    )
    .await;
    let one_time = invited
        .one_time_password
        .clone()
        .expect("a one-time password");
    assert!(invited.member.must_change_password);
    let unknown = send(
        &app,
        Method::POST,
        "/api/v1/members",
        &token,
        Some(json!({
            "email": "nobody@example.com", "role": "member"
        })),
    )
    .await;
    assert_eq!(error_of(unknown).await.0, 404, "no invite, no user");

    let members: Vec<Member> = ok(
        send(&app, Method::GET, "/api/v1/members", &token, None).await,
        200,
    )
    .await;
    assert!(members.iter().any(|m| m.email == "new@example.com"));
    let path = format!("/api/v1/members/{}", invited.member.id);
    let promoted: Member = ok(
        send(
            &app,
            Method::PATCH,
            &path,
            &token,
            Some(json!({"role": "admin"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(promoted.role, hubgate_api::Role::Admin);

    let reset: PasswordReset = ok(
        send(
            &app,
            Method::POST,
            &format!("{path}/reset-password"),
            &token,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_ne!(reset.one_time_password, one_time);

    let owner = format!("/api/v1/members/{}", app.owner.id);
    let (status, error) = error_of(
        send(
            &app,
            Method::PATCH,
            &owner,
            &token,
            Some(json!({"role": "member"})),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, error.as_str()),
        (409, "conflict"),
        "the last owner stays"
    );
    assert_eq!(
        send(&app, Method::DELETE, &path, &token, None)
            .await
            .status(),
        204
    );
    assert_eq!(
        send(&app, Method::DELETE, &path, &token, None)
            .await
            .status(),
        404
    );
    let bad = send(
        &app,
        Method::PATCH,
        &owner,
        &token,
        Some(json!({"role": "emperor"})),
    )
    .await;
    assert_eq!(error_of(bad).await.0, 422);
}

#[tokio::test]
async fn hubs_are_created_and_deleted_with_hubs_manage() {
    let app = TestApp::spawn().await;
    let token = manager_token(&app).await;
    use reqwest::Method;
    let hub: hubgate_api::Hub = ok(
        send(
            &app,
            Method::POST,
            "/api/v1/hubs",
            &token,
            Some(json!({
                "serial": "NEW-0001", "name": "Lobby hub", "kind": "hub", "room": "Lobby"
            })),
        )
        .await,
        201,
    )
    .await;
    assert_eq!((hub.room.as_deref(), hub.online), (Some("Lobby"), false));
    let again = send(
        &app,
        Method::POST,
        "/api/v1/hubs",
        &token,
        Some(json!({
            "serial": "NEW-0001", "name": "Twin", "kind": "hub"
        })),
    )
    .await;
    assert_eq!(error_of(again).await.0, 409);
    let path = format!("/api/v1/hubs/{}", hub.id);
    assert_eq!(
        send(&app, Method::DELETE, &path, &token, None)
            .await
            .status(),
        204
    );
    let reader = app.integration(ALL_SCOPES).await;
    let reader = app.client_credentials(&reader, None).await.access_token;
    assert_eq!(
        app.get::<hubgate_api::Hub>(&path, &reader).await.status(),
        404
    );
}

#[tokio::test]
async fn the_audit_log_pages_filters_and_exports_as_json_lines_and_csv() {
    let app = TestApp::spawn().await;
    let token = manager_token(&app).await;
    for n in 0..5 {
        app.integration_in(
            app.account,
            &format!("hubs:read{}", if n % 2 == 0 { "" } else { " sub" }),
            true,
        )
        .await;
    }
    use reqwest::Method;
    let first: Page<hubgate_api::AuditEvent> = ok(
        send(
            &app,
            Method::GET,
            "/api/v1/audit?action=integration.created&limit=2",
            &token,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(first.items.len(), 2);
    let cursor = first.next_cursor.clone().expect("more pages");
    let second: Page<hubgate_api::AuditEvent> = ok(
        send(
            &app,
            Method::GET,
            &format!("/api/v1/audit?action=integration.created&limit=2&cursor={cursor}"),
            &token,
            None,
        )
        .await,
        200,
    )
    .await;
    assert!(
        second.items.iter().all(|e| e.seq < first.items[1].seq),
        "older"
    );
    assert!(
        second
            .items
            .iter()
            .all(|e| e.action == "integration.created")
    );

    let jsonl = send(
        &app,
        Method::GET,
        "/api/v1/audit?format=jsonl&actor=admin%20tool",
        &token,
        None,
    )
    .await;
    assert_eq!(jsonl.headers()["content-type"], "application/x-ndjson");
    let text = jsonl.text().await.unwrap();
    let lines: Vec<hubgate_api::AuditEvent> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 6, "{text}");
    assert!(lines.iter().all(|e| e.actor == "admin tool"));

    // A name a spreadsheet would run as a formula is exported as text.
    let formula = send(
        &app,
        Method::POST,
        "/api/v1/integrations",
        &token,
        Some(json!({"name": "=HYPERLINK(\"x\")", "redirect_uris": [REDIRECT_URI], "scope": "sub"})),
    )
    .await;
    assert_eq!(formula.status(), 201);
    let csv = send(&app, Method::GET, "/api/v1/audit?format=csv", &token, None).await;
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    let mut rows = text.lines();
    assert_eq!(rows.next(), Some("seq,at,actor,action,subject,detail"));
    assert!(text.contains("\"'=HYPERLINK(\"\"x\"\") (sub)\""), "{text}");
    assert!(rows.count() >= 7);

    for bad in [
        "action=integration.exploded",
        "since=yesterday",
        "limit=0",
        "cursor=abc",
    ] {
        let response = send(
            &app,
            Method::GET,
            &format!("/api/v1/audit?{bad}"),
            &token,
            None,
        )
        .await;
        assert_eq!(
            error_of(response).await,
            (400, "invalid_request".into()),
            "{bad}"
        );
    }
}

/// An admin's token, and the account's owner-acting integration.
async fn admin_manager(app: &TestApp) -> (String, Creds) {
    let owners = app.integration(ALL_SCOPES).await;
    let admin = app
        .manager()
        .create_user(
            "ada@example.com",
            "correct horse battery",
            false,
            Some((app.account, Role::Admin)),
        )
        .await
        .unwrap();
    let settings = hubgate_core::integration::IntegrationSettings::new(
        "Admin's manager",
        &[REDIRECT_URI.to_owned()],
        MANAGE,
        true,
        true,
    )
    .unwrap();
    let created = app
        .manager()
        .create_integration(app.account, settings, Some(admin.id))
        .await
        .unwrap();
    let creds = Creds {
        client_id: created.integration.client_id.to_string(),
        secret: created.secret.expose().to_owned(),
        integration: created.integration,
    };
    (
        app.client_credentials(&creds, None).await.access_token,
        owners,
    )
}

#[tokio::test]
async fn an_admins_token_cannot_borrow_an_owners_role() {
    let app = TestApp::spawn().await;
    let (token, owners) = admin_manager(&app).await;
    use reqwest::Method;
    // Not by creating an integration that acts through the owner...
    let borrowed = send(
        &app,
        Method::POST,
        "/api/v1/integrations",
        &token,
        Some(json!({
            "name": "Borrowed", "redirect_uris": [REDIRECT_URI], "scope": "members:write",
            "acting_user": app.owner.id.to_string(),
        })),
    )
    .await;
    assert_eq!(error_of(borrowed).await, (403, "access_denied".into()));
    // ...nor by taking or widening the owner's integration.
    let path = format!("/api/v1/integrations/{}", owners.client_id);
    let shown = send(&app, Method::GET, &path, &token, None).await;
    assert_eq!(shown.status(), 200, "an admin may look");
    for (method, suffix, body) in [
        (Method::POST, "/reveal-secret", None),
        (
            Method::POST,
            "/rotate-secret",
            Some(json!({"grace_seconds": 0})),
        ),
        (Method::PATCH, "", Some(json!({"scope": "members:write"}))),
    ] {
        let response = send(
            &app,
            method.clone(),
            &format!("{path}{suffix}"),
            &token,
            body,
        )
        .await;
        assert_eq!(
            error_of(response).await,
            (403, "access_denied".into()),
            "{method} {suffix}"
        );
    }
    // ...nor by making anyone an owner, or resetting an owner's password.
    let me = app
        .store
        .user_by_email("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    let promote = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/members/{}", me.id),
        &token,
        Some(json!({"role": "owner"})),
    )
    .await;
    assert_eq!(error_of(promote).await.0, 409);
    let reset = send(
        &app,
        Method::POST,
        &format!("/api/v1/members/{}/reset-password", app.owner.id),
        &token,
        None,
    )
    .await;
    assert_eq!(error_of(reset).await, (403, "access_denied".into()));
    let unchanged = app.manager().integration(&owners.client_id).await.unwrap();
    assert_eq!(unchanged.scopes.to_string(), ALL_SCOPES);
}

#[tokio::test]
async fn a_full_page_of_the_largest_size_still_points_to_the_next() {
    let app = TestApp::spawn().await;
    let token = manager_token(&app).await;
    let event = hubgate_store::AuditEvent {
        account_id: app.account,
        at: hubgate_core::now(),
        actor: "bulk".into(),
        action: hubgate_core::audit::AuditAction::TokenIssued,
        subject: "hgc_x".into(),
        detail: String::new(),
    };
    app.store.append_audit(&vec![event; 1001]).await.unwrap();
    let page: Page<hubgate_api::AuditEvent> = ok(
        send(
            &app,
            reqwest::Method::GET,
            "/api/v1/audit?actor=bulk&limit=1000",
            &token,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page.items.len(), 1000);
    let cursor = page.next_cursor.expect("one more event behind the page");
    let rest: Page<hubgate_api::AuditEvent> = ok(
        send(
            &app,
            reqwest::Method::GET,
            &format!("/api/v1/audit?actor=bulk&limit=1000&cursor={cursor}"),
            &token,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!((rest.items.len(), rest.next_cursor), (1, None));
    let export = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/audit?actor=bulk&format=jsonl",
        &token,
        None,
    )
    .await;
    assert_eq!(export.text().await.unwrap().lines().count(), 1001);
}
