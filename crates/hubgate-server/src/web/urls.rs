//! The console's URLs, in one place: handlers redirect to them, and the
//! authorization pages link to the password page.

pub const CONSOLE: &str = "/console";
pub const LOGIN: &str = "/console/login";
pub const LOGOUT: &str = "/console/logout";
/// Where every console page but this one sends a user whose password is a
/// one-time one (and where the authorization pages point them).
pub const PASSWORD: &str = "/console/password";
pub const CONSENTS: &str = "/console/consents";
pub const CONSENTS_WITHDRAW: &str = "/console/consents/withdraw";

/// An account's console pages: `/console/a/{account}`.
pub fn account(account: impl std::fmt::Display) -> String {
    format!("/console/a/{account}")
}

/// An account's integrations list.
pub fn integrations(account: impl std::fmt::Display) -> String {
    format!("{}/integrations", self::account(account))
}

/// One integration's detail page, with the notice it shows after a redirect.
pub fn integration(account: impl std::fmt::Display, client_id: &str, notice: &str) -> String {
    format!("{}/{client_id}?notice={notice}", integrations(account))
}

/// One webhook endpoint's delivery log, under its integration.
pub fn webhook(account: impl std::fmt::Display, client_id: &str, webhook_id: &str) -> String {
    format!(
        "{}/{client_id}/webhooks/{webhook_id}",
        integrations(account)
    )
}
