use base64::Engine;
use serde_json::json;

use hubgate_testkit::{ALL_SCOPES, REDIRECT_URI, TestApp, error_of};

#[tokio::test]
async fn client_credentials_returns_an_access_and_a_refresh_token_not_to_be_cached() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let response = app
        .grant(
            &creds,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "hubs:read hubs:write accounts:read"),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = response.ok();
    assert_eq!(body.token_type, "Bearer");
    assert_eq!(body.expires_in, 3600);
    assert_eq!(body.scope, "hubs:read hubs:write accounts:read");
    assert!(body.access_token.split('.').count() == 3);
    assert!(body.refresh_token.unwrap().starts_with("hgr_"));
}

#[tokio::test]
async fn client_credentials_without_scope_gets_the_integrations_scopes() {
    let app = TestApp::spawn().await;
    let creds = app.integration("hubs:read accounts:read").await;
    let token = app.client_credentials(&creds, None).await;
    assert_eq!(token.scope, "hubs:read accounts:read");
}

#[tokio::test]
async fn http_basic_client_authentication_works() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let response = app
        .post_token()
        .basic_auth(&creds.client_id, Some(&creds.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_json_body_is_accepted_too() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let response = app
        .post_token()
        .json(&json!({"grant_type": "client_credentials", "client_id": creds.client_id, "client_secret": creds.secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_wrong_secret_is_401_invalid_client_with_a_basic_challenge_when_basic_was_used() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let response = app
        .token_form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &creds.client_id),
            ("client_secret", "hgs_wrong"),
        ])
        .await;
    assert_eq!(response.error(), (401, "invalid_client".into()));

    let response = app
        .post_token()
        .basic_auth(&creds.client_id, Some("hgs_wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(error_of(response).await, (401, "invalid_client".into()));
}

#[tokio::test]
async fn unknown_clients_and_missing_credentials_are_invalid_client() {
    let app = TestApp::spawn().await;
    let unknown = app
        .token_form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "hgc_nobody"),
            ("client_secret", "x"),
        ])
        .await;
    assert_eq!(unknown.error(), (401, "invalid_client".into()));
    let missing = app
        .token_form(&[("grant_type", "client_credentials")])
        .await;
    assert_eq!(missing.error(), (401, "invalid_client".into()));
    let creds = app.integration(ALL_SCOPES).await;
    let no_secret = app
        .token_form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &creds.client_id),
        ])
        .await;
    assert_eq!(no_secret.error(), (401, "invalid_client".into()));
}

#[tokio::test]
async fn scopes_that_are_unknown_or_not_granted_are_invalid_scope() {
    let app = TestApp::spawn().await;
    let creds = app.integration("hubs:read").await;
    for scope in ["hubs:read admin", "hubs:write"] {
        let response = app.try_client_credentials(&creds, Some(scope)).await;
        assert_eq!(
            response.error(),
            (400, "invalid_scope".into()),
            "scope {scope}"
        );
    }
}

#[tokio::test]
async fn unsupported_grants_and_missing_parameters_are_named() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let password = app.grant(&creds, &[("grant_type", "password")]).await;
    assert_eq!(password.error(), (400, "unsupported_grant_type".into()));
    let no_grant = app.grant(&creds, &[]).await;
    assert_eq!(no_grant.error(), (400, "invalid_request".into()));
    let no_refresh = app.grant(&creds, &[("grant_type", "refresh_token")]).await;
    assert_eq!(no_refresh.error(), (400, "invalid_request".into()));
}

