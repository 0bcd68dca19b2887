//! The Rust SDK for hubgate, and for any server that follows Ochno's
//! Server2Server guide.
//!
//! A [`Client`] holds your integration's credentials, gets tokens when it needs
//! them and calls the API. Every integrator otherwise rewrites the same token
//! logic; this one caches the access token, refreshes it shortly before it
//! expires, falls back to `client_credentials` when the refresh token is
//! refused, makes N concurrent callers share one token request, and retries a
//! call once after a `401 invalid_token`, never more.
//!
//! ```no_run
//! # async fn run() -> Result<(), hubgate_client::Error> {
//! use hubgate_client::{Client, HubQuery};
//!
//! let client = Client::builder("http://127.0.0.1:8080")
//!     .client_credentials("hgc_…", "hgs_…")
//!     .scopes(["hubs:read", "accounts:read"])
//!     .build()?;
//! let account = client.account().await?;
//! let page = client.hubs(&HubQuery::default()).await?;
//! println!("{}: {} hubs on the first page", account.name, page.items.len());
//! # Ok(()) }
//! ```
//!
//! For integrations acting for an end user, [`authorization`] builds the
//! authorize URL with a PKCE S256 pair and exchanges the code.
//!
//! Events reach an integration two ways: [`Client::event_stream`] follows
//! the account's event stream, resuming where it left off across
//! disconnects, and [`webhooks::verify`] checks a webhook delivery in the
//! integration's own receiver.

pub mod authorization;
mod client;
mod error;
mod events;
mod manage;
mod sse;
mod token;
pub mod webhooks;

pub use client::{Client, ClientBuilder, HubQuery};
pub use error::Error;
pub use hubgate_api::{
    Account, AddedMember, AuditEvent, ClientSecret, ErrorCode, Event, Hub, HubKind, HubPatch,
    HubStateView, Integration, IntegrationPatch, IntegrationWithSecret, Member, NewHub,
    NewIntegration, NewMember, Page, PasswordReset, Role, TokenResponse, UserInfo,
};
pub use manage::{AuditFormat, AuditQuery};
pub use token::{AccessToken, Secret};

/// The paths of the guide, relative to the base URL; change them for a server
/// that mounts its endpoints elsewhere.
pub const DEFAULT_TOKEN_PATH: &str = hubgate_api::paths::TOKEN;
pub const DEFAULT_API_PATH: &str = hubgate_api::paths::API;
pub const DEFAULT_USERINFO_PATH: &str = hubgate_api::paths::USERINFO;
pub const DEFAULT_AUTHORIZE_PATH: &str = hubgate_api::paths::AUTHORIZE;
