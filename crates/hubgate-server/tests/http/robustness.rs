//! Bad input gets an RFC-shaped error, never a 5xx.

use hubgate_api::ErrorBody;
use hubgate_testkit::{ALL_SCOPES, TestApp};

#[tokio::test]
async fn malformed_requests_get_4xx_json_errors_never_5xx() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let token = app.client_credentials(&creds, None).await.access_token;
    let token_url = format!("{}/identity/oauth/v2/token", app.url);
    let cases: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "xml body",
            app.http
                .post(&token_url)
                .header("content-type", "application/xml")
                .body("<a/>"),
        ),
        (
            "non-string json",
            app.http
                .post(&token_url)
                .header("content-type", "application/json")
                .body(r#"{"grant_type": 5}"#),
        ),
        (
            "json array",
            app.http
                .post(&token_url)
                .header("content-type", "application/json")
                .body("[1,2]"),
        ),
        (
            "broken json",
            app.http
                .post(&token_url)
                .header("content-type", "application/json")
                .body("{"),
        ),
        (
            "invalid utf-8",
            app.http
                .post(&token_url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(vec![0xff, 0xfe, b'=', 0x80]),
        ),
        (
            "huge body",
            app.http
                .post(&token_url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("a=".to_owned() + &"x".repeat(100_000)),
        ),
        (
            "bad basic",
            app.http
                .post(&token_url)
                .header("authorization", "Basic !!!")
                .form(&[("grant_type", "client_credentials")]),
        ),
        (
            "basic without colon",
            app.http
                .post(&token_url)
                .header("authorization", "Basic YWJj")
                .form(&[("grant_type", "client_credentials")]),
        ),
        (
            "long client id",
            app.http.post(&token_url).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &"a".repeat(5000)),
                ("client_secret", "x"),
            ]),
        ),
        (
            "refresh garbage",
            app.http.post(&token_url).form(&[
                ("grant_type", "refresh_token"),
                ("client_id", &creds.client_id),
                ("client_secret", &creds.secret),
                ("refresh_token", &format!("hgr_{}", "A".repeat(400))),
            ]),
        ),
        ("GET token", app.http.get(&token_url)),
        (
            "hub path traversal",
            app.http
                .get(format!("{}/api/v1/hubs/..%2F..%2Fetc", app.url))
                .bearer_auth(&token),
        ),
        (
            "patch not json",
            app.http
                .patch(format!("{}/api/v1/hubs/hub_x", app.url))
                .bearer_auth(&token)
                .body("x"),
        ),
        ("unknown route", app.http.get(format!("{}/nope", app.url))),
        (
            "non-ascii bearer",
            app.http
                .get(format!("{}/api/v1/hubs", app.url))
                .header("authorization", "Bearer \u{00e9}"),
        ),
    ];
    for (name, request) in cases {
        let response = request.send().await.unwrap();
        let status = response.status();
        assert!(status.is_client_error(), "{name}: {status}");
        if status != 405 {
            let body = response.text().await.unwrap();
            let parsed = serde_json::from_str::<ErrorBody>(&body);
            assert!(parsed.is_ok(), "{name}: not an error body: {body}");
        }
    }
}
