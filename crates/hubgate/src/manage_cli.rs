//! The integrator's management commands, over the management API through
//! the SDK: `integrations`, `members`, `audit`. Same table / `--output json`
//! and exit-code conventions as `hubgate hubs`.

use std::process::ExitCode;

use hubgate_client::{
    AuditFormat, AuditQuery, Error, Integration, IntegrationPatch, Member, NewIntegration,
    NewMember, Role,
};
use serde_json::{Value, json};

use crate::cli::{
    AuditArgs, IntegrationFields, IntegrationsArgs, IntegrationsCommand, MembersArgs,
    MembersCommand,
};
use crate::client_cli::{build, finish, render, rfc3339};

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn integration_rows(integrations: &[Integration]) -> String {
    let rows: Vec<Vec<String>> = integrations
        .iter()
        .map(|i| {
            vec![
                i.client_id.clone(),
                i.name.clone(),
                if i.enabled { "enabled" } else { "disabled" }.to_owned(),
                i.scope.clone(),
            ]
        })
        .collect();
    render(&["CLIENT_ID", "NAME", "STATUS", "SCOPE"], &rows)
}

fn with_secret_table(integration: &Integration, secret: &str) -> String {
    format!(
        "{}\nclient_secret: {secret}   (shown once: keep it secret)",
        integration_rows(std::slice::from_ref(integration))
    )
}

fn role(text: &str) -> Role {
    match text {
        "owner" => Role::Owner,
        "admin" => Role::Admin,
        _ => Role::Member,
    }
}

fn member_rows(members: &[Member]) -> String {
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| {
            let role = serde_json::to_value(m.role)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            vec![m.id.clone(), m.email.clone(), role]
        })
        .collect();
    render(&["ID", "EMAIL", "ROLE"], &rows)
}

fn patch_of(fields: IntegrationFields) -> IntegrationPatch {
    IntegrationPatch {
        name: fields.name,
        redirect_uris: (!fields.redirect_uris.is_empty()).then_some(fields.redirect_uris),
        scope: fields.scope,
        refresh_on_client_credentials: fields.refresh_on_client_credentials,
        require_pkce: fields.require_pkce,
        access_token_ttl: fields.access_token_ttl.map(Some),
        refresh_token_ttl: fields.refresh_token_ttl.map(Some),
        acting_user: None,
    }
}

pub async fn integrations(args: IntegrationsArgs) -> ExitCode {
    let output = args.client.output;
    let result = async {
        let client = build(&args.client, &[])?;
        Ok(match args.command {
            IntegrationsCommand::List => {
                let list = client.integrations().await?;
                (to_json(&list), integration_rows(&list))
            }
            IntegrationsCommand::Create { fields } => {
                let (Some(name), Some(scope)) = (fields.name.clone(), fields.scope.clone()) else {
                    return Err(Error::Config(
                        "--name, --scope and at least one --redirect-uri are required".into(),
                    ));
                };
                let new = NewIntegration {
                    name,
                    redirect_uris: fields.redirect_uris,
                    scope,
                    refresh_on_client_credentials: fields
                        .refresh_on_client_credentials
                        .unwrap_or(true),
                    require_pkce: fields.require_pkce.unwrap_or(true),
                    access_token_ttl: fields.access_token_ttl,
                    refresh_token_ttl: fields.refresh_token_ttl,
                    acting_user: None,
                };
                let created = client.create_integration(&new).await?;
                let table = with_secret_table(&created.integration, &created.client_secret);
                (to_json(&created), table)
            }
            IntegrationsCommand::Show {
                integration: client_id,
            } => {
                let integration = client.integration(&client_id).await?;
                let table = format!(
                    "{}\nredirect URIs: {}\nacting user: {}\ncreated: {}",
                    integration_rows(std::slice::from_ref(&integration)),
                    integration.redirect_uris.join(" "),
                    integration.acting_user,
                    rfc3339(integration.created_at),
                );
                (to_json(&integration), table)
            }
            IntegrationsCommand::Update {
                integration: client_id,
                fields,
            } => {
                let integration = client
                    .update_integration(&client_id, &patch_of(fields))
                    .await?;
                let table = integration_rows(std::slice::from_ref(&integration));
                (to_json(&integration), table)
            }
            IntegrationsCommand::RevealSecret {
                integration: client_id,
            } => {
                let secret = client.reveal_secret(&client_id).await?;
                (to_json(&secret), secret.client_secret.clone())
            }
            IntegrationsCommand::RotateSecret {
                integration: client_id,
                grace,
            } => {
                let rotated = client.rotate_secret(&client_id, grace).await?;
                let table = with_secret_table(&rotated.integration, &rotated.client_secret);
                (to_json(&rotated), table)
            }
            IntegrationsCommand::Disable {
                integration: client_id,
            } => {
                let integration = client.set_integration_enabled(&client_id, false).await?;
                let table = integration_rows(std::slice::from_ref(&integration));
                (to_json(&integration), table)
            }
            IntegrationsCommand::Enable {
                integration: client_id,
            } => {
                let integration = client.set_integration_enabled(&client_id, true).await?;
                let table = integration_rows(std::slice::from_ref(&integration));
                (to_json(&integration), table)
            }
            IntegrationsCommand::Delete {
                integration: client_id,
            } => {
                client.delete_integration(&client_id).await?;
                let text = format!("deleted {client_id}; its tokens no longer work");
                (json!({"deleted": true, "client_id": client_id}), text)
            }
        })
    };
    finish(output, result.await)
}

