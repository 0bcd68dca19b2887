use hubgate_api::{Account, Hub, HubStateView, Page, UserInfo};
use hubgate_store::prelude::*;
use serde_json::{Value, json};

use hubgate_testkit::{ALL_SCOPES, TestApp, error_of};

#[tokio::test]
async fn hubs_are_paginated_with_a_cursor_that_covers_every_hub_once() {
    let app = TestApp::spawn().await;
    let token = app.token(ALL_SCOPES).await.access_token;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/hubs?limit=4&cursor={c}"),
            None => "/api/v1/hubs?limit=4".to_owned(),
        };
        let page = app.get::<Page<Hub>>(&path, &token).await.ok();
        seen.extend(page.items.into_iter().map(|h| h.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
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
    let token = app.token(ALL_SCOPES).await.access_token;
    let count = |query: &'static str| {
        let (app, token) = (&app, &token);
        async move {
            let path = format!("/api/v1/hubs?{query}");
            app.get::<Page<Hub>>(&path, token).await.ok().items.len()
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
        let path = format!("/api/v1/hubs?{bad}");
        assert_eq!(
            app.get::<Page<Hub>>(&path, &token).await.error(),
            (400, "invalid_request".into()),
            "query {bad}"
        );
    }
}

#[tokio::test]
async fn a_hub_and_its_state_are_read_with_ochno_shaped_state() {
    let app = TestApp::spawn().await;
    let token = app.token(ALL_SCOPES).await.access_token;
    let page = app.get::<Page<Hub>>("/api/v1/hubs?limit=1", &token).await;
    let id = page.ok().items[0].id.clone();
    let hub = app.get::<Hub>(&format!("/api/v1/hubs/{id}"), &token).await;
    assert_eq!(hub.ok().id, id);
    let path = format!("/api/v1/hubs/{id}/state");
    let state = app.get::<HubStateView>(&path, &token).await.ok().state;
    assert_eq!(state["connected"], json!([1, 0, 0, 0]));
    assert_eq!(state["mtrextension"], "disable");
}

#[tokio::test]
async fn another_accounts_hub_is_not_found_and_never_listed() {
    let app = TestApp::spawn().await;
    let (_, other_creds) = app.other_account().await;
    let other_token = app
        .client_credentials(&other_creds, None)
        .await
        .access_token;
    let other_page = app.get::<Page<Hub>>("/api/v1/hubs", &other_token).await;
    let other_hubs = other_page.ok().items;
    let foreign_id = other_hubs[0].id.clone();
    assert_eq!(other_hubs.len(), 1);

    let token = app.token(ALL_SCOPES).await.access_token;
    let hub = format!("/api/v1/hubs/{foreign_id}");
    let state = format!("/api/v1/hubs/{foreign_id}/state");
    assert_eq!(
        app.get::<Hub>(&hub, &token).await.error(),
        (404, "not_found".into())
    );
    assert_eq!(
        app.get::<HubStateView>(&state, &token).await.error(),
        (404, "not_found".into())
    );
    let patch = app
        .patch::<Hub>(&hub, &token, &json!({"name": "taken"}))
        .await;
    assert_eq!(patch.error(), (404, "not_found".into()));
    let mine = app.get::<Page<Hub>>("/api/v1/hubs?limit=200", &token).await;
    assert!(mine.ok().items.iter().all(|h| h.id != foreign_id));
    assert_eq!(
        app.get::<Hub>("/api/v1/hubs/not-an-id", &token)
            .await
            .error(),
        (404, "not_found".into())
    );
}

#[tokio::test]
async fn a_patch_changes_name_room_and_desired_settings_but_not_reported_state() {
    let app = TestApp::spawn().await;
    let token = app.token(ALL_SCOPES).await.access_token;
    let page = app.get::<Page<Hub>>("/api/v1/hubs?limit=1", &token).await;
    let before = page.ok().items.remove(0);
    let path = format!("/api/v1/hubs/{}", before.id);
    // Raw JSON, not `HubPatch`: the server must refuse what the type cannot say.
    let patch = |body: Value| {
        let (app, path, token) = (&app, &path, &token);
        async move { app.patch::<Hub>(path, token, &body).await }
    };
    let response = patch(json!({"name": "Boardroom (east)", "room": "East wing", "desired": {"mtrmode": false, "mtrport": 2}})).await;
    assert_eq!(response.status(), 200);
    let after = response.ok();
    assert_eq!(after.name, "Boardroom (east)");
    assert_eq!(after.room.as_deref(), Some("East wing"));
    assert_eq!(
        Value::Object(after.desired),
        json!({"mtrmode": false, "mtrport": 2})
    );
    assert_eq!(after.state, before.state);

    for refused in [
        json!({"serial": "X"}),
        json!({"desired": {"mtrport": 7}}),
        json!({"desired": {"connected": [1]}}),
        json!({"name": ""}),
        json!({}),
    ] {
        assert_eq!(
            patch(refused.clone()).await.error(),
            (422, "validation_failed".into()),
            "patch {refused}"
        );
    }
    let not_json = app
        .http
        .patch(format!("{}{path}", app.url))
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
    let token = app.token("hubs:read").await.access_token;
    let account = app.get::<Account>("/api/v1/account", &token).await;
    assert_eq!(
        account.headers()["www-authenticate"],
        "Bearer realm=\"hubgate\", error=\"insufficient_scope\", scope=\"accounts:read\""
    );
    assert_eq!(account.error(), (403, "insufficient_scope".into()));
    let page = app.get::<Page<Hub>>("/api/v1/hubs?limit=1", &token).await;
    let id = page.ok().items[0].id.clone();
    let path = format!("/api/v1/hubs/{id}");
    let patch = app.patch::<Hub>(&path, &token, &json!({"name": "x"})).await;
    assert_eq!(patch.error(), (403, "insufficient_scope".into()));
    assert_eq!(
        app.get::<UserInfo>("/identity/oauth/v2/userinfo", &token)
            .await
            .error(),
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
        let response = app.get::<Page<Hub>>("/api/v1/hubs", bad).await;
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert_eq!(response.error(), (401, "invalid_token".into()));
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
    let token = app.token(ALL_SCOPES).await.access_token;
    let account = app.get::<Account>("/api/v1/account", &token).await.ok();
    assert_eq!(account.id, app.account.to_string());
    assert_eq!(account.name, "Demo");
    // Compared as JSON, not as `UserInfo`: no key beyond these may appear.
    let info = app
        .get::<Value>("/identity/oauth/v2/userinfo", &token)
        .await;
    assert_eq!(
        info.ok(),
        json!({"sub": app.owner.id.to_string(), "email": "owner@example.com"})
    );
    let sub_only = app.token("sub").await.access_token;
    let info = app
        .get::<Value>("/identity/oauth/v2/userinfo", &sub_only)
        .await;
    assert_eq!(info.ok(), json!({"sub": app.owner.id.to_string()}));
}

#[tokio::test]
async fn a_cached_hub_stays_invisible_to_other_accounts_and_is_refreshed_when_changed_elsewhere() {
    let app = TestApp::spawn().await;
    let (_, other_creds) = app.other_account().await;
    let other_token = app
        .client_credentials(&other_creds, None)
        .await
        .access_token;
    let page = app.get::<Page<Hub>>("/api/v1/hubs", &other_token).await;
    let foreign: hubgate_core::ids::HubId = page.ok().items[0].id.parse().unwrap();
    let (hub, state) = (
        format!("/api/v1/hubs/{foreign}"),
        format!("/api/v1/hubs/{foreign}/state"),
    );
    // The other account reads it: now this node has it cached.
    assert_eq!(app.get::<Hub>(&hub, &other_token).await.status(), 200);
    let token = app.token(ALL_SCOPES).await.access_token;
    assert_eq!(
        app.get::<Hub>(&hub, &token).await.error(),
        (404, "not_found".into())
    );
    assert_eq!(
        app.get::<HubStateView>(&state, &token).await.error(),
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
            let view = app.get::<HubStateView>(&state, &other_token).await;
            view.ok().state["active"] == 3
        })
        .await;
    assert!(fresh.is_some(), "the cached hub was not refreshed");
}
