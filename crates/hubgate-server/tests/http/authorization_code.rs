//! The authorization-code flow driven like a browser: an HTTP client with a
//! cookie jar that follows no redirects, so every hop is checked.

use hubgate_api::{TokenResponse, UserInfo};
use hubgate_core::account::{Role, User};
use hubgate_core::authorize::s256;
use hubgate_server::app::AppError;
use hubgate_store::prelude::*;
use hubgate_testkit::browser::{Flow, field, redirect_query};
use hubgate_testkit::{ALL_SCOPES, Creds, REDIRECT_URI, TestApp, TestResponse};
use reqwest::header::LOCATION;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const PASSWORD: &str = "correct horse battery";
fn authorize_url(app: &TestApp, creds: &Creds, extra: &[(&str, &str)]) -> String {
    let challenge = s256(VERIFIER);
    let mut url = url::Url::parse(&format!("{}/identity/oauth/v2/authorize", app.url)).unwrap();
    {
        let mut query = url.query_pairs_mut();
        let defaults = [
            ("client_id", creds.client_id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("scope", "sub email hubs:read"),
            ("state", "af0ifjsldkj"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        for (key, value) in defaults {
            match extra.iter().find(|(k, _)| *k == key) {
                Some((_, "")) => {}
                Some((_, replaced)) => {
                    query.append_pair(key, replaced);
                }
                None => {
                    query.append_pair(key, value);
                }
            }
        }
    }
    url.to_string()
}

async fn exchange(
    app: &TestApp,
    creds: &Creds,
    code: &str,
    verifier_field: &str,
    verifier: &str,
) -> TestResponse<TokenResponse> {
    app.token_form(&[
        ("grant_type", "authorization_code"),
        ("client_id", &creds.client_id),
        ("client_secret", &creds.secret),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        (verifier_field, verifier),
    ])
    .await
}

/// A user with `PASSWORD`, in the Demo account unless `role` is None.
async fn new_user(app: &TestApp, email: &str, role: Option<Role>) -> Result<User, AppError> {
    let membership = role.map(|role| (app.account, role));
    app.manager()
        .create_user(email, PASSWORD, false, membership)
        .await
}

/// The login page the authorize request answers with.
async fn login_page(app: &TestApp, creds: &Creds, flow: &Flow<'_>) -> String {
    let answer = flow.get(&authorize_url(app, creds, &[])).await;
    answer.text().await.unwrap()
}

/// The page after logging in as `email` (with `PASSWORD`) on `login`.
async fn logged_in_page(flow: &Flow<'_>, login: &str, email: &str) -> String {
    let answer = flow.log_in(login, email, PASSWORD).await;
    answer.text().await.unwrap()
}

/// A user who belongs to the Demo account and a second one, with hubs in each.
async fn member_of_two_accounts(app: &TestApp) -> (String, hubgate_core::ids::AccountId) {
    let (other, _) = app.other_account().await;
    let email = "pat@example.com".to_owned();
    app.manager()
        .create_user(&email, PASSWORD, false, Some((app.account, Role::Member)))
        .await
        .unwrap();
    app.manager()
        .add_member(other, &email, Role::Member, false)
        .await
        .unwrap();
    (email, other)
}

#[tokio::test]
async fn a_user_logs_in_picks_an_account_consents_and_the_token_reads_only_that_account() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let (email, other) = member_of_two_accounts(&app).await;
    let flow = Flow::new(&app);

    let login = flow.get(&authorize_url(&app, &creds, &[])).await;
    assert_eq!(login.status(), 200);
    let csp = login.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(login.headers()["cache-control"], "no-store");
    let login = login.text().await.unwrap();
    assert!(
        login.contains("Test integration"),
        "the page names the application"
    );

    let picker = flow.log_in(&login, &email, PASSWORD).await;
    assert_eq!(picker.status(), 200);
    let picker = picker.text().await.unwrap();
    assert!(
        picker.contains("Demo") && picker.contains("Other"),
        "{picker}"
    );
    let form = [
        ("csrf", field(&picker, "csrf")),
        ("request", field(&picker, "request")),
        ("account", other.to_string()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let consent = flow
        .post("/identity/oauth/v2/authorize/account", &form)
        .await;
    assert_eq!(consent.status(), 200);
    let consent = consent.text().await.unwrap();
    assert!(
        consent.contains("read hub and switch data"),
        "scopes are described in plain words: {consent}"
    );

    let answer = flow.decide(&consent, "approve").await;
    let query = redirect_query(&answer);
    assert_eq!(query["state"], "af0ifjsldkj");
    assert_eq!(query["iss"], app.url);
    let code = &query["code"];

    let tokens = exchange(&app, &creds, code, "code_verifier", VERIFIER).await;
    assert_eq!(tokens.status(), 200);
    let tokens = tokens.ok();
    assert_eq!(tokens.scope, "sub email hubs:read");
    let access = &tokens.access_token;
    let items = app.hubs(access).await.ok().items;
    assert_eq!(items.len(), 1, "only the chosen account's one hub");
    assert_eq!(items[0].name, "Other hub");
    let me = app.get::<UserInfo>("/identity/oauth/v2/userinfo", access);
    assert_eq!(me.await.ok().email.as_deref(), Some(email.as_str()));

    // Refresh works as for client_credentials.
    let refreshed = app
        .refresh(&creds, tokens.refresh_token.as_deref().unwrap())
        .await;
    assert_eq!(refreshed.status(), 200);
}

#[tokio::test]
async fn the_guides_code_verifier_spelling_works_and_consent_is_remembered() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let flow = Flow::new(&app);
    let login = login_page(&app, &creds, &flow).await;
    let consent = flow.log_in(&login, "owner@example.com", "").await;
    // The owner's password is generated; log the owner in through a fresh user instead.
    assert_eq!(consent.status(), 401);
    new_user(&app, "sam@example.com", Some(Role::Admin))
        .await
        .unwrap();
    let login = login_page(&app, &creds, &flow).await;
    let consent = logged_in_page(&flow, &login, "sam@example.com").await;
    let code = redirect_query(&flow.decide(&consent, "approve").await)["code"].clone();
    assert_eq!(
        exchange(&app, &creds, &code, "codeVerifier", VERIFIER)
            .await
            .status(),
        200
    );

    // Same scopes again: no consent page, straight back with a code.
    let again = flow.get(&authorize_url(&app, &creds, &[])).await;
    let code = redirect_query(&again)["code"].clone();
    assert_eq!(
        exchange(&app, &creds, &code, "code_verifier", VERIFIER)
            .await
            .status(),
        200
    );
    // A wider request asks again.
    let wider = flow
        .get(&authorize_url(
            &app,
            &creds,
            &[("scope", "sub email hubs:read hubs:write")],
        ))
        .await;
    assert_eq!(wider.status(), 200);
    assert!(wider.text().await.unwrap().contains("hubs:write"));
}

async fn logged_in_code(app: &TestApp, creds: &Creds, flow: &Flow<'_>) -> String {
    new_user(app, "lee@example.com", Some(Role::Member))
        .await
        .ok();
    let first = flow.get(&authorize_url(app, creds, &[])).await;
    if first.status() == 303 {
        // Logged in already and consent remembered: straight back with a code.
        return redirect_query(&first)["code"].clone();
    }
    let login = first.text().await.unwrap();
    let consent = logged_in_page(flow, &login, "lee@example.com").await;
    redirect_query(&flow.decide(&consent, "approve").await)["code"].clone()
}

#[tokio::test]
async fn a_wrong_or_missing_verifier_is_invalid_grant() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let flow = Flow::new(&app);
    let code = logged_in_code(&app, &creds, &flow).await;
    let wrong = exchange(
        &app,
        &creds,
        &code,
        "code_verifier",
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX",
    )
    .await;
    assert_eq!(wrong.error(), (400, "invalid_grant".into()));
    let code = logged_in_code(&app, &creds, &flow).await;
    let missing = app
        .grant(
            &creds,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
            ],
        )
        .await;
    assert_eq!(missing.error(), (400, "invalid_grant".into()));
}

#[tokio::test]
async fn a_reused_code_is_invalid_grant_and_kills_the_tokens_it_issued() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let flow = Flow::new(&app);
    let code = logged_in_code(&app, &creds, &flow).await;
    let tokens = exchange(&app, &creds, &code, "code_verifier", VERIFIER)
        .await
        .ok();
    let access = &tokens.access_token;
    assert_eq!(app.hubs(access).await.status(), 200);
    let replay = exchange(&app, &creds, &code, "code_verifier", VERIFIER).await;
    assert_eq!(replay.error(), (400, "invalid_grant".into()));
    assert_eq!(app.hubs(access).await.status(), 401);
    assert_eq!(
        app.refresh(&creds, tokens.refresh_token.as_deref().unwrap())
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn an_expired_code_is_invalid_grant() {
    use hubgate_core::authorize::{AuthorizationCode, code_hash};
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let code = "hga_expired-code-for-the-test";
    let record = AuthorizationCode {
        hash: code_hash(code),
        integration_id: creds.integration.id,
        user_id: app.owner.id,
        account_id: app.account,
        redirect_uri: REDIRECT_URI.into(),
        scope: hubgate_core::scope::ScopeSet::parse("hubs:read").unwrap(),
        code_challenge: Some(s256(VERIFIER)),
        // Issued 61 s ago with the 60 s lifetime.
        expires_at: hubgate_core::now() - time::Duration::seconds(1),
    };
    app.store.insert_code(&record).await.unwrap();
    assert_eq!(
        exchange(&app, &creds, code, "code_verifier", VERIFIER)
            .await
            .error(),
        (400, "invalid_grant".into())
    );
}

#[tokio::test]
async fn denying_sends_access_denied_with_the_state() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    new_user(&app, "kim@example.com", Some(Role::Member))
        .await
        .unwrap();
    let flow = Flow::new(&app);
    let login = login_page(&app, &creds, &flow).await;
    let consent = logged_in_page(&flow, &login, "kim@example.com").await;
    let query = redirect_query(&flow.decide(&consent, "deny").await);
    assert_eq!(query["error"], "access_denied");
    assert_eq!(query["state"], "af0ifjsldkj");
    assert!(!query.contains_key("code"));
}

#[tokio::test]
async fn a_user_in_no_account_cannot_finish() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    new_user(&app, "loner@example.com", None).await.unwrap();
    let flow = Flow::new(&app);
    let login = login_page(&app, &creds, &flow).await;
    let page = flow.log_in(&login, "loner@example.com", PASSWORD).await;
    assert_eq!(page.status(), 403);
    assert!(page.headers().get(LOCATION).is_none());
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("not a member of any organisation account")
    );
}

