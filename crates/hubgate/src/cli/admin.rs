//! `hubgate admin`'s commands, on the store itself.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

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
    /// Webhook endpoints of integrations.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Access-token signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Apply the schema migrations this hubgate knows (`serve` does too at
    /// start); with --dry-run, only list what would be applied.
    Migrate {
        #[arg(long)]
        dry_run: bool,
    },
    /// Copy the SQLite store to FILE, consistently, while a server runs:
    /// one file with its manifest inside (PostgreSQL: use pg_dump).
    Backup {
        /// The backup file to create (never overwritten)
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Restore a backup as the store of --data-dir, which no server may be
    /// using; the master key (HUBGATE_MASTER_KEY or master.key there) must be
    /// the one the backup was taken under.
    Restore {
        /// A file `hubgate admin backup` made
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// Replace a database already in --data-dir
        #[arg(long)]
        force: bool,
    },
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
pub enum WebhookCommand {
    /// Add an endpoint receiving the integration's account's events, signed
    /// the Standard Webhooks way with the secret printed (shown once).
    Create {
        client_id: String,
        #[arg(long)]
        url: String,
        /// An event type to receive (repeatable); none: all of them
        #[arg(long = "event", value_name = "TYPE")]
        events: Vec<String>,
        /// Accept a URL on a loopback, private or link-local address (the
        /// server must run with --webhook-allow-private to deliver there)
        #[arg(long)]
        allow_private: bool,
    },
    /// The integration's endpoints.
    List { client_id: String },
    /// A new secret, printed once; the old one signs beside it for 24 h.
    RotateSecret {
        client_id: String,
        webhook_id: String,
    },
    /// Stop deliveries to the endpoint (they wait until it is enabled).
    Disable {
        client_id: String,
        webhook_id: String,
    },
    /// Deliver to the endpoint again (also after the server disabled it).
    Enable {
        client_id: String,
        webhook_id: String,
    },
    /// Remove the endpoint and its deliveries.
    Delete {
        client_id: String,
        webhook_id: String,
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
    /// Issue the hub's device credential (its MQTT password), shown once;
    /// running it again replaces the credential and disconnects the device.
    Credential { hub_id: String },
    /// Revoke the hub's device credential: the device is disconnected within
    /// a second on every node and cannot connect until a new one is issued.
    RevokeCredential { hub_id: String },
}
