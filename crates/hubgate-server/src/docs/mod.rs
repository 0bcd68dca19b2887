//! The OpenAPI 3.1 document, generated from the handlers' annotations, and
//! Swagger UI, served from the binary (no CDN at run time, nothing fetched
//! at build time).

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;
use serde::Deserialize;
use utoipa::openapi::security::{
    ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityScheme,
};
use utoipa::openapi::{OpenApi as OpenApiDoc, Server};
use utoipa::{OpenApi, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::config::ServerConfig;
use crate::state::AppState;
use hubgate_core::scope::Scope;

/// The `client_credentials` grant: the guide's step 1.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"grant_type": "client_credentials", "client_id": "hgc_…", "client_secret": "hgs_…", "scope": "hubs:read hubs:write accounts:read"}))]
#[allow(dead_code)]
pub struct ClientCredentialsForm {
    #[schema(pattern = "^client_credentials$")]
    grant_type: String,
    /// With client_secret_post; leave out when using HTTP Basic.
    client_id: Option<String>,
    client_secret: Option<String>,
    /// Space-separated; default: every scope of the integration.
    scope: Option<String>,
}

/// The `refresh_token` grant: the guide's step 3. The old refresh token dies.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"grant_type": "refresh_token", "refresh_token": "hgr_…", "client_id": "hgc_…", "client_secret": "hgs_…", "redirect_uri": "https://integrator.example/callback"}))]
#[allow(dead_code)]
pub struct RefreshTokenForm {
    #[schema(pattern = "^refresh_token$")]
    grant_type: String,
    refresh_token: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    /// Optional; when sent it must be one the integration registered.
    redirect_uri: Option<String>,
    /// Optional; may only narrow the original scope.
    scope: Option<String>,
}

/// The `authorization_code` grant: trade the code the redirect brought back.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"grant_type": "authorization_code", "code": "hga_…", "redirect_uri": "https://integrator.example/callback", "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "client_id": "hgc_…", "client_secret": "hgs_…"}))]
#[allow(dead_code)]
pub struct AuthorizationCodeForm {
    #[schema(pattern = "^authorization_code$")]
    grant_type: String,
    code: String,
    /// Exactly the one sent to the authorization endpoint.
    redirect_uri: String,
    /// The PKCE verifier (RFC 7636); required when a challenge was sent.
    code_verifier: Option<String>,
    /// The guide's spelling of `code_verifier`; either is accepted.
    #[serde(rename = "codeVerifier")]
    code_verifier_camel: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The parameters of one grant.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum TokenForm {
    ClientCredentials(ClientCredentialsForm),
    RefreshToken(RefreshTokenForm),
    AuthorizationCode(AuthorizationCodeForm),
}

/// A token to introspect or revoke, and the caller's credentials.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct TokenLookupForm {
    token: String,
    /// `access_token` or `refresh_token`; hubgate tells them apart by form.
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Status {
    status: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hubgate",
        description = "Server-to-server integration API for fleets of meeting-room hubs and switches, \
            following Ochno Operated's Server2Server guide. Get a token at the token endpoint with your \
            integration's client_id and client_secret (the Authorize button does this), then call the API \
            with `Authorization: Bearer <access_token>`.",
        license(name = "Apache-2.0"),
    ),
    paths(
        crate::identity::authorize::authorize,
        crate::identity::token::token,
        crate::identity::introspect::introspect,
        crate::identity::introspect::revoke,
        crate::identity::discovery::jwks,
        crate::identity::discovery::metadata,
        crate::api::account::userinfo,
        crate::api::account::account,
        crate::api::hubs::list,
        crate::api::hubs::get,
        crate::api::hubs::state,
        crate::api::hubs::patch,
        crate::api::hubs::create,
        crate::api::hubs::delete,
        crate::api::integrations::list,
        crate::api::integrations::create,
        crate::api::integrations::get,
        crate::api::integrations::update,
        crate::api::integrations::delete,
        crate::api::integrations::reveal_secret,
        crate::api::integrations::rotate_secret,
        crate::api::integrations::disable,
        crate::api::integrations::enable,
        crate::api::members::list,
        crate::api::members::add,
        crate::api::members::update,
        crate::api::members::remove,
        crate::api::members::reset_password,
        crate::api::audit::list,
        crate::ops::healthz,
        crate::ops::readyz,
        crate::ops::metrics,
    ),
    components(schemas(
        hubgate_api::ErrorCode,
        hubgate_api::HubState,
        hubgate_api::DesiredSettings,
        crate::api::audit::Format,
    )),
    tags(
        (name = "OAuth", description = "Tokens: issue, refresh, introspect, revoke; keys and metadata"),
        (name = "Account", description = "Who the token acts for"),
        (name = "Hubs", description = "Hubs and switches of the token's account"),
        (name = "Management", description = "The account's integrations, members and audit log, for integrations \
            given a management scope by an owner or admin; what a token may do is its scopes and its user's role, \
            whichever is narrower"),
        (name = "Operations", description = "Health, readiness and metrics"),
    ),
)]
struct ApiDoc;

/// The document for a server reachable at `config.public_url`: the token URL
/// of the OAuth2 scheme must be absolute for Swagger UI's Authorize button.
pub fn openapi(config: &ServerConfig) -> OpenApiDoc {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.servers = Some(vec![Server::new(&config.public_url)]);
    let scopes = Scopes::from_iter(Scope::ALL.iter().map(|s| (s.as_str(), s.description())));
    let token_url = config.url("/identity/oauth/v2/token");
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "oauth2",
        SecurityScheme::OAuth2(OAuth2::with_description(
            [Flow::ClientCredentials(ClientCredentials::new(
                token_url, scopes,
            ))],
            "The integration's client_id and client_secret, traded for a bearer token",
        )),
    );
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    components.add_security_scheme(
        "client_secret_basic",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
    );
    doc
}

/// `/doc/openapi.json` and Swagger UI at `/doc/swagger/`.
pub fn router(config: &ServerConfig) -> Router<AppState> {
    let swagger = SwaggerUi::new("/doc/swagger")
        .url("/doc/openapi.json", openapi(config))
        .config(
            Config::default()
                // The client_secret and the 30-day refresh token must not
                // outlive the tab in localStorage.
                .persist_authorization(false)
                .try_it_out_enabled(true),
        );
    Router::<AppState>::from(swagger)
        .route(
            "/doc",
            get(|| async { Redirect::permanent("/doc/swagger/") }),
        )
        .layer(axum::middleware::map_response(swagger_headers))
}

/// What Swagger UI needs and no more: its own scripts, styles (it sets
/// inline style attributes), data: images and fonts, requests to this
/// server; no framing, no referrer.
pub const SWAGGER_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'";

async fn swagger_headers(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SWAGGER_CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
