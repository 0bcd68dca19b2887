//! Security regressions: grants die with their basis, revocations do not
//! lapse, and who may grant what (issue "Security I"). Each test names the
//! item it guards in SECURITY.md.

use hubgate_store::prelude::*;
use std::time::Duration;

use hubgate_api::{TokenResponse, UserInfo};
use hubgate_core::account::Role;
use hubgate_core::authorize::s256;
use hubgate_core::ids::UserId;
use hubgate_core::integration::IntegrationSettings;
use hubgate_server::app::AppError;
use hubgate_testkit::browser::{Flow, browser, console_login, field, page, redirect_query};
use hubgate_testkit::{ALL_SCOPES, Creds, REDIRECT_URI, TestApp, TestResponse};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const PASSWORD: &str = "correct horse battery";
/// Every node applies a change within a second.
const WITHIN: Duration = Duration::from_secs(1);

fn authorize_url(app: &TestApp, creds: &Creds, scope: &str) -> String {
    let mut url = url::Url::parse(&format!("{}/identity/oauth/v2/authorize", app.url)).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &creds.client_id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("response_type", "code")
        .append_pair("scope", scope)
        .append_pair("state", "xyz")
        .append_pair("code_challenge", &s256(VERIFIER))
        .append_pair("code_challenge_method", "S256");
    url.to_string()
}

async fn new_member(app: &TestApp, email: &str, role: Role) -> UserId {
    app.manager()
        .create_user(email, PASSWORD, false, Some((app.account, role)))
        .await
        .unwrap()
        .id
}

/// Logs `email` in through the authorization pages and approves `scope`;
/// returns the browser's flow and the code (None when the pages refused).
async fn approve<'a>(
    app: &'a TestApp,
    creds: &Creds,
    email: &str,
    scope: &str,
) -> (Flow<'a>, Result<String, reqwest::Response>) {
    let flow = Flow::new(app);
    let login = flow
        .get(&authorize_url(app, creds, scope))
        .await
        .text()
        .await
        .unwrap();
    let consent = flow.log_in(&login, email, PASSWORD).await;
    if consent.status() == 303 {
        // Consent remembered: straight back to the client with a code.
        let code = redirect_query(&consent).get("code").cloned();
        return (flow, code.ok_or(consent));
    }
    if consent.status() != 200 {
        return (flow, Err(consent));
    }
    let consent = consent.text().await.unwrap();
    let answer = flow.decide(&consent, "approve").await;
    if answer.status() != 303 {
        return (flow, Err(answer));
    }
    let code = redirect_query(&answer)["code"].clone();
    (flow, Ok(code))
}

