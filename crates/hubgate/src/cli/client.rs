//! The integrator's commands: where the API is, which integration calls it, `token`, `hubs` and `events`.

use clap::{Args, Subcommand, ValueEnum};

/// Where the API is and which integration calls it. Exit codes of the client
/// commands: 0 success, 1 other failure, 2 usage or invalid input, 3 not
/// found, 4 conflict, 5 authentication or permission refused, 6 server error
/// or unreachable.
#[derive(Debug, Args, Clone)]
pub struct ClientArgs {
    /// Base URL of the server
    #[arg(
        long,
        env = "HUBGATE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    #[arg(long, env = "HUBGATE_CLIENT_ID", global = true)]
    pub client_id: Option<String>,
    #[arg(
        long,
        env = "HUBGATE_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub client_secret: Option<String>,
    /// Output format: a table for people, JSON for scripts
    #[arg(long, value_enum, default_value = "table", global = true)]
    pub output: ClientOutput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientOutput {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Scopes to ask for (repeat, or space-separate); default: the integration's
    #[arg(long)]
    pub scope: Vec<String>,
}

#[derive(Debug, Args)]
pub struct HubsArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: HubsCommand,
}

#[derive(Debug, Subcommand)]
pub enum HubsCommand {
    /// List hubs (every page unless --limit is given)
    List {
        #[arg(long, value_parser = ["hub", "switch"])]
        kind: Option<String>,
        #[arg(long)]
        online: Option<bool>,
        #[arg(long)]
        room: Option<String>,
        /// Only the first page, of this many
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Show one hub
    Get { id: String },
    /// Show a hub's reported and desired state
    State { id: String },
    /// Change a hub's name, room or desired settings
    Set {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, conflicts_with = "clear_room")]
        room: Option<String>,
        #[arg(long)]
        clear_room: bool,
        /// A desired setting, KEY=VALUE with a JSON value (mtrmode=true, mtrport=2, otp=\"normal\"); repeat
        #[arg(long = "desired", value_name = "KEY=VALUE")]
        desired: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: EventsCommand,
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Print the account's events as they happen, one line each (one JSON
    /// object with --output json), reconnecting and resuming as needed
    /// until interrupted
    Tail {
        /// Start just after this event instead of with what happens from now on
        #[arg(long, value_name = "EVENT_ID")]
        after: Option<String>,
    },
}
