//! Small edges with readable answers: a hub PATCH with an unknown field,
//! empty page forms, the root URL.

use hubgate_api::{ErrorCode, Hub};
use hubgate_testkit::{ALL_SCOPES, TestApp};

#[tokio::test]
async fn an_unknown_top_level_field_in_a_hub_patch_is_a_clean_422() {
    let app = TestApp::spawn().await;
    let token = app.token(ALL_SCOPES).await.access_token;
    let hubs = app.hubs(&token).await.ok().items;
    let hub = &hubs[0].id;
    let path = format!("/api/v1/hubs/{hub}");
    let response = app
        .patch::<Hub>(&path, &token, &serde_json::json!({"nmae": "Typo"}))
        .await;
    assert_eq!(response.status(), 422);
    let body = response.error_body();
    assert_eq!(body.error, ErrorCode::ValidationFailed);
    let description = body.error_description.unwrap();
    assert!(
        description.contains("unknown field `nmae`"),
        "{description}"
    );
    assert!(
        !description.contains("Failed to deserialize"),
        "{description}"
    );
    assert!(!description.contains("line 1"), "{description}");
    // Not JSON at all is still a 400.
    let response = app
        .http
        .patch(format!("{}/api/v1/hubs/{hub}", app.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn empty_page_form_posts_get_the_readable_page() {
    let app = TestApp::spawn().await;
    for path in [
        "/console/logout",
        "/console/login",
        "/identity/oauth/v2/authorize/login",
        "/identity/oauth/v2/authorize/account",
        "/identity/oauth/v2/authorize/decision",
    ] {
        let response = app
            .http
            .post(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert!(
            response.text().await.unwrap().contains("Check the form"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_root_redirects_to_the_console() {
    let app = TestApp::spawn().await;
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/console");
}
