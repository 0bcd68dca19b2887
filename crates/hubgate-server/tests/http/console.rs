//! The console over HTTP: roles, CSRF, tenant isolation, headers. (The
//! browser journeys are in the e2e suite, in Chromium.)

use hubgate_core::account::Role;
use hubgate_testkit::browser::{browser, console_login, field};
use hubgate_testkit::{ALL_SCOPES, TestApp};
use reqwest::header::LOCATION;

const PASSWORD: &str = "correct horse battery";

/// A logged-in browser on the console (shared with `console_webhooks`).
pub(crate) struct Console<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
}

impl<'a> Console<'a> {
    pub(crate) async fn login(app: &'a TestApp, email: &str, role: Option<Role>) -> Console<'a> {
        let account = role.map(|r| (app.account, r));
        app.manager()
            .create_user(email, PASSWORD, false, account)
            .await
            .unwrap();
        let (response, http) = console_login(app, email, PASSWORD).await;
        assert_eq!(response.status(), 303, "login failed");
        Console { app, http }
    }

    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.app.url))
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        response.text().await.unwrap()
    }

    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.app.url))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub(crate) fn base(&self) -> String {
        format!("/console/a/{}", self.app.account)
    }

    /// Posts the password form; the status and the page.
    async fn change_password(&self, current: &str, new: &str, repeat: &str) -> (u16, String) {
        let page = self.page("/console/password").await;
        let response = self
            .post(
                "/console/password",
                &[
                    ("csrf", &field(&page, "csrf")),
                    ("current", current),
                    ("new", new),
                    ("repeat", repeat),
                ],
            )
            .await;
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }
}

/// Where a console response redirects to.
pub(crate) fn location(response: &reqwest::Response) -> &str {
    assert_eq!(response.status(), 303, "{}", response.url());
    response.headers()[LOCATION].to_str().unwrap()
}

async fn user_id(app: &TestApp, email: &str) -> hubgate_core::ids::UserId {
    hubgate_store::Users::user_by_email(app.store.as_ref(), email)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no user {email}"))
        .id
}

/// The one-time password the members page shows after a reset or an invitation.
fn one_time_password(page: &str) -> String {
    let marker = "<code id=\"one-time-password\">";
    let start = page
        .find(marker)
        .unwrap_or_else(|| panic!("no one-time password in:\n{page}"))
        + marker.len();
    page[start..].split('<').next().unwrap().to_owned()
}

