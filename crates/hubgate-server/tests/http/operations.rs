use hubgate_api::{JwkSet, ServerMetadata};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use hubgate_testkit::{ALL_SCOPES, TestApp};

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get_public::<()>("/healthz").await.status(), 200);
    let ready = app.get_public::<Value>("/readyz").await.ok();
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
    let text = app.metrics().await;
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
    let token = app.token(ALL_SCOPES).await.access_token;
    let jwks = app.get_public::<JwkSet>("/identity/oauth/v2/jwks").await;
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = jwks
        .ok()
        .keys
        .into_iter()
        .find(|k| Some(k.kid.as_str()) == header.kid.as_deref())
        .unwrap();
    let key = DecodingKey::from_ed_components(&jwk.x).unwrap();
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
    let meta = app.get_public::<ServerMetadata>("/.well-known/oauth-authorization-server");
    let meta = meta.await.ok();
    assert_eq!(meta.issuer, app.url);
    for (field, value, path) in [
        (
            "authorization_endpoint",
            &meta.authorization_endpoint,
            "/identity/oauth/v2/authorize",
        ),
        (
            "token_endpoint",
            &meta.token_endpoint,
            "/identity/oauth/v2/token",
        ),
        ("jwks_uri", &meta.jwks_uri, "/identity/oauth/v2/jwks"),
        (
            "introspection_endpoint",
            &meta.introspection_endpoint,
            "/identity/oauth/v2/introspect",
        ),
        (
            "revocation_endpoint",
            &meta.revocation_endpoint,
            "/identity/oauth/v2/revoke",
        ),
        (
            "userinfo_endpoint",
            &meta.userinfo_endpoint,
            "/identity/oauth/v2/userinfo",
        ),
    ] {
        assert_eq!(*value, format!("{}{path}", app.url), "{field}");
    }
    assert_eq!(
        meta.grant_types_supported,
        ["authorization_code", "client_credentials", "refresh_token"]
    );
}