async fn exchange(app: &TestApp, creds: &Creds, code: &str) -> TestResponse<TokenResponse> {
    app.grant(
        creds,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

/// Tokens an end user granted through the authorization-code flow.
async fn user_tokens(app: &TestApp, creds: &Creds, email: &str, scope: &str) -> TokenResponse {
    let (_, code) = approve(app, creds, email, scope).await;
    let response = exchange(app, creds, &code.expect("approved")).await;
    assert_eq!(response.status(), 200);
    response.ok()
}

async fn hubs_status(base: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/api/v1/hubs"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn refresh_status(app: &TestApp, creds: &Creds, refresh_token: &str) -> u16 {
    app.refresh(creds, refresh_token).await.status().as_u16()
}

/// Waits until the access token stops working here, and checks a node
/// started afterwards (a restart) refuses it too.
async fn assert_revoked_everywhere(app: &TestApp, access: &str) {
    let took = app
        .eventually(WITHIN, || async {
            hubs_status(&app.url, access).await == 401
        })
        .await;
    assert!(took.is_some(), "the access token still works after 1 s");
    let restarted = app.spawn_node().await;
    assert_eq!(
        hubs_status(&restarted, access).await,
        401,
        "after a restart"
    );
}

#[tokio::test]
async fn removing_a_member_ends_every_grant_they_gave_in_that_account() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let user = new_member(&app, "ava@example.com", Role::Admin).await;
    let tokens = user_tokens(&app, &creds, "ava@example.com", "hubs:read").await;
    let access = &tokens.access_token;
    assert_eq!(hubs_status(&app.url, access).await, 200);
    // A refresh before removal works (and slides the expiry): it too must die.
    let refreshed = app
        .refresh(&creds, tokens.refresh_token.as_deref().unwrap())
        .await
        .ok();

    app.manager()
        .remove_member(app.account, user)
        .await
        .unwrap();

    assert_revoked_everywhere(&app, access).await;
    assert_revoked_everywhere(&app, &refreshed.access_token).await;
    let refresh = app
        .refresh(&creds, refreshed.refresh_token.as_deref().unwrap())
        .await;
    assert_eq!(refresh.error(), (400, "invalid_grant".into()));
}

#[tokio::test]
async fn the_store_alone_refuses_a_refresh_for_someone_no_longer_a_member() {
    // Membership is also checked at refresh, so a node that has not yet
    // heard of a removal still refuses.
    let app = TestApp::spawn_with(|c| c.change_poll_interval = Duration::from_secs(3600)).await;
    let creds = app.integration(ALL_SCOPES).await;
    let user = new_member(&app, "bo@example.com", Role::Member).await;
    let tokens = user_tokens(&app, &creds, "bo@example.com", "hubs:read").await;
    let removed = app.manager().remove_member(app.account, user).await;
    removed.unwrap();
    assert_eq!(
        refresh_status(&app, &creds, tokens.refresh_token.as_deref().unwrap()).await,
        400
    );
}

#[tokio::test]
async fn withdrawing_consent_in_the_console_revokes_what_it_granted() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    new_member(&app, "cy@example.com", Role::Member).await;
    let (flow, code) = approve(&app, &creds, "cy@example.com", "sub hubs:read").await;
    let tokens = exchange(&app, &creds, &code.unwrap()).await.ok();
    let access = &tokens.access_token;
    assert_eq!(hubs_status(&app.url, access).await, 200);

    // The same browser session withdraws under My consents.
    let page = flow.page("/console/consents").await;
    let withdrawn = flow
        .post(
            "/console/consents/withdraw",
            &[
                ("csrf", &field(&page, "csrf")),
                ("integration", &creds.integration.id.to_string()),
                ("account", &app.account.to_string()),
            ],
        )
        .await;
    assert_eq!(withdrawn.status(), 200);
    assert!(withdrawn.text().await.unwrap().contains("Withdrawn"));

    assert_eq!(
        hubs_status(&app.url, access).await,
        401,
        "at once on this node"
    );
    assert_revoked_everywhere(&app, access).await;
    assert_eq!(
        refresh_status(&app, &creds, tokens.refresh_token.as_deref().unwrap()).await,
        400
    );
    // Approving again gives working tokens. (Revocations cover whole
    // seconds, the resolution of a token's `iat`: tokens issued in the very
    // second of the withdrawal would be covered too.)
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = user_tokens(&app, &creds, "cy@example.com", "sub hubs:read").await;
    assert_eq!(hubs_status(&app.url, &again.access_token).await, 200);
}

