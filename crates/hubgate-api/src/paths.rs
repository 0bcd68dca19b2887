//! The endpoints' paths, shared by the server's router, its discovery
//! document and OpenAPI token URL, the SDK and the tests, so none can drift.

/// The OAuth token endpoint (the guide's).
pub const TOKEN: &str = "/identity/oauth/v2/token";
pub const AUTHORIZE: &str = "/identity/oauth/v2/authorize";
pub const INTROSPECT: &str = "/identity/oauth/v2/introspect";
pub const REVOKE: &str = "/identity/oauth/v2/revoke";
pub const JWKS: &str = "/identity/oauth/v2/jwks";
pub const USERINFO: &str = "/identity/oauth/v2/userinfo";
/// RFC 8414 metadata.
pub const METADATA: &str = "/.well-known/oauth-authorization-server";

/// The bearer-protected API's prefix.
pub const API: &str = "/api/v1";
pub const ACCOUNT: &str = "/api/v1/account";
pub const HUBS: &str = "/api/v1/hubs";
pub const HUB: &str = "/api/v1/hubs/{id}";
pub const HUB_STATE: &str = "/api/v1/hubs/{id}/state";
pub const HUB_CREDENTIAL: &str = "/api/v1/hubs/{id}/credential";
pub const INTEGRATIONS: &str = "/api/v1/integrations";
pub const INTEGRATION: &str = "/api/v1/integrations/{client_id}";
pub const INTEGRATION_REVEAL_SECRET: &str = "/api/v1/integrations/{client_id}/reveal-secret";
pub const INTEGRATION_ROTATE_SECRET: &str = "/api/v1/integrations/{client_id}/rotate-secret";
pub const INTEGRATION_DISABLE: &str = "/api/v1/integrations/{client_id}/disable";
pub const INTEGRATION_ENABLE: &str = "/api/v1/integrations/{client_id}/enable";
pub const MEMBERS: &str = "/api/v1/members";
pub const MEMBER: &str = "/api/v1/members/{user_id}";
pub const MEMBER_RESET_PASSWORD: &str = "/api/v1/members/{user_id}/reset-password";
pub const AUDIT: &str = "/api/v1/audit";
/// The account's events: a `text/event-stream`, or a JSON page.
pub const EVENTS: &str = "/api/v1/events";
pub const WEBHOOKS: &str = "/api/v1/integrations/{client_id}/webhooks";
pub const WEBHOOK: &str = "/api/v1/integrations/{client_id}/webhooks/{webhook_id}";
pub const WEBHOOK_ROTATE_SECRET: &str =
    "/api/v1/integrations/{client_id}/webhooks/{webhook_id}/rotate-secret";
pub const WEBHOOK_DELIVERIES: &str =
    "/api/v1/integrations/{client_id}/webhooks/{webhook_id}/deliveries";
pub const WEBHOOK_RESEND: &str =
    "/api/v1/integrations/{client_id}/webhooks/{webhook_id}/deliveries/{event_id}/resend";

pub const HEALTH: &str = "/healthz";
pub const READY: &str = "/readyz";
pub const METRICS: &str = "/metrics";
pub const SWAGGER_UI: &str = "/doc/swagger";
pub const OPENAPI: &str = "/doc/openapi.json";

/// Every path the OpenAPI document describes (the authorization pages'
/// follow-up forms and the console are pages, not API).
pub const DOCUMENTED: &[&str] = &[
    TOKEN,
    AUTHORIZE,
    INTROSPECT,
    REVOKE,
    JWKS,
    USERINFO,
    METADATA,
    ACCOUNT,
    HUBS,
    HUB,
    HUB_STATE,
    HUB_CREDENTIAL,
    INTEGRATIONS,
    INTEGRATION,
    INTEGRATION_REVEAL_SECRET,
    INTEGRATION_ROTATE_SECRET,
    INTEGRATION_DISABLE,
    INTEGRATION_ENABLE,
    MEMBERS,
    MEMBER,
    MEMBER_RESET_PASSWORD,
    AUDIT,
    EVENTS,
    WEBHOOKS,
    WEBHOOK,
    WEBHOOK_ROTATE_SECRET,
    WEBHOOK_DELIVERIES,
    WEBHOOK_RESEND,
    HEALTH,
    READY,
    METRICS,
];
