//! The command line: `serve`, `admin`, and the integrator's commands.

use clap::{Parser, Subcommand};

mod admin;
mod client;
mod manage;
mod serve;

pub use admin::*;
pub use client::*;
pub use manage::*;
pub use serve::*;

#[derive(Debug, Parser)]
#[command(
    name = "hubgate",
    version,
    about = "Server-to-server integration platform for fleets of meeting-room hubs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (embedded SQLite in --data-dir by default).
    Serve(Box<ServeArgs>),
    /// Manage accounts, users, integrations and hubs in the store directly.
    Admin(AdminArgs),
    /// Drive virtual hubs over MQTT against a running server (its store
    /// finds the hubs and issues their credentials, as `admin` does).
    Simulate(crate::simulate::SimulateArgs),
    /// Get an access token with the integration's credentials and print it.
    Token(TokenArgs),
    /// Read and change hubs and switches through the API.
    Hubs(HubsArgs),
    /// Follow the account's events: hubs changing, reporting, connecting (`hubs:read`).
    Events(EventsArgs),
    /// Manage the account's integrations (management API, `integrations:*`).
    Integrations(IntegrationsArgs),
    /// Manage the account's members (management API, `members:*`).
    Members(MembersArgs),
    /// Read or export the account's audit log (management API, `audit:read`).
    Audit(AuditArgs),
    /// Show the account the credentials act for.
    Account(ClientArgs),
    /// Show who the credentials act as: client, scopes, user and account.
    Whoami(ClientArgs),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}