#[tokio::test]
async fn the_acting_user_cannot_leave_or_be_demoted_until_another_is_chosen() {
    let app = TestApp::spawn().await;
    // The owner created it and is its acting user.
    let creds = app.integration(ALL_SCOPES).await;
    let second = new_member(&app, "di@example.com", Role::Owner).await;

    let removed = app.manager().remove_member(app.account, app.owner.id).await;
    match removed {
        Err(AppError::Conflict(message)) => {
            assert!(message.contains("\"Test integration\""), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let demoted = app
        .manager()
        .set_role(app.account, app.owner.id, Role::Member)
        .await;
    assert!(matches!(demoted, Err(AppError::Conflict(_))), "{demoted:?}");

    let integration = app
        .manager()
        .set_acting_user(creds.integration.clone(), second)
        .await
        .unwrap();
    assert_eq!(integration.acting_user, second);
    // client_credentials tokens now act through the new acting user (every
    // node learns of the change from the change log).
    let acts_through_second = app
        .eventually(WITHIN, || async {
            let tokens = app.client_credentials(&creds, Some("sub")).await;
            let me = app.get::<UserInfo>("/identity/oauth/v2/userinfo", &tokens.access_token);
            me.await.ok().sub == Some(second.to_string())
        })
        .await;
    assert!(acts_through_second.is_some());
    app.manager()
        .remove_member(app.account, app.owner.id)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_revocation_lasts_as_long_as_the_longest_lived_token_it_covers() {
    // The server's own lifetimes are 2 s; the integration's access tokens
    // live an hour. Revoking the family must outlast the 2 s.
    let app = TestApp::spawn_with(|c| {
        c.access_token_ttl = time::Duration::seconds(2);
        c.refresh_token_ttl = time::Duration::seconds(2);
    })
    .await;
    let settings = IntegrationSettings::new(
        "Long tokens",
        &[REDIRECT_URI.into()],
        ALL_SCOPES,
        true,
        true,
    )
    .unwrap()
    .with_lifetimes(Some(3600), Some(300))
    .unwrap();
    let created = app
        .manager()
        .create_integration(app.account, settings, None)
        .await
        .unwrap();
    let creds = Creds {
        client_id: created.integration.client_id.to_string(),
        secret: created.secret.expose().to_owned(),
        integration: created.integration,
    };
    let tokens = app.client_credentials(&creds, None).await;
    let revoked = app
        .post_form(
            "/identity/oauth/v2/revoke",
            &[
                ("client_id", &creds.client_id),
                ("client_secret", &creds.secret),
                ("token", tokens.refresh_token.as_deref().unwrap()),
            ],
        )
        .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(hubs_status(&app.url, &tokens.access_token).await, 401);
    // Past the server's lifetimes, a node started now still knows.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let restarted = app.spawn_node().await;
    assert_eq!(hubs_status(&restarted, &tokens.access_token).await, 401);
    assert_eq!(hubs_status(&app.url, &tokens.access_token).await, 401);
}

#[tokio::test]
async fn concurrent_replays_of_a_code_leave_none_of_its_tokens_valid() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    new_member(&app, "ed@example.com", Role::Member).await;
    for trial in 0..5 {
        let (_, code) = approve(&app, &creds, "ed@example.com", "hubs:read").await;
        let code = code.unwrap();
        let answers =
            futures::future::join_all((0..8).map(|_| exchange(&app, &creds, &code))).await;
        let mut winners = Vec::new();
        for answer in answers {
            if answer.status() == 200 {
                winners.push(answer.ok());
            } else {
                assert_eq!(answer.error(), (400, "invalid_grant".into()));
            }
        }
        assert!(
            winners.len() <= 1,
            "trial {trial}: {} winners",
            winners.len()
        );
        for tokens in winners {
            assert_eq!(
                hubs_status(&app.url, &tokens.access_token).await,
                401,
                "trial {trial}: the winner's access token survived the replays"
            );
            assert_eq!(
                refresh_status(&app, &creds, tokens.refresh_token.as_deref().unwrap()).await,
                400
            );
        }
    }
}

#[tokio::test]
async fn a_member_cannot_delegate_write_access_but_an_admin_can() {
    let app = TestApp::spawn().await;
    let (_, foreign) = app.other_account().await;
    new_member(&app, "fay@example.com", Role::Member).await;
    let (flow, refused) = approve(&app, &foreign, "fay@example.com", "hubs:read hubs:write").await;
    let refused = refused.expect_err("the pages refuse");
    assert_eq!(refused.status(), 403);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("hubs:write") && page.contains("owner or admin"),
        "{page}"
    );
    assert!(
        page.contains("error=access_denied"),
        "a way back to the client"
    );
    // A forged decision is refused too: a request for hubs:write sealed by
    // the login page, posted with the logged-in session's CSRF token.
    drop(flow);
    let flow = Flow::new(&app);
    let login = flow
        .get(&authorize_url(&app, &foreign, "hubs:read hubs:write"))
        .await
        .text()
        .await
        .unwrap();
    let _ = flow.log_in(&login, "fay@example.com", PASSWORD).await;
    let session_page = flow.page("/console/consents").await;
    let forged = flow
        .post(
            "/identity/oauth/v2/authorize/decision",
            &[
                ("csrf", &field(&session_page, "csrf")),
                ("request", &field(&login, "request")),
                ("account", &app.account.to_string()),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
    // Read scopes are the member's to give.
    let read = user_tokens(&app, &foreign, "fay@example.com", "hubs:read").await;
    assert_eq!(hubs_status(&app.url, &read.access_token).await, 200);

    new_member(&app, "gus@example.com", Role::Admin).await;
    let write = user_tokens(&app, &foreign, "gus@example.com", "hubs:read hubs:write").await;
    assert_eq!(write.scope, "hubs:read hubs:write");
}

#[tokio::test]
async fn lowering_a_role_ends_the_write_grants_it_allowed() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let user = new_member(&app, "hal@example.com", Role::Admin).await;
    let tokens = user_tokens(&app, &creds, "hal@example.com", "hubs:read hubs:write").await;
    app.manager()
        .set_role(app.account, user, Role::Member)
        .await
        .unwrap();
    assert_revoked_everywhere(&app, &tokens.access_token).await;
    assert_eq!(
        refresh_status(&app, &creds, tokens.refresh_token.as_deref().unwrap()).await,
        400
    );
}

/// The page a form post answers with.
async fn page_after_post(http: &reqwest::Client, url: &str, form: &[(&str, String)]) -> String {
    http.post(url)
        .form(form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A console session for a new user with `role` in the app's account.
async fn console(app: &TestApp, email: &str, role: Role) -> reqwest::Client {
    new_member(app, email, role).await;
    let (response, http) = console_login(app, email, PASSWORD).await;
    assert_eq!(response.status(), 303);
    http
}

#[tokio::test]
async fn an_admin_cannot_take_the_owner_role_away_and_the_account_keeps_an_owner() {
    let app = TestApp::spawn().await;
    let admin = console(&app, "ida@example.com", Role::Admin).await;
    let members = format!("{}/console/a/{}/members", app.url, app.account);
    let csrf = field(&page(&admin, &members).await, "csrf");
    let me = app
        .store
        .user_by_email("ida@example.com")
        .await
        .unwrap()
        .unwrap();
    let attempts = [
        // The add-member form with the owner's email and role "member".
        (
            members.clone(),
            vec![
                ("email", app.owner.email.clone()),
                ("role", "member".into()),
            ],
        ),
        // Demoting the owner.
        (
            format!("{members}/{}/role", app.owner.id),
            vec![("role", "member".into())],
        ),
        // Making oneself owner.
        (
            format!("{members}/{}/role", me.id),
            vec![("role", "owner".into())],
        ),
    ];
    for (url, mut form) in attempts {
        form.push(("csrf", csrf.clone()));
        let answer = page_after_post(&admin, &url, &form).await;
        assert!(answer.contains("only an owner"), "{url}: {answer}");
    }
    let owners = app
        .store
        .account_members(app.account)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, role)| *role == Role::Owner)
        .count();
    assert_eq!(owners, 1);
}

#[tokio::test]
async fn concurrent_wrong_passwords_for_one_email_are_checked_at_most_five_times() {
    let app = TestApp::spawn().await;
    new_member(&app, "jo@example.com", Role::Member).await;
    let attempts = (0..40).map(|_| async {
        let (response, _) = console_login(&app, "jo@example.com", "wrong password").await;
        response.status().as_u16()
    });
    let statuses = futures::future::join_all(attempts).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert!(checked <= 5, "{checked} passwords checked: {statuses:?}");
    assert_eq!(checked + throttled, 40, "{statuses:?}");
}

#[tokio::test]
async fn csrf_tokens_are_bound_to_the_session_and_change_at_login() {
    let app = TestApp::spawn().await;
    new_member(&app, "kim@example.com", Role::Admin).await;
    let http = browser();
    let login_page = page(&http, &format!("{}/console/login", app.url)).await;
    let before = field(&login_page, "csrf");
    let response = http
        .post(format!("{}/console/login", app.url))
        .form(&[
            ("email", "kim@example.com"),
            ("password", PASSWORD),
            ("csrf", &before),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let members = format!("{}/console/a/{}/members", app.url, app.account);
    let after = field(&page(&http, &members).await, "csrf");
    assert_ne!(before, after, "the token changes at login");
    // A token learned before login (say, through a planted seed cookie) is dead.
    let stale = http
        .post(&members)
        .form(&[
            ("csrf", before.as_str()),
            ("email", "kim@example.com"),
            ("role", "member"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 403);
    // A seed the client made up is replaced, not adopted.
    let planted = reqwest::Client::new()
        .get(format!("{}/console/login", app.url))
        .header("cookie", format!("hubgate_csrf={}", "a".repeat(40)))
        .send()
        .await
        .unwrap();
    let set_cookie: Vec<_> = planted
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        set_cookie.iter().any(|c| c.starts_with("hubgate_csrf=")),
        "{set_cookie:?}"
    );
}

#[tokio::test]
async fn over_https_the_cookies_carry_the_host_prefix() {
    let app = TestApp::spawn_with(|c| c.public_url = "https://hubgate.example".into()).await;
    let response = reqwest::Client::new()
        .get(format!("{}/console/login", app.url))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("__Host-hubgate_csrf="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");
}

#[tokio::test]
async fn failed_client_authentication_and_refresh_reuse_are_audited() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let wrong = app
        .token_form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &creds.client_id),
            ("client_secret", "hgs_wrong"),
        ])
        .await;
    assert_eq!(wrong.status(), 401);
    let tokens = app.client_credentials(&creds, None).await;
    let first = tokens.refresh_token.unwrap();
    assert_eq!(refresh_status(&app, &creds, &first).await, 200);
    assert_eq!(refresh_status(&app, &creds, &first).await, 400);
    let audited = app
        .eventually(Duration::from_secs(3), || async {
            let query = hubgate_store::AuditQuery {
                limit: 50,
                ..Default::default()
            };
            let events = app.store.audit_events(app.account, &query).await.unwrap();
            let has = |action: &str| events.iter().any(|e| e.event.action.as_str() == action);
            has("client_auth.failed") && has("token.reuse_detected")
        })
        .await;
    assert!(audited.is_some(), "both events in the account's audit log");
}

#[tokio::test]
async fn an_owner_changes_the_acting_user_in_the_console_and_an_admin_cannot() {
    let app = TestApp::spawn().await;
    let creds = app.integration("hubs:read").await;
    let owner = console(&app, "lea@example.com", Role::Owner).await;
    let admin = console(&app, "max@example.com", Role::Admin).await;
    let detail = format!(
        "{}/console/a/{}/integrations/{}",
        app.url, app.account, creds.client_id
    );
    let shown = page(&owner, &detail).await;
    assert!(
        shown.contains(&format!("id=\"acting_user\">{}<", app.owner.email)),
        "{shown}"
    );
    let lea = app
        .store
        .user_by_email("lea@example.com")
        .await
        .unwrap()
        .unwrap();
    let as_admin = admin
        .post(format!("{detail}/acting-user"))
        .form(&[
            ("csrf", field(&page(&admin, &detail).await, "csrf").as_str()),
            ("user", &lea.id.to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(as_admin.status(), 403);
    let changed = owner
        .post(format!("{detail}/acting-user"))
        .form(&[
            ("csrf", field(&shown, "csrf").as_str()),
            ("user", &lea.id.to_string()),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        changed.contains("id=\"acting_user\">lea@example.com<"),
        "{changed}"
    );
    let audit = page(
        &owner,
        &format!("{}/console/a/{}/audit", app.url, app.account),
    )
    .await;
    assert!(audit.contains("integration.acting_user_changed"));
}
