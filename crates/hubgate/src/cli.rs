use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    Serve(ServeArgs),
    /// Manage accounts, users, integrations and hubs in the store directly.
    Admin(AdminArgs),
    /// Get an access token with the integration's credentials and print it.
    Token(TokenArgs),
    /// Read and change hubs and switches through the API.
    Hubs(HubsArgs),
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
pub struct IntegrationsArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: IntegrationsCommand,
}

/// The settings of `integrations create` and `integrations update`.
#[derive(Debug, Args, Clone, Default)]
pub struct IntegrationFields {
    #[arg(long)]
    pub name: Option<String>,
    /// A redirect URI (repeat for several; replaces them all on update)
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// Space-separated scopes
    #[arg(long)]
    pub scope: Option<String>,
    /// Return a refresh token with client_credentials (true or false)
    #[arg(long)]
    pub refresh_on_client_credentials: Option<bool>,
    /// Require PKCE in the authorization-code flow (true or false)
    #[arg(long)]
    pub require_pkce: Option<bool>,
    /// Access-token lifetime in seconds
    #[arg(long)]
    pub access_token_ttl: Option<u32>,
    /// Refresh-token lifetime in seconds
    #[arg(long)]
    pub refresh_token_ttl: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum IntegrationsCommand {
    /// List the account's integrations
    List,
    /// Create an integration; prints its secret once
    Create {
        #[command(flatten)]
        fields: IntegrationFields,
    },
    /// Show one integration (not its secret)
    Show {
        #[arg(value_name = "CLIENT_ID")]
        integration: String,
    },
    /// Change an integration's settings
    Update {
        #[arg(value_name = "CLIENT_ID")]
        integration: String,
        #[command(flatten)]
        fields: IntegrationFields,
    },
    /// Print the current secret (audited)
    RevealSecret {
        #[arg(value_name = "CLIENT_ID")]
        integration: String,
    },
    /// Replace the secret; the old one works for --grace seconds (0: it and its tokens stop now)
    RotateSecret {
        #[arg(value_name = "CLIENT_ID")]
        integration: String,
        #[arg(long)]
        grace: u32,
    },
    /// Stop the integration's client and tokens
    Disable {
        #[arg(value_name = "CLIENT_ID")]
        integration: String,
    },
    /// Let the integration get tokens again
    Enable {
        #[arg(value_name = "CLIENT_ID")]
        integration: String,
    },
    /// Delete the integration; its tokens stop working
    Delete {
        #[arg(value_name = "CLIENT_ID")]
        integration: String,
    },
}

#[derive(Debug, Args)]
pub struct MembersArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: MembersCommand,
}

#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// List the account's members
    List,
    /// Add a user by email (with --invite, create one with a one-time password)
    Add {
        email: String,
        #[arg(long, value_parser = ["member", "admin", "owner"])]
        role: String,
        #[arg(long)]
        invite: bool,
    },
    /// Change a member's role
    SetRole {
        user_id: String,
        #[arg(long, value_parser = ["member", "admin", "owner"])]
        role: String,
    },
    /// Give a member a new one-time password
    ResetPassword { user_id: String },
    /// Remove a member; their tokens in the account stop working
    Remove { user_id: String },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Only this action (e.g. integration.created)
    #[arg(long)]
    pub action: Option<String>,
    /// Only events by this actor
    #[arg(long)]
    pub actor: Option<String>,
    /// Only events at or after this RFC 3339 time
    #[arg(long)]
    pub since: Option<String>,
    /// Only events before this RFC 3339 time
    #[arg(long)]
    pub until: Option<String>,
    /// Export every matching event as JSON lines or CSV (default: a table of the newest)
    #[arg(long, value_parser = ["jsonl", "csv"])]
    pub format: Option<String>,
    /// Events to show without --format
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
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

/// Flags override `HUBGATE_*` variables, which override the TOML file, which
/// overrides the defaults. Serialized, the flags that were given (and only
/// those) are the top layer of `Settings`, under the same keys.
#[derive(Debug, Args, Default, serde::Serialize)]
pub struct ServeArgs {
    /// TOML settings file [env: HUBGATE_CONFIG]
    #[arg(long, env = "HUBGATE_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Where the SQLite database and the master key file live [default: ./hubgate-data]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL instead of SQLite: postgres://user:password@host/db [env: HUBGATE_DATABASE_URL]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// PostgreSQL connections per node [default: 16]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_max_connections: Option<u32>,
    /// Seconds to wait for a PostgreSQL connection before answering 503 [default: 5]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_acquire_timeout: Option<u64>,
    /// The URL clients use to reach this server [default: http://<listen>]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// The `iss` of issued tokens [default: the public URL]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Access-token lifetime in seconds [default: 3600]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<u32>,
    /// Refresh-token lifetime in seconds [default: 2592000, 30 days]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_ttl: Option<u32>,
    /// Email of the owner created on first start [default: admin@localhost]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_email: Option<String>,
    /// Do not create demo hubs and switches on first start
    #[arg(long)]
    #[serde(
        rename = "demo",
        skip_serializing_if = "std::ops::Not::not",
        serialize_with = "negated"
    )]
    pub no_demo: bool,
    /// Log format [default: text]
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// Seconds a connection may take to send a request head [default: 10]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_read_timeout: Option<u64>,
    /// Seconds an idle keep-alive connection stays open [default: 60]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<u64>,
    /// Open connections at most; 0: the open-file limit less 64 [default: 0]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    /// Failed client authentications per client_id per minute before 429; 0: no limit [default: 20]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_auth_failures_per_client: Option<u32>,
    /// Failed client authentications per source address per minute before 429; 0: no limit [default: 100]
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_auth_failures_per_address: Option<u32>,
}

