//! HTTP tests: the real router on a real socket (port 0) over a fresh SQLite
//! store per test, driven by reqwest.

mod api_docs;
mod authorization_code;
mod client_origin;
mod console;
mod console_webhooks;
mod edges;
mod events;
mod exhaustion;
mod grant_basis;
mod grant_flows;
mod introspection_and_revocation;
mod management_api;
mod operations;
mod resource_api;
mod revocation;
mod robustness;
mod token_endpoint;
