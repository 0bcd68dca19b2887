//! The management commands: `integrations`, `members`, `audit`.

use clap::{Args, Subcommand};

use super::ClientArgs;

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
