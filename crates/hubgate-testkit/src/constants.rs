//! Values the HTTP and the end-to-end suites share, so both speak of the
//! same integration.

/// Every scope hubgate knows: an integration that may do anything.
pub const ALL_SCOPES: &str = "sub email hubs:read hubs:write accounts:read";
/// The one redirect URI test integrations register.
pub const REDIRECT_URI: &str = "https://integrator.example/callback";
