//! Instant revocation: changes made through the store (as `hubgate admin` and
//! the console make them) take effect on the next request or within a poll.

use std::time::Duration;

use hubgate_store::prelude::*;
use hubgate_testkit::{ALL_SCOPES, TestApp};

const WITHIN: Duration = Duration::from_secs(1);

async fn rejected(app: &TestApp, token: &str) -> bool {
    app.hubs(token).await.status() == 401
}

#[tokio::test]
async fn disabling_an_integration_stops_its_tokens_for_good() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let old = app.client_credentials(&creds, None).await;
    let token = old.access_token;
    let disabled = app
        .manager()
        .set_enabled(creds.integration.clone(), false)
        .await
        .unwrap();
    assert!(
        app.eventually(WITHIN, || rejected(&app, &token))
            .await
            .is_some(),
        "token still works after disable"
    );
    let response = app.try_client_credentials(&creds, None).await;
    assert_eq!(response.error(), (401, "invalid_client".into()));
    app.manager().set_enabled(disabled, true).await.unwrap();
    // Enabled again, the client gets new tokens; the old one stays dead.
    let issued = app
        .eventually(WITHIN, || async {
            app.try_client_credentials(&creds, None).await.status() == 200
        })
        .await;
    assert!(issued.is_some(), "no new token after enable");
    assert!(rejected(&app, &token).await, "the old token came back");
    let refresh = app
        .refresh(&creds, old.refresh_token.as_deref().unwrap())
        .await;
    assert_eq!(refresh.status(), 400, "the old refresh token came back");
    let new = app.client_credentials(&creds, None).await;
    assert_eq!(app.hubs(&new.access_token).await.status(), 200);
}

#[tokio::test]
async fn deleting_an_integration_rejects_its_tokens_within_a_second() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let tokens = app.client_credentials(&creds, None).await;
    assert_eq!(app.hubs(&tokens.access_token).await.status(), 200);
    app.manager()
        .delete_integration(&creds.integration)
        .await
        .unwrap();
    assert!(
        app.eventually(WITHIN, || rejected(&app, &tokens.access_token))
            .await
            .is_some()
    );
    let refresh = app
        .refresh(&creds, tokens.refresh_token.as_deref().unwrap())
        .await;
    assert_eq!(refresh.error(), (401, "invalid_client".into()));
}

#[tokio::test]
async fn rotating_without_grace_cuts_off_the_old_secret_and_every_token() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let tokens = app.client_credentials(&creds, None).await;
    let rotated = app
        .manager()
        .rotate_secret(creds.integration.clone(), time::Duration::ZERO)
        .await
        .unwrap();
    assert!(
        app.eventually(WITHIN, || rejected(&app, &tokens.access_token))
            .await
            .is_some()
    );
    let old = app.try_client_credentials(&creds, None).await;
    assert_eq!(old.error(), (401, "invalid_client".into()));
    let new_creds = hubgate_testkit::Creds {
        client_id: creds.client_id.clone(),
        secret: rotated.secret.expose().to_owned(),
        integration: rotated.integration,
    };
    // The refresh token of the old epoch is dead too.
    let refresh = app
        .refresh(&new_creds, tokens.refresh_token.as_deref().unwrap())
        .await;
    assert_eq!(refresh.error(), (400, "invalid_grant".into()));
    let fresh = app.client_credentials(&new_creds, None).await;
    assert_eq!(app.hubs(&fresh.access_token).await.status(), 200);
}

#[tokio::test]
async fn rotating_with_grace_keeps_both_secrets_and_existing_tokens_working() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let tokens = app.client_credentials(&creds, None).await;
    let rotated = app
        .manager()
        .rotate_secret(creds.integration.clone(), time::Duration::hours(1))
        .await
        .unwrap();
    let new_secret = rotated.secret.expose().to_owned();
    // Wait until this node has followed the change: the new secret works.
    let followed = app
        .eventually(WITHIN, || async {
            app.token_form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &creds.client_id),
                ("client_secret", &new_secret),
            ])
            .await
            .status()
                == 200
        })
        .await;
    assert!(followed.is_some());
    app.client_credentials(&creds, None).await;
    assert_eq!(app.hubs(&tokens.access_token).await.status(), 200);
    assert_eq!(
        app.refresh(&creds, tokens.refresh_token.as_deref().unwrap())
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn an_integration_created_elsewhere_works_at_once() {
    let app = TestApp::spawn().await;
    // Created straight in the store, as another process would.
    let creds = app.integration(ALL_SCOPES).await;
    assert!(
        app.store
            .integration_by_id(creds.integration.id)
            .await
            .unwrap()
            .is_some()
    );
    app.client_credentials(&creds, None).await;
}
