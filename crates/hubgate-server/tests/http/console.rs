//! The console over HTTP: roles, CSRF, tenant isolation, headers. (The
//! browser journeys are in the e2e suite, in Chromium.)

use hubgate_core::account::Role;
use hubgate_testkit::browser::{browser, console_login, field};
use hubgate_testkit::{ALL_SCOPES, TestApp};
use reqwest::header::LOCATION;

const PASSWORD: &str = "correct horse battery";

struct Console<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
}

impl<'a> Console<'a> {
    async fn login(app: &'a TestApp, email: &str, role: Option<Role>) -> Console<'a> {
        let account = role.map(|r| (app.account, r));
        app.manager()
            .create_user(email, PASSWORD, false, account)
            .await
            .unwrap();
        let (response, http) = console_login(app, email, PASSWORD).await;
        assert_eq!(response.status(), 303, "login failed");
        Console { app, http }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.app.url))
            .send()
            .await
            .unwrap()
    }

    async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        response.text().await.unwrap()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.app.url))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    fn base(&self) -> String {
        format!("/console/a/{}", self.app.account)
    }
}

#[tokio::test]
async fn without_a_session_the_console_sends_you_to_log_in() {
    let app = TestApp::spawn().await;
    let http = browser();
    for path in [
        "/console".to_owned(),
        format!("/console/a/{}/integrations", app.account),
    ] {
        let response = http.get(format!("{}{path}", app.url)).send().await.unwrap();
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(response.headers()[LOCATION], "/console/login");
    }
}

