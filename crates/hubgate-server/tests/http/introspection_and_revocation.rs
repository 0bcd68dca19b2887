use serde_json::Value;

use hubgate_testkit::{ALL_SCOPES, TestApp, error_of};

async fn introspect(app: &TestApp, creds: &hubgate_testkit::Creds, token: &str) -> Value {
    let response = app
        .post_form(
            "/identity/oauth/v2/introspect",
            &[
                ("client_id", &creds.client_id),
                ("client_secret", &creds.secret),
                ("token", token),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn revoke(app: &TestApp, creds: &hubgate_testkit::Creds, token: &str) -> u16 {
    app.post_form(
        "/identity/oauth/v2/revoke",
        &[
            ("client_id", &creds.client_id),
            ("client_secret", &creds.secret),
            ("token", token),
        ],
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn introspection_describes_the_callers_own_active_tokens() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let tokens = app.client_credentials(&creds, Some("hubs:read")).await;
    let access = introspect(&app, &creds, &tokens.access_token).await;
    assert_eq!(access["active"], true);
    assert_eq!(access["scope"], "hubs:read");
    assert_eq!(access["client_id"], creds.client_id.as_str());
    assert_eq!(access["account_id"], app.account.to_string());
    let refresh = introspect(&app, &creds, tokens.refresh_token.as_deref().unwrap()).await;
    assert_eq!(refresh["active"], true);
    assert_eq!(refresh["token_type"], "refresh_token");
}

#[tokio::test]
async fn introspection_hides_other_clients_tokens_and_rotated_or_bogus_ones() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let other = app.integration(ALL_SCOPES).await;
    let tokens = app.client_credentials(&creds, None).await;
    let inactive = serde_json::json!({"active": false});
    assert_eq!(
        introspect(&app, &other, &tokens.access_token).await,
        inactive
    );
    assert_eq!(
        introspect(&app, &other, tokens.refresh_token.as_deref().unwrap()).await,
        inactive
    );
    assert_eq!(introspect(&app, &creds, "bogus").await, inactive);
    let old_refresh = tokens.refresh_token.unwrap();
    assert_eq!(app.refresh(&creds, &old_refresh).await.status(), 200);
    assert_eq!(introspect(&app, &creds, &old_refresh).await, inactive);
}

#[tokio::test]
async fn introspection_and_revocation_require_client_authentication() {
    let app = TestApp::spawn().await;
    for path in ["/identity/oauth/v2/introspect", "/identity/oauth/v2/revoke"] {
        let response = app.post_form(path, &[("token", "x")]).await;
        assert_eq!(
            error_of(response).await,
            (401, "invalid_client".into()),
            "{path}"
        );
    }
    let creds = app.integration(ALL_SCOPES).await;
    let response = app
        .post_form(
            "/identity/oauth/v2/introspect",
            &[
                ("client_id", &creds.client_id),
                ("client_secret", &creds.secret),
            ],
        )
        .await;
    assert_eq!(error_of(response).await, (400, "invalid_request".into()));
}

#[tokio::test]
async fn revoking_a_refresh_token_kills_its_family_and_its_access_tokens() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let tokens = app.client_credentials(&creds, None).await;
    let unrelated = app.client_credentials(&creds, None).await;
    assert_eq!(
        revoke(&app, &creds, tokens.refresh_token.as_deref().unwrap()).await,
        200
    );
    assert_eq!(app.hubs(&tokens.access_token).await.status(), 401);
    assert_eq!(
        app.refresh(&creds, tokens.refresh_token.as_deref().unwrap())
            .await
            .error(),
        (400, "invalid_grant".into())
    );
    assert_eq!(app.hubs(&unrelated.access_token).await.status(), 200);
}

#[tokio::test]
async fn revoking_an_access_token_stops_only_that_token() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let tokens = app.client_credentials(&creds, None).await;
    assert_eq!(revoke(&app, &creds, &tokens.access_token).await, 200);
    assert_eq!(app.hubs(&tokens.access_token).await.status(), 401);
    assert_eq!(
        introspect(&app, &creds, &tokens.access_token).await["active"],
        false
    );
    assert_eq!(
        app.refresh(&creds, tokens.refresh_token.as_deref().unwrap())
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_token_and_bogus_tokens_are_accepted_silently() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let other = app.integration(ALL_SCOPES).await;
    let tokens = app.client_credentials(&creds, None).await;
    assert_eq!(revoke(&app, &other, &tokens.access_token).await, 200);
    assert_eq!(
        revoke(&app, &other, tokens.refresh_token.as_deref().unwrap()).await,
        200
    );
    assert_eq!(revoke(&app, &other, "not-a-token").await, 200);
    assert_eq!(app.hubs(&tokens.access_token).await.status(), 200);
    assert_eq!(
        app.refresh(&creds, tokens.refresh_token.as_deref().unwrap())
            .await
            .status(),
        200
    );
}
