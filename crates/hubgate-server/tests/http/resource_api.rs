use hubgate_store::prelude::*;
use serde_json::{Value, json};

use hubgate_testkit::{ALL_SCOPES, TestApp, error_of};

#[tokio::test]
async fn hubs_are_paginated_with_a_cursor_that_covers_every_hub_once() {
    let app = TestApp::spawn().await;
    let token = app
        .client_credentials(&app.integration(ALL_SCOPES).await, None)
        .await
        .access_token;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/hubs?limit=4&cursor={c}"),
            None => "/api/v1/hubs?limit=4".to_owned(),
        };
        let page: Value = app.get(&path, &token).await.json().await.unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique, seen);
}

#[tokio::test]
async fn hubs_filter_by_kind_online_and_room() {
    let app = TestApp::spawn().await;
    let token = app
        .client_credentials(&app.integration(ALL_SCOPES).await, None)
        .await
        .access_token;
    let count = |query: &'static str| {
        let (app, token) = (&app, &token);
        async move {
            let page: Value = app
                .get(&format!("/api/v1/hubs?{query}"), token)
                .await
                .json()
                .await
                .unwrap();
            page["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("kind=switch").await, 2);
    assert_eq!(count("online=false").await, 1);
    assert_eq!(count("room=Boardroom").await, 2);
    assert_eq!(count("kind=hub&online=true").await, 3);
    for bad in [
        "kind=router",
        "limit=0",
        "limit=1000",
        "online=maybe",
        "cursor=bogus",
        "sort=name",
    ] {
        let response = app.get(&format!("/api/v1/hubs?{bad}"), &token).await;
        assert_eq!(
            error_of(response).await,
            (400, "invalid_request".into()),
            "query {bad}"
        );
    }
}

#[tokio::test]
async fn a_hub_and_its_state_are_read_with_ochno_shaped_state() {
    let app = TestApp::spawn().await;
    let token = app
        .client_credentials(&app.integration(ALL_SCOPES).await, None)
        .await
        .access_token;
    let page: Value = app
        .get("/api/v1/hubs?limit=1", &token)
        .await
        .json()
        .await
        .unwrap();
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    let hub: Value = app
        .get(&format!("/api/v1/hubs/{id}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hub["id"], id.as_str());
    let state: Value = app
        .get(&format!("/api/v1/hubs/{id}/state"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(state["state"]["connected"], json!([1, 0, 0, 0]));
    assert_eq!(state["state"]["mtrextension"], "disable");
}

#[tokio::test]
async fn another_accounts_hub_is_not_found_and_never_listed() {
    let app = TestApp::spawn().await;
    let (_, other_creds) = app.other_account().await;
    let other_token = app
        .client_credentials(&other_creds, None)
        .await
        .access_token;
    let other_page: Value = app
        .get("/api/v1/hubs", &other_token)
        .await
        .json()
        .await
        .unwrap();
    let foreign_id = other_page["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(other_page["items"].as_array().unwrap().len(), 1);

    let token = app
        .client_credentials(&app.integration(ALL_SCOPES).await, None)
        .await
        .access_token;
    for path in [
        format!("/api/v1/hubs/{foreign_id}"),
        format!("/api/v1/hubs/{foreign_id}/state"),
    ] {
        assert_eq!(
            error_of(app.get(&path, &token).await).await,
            (404, "not_found".into())
        );
    }
    let patch = app
        .http
        .patch(format!("{}/api/v1/hubs/{foreign_id}", app.url))
        .bearer_auth(&token)
        .json(&json!({"name": "taken"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(patch).await, (404, "not_found".into()));
    let mine: Value = app
        .get("/api/v1/hubs?limit=200", &token)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["id"] != foreign_id.as_str())
    );
    assert_eq!(
        error_of(app.get("/api/v1/hubs/not-an-id", &token).await).await,
        (404, "not_found".into())
    );
}

#[tokio::test]
async fn a_patch_changes_name_room_and_desired_settings_but_not_reported_state() {
    let app = TestApp::spawn().await;
    let token = app
        .client_credentials(&app.integration(ALL_SCOPES).await, None)
        .await
        .access_token;
    let page: Value = app
        .get("/api/v1/hubs?limit=1", &token)
        .await
        .json()
        .await
        .unwrap();
    let before = page["items"][0].clone();
    let id = before["id"].as_str().unwrap();
    let patch = |body: Value| {
        let (app, token) = (&app, &token);
        async move {
            app.http
                .patch(format!("{}/api/v1/hubs/{id}", app.url))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let response = patch(json!({"name": "Boardroom (east)", "room": "East wing", "desired": {"mtrmode": false, "mtrport": 2}})).await;
    assert_eq!(response.status(), 200);
    let after: Value = response.json().await.unwrap();
    assert_eq!(after["name"], "Boardroom (east)");
    assert_eq!(after["room"], "East wing");
    assert_eq!(after["desired"], json!({"mtrmode": false, "mtrport": 2}));
    assert_eq!(after["state"], before["state"]);

    assert_eq!(
        error_of(patch(json!({"serial": "X"})).await).await,
        (422, "validation_failed".into())
    );
    assert_eq!(
        error_of(patch(json!({"desired": {"mtrport": 7}})).await).await,
        (422, "validation_failed".into())
    );
    assert_eq!(
        error_of(patch(json!({"desired": {"connected": [1]}})).await).await,
        (422, "validation_failed".into())
    );
    assert_eq!(
        error_of(patch(json!({"name": ""})).await).await,
        (422, "validation_failed".into())
    );
    assert_eq!(
        error_of(patch(json!({})).await).await,
        (422, "validation_failed".into())
    );
    let not_json = app
        .http
        .patch(format!("{}/api/v1/hubs/{id}", app.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(not_json).await, (400, "invalid_request".into()));
}

#[tokio::test]
async fn a_token_lacking_the_scope_is_403_insufficient_scope_with_a_challenge() {
    let app = TestApp::spawn().await;
    let token = app
        .client_credentials(&app.integration("hubs:read").await, None)
        .await
        .access_token;
    let account = app.get("/api/v1/account", &token).await;
    assert_eq!(
        account.headers()["www-authenticate"],
        "Bearer realm=\"hubgate\", error=\"insufficient_scope\", scope=\"accounts:read\""
    );
    assert_eq!(error_of(account).await, (403, "insufficient_scope".into()));
    let page: Value = app
        .get("/api/v1/hubs?limit=1", &token)
        .await
        .json()
        .await
        .unwrap();
    let id = page["items"][0]["id"].as_str().unwrap();
    let patch = app
        .http
        .patch(format!("{}/api/v1/hubs/{id}", app.url))
        .bearer_auth(&token)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(patch).await, (403, "insufficient_scope".into()));
    assert_eq!(
        error_of(app.get("/identity/oauth/v2/userinfo", &token).await).await,
        (403, "insufficient_scope".into())
    );
}

#[tokio::test]
async fn missing_and_bad_tokens_are_401_with_rfc_6750_challenges() {
    let app = TestApp::spawn().await;
    let missing = app
        .http
        .get(format!("{}/api/v1/hubs", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing.headers()["www-authenticate"],
        "Bearer realm=\"hubgate\""
    );
    assert_eq!(error_of(missing).await, (401, "invalid_token".into()));
    for bad in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."] {
        let response = app.get("/api/v1/hubs", bad).await;
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert_eq!(error_of(response).await, (401, "invalid_token".into()));
    }
    let basic = app
        .http
        .get(format!("{}/api/v1/hubs", app.url))
        .basic_auth("a", Some("b"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(basic).await, (401, "invalid_token".into()));
}

#[tokio::test]
async fn account_and_userinfo_describe_the_integrations_account_and_creator() {
    let app = TestApp::spawn().await;
    let token = app
        .client_credentials(&app.integration(ALL_SCOPES).await, None)
        .await
        .access_token;
    let account: Value = app
        .get("/api/v1/account", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(account["id"], app.account.to_string());
    assert_eq!(account["name"], "Demo");
    let info: Value = app
        .get("/identity/oauth/v2/userinfo", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        info,
        json!({"sub": app.owner.id.to_string(), "email": "owner@example.com"})
    );
    let sub_only = app
        .client_credentials(&app.integration("sub").await, None)
        .await
        .access_token;
    let info: Value = app
        .get("/identity/oauth/v2/userinfo", &sub_only)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info, json!({"sub": app.owner.id.to_string()}));
}

#[tokio::test]
async fn a_cached_hub_stays_invisible_to_other_accounts_and_is_refreshed_when_changed_elsewhere() {
    let app = TestApp::spawn().await;
    let (_, other_creds) = app.other_account().await;
    let other_token = app
        .client_credentials(&other_creds, None)
        .await
        .access_token;
    let page: Value = app
        .get("/api/v1/hubs", &other_token)
        .await
        .json()
        .await
        .unwrap();
    let foreign: hubgate_core::ids::HubId =
        page["items"][0]["id"].as_str().unwrap().parse().unwrap();
    // The other account reads it: now this node has it cached.
    assert_eq!(
        app.get(&format!("/api/v1/hubs/{foreign}"), &other_token)
            .await
            .status(),
        200
    );
    let token = app
        .client_credentials(&app.integration(ALL_SCOPES).await, None)
        .await
        .access_token;
    assert_eq!(
        error_of(app.get(&format!("/api/v1/hubs/{foreign}"), &token).await).await,
        (404, "not_found".into())
    );
    assert_eq!(
        error_of(
            app.get(&format!("/api/v1/hubs/{foreign}/state"), &token)
                .await
        )
        .await,
        (404, "not_found".into())
    );

    // Another process records a new state: the cached copy gives way within a poll.
    let reported = serde_json::from_value(json!({"active": 3, "connected": [0, 0, 1, 0]})).unwrap();
    app.store
        .report_hub_state(foreign, &reported, hubgate_core::now())
        .await
        .unwrap();
    let fresh = app
        .eventually(std::time::Duration::from_secs(1), || async {
            let state: Value = app
                .get(&format!("/api/v1/hubs/{foreign}/state"), &other_token)
                .await
                .json()
                .await
                .unwrap();
            state["state"]["active"] == 3
        })
        .await;
    assert!(fresh.is_some(), "the cached hub was not refreshed");
}