const NEW_PASSWORD: &str = "a brand new passphrase";

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
    let integration = app.manager().integration(&client_id).await.unwrap();
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
    let still = app.manager().integration(&creds.client_id).await.unwrap();
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
async fn changing_your_own_password_needs_the_current_one_and_ends_your_other_sessions() {
    let app = TestApp::spawn().await;
    let email = "pat@acme.example";
    let console = Console::login(&app, email, Some(Role::Member)).await;
    let (_, elsewhere) = console_login(&app, email, PASSWORD).await;
    let consents = format!("{}/console/consents", app.url);
    let frame = console.page("/console/consents").await;
    assert!(
        frame.contains("href=\"/console/password\""),
        "every user finds the page"
    );

    for (current, new, repeat, why) in [
        (
            "not my password",
            NEW_PASSWORD,
            NEW_PASSWORD,
            "The current password is not right.",
        ),
        (
            PASSWORD,
            "short pass",
            "short pass",
            "The password must be at least 12 characters.",
        ),
        (PASSWORD, "123456789012", "123456789012", "too common"),
        (
            PASSWORD,
            NEW_PASSWORD,
            "a brand new passphrasE",
            "do not match",
        ),
    ] {
        let (status, page) = console.change_password(current, new, repeat).await;
        assert_eq!(status, 422, "{why}");
        assert!(page.contains(why), "{why} in:\n{page}");
        assert!(
            page.contains("name=\"current\"") && !page.contains(new),
            "the form is shown again, without the passwords"
        );
    }
    let other = elsewhere.get(&consents).send().await.unwrap();
    assert_eq!(other.status(), 200, "a refused change ends no session");

    let (status, page) = console
        .change_password(PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Password changed."), "{page}");
    assert_eq!(
        console.get("/console/consents").await.status(),
        200,
        "this browser stays logged in"
    );
    let other = elsewhere.get(&consents).send().await.unwrap();
    assert_eq!(
        location(&other),
        "/console/login",
        "the other session ended"
    );
    assert_eq!(console_login(&app, email, PASSWORD).await.0.status(), 401);
    assert_eq!(
        console_login(&app, email, NEW_PASSWORD).await.0.status(),
        303
    );
    let audit = console.page(&format!("{}/audit", console.base())).await;
    assert!(audit.contains("user.password_changed"), "{audit}");
}

#[tokio::test]
async fn a_one_time_password_must_be_changed_before_anything_else_even_authorizing() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let email = "sam@acme.example";
    let sam = app
        .manager()
        .create_user(email, PASSWORD, false, Some((app.account, Role::Admin)))
        .await
        .unwrap();
    let (_, one_time) = app
        .manager()
        .reset_password(app.account, sam.id)
        .await
        .unwrap();

    let (login, http) = console_login(&app, email, &one_time).await;
    assert_eq!(location(&login), "/console");
    let console = Console { app: &app, http };
    let base = console.base();
    for path in [
        "/console".to_owned(),
        format!("{base}/integrations"),
        format!("{base}/members"),
        format!("{base}/audit"),
        "/console/consents".to_owned(),
    ] {
        let response = console.get(&path).await;
        assert_eq!(location(&response), "/console/password", "{path}");
    }
    let page = console.page("/console/password").await;
    assert!(page.contains("one-time password"), "{page}");
    assert!(
        !page.contains("/members\""),
        "the frame offers only the password page and logging out"
    );
    let add = console
        .post(
            &format!("{base}/members"),
            &[
                ("csrf", &field(&page, "csrf")),
                ("email", "friend@acme.example"),
                ("role", "owner"),
                ("create_user", "on"),
            ],
        )
        .await;
    assert_eq!(location(&add), "/console/password", "no action either");

    // The authorization pages approve nothing with a one-time password.
    let flow = hubgate_testkit::browser::Flow::new(&app);
    let authorize = format!(
        "{}/identity/oauth/v2/authorize?client_id={}&redirect_uri={}&response_type=code&scope=sub&state=s1\
         &code_challenge={}&code_challenge_method=S256",
        app.url,
        creds.client_id,
        hubgate_testkit::REDIRECT_URI,
        hubgate_core::authorize::s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
    );
    let login_page = flow.get(&authorize).await.text().await.unwrap();
    let refused = flow.log_in(&login_page, email, &one_time).await;
    assert_eq!(refused.status(), 403);
    let refused = refused.text().await.unwrap();
    assert!(
        refused.contains("one-time password") && refused.contains("href=\"/console/password\""),
        "{refused}"
    );

    let (status, page) = console
        .change_password(&one_time, NEW_PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Password changed.") && page.contains("id=\"continue\""));
    assert_eq!(console.get(&format!("{base}/members")).await.status(), 200);
    // The change ended the authorization browser's session too; logged in
    // with the new password, it reaches the consent page.
    let login_page = flow.get(&authorize).await.text().await.unwrap();
    let consent = flow.log_in(&login_page, email, NEW_PASSWORD).await;
    assert_eq!(consent.status(), 200);
    assert!(consent.text().await.unwrap().contains("id=\"approve\""));
}