#[tokio::test]
async fn redirect_uri_tricks_get_an_error_page_and_no_redirect() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let flow = Flow::new(&app);
    for uri in [
        "https://integrator.example/callbackx",
        "https://integrator.example/callback/more",
        "https://integrator.example:8443/callback",
        "https://user@integrator.example/callback",
        "https://integrator.example/callback#fragment",
        "https://integrator.example.evil.example/callback",
        "http://integrator.example/callback",
        "",
    ] {
        let response = flow
            .get(&authorize_url(&app, &creds, &[("redirect_uri", uri)]))
            .await;
        assert_eq!(response.status(), 400, "{uri}");
        assert!(
            response.headers().get(LOCATION).is_none(),
            "{uri} was redirected to"
        );
        assert!(
            response.text().await.unwrap().contains("Invalid redirect"),
            "{uri}"
        );
    }
    let unknown = flow
        .get(&authorize_url(
            &app,
            &creds,
            &[("client_id", "hgc_unknown")],
        ))
        .await;
    assert_eq!(unknown.status(), 400);
    assert!(unknown.headers().get(LOCATION).is_none());
}

#[tokio::test]
async fn other_request_errors_go_back_to_the_client_with_the_state() {
    let app = TestApp::spawn().await;
    let creds = app.integration("sub email hubs:read").await;
    let flow = Flow::new(&app);
    for (change, error) in [
        (("code_challenge_method", "plain"), "invalid_request"),
        (("code_challenge", ""), "invalid_request"),
        (("scope", "hubs:write"), "invalid_scope"),
        (("scope", "admin"), "invalid_scope"),
        (("response_type", "token"), "unsupported_response_type"),
    ] {
        let response = flow.get(&authorize_url(&app, &creds, &[change])).await;
        let query = redirect_query(&response);
        assert_eq!(query["error"], error, "{change:?}");
        assert_eq!(query["state"], "af0ifjsldkj");
        assert!(query.contains_key("error_description"));
    }
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused_and_logins_are_throttled() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let flow = Flow::new(&app);
    let login = login_page(&app, &creds, &flow).await;
    let forged = flow
        .post(
            "/identity/oauth/v2/authorize/login",
            &[
                ("email", "owner@example.com"),
                ("password", "x"),
                ("csrf", "forged"),
                ("request", &field(&login, "request")),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
    for _ in 0..5 {
        assert_eq!(
            flow.log_in(&login, "target@example.com", "wrong-password")
                .await
                .status(),
            401
        );
    }
    let locked = flow
        .log_in(&login, "target@example.com", "wrong-password")
        .await;
    assert_eq!(locked.status(), 429);
    assert!(
        locked
            .text()
            .await
            .unwrap()
            .contains("Too many failed attempts")
    );
}