#[tokio::test]
async fn repeated_parameters_and_two_authentication_methods_are_invalid_request() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let body = format!(
        "grant_type=client_credentials&grant_type=client_credentials&client_id={}&client_secret={}",
        creds.client_id, creds.secret
    );
    let repeated = app
        .post_token()
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(repeated).await, (400, "invalid_request".into()));
    let both = app
        .post_token()
        .basic_auth(&creds.client_id, Some(&creds.secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", &creds.secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(both).await, (400, "invalid_request".into()));
}

#[tokio::test]
async fn basic_credentials_are_form_decoded() {
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before Base64.
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        creds.client_id,
        creds.secret.replace('-', "%2D")
    ));
    let response = app
        .post_token()
        .header("authorization", format!("Basic {encoded}"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_integration_can_leave_the_refresh_token_out_of_client_credentials() {
    let app = TestApp::spawn().await;
    let creds = app.integration_in(app.account, ALL_SCOPES, false).await;
    let token = app.client_credentials(&creds, None).await;
    assert!(token.refresh_token.is_none());
}

#[tokio::test]
async fn a_refresh_rotates_the_pair_and_the_new_tokens_work() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let first = app.client_credentials(&creds, None).await;
    let response = app
        .token_form(&[
            ("grant_type", "refresh_token"),
            ("client_id", &creds.client_id),
            ("client_secret", &creds.secret),
            ("refresh_token", first.refresh_token.as_deref().unwrap()),
            ("redirect_uri", REDIRECT_URI),
        ])
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let second = response.ok();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(second.scope, first.scope);
    assert_eq!(app.hubs(&second.access_token).await.status(), 200);
    let third = app
        .refresh(&creds, second.refresh_token.as_deref().unwrap())
        .await;
    assert_eq!(third.status(), 200);
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_is_invalid_grant_and_kills_its_family() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let first = app.client_credentials(&creds, None).await;
    let old = first.refresh_token.clone().unwrap();
    let second = app.refresh(&creds, &old).await.ok();

    assert_eq!(
        app.refresh(&creds, &old).await.error(),
        (400, "invalid_grant".into())
    );
    // The family is dead: the newest refresh token and the access tokens too.
    let newest = second.refresh_token.unwrap();
    assert_eq!(
        app.refresh(&creds, &newest).await.error(),
        (400, "invalid_grant".into())
    );
    assert_eq!(app.hubs(&second.access_token).await.status(), 401);
    assert_eq!(app.hubs(&first.access_token).await.status(), 401);
    // Another family of the same integration is untouched.
    let fresh = app.client_credentials(&creds, None).await;
    assert_eq!(app.hubs(&fresh.access_token).await.status(), 200);
}

#[tokio::test]
async fn sixteen_parallel_refreshes_of_one_token_give_exactly_one_success() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let token = app
        .client_credentials(&creds, None)
        .await
        .refresh_token
        .unwrap();
    let attempts = (0..16).map(|_| app.refresh(&creds, &token));
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "statuses: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 400),
        "statuses: {statuses:?}"
    );
}

#[tokio::test]
async fn a_refresh_may_narrow_the_scope_but_not_widen_it() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let first = app
        .client_credentials(&creds, Some("hubs:read accounts:read"))
        .await;
    let refresh = |token: String, scope: &'static str| {
        let (app, creds) = (&app, &creds);
        async move {
            app.grant(
                creds,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &token),
                    ("scope", scope),
                ],
            )
            .await
        }
    };
    let wider = refresh(first.refresh_token.clone().unwrap(), "hubs:read hubs:write").await;
    assert_eq!(wider.error(), (400, "invalid_scope".into()));
    let narrower = refresh(first.refresh_token.unwrap(), "hubs:read")
        .await
        .ok();
    assert_eq!(narrower.scope, "hubs:read");
}

#[tokio::test]
async fn a_refresh_token_is_bound_to_its_client_and_redirect_uri() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let other = app.integration(ALL_SCOPES).await;
    let token = app
        .client_credentials(&creds, None)
        .await
        .refresh_token
        .unwrap();
    assert_eq!(
        app.refresh(&other, &token).await.error(),
        (400, "invalid_grant".into())
    );
    let wrong_uri = app
        .grant(
            &creds,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &token),
                ("redirect_uri", "https://integrator.example/callback/other"),
            ],
        )
        .await;
    assert_eq!(wrong_uri.error(), (400, "invalid_grant".into()));
    assert_eq!(
        app.refresh(&creds, "hgr_forged").await.error(),
        (400, "invalid_grant".into())
    );
    // The refused attempts did not burn the token.
    assert_eq!(app.refresh(&creds, &token).await.status(), 200);
}
