use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use hubgate_testkit::{ALL_SCOPES, TestApp};

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.http
            .get(format!("{}/healthz", app.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready: Value = app
        .http
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
}

#[tokio::test]
async fn metrics_count_requests_grants_and_failed_client_authentication() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    app.client_credentials(&creds, None).await;
    app.token_form(&[
        ("grant_type", "client_credentials"),
        ("client_id", &creds.client_id),
        ("client_secret", "wrong"),
    ])
    .await;
    let text = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("hubgate_tokens_issued_total{grant_type=\"client_credentials\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("hubgate_client_auth_failures_total{endpoint=\"token\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("route=\"/identity/oauth/v2/token\""),
        "{text}"
    );
    assert!(
        text.contains("hubgate_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(!text.contains(&creds.secret));
}

#[tokio::test]
async fn the_published_jwks_verifies_issued_tokens_with_an_independent_library() {
    let app = TestApp::spawn().await;
    let token = app
        .client_credentials(&app.integration(ALL_SCOPES).await, None)
        .await
        .access_token;
    let jwks: Value = app
        .http
        .get(format!("{}/identity/oauth/v2/jwks", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header.kid.as_deref().unwrap())
        .unwrap();
    let key = DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[format!("{}/api", app.url)]);
    validation.set_issuer(&[&app.url]);
    let claims = jsonwebtoken::decode::<Value>(&token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["account_id"], app.account.to_string());
    assert!(claims["jti"].is_string());
}

#[tokio::test]
async fn the_metadata_document_lists_every_endpoint() {
    let app = TestApp::spawn().await;
    let meta: Value = app
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            app.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["issuer"], app.url.as_str());
    for (field, path) in [
        ("authorization_endpoint", "/identity/oauth/v2/authorize"),
        ("token_endpoint", "/identity/oauth/v2/token"),
        ("jwks_uri", "/identity/oauth/v2/jwks"),
        ("introspection_endpoint", "/identity/oauth/v2/introspect"),
        ("revocation_endpoint", "/identity/oauth/v2/revoke"),
        ("userinfo_endpoint", "/identity/oauth/v2/userinfo"),
    ] {
        assert_eq!(meta[field], format!("{}{path}", app.url), "{field}");
    }
    assert_eq!(
        meta["grant_types_supported"],
        serde_json::json!(["authorization_code", "client_credentials", "refresh_token"])
    );
}