#[tokio::test]
async fn an_admin_resets_a_members_password_shown_once_and_audited() {
    let app = TestApp::spawn().await;
    let admin = Console::login(&app, "admin@acme.example", Some(Role::Admin)).await;
    let member_email = "kim@acme.example";
    let member = Console::login(&app, member_email, Some(Role::Member)).await;
    let (member_id, admin_id) = (
        user_id(&app, member_email).await,
        user_id(&app, "admin@acme.example").await,
    );
    let members = admin.page(&format!("{}/members", admin.base())).await;
    let reset = |id| format!("/members/{id}/reset-password");
    assert!(members.contains(&reset(member_id)), "{members}");
    assert!(
        !members.contains(&reset(admin_id)),
        "your own password is changed, not reset"
    );
    assert!(
        !member
            .page(&format!("{}/members", member.base()))
            .await
            .contains("reset-password"),
        "members do not reset passwords"
    );

    let reset_page = admin
        .post(
            &format!("{}{}", admin.base(), reset(member_id)),
            &[("csrf", &field(&members, "csrf"))],
        )
        .await;
    assert_eq!(reset_page.status(), 200);
    let reset_page = reset_page.text().await.unwrap();
    assert!(
        reset_page.contains("kim@acme.example&#39;s password was reset")
            || reset_page.contains("kim@acme.example&#x27;s password was reset"),
        "{reset_page}"
    );
    let one_time = one_time_password(&reset_page);
    let again = admin.page(&format!("{}/members", admin.base())).await;
    assert!(!again.contains(&one_time), "shown once");
    let ended = member.get("/console/consents").await;
    assert_eq!(location(&ended), "/console/login", "their sessions ended");
    let audit = admin.page(&format!("{}/audit", admin.base())).await;
    assert!(
        audit.contains("member.password_reset") && audit.contains(member_email),
        "{audit}"
    );

    assert_eq!(
        console_login(&app, member_email, PASSWORD).await.0.status(),
        401
    );
    let (login, http) = console_login(&app, member_email, &one_time).await;
    assert_eq!(login.status(), 303);
    let member = Console { app: &app, http };
    let (status, _) = member
        .change_password(&one_time, NEW_PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(status, 200);
    let (login, _) = console_login(&app, member_email, NEW_PASSWORD).await;
    assert_eq!(login.status(), 303);
    assert_eq!(
        location(&member.get("/console").await),
        format!("{}/integrations", member.base())
    );
}

#[tokio::test]
async fn an_admin_cannot_reset_an_owners_password() {
    let app = TestApp::spawn().await;
    let owner_email = "chief@acme.example";
    let owner = Console::login(&app, owner_email, Some(Role::Owner)).await;
    let admin = Console::login(&app, "deputy@acme.example", Some(Role::Admin)).await;
    let (owner_id, admin_id) = (
        user_id(&app, owner_email).await,
        user_id(&app, "deputy@acme.example").await,
    );
    let members = admin.page(&format!("{}/members", admin.base())).await;
    assert!(
        !members.contains(&format!("/members/{owner_id}/reset-password")),
        "no button for an owner"
    );
    let refused = admin
        .post(
            &format!("{}/members/{owner_id}/reset-password", admin.base()),
            &[("csrf", &field(&members, "csrf"))],
        )
        .await;
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("only an owner resets an owner")
    );
    assert_eq!(
        owner.get("/console/consents").await.status(),
        200,
        "the owner's session goes on"
    );
    assert_eq!(
        console_login(&app, owner_email, PASSWORD).await.0.status(),
        303
    );
    let owners_view = owner.page(&format!("{}/members", owner.base())).await;
    assert!(
        owners_view.contains(&format!("/members/{admin_id}/reset-password")),
        "an owner resets an admin's"
    );
}

