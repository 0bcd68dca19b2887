//! The address the throttles key on: the socket's peer, or, only when the
//! peer is a trusted proxy, the client it names in `X-Forwarded-For`.

use hubgate_server::client_origin::TrustedProxies;
use hubgate_testkit::{Creds, TestApp};

fn wrong_secret(creds: &Creds) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "client_credentials".to_owned()),
        ("client_id", creds.client_id.clone()),
        ("client_secret", "hgs_wrong".to_owned()),
    ]
}

/// A failed client authentication that says it comes from `forwarded_for`;
/// the status answered.
async fn fail_as(app: &TestApp, creds: &Creds, forwarded_for: &str) -> u16 {
    app.post_token()
        .header("x-forwarded-for", forwarded_for)
        .form(&wrong_secret(creds))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn app_trusting(proxies: &[&str]) -> TestApp {
    let trusted = TrustedProxies::parse(proxies).unwrap();
    TestApp::spawn_with(move |config| {
        config.client_auth_limits.per_client = 0;
        config.client_auth_limits.per_address = 3;
        config.trusted_proxies = trusted;
    })
    .await
}

#[tokio::test]
async fn x_forwarded_for_from_an_untrusted_peer_is_ignored() {
    // 127.0.0.1 is no proxy here: whatever address it claims, its failures
    // count against 127.0.0.1.
    let app = app_trusting(&["10.0.0.0/8"]).await;
    let creds = app.integration(hubgate_testkit::ALL_SCOPES).await;
    for n in 1..=3 {
        assert_eq!(fail_as(&app, &creds, &format!("198.51.100.{n}")).await, 401);
    }
    assert_eq!(fail_as(&app, &creds, "198.51.100.99").await, 429);
}

#[tokio::test]
async fn x_forwarded_for_from_a_trusted_proxy_names_the_client_the_throttle_keys_on() {
    let app = app_trusting(&["127.0.0.0/8"]).await;
    let creds = app.integration(hubgate_testkit::ALL_SCOPES).await;
    for _ in 0..3 {
        assert_eq!(fail_as(&app, &creds, "198.51.100.1").await, 401);
    }
    // That client is limited…
    assert_eq!(fail_as(&app, &creds, "198.51.100.1").await, 429);
    // …even when it puts a made-up hop in front of itself (the proxy
    // appends the address it saw: the rightmost untrusted hop counts)…
    assert_eq!(
        fail_as(&app, &creds, "203.0.113.5, 198.51.100.1").await,
        429
    );
    // …while another client behind the same proxy is not.
    assert_eq!(fail_as(&app, &creds, "198.51.100.2").await, 401);
}

/// A wrong console password for `email`, from a browser claiming to be
/// `forwarded_for`; the status answered.
async fn wrong_login_as(app: &TestApp, email: &str, forwarded_for: &str) -> u16 {
    use hubgate_testkit::browser::{browser, field, page};
    let http = browser();
    let login = page(&http, &format!("{}/console/login", app.url)).await;
    http.post(format!("{}/console/login", app.url))
        .header("x-forwarded-for", forwarded_for)
        .form(&[
            ("email", email),
            ("password", "not the password"),
            ("csrf", &field(&login, "csrf")),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn app_with_user(proxies: &[&str]) -> TestApp {
    let app = app_trusting(proxies).await;
    let member = Some((app.account, hubgate_core::account::Role::Member));
    app.manager()
        .create_user("jo@example.com", "correct horse battery", false, member)
        .await
        .unwrap();
    app
}

#[tokio::test]
async fn the_login_throttle_keys_on_the_client_a_trusted_proxy_names_and_on_nothing_else() {
    // Five failures for one email from one address lock that pair.
    let app = app_with_user(&["127.0.0.0/8"]).await;
    for _ in 0..5 {
        assert_eq!(
            wrong_login_as(&app, "jo@example.com", "198.51.100.1").await,
            401
        );
    }
    assert_eq!(
        wrong_login_as(&app, "jo@example.com", "198.51.100.1").await,
        429
    );
    assert_eq!(
        wrong_login_as(&app, "jo@example.com", "198.51.100.2").await,
        401
    );

    // Not trusted: a new made-up address each time changes nothing.
    let app = app_with_user(&["10.0.0.0/8"]).await;
    for n in 1..=5 {
        let claimed = format!("198.51.100.{n}");
        assert_eq!(wrong_login_as(&app, "jo@example.com", &claimed).await, 401);
    }
    assert_eq!(
        wrong_login_as(&app, "jo@example.com", "198.51.100.99").await,
        429
    );
}

/// The csrf cookie the login page sets when the request says it came as
/// `proto` (X-Forwarded-Proto).
async fn login_cookie(app: &TestApp, proto: &str) -> String {
    reqwest::Client::new()
        .get(format!("{}/console/login", app.url))
        .header("x-forwarded-proto", proto)
        .send()
        .await
        .unwrap()
        .headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn cookies_are_secure_when_a_trusted_proxy_says_the_browser_spoke_https() {
    let behind_proxy = app_trusting(&["127.0.0.0/8"]).await;
    let cookie = login_cookie(&behind_proxy, "https").await;
    assert!(
        cookie.starts_with("__Host-hubgate_csrf=") && cookie.contains("Secure"),
        "{cookie}"
    );
    let cookie = login_cookie(&behind_proxy, "http").await;
    assert!(
        cookie.starts_with("hubgate_csrf=") && !cookie.contains("Secure"),
        "{cookie}"
    );
    // Anyone else saying so changes nothing.
    let direct = app_trusting(&["10.0.0.0/8"]).await;
    let cookie = login_cookie(&direct, "https").await;
    assert!(
        cookie.starts_with("hubgate_csrf=") && !cookie.contains("Secure"),
        "{cookie}"
    );
}
