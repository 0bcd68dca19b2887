//! `GET /identity/oauth/v2/jwks` and `GET /.well-known/oauth-authorization-server` (RFC 8414).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hubgate_api::ServerMetadata;
use hubgate_api::paths;
use hubgate_core::scope::Scope;

use crate::state::AppState;

/// The public keys that verify access tokens (Ed25519, RFC 8037).
#[utoipa::path(get, path = "/identity/oauth/v2/jwks", operation_id = "getJwks", tag = "OAuth",
    responses((status = 200, description = "The key set", body = hubgate_api::JwkSet)))]
pub async fn jwks(State(state): State<AppState>) -> Response {
    let mut response = Json(state.keys().jwks.clone()).into_response();
    // Short enough that a rotated key is picked up quickly by resource servers.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// Authorization server metadata (RFC 8414).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", operation_id = "getServerMetadata", tag = "OAuth",
    responses((status = 200, description = "The metadata document", body = hubgate_api::ServerMetadata)))]
pub async fn metadata(State(state): State<AppState>) -> Json<ServerMetadata> {
    let config = &state.config;
    let auth_methods = || {
        vec![
            "client_secret_basic".to_owned(),
            "client_secret_post".to_owned(),
        ]
    };
    Json(ServerMetadata {
        issuer: config.issuer.clone(),
        token_endpoint: config.url(paths::TOKEN),
        jwks_uri: config.url(paths::JWKS),
        introspection_endpoint: config.url(paths::INTROSPECT),
        revocation_endpoint: config.url(paths::REVOKE),
        userinfo_endpoint: config.url(paths::USERINFO),
        scopes_supported: Scope::ALL.iter().map(|s| s.as_str().to_owned()).collect(),
        authorization_endpoint: config.url(paths::AUTHORIZE),
        response_types_supported: vec!["code".into()],
        code_challenge_methods_supported: vec!["S256".into()],
        authorization_response_iss_parameter_supported: true,
        grant_types_supported: vec![
            "authorization_code".into(),
            "client_credentials".into(),
            "refresh_token".into(),
        ],
        token_endpoint_auth_methods_supported: auth_methods(),
        introspection_endpoint_auth_methods_supported: auth_methods(),
        revocation_endpoint_auth_methods_supported: auth_methods(),
        service_documentation: config.url(paths::SWAGGER_UI),
    })
}
