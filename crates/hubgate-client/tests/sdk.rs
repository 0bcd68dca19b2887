//! The SDK against a live hubgate: token caching, single flight, refresh
//! across expiry, fallback to client_credentials, and no retry loops.

use std::time::Duration;

use futures::TryStreamExt;
use hubgate_client::{Account, Client, Error, ErrorCode, HubKind, HubPatch, HubQuery};
use hubgate_store::prelude::*;
use hubgate_testkit::{ALL_SCOPES, TestApp, token_requests};

#[tokio::test]
async fn a_hundred_concurrent_callers_cause_exactly_one_token_request() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let client = app.sdk(&creds);
    let before = token_requests(&app).await;
    let calls = (0..100).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.account().await })
    });
    for result in futures::future::join_all(calls).await {
        result.expect("task").expect("account call");
    }
    assert_eq!(token_requests(&app).await - before, 1);
}

#[tokio::test]
async fn calls_keep_working_across_expiry_by_refreshing() {
    let app =
        TestApp::spawn_with(|config| config.access_token_ttl = time::Duration::seconds(2)).await;
    let creds = app.integration(ALL_SCOPES).await;
    let client = app.sdk(&creds);
    let first = client.access_token().await.unwrap();
    for _ in 0..8 {
        client
            .hubs(&HubQuery::default())
            .await
            .expect("hubs across expiry");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let later = client.access_token().await.unwrap();
    assert_ne!(first.secret(), later.secret(), "the token was renewed");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("hubgate_tokens_issued_total{grant_type=\"refresh_token\"}"),
        "renewal used the refresh token: {metrics}"
    );
}

#[tokio::test]
async fn a_revoked_refresh_token_falls_back_to_client_credentials() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let client = app.sdk(&creds);
    client.account().await.unwrap();
    // An admin revokes the token family: access and refresh token die together.
    let token = client.access_token().await.unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&base64_decode(token.secret().split('.').nth(1).unwrap())).unwrap();
    let family = claims["family_id"].as_str().unwrap().parse().unwrap();
    let until = hubgate_core::now().unix_timestamp() + 3600;
    app.store
        .revoke_family(family, creds.integration.id, until, hubgate_core::now())
        .await
        .unwrap();
    let followed = app
        .eventually(Duration::from_secs(1), || async {
            app.get::<Account>("/api/v1/account", token.secret())
                .await
                .status()
                == 401
        })
        .await;
    assert!(
        followed.is_some(),
        "the server did not learn of the revocation"
    );
    let before = token_requests(&app).await;
    // 401 → refresh refused (invalid_grant) → client_credentials → retry succeeds.
    client.account().await.expect("the call recovers");
    assert_eq!(token_requests(&app).await - before, 2);
}

#[tokio::test]
async fn a_deleted_integration_gives_a_clear_error_and_no_retry_loop() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let client = app.sdk(&creds);
    client.account().await.unwrap();
    app.manager()
        .delete_integration(&creds.integration)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = token_requests(&app).await;
    let error = client
        .account()
        .await
        .expect_err("a deleted integration cannot work");
    assert!(error.is_authentication(), "{error}");
    assert_eq!(error.code(), Some(ErrorCode::InvalidClient));
    // One refresh attempt refused, nothing more.
    assert!(token_requests(&app).await - before <= 2);
    let again = client.account().await.expect_err("still deleted");
    assert!(again.is_authentication());
}