#[tokio::test]
async fn an_admin_creates_an_integration_and_its_secret_works() {
    let app = TestApp::spawn().await;
    let console = Console::login(&app, "admin@acme.example", Some(Role::Admin)).await;
    let form_page = console
        .page(&format!("{}/integrations/new", console.base()))
        .await;
    let created = console
        .post(
            &format!("{}/integrations", console.base()),
            &[
                ("csrf", &field(&form_page, "csrf")),
                ("name", "Room sync"),
                (
                    "redirect_uris",
                    "https://integrator.example/callback\nhttps://integrator.example/other",
                ),
                ("scope", "hubs:read"),
                ("scope", "accounts:read"),
                ("refresh_on_client_credentials", "on"),
                ("require_pkce", "on"),
                ("access_token_ttl", ""),
                ("refresh_token_ttl", ""),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    let location = created.headers()[LOCATION].to_str().unwrap().to_owned();
    let (detail_path, notice) = location.split_once('?').unwrap();
    assert_eq!(
        notice, "notice=created",
        "the detail page says what happened"
    );
    let detail_path = detail_path.to_owned();
    let client_id = detail_path.rsplit('/').next().unwrap().to_owned();
    let detail = console.get(&location).await;
    assert_eq!(detail.headers()["cache-control"], "no-store");
    let detail = detail.text().await.unwrap();
    assert!(detail.contains("Created."), "the notice is shown");
    assert!(
        detail.contains("hidden") && !detail.contains("hgs_"),
        "the secret is hidden until revealed"
    );
    let revealed = console
        .post(
            &format!("{detail_path}/reveal"),
            &[("csrf", &field(&detail, "csrf"))],
        )
        .await
        .text()
        .await
        .unwrap();
    let start = revealed
        .find("hgs_")
        .unwrap_or_else(|| panic!("the revealed secret in {revealed}"));
    let secret: String = revealed[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "_-".contains(*c))
        .collect();
    let integration = app.manager().integration(None, &client_id).await.unwrap();
    let creds = hubgate_testkit::Creds {
        client_id,
        secret,
        integration,
    };
    let token = app.client_credentials(&creds, None).await;
    assert_eq!(token.scope, "hubs:read accounts:read");
    let audit = console.page(&format!("{}/audit", console.base())).await;
    assert!(
        audit.contains("integration.created") && audit.contains("integration.secret_revealed"),
        "{audit}"
    );
    assert!(
        audit.contains("token.issued"),
        "counted token events show in the audit log: {audit}"
    );
}

#[tokio::test]
async fn a_member_can_look_but_not_create_or_reveal() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let console = Console::login(&app, "member@acme.example", Some(Role::Member)).await;
    let list = console
        .page(&format!("{}/integrations", console.base()))
        .await;
    assert!(list.contains(&creds.client_id), "members see the list");
    assert!(!list.contains("id=\"create\""), "but no Create button");
    assert_eq!(
        console
            .get(&format!("{}/integrations/new", console.base()))
            .await
            .status(),
        403
    );
    let detail = console
        .page(&format!(
            "{}/integrations/{}",
            console.base(),
            creds.client_id
        ))
        .await;
    assert!(!detail.contains("id=\"reveal\""));
    let csrf = field(&detail, "csrf");
    let reveal = console
        .post(
            &format!("{}/integrations/{}/reveal", console.base(), creds.client_id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(reveal.status(), 403);
    assert!(!reveal.text().await.unwrap().contains(&creds.secret));
    let create = console
        .post(
            &format!("{}/integrations", console.base()),
            &[
                ("csrf", &csrf),
                ("name", "x"),
                ("redirect_uris", "https://x.example/cb"),
                ("scope", "sub"),
            ],
        )
        .await;
    assert_eq!(create.status(), 403);
    for action in ["disable", "delete", "rotate"] {
        let response = console
            .post(
                &format!(
                    "{}/integrations/{}/{action}",
                    console.base(),
                    creds.client_id
                ),
                &[("csrf", &csrf), ("grace", "0")],
            )
            .await;
        assert_eq!(response.status(), 403, "{action}");
    }
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let console = Console::login(&app, "owner2@acme.example", Some(Role::Owner)).await;
    for (path, form) in [
        (
            format!("{}/integrations/{}/reveal", console.base(), creds.client_id),
            vec![],
        ),
        (
            format!(
                "{}/integrations/{}/disable",
                console.base(),
                creds.client_id
            ),
            vec![("csrf", "forged")],
        ),
        (
            format!("{}/integrations", console.base()),
            vec![("name", "x"), ("redirect_uris", "https://x.example/cb")],
        ),
        ("/console/logout".to_owned(), vec![("csrf", "")]),
    ] {
        let response = console.post(&path, &form).await;
        assert!(
            response.status() == 403 || response.status() == 400,
            "{path}: {}",
            response.status()
        );
    }
    let still = app
        .manager()
        .integration(None, &creds.client_id)
        .await
        .unwrap();
    assert!(still.enabled, "the forged disable did nothing");
}

#[tokio::test]
async fn another_accounts_pages_and_integrations_are_not_found() {
    let app = TestApp::spawn().await;
    let (other, other_creds) = app.other_account().await;
    let console = Console::login(&app, "admin3@acme.example", Some(Role::Admin)).await;
    assert_eq!(
        console
            .get(&format!("/console/a/{other}/integrations"))
            .await
            .status(),
        404
    );
    let foreign = console
        .get(&format!(
            "{}/integrations/{}",
            console.base(),
            other_creds.client_id
        ))
        .await;
    assert_eq!(foreign.status(), 404);
}

#[tokio::test]
async fn members_are_added_created_with_a_one_time_password_and_the_last_owner_stays() {
    let app = TestApp::spawn().await;
    let console = Console::login(&app, "boss@acme.example", Some(Role::Owner)).await;
    let page = console.page(&format!("{}/members", console.base())).await;
    let csrf = field(&page, "csrf");
    let created = console
        .post(
            &format!("{}/members", console.base()),
            &[
                ("csrf", &csrf),
                ("email", "new@acme.example"),
                ("role", "member"),
                ("create_user", "on"),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(created.contains("one-time-password"), "{created}");
    assert!(created.contains("new@acme.example"));
    // Demoting the bootstrap owner leaves boss as the only owner; demoting boss is then refused.
    let boss = app.store.as_ref();
    let members = hubgate_store::Accounts::account_members(boss, app.account)
        .await
        .unwrap();
    let owner_id = members
        .iter()
        .find(|(u, _)| u.email == "owner@example.com")
        .unwrap()
        .0
        .id;
    let boss_id = members
        .iter()
        .find(|(u, _)| u.email == "boss@acme.example")
        .unwrap()
        .0
        .id;
    let demoted = console
        .post(
            &format!("{}/members/{owner_id}/role", console.base()),
            &[("csrf", &csrf), ("role", "admin")],
        )
        .await;
    assert!(demoted.text().await.unwrap().contains("is now admin."));
    let refused = console
        .post(
            &format!("{}/members/{boss_id}/role", console.base()),
            &[("csrf", &csrf), ("role", "member")],
        )
        .await;
    assert!(refused.text().await.unwrap().contains("at least one owner"));
}

#[tokio::test]
async fn console_pages_send_security_headers_and_allow_only_their_own_script() {
    let app = TestApp::spawn().await;
    let console = Console::login(&app, "viewer@acme.example", Some(Role::Member)).await;
    for path in ["integrations", "members", "hubs", "audit"] {
        let response = console.get(&format!("{}/{path}", console.base())).await;
        assert_eq!(response.status(), 200, "{path}");
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        assert_eq!(response.headers()["x-frame-options"], "DENY");
        assert_eq!(response.headers()["cache-control"], "no-store");
    }
    let hubs = console
        .page(&format!("{}/hubs?kind=switch", console.base()))
        .await;
    assert!(hubs.contains("Boardroom switch") && !hubs.contains("Huddle A hub"));
}

#[tokio::test]
async fn an_admin_edits_an_integration_and_narrowed_scopes_stop_its_tokens() {
    let app = TestApp::spawn().await;
    let console = Console::login(&app, "editor@acme.example", Some(Role::Admin)).await;
    let form_page = console
        .page(&format!("{}/integrations/new", console.base()))
        .await;
    let csrf = field(&form_page, "csrf");
    let created = console
        .post(
            &format!("{}/integrations", console.base()),
            &[
                ("csrf", csrf.as_str()),
                ("name", "Editable"),
                ("redirect_uris", "https://integrator.example/callback"),
                ("scope", "hubs:read"),
                ("scope", "accounts:read"),
                ("refresh_on_client_credentials", "on"),
                ("require_pkce", "on"),
            ],
        )
        .await;
    assert_eq!(created.status(), 303);
    let location = created.headers()[LOCATION].to_str().unwrap().to_owned();
    let detail_path = location.split('?').next().unwrap().to_owned();
    let client_id = detail_path.rsplit('/').next().unwrap().to_owned();
    let integration = app.manager().integration(None, &client_id).await.unwrap();
    let secret = app.manager().reveal_secret(&integration).await.unwrap();
    let creds = hubgate_testkit::Creds {
        client_id: client_id.clone(),
        secret: secret.expose().to_owned(),
        integration,
    };
    let token = app.client_credentials(&creds, None).await.access_token;
    assert_eq!(
        app.get::<hubgate_api::Account>("/api/v1/account", &token)
            .await
            .status(),
        200
    );

    let edit = console.page(&format!("{detail_path}/edit")).await;
    assert!(
        edit.contains("value=\"Editable\""),
        "the form shows the current name"
    );
    assert!(edit.contains("https://integrator.example/callback"));
    let csrf = field(&edit, "csrf");
    let refused = console
        .post(
            &format!("{detail_path}/edit"),
            &[
                ("csrf", csrf.as_str()),
                ("name", "Editable"),
                ("redirect_uris", ""),
                ("scope", "hubs:read"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused.text().await.unwrap().contains("redirect URI"),
        "a readable reason"
    );
    let saved = console
        .post(
            &format!("{detail_path}/edit"),
            &[
                ("csrf", csrf.as_str()),
                ("name", "Renamed"),
                ("redirect_uris", "https://integrator.example/callback"),
                ("scope", "hubs:read"),
                ("refresh_on_client_credentials", "on"),
                ("require_pkce", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let after = console
        .page(saved.headers()[LOCATION].to_str().unwrap())
        .await;
    assert!(
        after.contains("Renamed") && after.contains("Saved."),
        "{after}"
    );
    let stopped = app
        .eventually(std::time::Duration::from_secs(1), || async {
            app.get::<hubgate_api::Account>("/api/v1/account", &token)
                .await
                .status()
                == 401
        })
        .await;
    assert!(
        stopped.is_some(),
        "a token with the removed scope stops within 1 s"
    );
    let audit = console.page(&format!("{}/audit", console.base())).await;
    assert!(audit.contains("integration.updated"));

    // An integration acting through the owner is the owner's to change.
    let owners = app.integration(ALL_SCOPES).await;
    let owners_path = format!("{}/integrations/{}", console.base(), owners.client_id);
    let edit = console.page(&format!("{owners_path}/edit")).await;
    let taken = console
        .post(
            &format!("{owners_path}/edit"),
            &[
                ("csrf", field(&edit, "csrf").as_str()),
                ("name", "Mine now"),
                ("redirect_uris", "https://integrator.example/callback"),
                ("scope", "members:write"),
            ],
        )
        .await;
    assert_eq!(taken.status(), 403);
    let still = app
        .manager()
        .integration(None, &owners.client_id)
        .await
        .unwrap();
    assert_eq!(still.scopes.to_string(), ALL_SCOPES);
}