#[tokio::test]
async fn console_polish_role_forms_keep_the_current_role_and_every_column_has_a_name() {
    let app = TestApp::spawn().await;
    let owner = Console::login(&app, "lead@acme.example", Some(Role::Owner)).await;
    let _member = Console::login(&app, "ann@acme.example", Some(Role::Member)).await;
    let members = owner.page(&format!("{}/members", owner.base())).await;
    let rows: Vec<&str> = members.split("<tr><td>").skip(1).collect();
    for row in &rows {
        let role = if row.starts_with("ann@") {
            "member"
        } else {
            "owner"
        };
        assert!(
            row.contains(&format!("<option value=\"{role}\" selected>")),
            "the form shows the current role, so a click does not demote: {row}"
        );
        assert_eq!(row.matches(" selected>").count(), 1, "{row}");
    }
    let ann = user_id(&app, "ann@acme.example").await;
    let removed = owner
        .post(
            &format!("{}/members/{ann}/remove", owner.base()),
            &[("csrf", &field(&members, "csrf"))],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(removed.contains("ann@acme.example was removed."));
    let consents = owner.page("/console/consents").await;
    assert!(
        !consents.contains("<th></th>") && consents.contains("class=\"visually-hidden\""),
        "{consents}"
    );
}

#[tokio::test]
async fn guessing_the_current_password_is_throttled_like_logging_in() {
    let app = TestApp::spawn().await;
    let console = Console::login(&app, "lee@acme.example", Some(Role::Member)).await;
    for guess in 0..5 {
        let (status, _) = console
            .change_password(&format!("guess number {guess}"), NEW_PASSWORD, NEW_PASSWORD)
            .await;
        assert_eq!(status, 422, "guess {guess}");
    }
    // A stolen session gets no more guesses here than at the login page.
    let (status, page) = console
        .change_password(PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
        .await;
    assert_eq!(status, 429);
    assert!(page.contains("Too many wrong passwords"), "{page}");
    assert_eq!(
        console_login(&app, "lee@acme.example", PASSWORD)
            .await
            .0
            .status(),
        429
    );
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
    let integration = app.manager().integration(&client_id).await.unwrap();
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
    let still = app.manager().integration(&owners.client_id).await.unwrap();
    assert_eq!(still.scopes.to_string(), ALL_SCOPES);
}

#[tokio::test]
async fn the_hub_page_shows_reported_beside_desired_and_manages_the_device_credential() {
    use hubgate_store::prelude::*;
    let app = TestApp::spawn().await;
    let hub = app
        .store
        .list_hubs(app.account, &Default::default(), None, 1)
        .await
        .unwrap()
        .remove(0);
    let change = hubgate_core::hub::HubChange::from_patch(
        serde_json::from_value(serde_json::json!({"desired": {"adminmode": true}})).unwrap(),
    )
    .unwrap();
    app.store
        .patch_hub(app.account, hub.id, &change, hubgate_core::now())
        .await
        .unwrap();
    let console = Console::login(&app, "hubs@acme.example", Some(Role::Admin)).await;
    let base = console.base();
    let list = console.page(&format!("{base}/hubs")).await;
    assert!(
        list.contains(&format!("{base}/hubs/{}", hub.id)),
        "the list links each hub"
    );

    let page = console.page(&format!("{base}/hubs/{}", hub.id)).await;
    assert!(page.contains(&hub.serial));
    assert!(page.contains("<code>adminmode</code></td><td>false</td><td>true <span class=\"badge off\">pending</span>"), "{page}");
    assert!(page.contains("none: the hub cannot connect"));
    let csrf = field(&page, "csrf");
    let refused = console
        .post(
            &format!("{base}/hubs/{}/credential", hub.id),
            &[("csrf", "forged")],
        )
        .await;
    assert_eq!(refused.status(), 403, "CSRF");

    let issued = console
        .post(
            &format!("{base}/hubs/{}/credential", hub.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(issued.status(), 200);
    let issued = issued.text().await.unwrap();
    let marker = "<code id=\"device_secret\">";
    let start = issued.find(marker).expect("the credential is shown") + marker.len();
    let secret = issued[start..].split('<').next().unwrap();
    assert!(secret.starts_with("hgd_"));
    let stored = app.store.device_of_hub(hub.id).await.unwrap().unwrap();
    assert!(hubgate_core::device::credential_matches(
        &stored.credential_digest.unwrap(),
        secret.as_bytes()
    ));
    let again = console.page(&format!("{base}/hubs/{}", hub.id)).await;
    assert!(!again.contains(secret), "shown once");
    assert!(again.contains("id=\"revoke_credential\""));

    let member = Console::login(&app, "looker@acme.example", Some(Role::Member)).await;
    let seen = member.page(&format!("{base}/hubs/{}", hub.id)).await;
    assert!(
        !seen.contains("id=\"issue_credential\""),
        "members only look"
    );
    let denied = member
        .post(
            &format!("{base}/hubs/{}/credential/revoke", hub.id),
            &[("csrf", &field(&seen, "csrf"))],
        )
        .await;
    assert_eq!(denied.status(), 403);

    let revoked = console
        .post(
            &format!("{base}/hubs/{}/credential/revoke", hub.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status(), 200);
    let stored = app.store.device_of_hub(hub.id).await.unwrap().unwrap();
    assert_eq!(stored.credential_digest, None);
    assert_eq!(
        console.get(&format!("{base}/hubs/hub_nope")).await.status(),
        404
    );
}
