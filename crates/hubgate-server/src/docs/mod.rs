//! The OpenAPI 3.1 document, generated from the handlers' annotations, and
//! Swagger UI, served from the binary (no CDN at run time, nothing fetched
//! at build time).

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;
use hubgate_api::paths;
use utoipa::OpenApi;
use utoipa::openapi::security::{
    ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityScheme,
};
use utoipa::openapi::{OpenApi as OpenApiDoc, Server};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::config::ServerConfig;
use crate::state::AppState;
use hubgate_core::scope::Scope;

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
        crate::api::account::userinfo_post,
        crate::api::account::account,
        crate::api::hubs::list,
        crate::api::hubs::get,
        crate::api::hubs::state,
        crate::api::hubs::patch,
        crate::api::hubs::create,
        crate::api::hubs::delete,
        crate::api::hubs::issue_credential,
        crate::api::hubs::revoke_credential,
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
        crate::api::events::events,
        crate::api::webhooks::list,
        crate::api::webhooks::create,
        crate::api::webhooks::get,
        crate::api::webhooks::update,
        crate::api::webhooks::delete,
        crate::api::webhooks::rotate_secret,
        crate::api::webhooks::deliveries,
        crate::api::webhooks::resend,
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
        (name = "Events", description = "What changed in the account's fleet, as a resumable stream or pages \
            (webhooks carry the same events)"),
        (name = "Webhooks", description = "An integration's webhook endpoints: events POSTed and signed the \
            Standard Webhooks 1.0 way (`webhook-id`, `webhook-timestamp`, `webhook-signature`), retried with \
            backoff for more than a day, in order per hub"),
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
    let token_url = config.url(paths::TOKEN);
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
    let swagger = SwaggerUi::new(paths::SWAGGER_UI)
        .url(paths::OPENAPI, openapi(config))
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