pub async fn members(args: MembersArgs) -> ExitCode {
    let output = args.client.output;
    let result = async {
        let client = build(&args.client, &[])?;
        Ok(match args.command {
            MembersCommand::List => {
                let members = client.members().await?;
                (to_json(&members), member_rows(&members))
            }
            MembersCommand::Add {
                email,
                role: chosen,
                invite,
            } => {
                let new = NewMember {
                    email,
                    role: role(&chosen),
                    invite,
                };
                let added = client.add_member(&new).await?;
                let mut table = member_rows(std::slice::from_ref(&added.member));
                if let Some(password) = &added.one_time_password {
                    table.push_str(&format!(
                        "\none-time password: {password}   (shown once; to be changed at the first login)"
                    ));
                }
                (to_json(&added), table)
            }
            MembersCommand::SetRole {
                user_id,
                role: chosen,
            } => {
                let member = client.set_member_role(&user_id, role(&chosen)).await?;
                (to_json(&member), member_rows(std::slice::from_ref(&member)))
            }
            MembersCommand::ResetPassword { user_id } => {
                let reset = client.reset_password(&user_id).await?;
                let table = format!(
                    "one-time password for {}: {}   (shown once)",
                    reset.email, reset.one_time_password
                );
                (to_json(&reset), table)
            }
            MembersCommand::Remove { user_id } => {
                client.remove_member(&user_id).await?;
                let text = format!("removed {user_id}; their tokens in the account no longer work");
                (json!({"removed": true, "id": user_id}), text)
            }
        })
    };
    finish(output, result.await)
}

pub async fn audit(args: AuditArgs) -> ExitCode {
    let output = args.client.output;
    let query = AuditQuery {
        action: args.action,
        actor: args.actor,
        since: args.since,
        until: args.until,
        cursor: None,
        limit: Some(args.limit),
    };
    let format = match args.format.as_deref() {
        Some("csv") => Some(AuditFormat::Csv),
        Some(_) => Some(AuditFormat::JsonLines),
        None => None,
    };
    let result = async {
        let client = build(&args.client, &[])?;
        if let Some(format) = format {
            // An export is printed as the server wrote it, whatever --output says.
            let text = client.export_audit(&query, format).await?;
            crate::print_stdout(text.trim_end_matches('\n'));
            return Ok(None);
        }
        let page = client.audit(&query).await?;
        let rows: Vec<Vec<String>> = page
            .items
            .iter()
            .map(|e| {
                vec![
                    rfc3339(e.at),
                    e.actor.clone(),
                    e.action.clone(),
                    e.subject.clone(),
                    e.detail.clone(),
                ]
            })
            .collect();
        let table = render(&["AT", "ACTOR", "ACTION", "SUBJECT", "DETAIL"], &rows);
        Ok(Some((to_json(&page), table)))
    };
    match result.await {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(printed)) => finish(output, Ok(printed)),
        Err(error) => finish(output, Err(error)),
    }
}