/// `--no-demo` given is `demo = false`.
fn negated<S: serde::Serializer>(flag: &bool, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bool(!flag)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The data directory of the store to manage [env: HUBGATE_DATA_DIR] [default: ./hubgate-data]
    #[arg(long, env = "HUBGATE_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Manage a PostgreSQL store instead (the master key then comes from
    /// HUBGATE_MASTER_KEY or the key file in --data-dir)
    #[arg(
        long,
        env = "HUBGATE_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "text", global = true)]
    pub output: Output,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Organisation accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Users and their memberships.
    #[command(subcommand)]
    User(UserCommand),
    /// Custom integrations (OAuth clients).
    #[command(subcommand)]
    Integration(IntegrationCommand),
    /// Hubs and switches.
    #[command(subcommand)]
    Hub(HubCommand),
    /// Access-token signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List the signing keys; the newest signs, all verify.
    List,
    /// Add a new signing key; every node signs with it within a second. Older
    /// keys keep verifying the tokens they signed.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    Create {
        #[arg(long)]
        name: String,
    },
    List,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user, optionally as a member of an account.
    Create {
        #[arg(long)]
        email: String,
        /// At least 12 characters and not a common one; when left out a
        /// one-time password is generated and printed
        #[arg(long)]
        password: Option<String>,
        #[arg(long, requires = "role")]
        account: Option<String>,
        #[arg(long, requires = "account")]
        role: Option<String>,
    },
    /// List the consents a user gave integrations (authorization-code flow).
    Consents {
        #[arg(long)]
        email: String,
    },
    /// Withdraw a consent: the integration must ask the user again.
    WithdrawConsent {
        #[arg(long)]
        email: String,
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        account: String,
    },
    /// Give an existing user a role in an account (or change it). A role
    /// that may delegate less revokes the user's tokens in the account.
    AddMember {
        #[arg(long)]
        email: String,
        #[arg(long)]
        account: String,
        #[arg(long)]
        role: String,
    },
    /// Set a user's password and end their sessions: read from standard
    /// input (one line), or with --generate a one-time password, printed
    /// once, that must be changed at the next login.
    SetPassword {
        #[arg(long)]
        email: String,
        #[arg(long)]
        generate: bool,
    },
    /// Remove a user from an account; every token acting for them there stops working.
    RemoveMember {
        #[arg(long)]
        email: String,
        #[arg(long)]
        account: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum IntegrationCommand {
    /// Create an integration; prints its client_id and client_secret.
    Create {
        #[arg(long)]
        account: String,
        #[arg(long)]
        name: String,
        /// Repeat for several
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Space-separated: sub email hubs:read hubs:write accounts:read
        #[arg(long)]
        scope: String,
        /// The member client_credentials tokens act through, its first acting user [default: the account's first owner]
        #[arg(long)]
        created_by: Option<String>,
        /// Leave the refresh token out of client_credentials responses (RFC 6749 §4.4.3)
        #[arg(long)]
        no_refresh_on_client_credentials: bool,
        /// Let this confidential client use the authorization-code flow without PKCE
        #[arg(long)]
        no_require_pkce: bool,
        /// Access-token lifetime in seconds for this integration
        #[arg(long)]
        access_token_ttl: Option<u32>,
        /// Refresh-token lifetime in seconds for this integration
        #[arg(long)]
        refresh_token_ttl: Option<u32>,
    },
    List {
        #[arg(long)]
        account: Option<String>,
    },
    /// Show an integration, including its client_secret.
    Show {
        client_id: String,
    },
    /// Replace the secret. The old secret keeps working for --grace seconds
    /// (an hour by default, as in the console); with --grace 0 the old secret
    /// and every token issued so far stop working at once.
    RotateSecret {
        client_id: String,
        /// Seconds the old secret keeps working (tokens stay valid meanwhile); 0: none
        #[arg(long, default_value_t = 3600)]
        grace: u32,
    },
    /// Choose the member its client_credentials tokens act through (an
    /// admin or owner when its scopes include hubs:write).
    SetActingUser {
        client_id: String,
        #[arg(long)]
        email: String,
    },
    /// Stop the integration: its client cannot authenticate, its tokens stop
    /// working for good (enabling again lets only new tokens work).
    Disable {
        client_id: String,
    },
    Enable {
        client_id: String,
    },
    /// Delete the integration; its tokens stop working at once.
    Delete {
        client_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum HubCommand {
    Create {
        #[arg(long)]
        account: String,
        #[arg(long)]
        serial: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "hub", value_parser = ["hub", "switch"])]
        kind: String,
    },
    /// Record the state a hub reported, Ochno-shaped: '{"state": {...}}' or the bare object.
    SetState {
        id: String,
        #[arg(long)]
        json: String,
    },
}