#[tokio::test]
async fn wrong_credentials_fail_fast_with_invalid_client() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let client = Client::builder(&app.url)
        .client_credentials(&creds.client_id, "hgs_wrong")
        .build()
        .unwrap();
    let error = client.account().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::OAuth {
                status: 401,
                code: ErrorCode::InvalidClient,
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test]
async fn typed_calls_cover_the_whole_api() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let client = app.sdk(&creds);
    assert_eq!(client.account().await.unwrap().name, "Demo");
    let me = client.userinfo().await.unwrap();
    assert_eq!(me.email.as_deref(), Some("owner@example.com"));

    let page = client
        .hubs(&HubQuery {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert!(page.next_cursor.is_some());
    let all: Vec<_> = client
        .all_hubs(HubQuery {
            limit: Some(4),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 6);
    let switches: Vec<_> = client
        .all_hubs(HubQuery {
            kind: Some(HubKind::Switch),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(switches.len(), 2);

    let id = &all[0].id;
    assert_eq!(&client.hub(id).await.unwrap().id, id);
    assert!(
        client
            .hub_state(id)
            .await
            .unwrap()
            .state
            .contains_key("connected")
    );
    let patch = HubPatch {
        name: Some("Renamed".into()),
        ..Default::default()
    };
    assert_eq!(client.update_hub(id, &patch).await.unwrap().name, "Renamed");

    let missing = client
        .hub("hub_00000000000000000000000000000000")
        .await
        .unwrap_err();
    assert!(
        matches!(
            missing,
            Error::Api {
                status: 404,
                code: ErrorCode::NotFound,
                ..
            }
        ),
        "{missing}"
    );
    let narrow = Client::builder(&app.url)
        .client_credentials(&creds.client_id, &creds.secret)
        .scopes(["hubs:read"])
        .build()
        .unwrap();
    let forbidden = narrow.account().await.unwrap_err();
    assert_eq!(forbidden.code(), Some(ErrorCode::InsufficientScope));
}

#[tokio::test]
async fn secrets_never_show_in_debug_output() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let client = app.sdk(&creds);
    let token = client.access_token().await.unwrap();
    let printed = format!("{client:?} {token:?}");
    assert!(!printed.contains(&creds.secret));
    assert!(!printed.contains(token.secret()));
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

#[tokio::test]
async fn the_authorization_helpers_complete_the_code_flow_with_pkce() {
    use hubgate_client::authorization::AuthorizationRequest;
    use hubgate_core::account::Role;
    use hubgate_testkit::REDIRECT_URI;
    use hubgate_testkit::browser::{Flow, redirect_query};

    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let password = "correct horse battery";
    let account = Some((app.account, Role::Member));
    app.manager()
        .create_user("dana@example.com", password, false, account)
        .await
        .unwrap();
    let request = AuthorizationRequest::new(
        &app.url,
        &creds.client_id,
        REDIRECT_URI,
        ["sub", "email", "hubs:read"],
    )
    .unwrap();
    let flow = Flow::new(&app);
    let login = flow.get(request.url()).await.text().await.unwrap();
    let consent = flow
        .log_in(&login, "dana@example.com", password)
        .await
        .text()
        .await
        .unwrap();
    let answer = redirect_query(&flow.decide(&consent, "approve").await);

    let forged =
        AuthorizationRequest::new(&app.url, &creds.client_id, REDIRECT_URI, ["sub"]).unwrap();
    let refused = forged
        .exchange(
            &creds.client_id,
            &creds.secret,
            &answer["code"],
            &answer["state"],
        )
        .await;
    assert!(
        matches!(refused, Err(Error::Config(_))),
        "a state from another request is refused before sending"
    );

    let client = request
        .exchange(
            &creds.client_id,
            &creds.secret,
            &answer["code"],
            &answer["state"],
        )
        .await
        .unwrap();
    assert_eq!(
        client.userinfo().await.unwrap().email.as_deref(),
        Some("dana@example.com")
    );
    assert_eq!(
        client.hubs(&HubQuery::default()).await.unwrap().items.len(),
        6
    );
}

#[tokio::test]
async fn the_management_api_is_typed_in_the_sdk() {
    use hubgate_client::{
        AuditFormat, AuditQuery, IntegrationPatch, NewHub, NewIntegration, NewMember, Role,
    };
    let app = TestApp::spawn().await;
    let creds = app
        .integration(
            "integrations:read integrations:write members:read members:write audit:read hubs:manage",
        )
        .await;
    let client = app.sdk(&creds);

    let created = client
        .create_integration(&NewIntegration {
            name: "From the SDK".into(),
            redirect_uris: vec![hubgate_testkit::REDIRECT_URI.into()],
            scope: "hubs:read".into(),
            refresh_on_client_credentials: true,
            require_pkce: true,
            access_token_ttl: None,
            refresh_token_ttl: None,
            acting_user: None,
        })
        .await
        .unwrap();
    let id = created.integration.client_id.clone();
    assert!(
        client
            .integrations()
            .await
            .unwrap()
            .iter()
            .any(|i| i.client_id == id)
    );
    let renamed = client
        .update_integration(
            &id,
            &IntegrationPatch {
                name: Some("Renamed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "Renamed");
    assert_eq!(client.integration(&id).await.unwrap().name, "Renamed");
    let rotated = client.rotate_secret(&id, 60).await.unwrap();
    assert_eq!(
        client.reveal_secret(&id).await.unwrap().client_secret,
        rotated.client_secret
    );
    assert!(
        !client
            .set_integration_enabled(&id, false)
            .await
            .unwrap()
            .enabled
    );
    client.delete_integration(&id).await.unwrap();
    let gone = client.integration(&id).await.unwrap_err();
    assert_eq!(gone.code(), Some(ErrorCode::NotFound));

    let added = client
        .add_member(&NewMember {
            email: "sdk@example.com".into(),
            role: Role::Member,
            invite: true,
        })
        .await
        .unwrap();
    assert!(added.one_time_password.is_some());
    let admin = client
        .set_member_role(&added.member.id, Role::Admin)
        .await
        .unwrap();
    assert_eq!(admin.role, Role::Admin);
    assert!(client.members().await.unwrap().len() >= 2);
    client.reset_password(&added.member.id).await.unwrap();
    client.remove_member(&added.member.id).await.unwrap();

    let hub = client
        .create_hub(&NewHub {
            serial: "SDK-1".into(),
            name: "SDK hub".into(),
            kind: HubKind::Switch,
            room: None,
        })
        .await
        .unwrap();
    let credential = client.issue_hub_credential(&hub.id).await.unwrap();
    assert_eq!(
        (credential.hub_id.as_str(), credential.serial.as_str()),
        (hub.id.as_str(), "SDK-1")
    );
    assert!(credential.secret.starts_with("hgd_"));
    let replaced = client.issue_hub_credential(&hub.id).await.unwrap();
    assert_ne!(
        replaced.secret, credential.secret,
        "issuing again replaces it"
    );
    client.revoke_hub_credential(&hub.id).await.unwrap();
    let missing = client.revoke_hub_credential("hub_nope").await.unwrap_err();
    assert_eq!(missing.code(), Some(ErrorCode::NotFound));
    client.delete_hub(&hub.id).await.unwrap();

    let page = client
        .audit(&AuditQuery {
            action: Some("member.removed".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let csv = client
        .export_audit(&AuditQuery::default(), AuditFormat::Csv)
        .await
        .unwrap();
    assert!(csv.starts_with("seq,at,actor,action,subject,detail\n"));
    assert!(csv.contains("hub.deleted") && csv.contains("integration.deleted"));
    assert!(csv.contains("hub.credential_issued") && csv.contains("hub.credential_revoked"));
}

#[test]
fn a_root_certificate_that_is_not_pem_is_a_configuration_error() {
    let built = Client::builder("https://hubgate.example")
        .client_credentials("hgc_x", "hgs_x")
        .add_root_certificate(b"not a certificate".to_vec())
        .build();
    match built {
        Err(Error::Config(message)) => assert!(message.contains("root certificate"), "{message}"),
        Err(other) => panic!("another error: {other}"),
        Ok(_) => panic!("a bad root certificate was accepted"),
    }
}
