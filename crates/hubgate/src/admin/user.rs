//! `hubgate admin user …`: users, their memberships, passwords and consents.

use hubgate_server::app::{AppError, Manager};
use serde_json::{Value, json};

use crate::cli::UserCommand;

use super::{AdminError, Printed, invalid, parse_account, parse_role, time_text, user_by_email};

pub(super) async fn user(
    manager: &Manager<'_>,
    command: UserCommand,
) -> Result<Printed, AdminError> {
    let store = manager.store;
    match command {
        UserCommand::Create {
            email,
            password,
            account,
            role,
        } => {
            let membership = match (account, role) {
                (Some(account), Some(role)) => Some((parse_account(&account)?, parse_role(&role)?)),
                _ => None,
            };
            let generated = password.is_none();
            let password = password.unwrap_or_else(hubgate_core::password::generate_password);
            // A generated password is one-time: changed at the first login.
            let user = manager
                .create_user(&email, &password, generated, membership)
                .await?;
            let mut json = json!({"id": user.id, "email": user.email});
            let mut text = format!("created user {} ({})", user.email, user.id);
            if let Some((account, role)) = membership {
                json["account"] = json!(account);
                json["role"] = json!(role);
                text.push_str(&format!(", {role} of {account}"));
            }
            if generated {
                json["password"] = json!(password);
                text.push_str(&format!(
                    "\none-time password: {password}   (shown once; to be changed at the first login)"
                ));
            }
            Ok(Printed { json, text })
        }
        UserCommand::Consents { email } => {
            let user = user_by_email(store, &email).await?;
            let consents = store
                .consents_of_user(user.id)
                .await
                .map_err(AppError::from)?;
            let mut json = Vec::new();
            let mut lines = Vec::new();
            for consent in consents {
                let integration = store
                    .integration_by_id(consent.integration_id)
                    .await
                    .map_err(AppError::from)?;
                let (client_id, name) = integration
                    .map(|i| (i.client_id.to_string(), i.name))
                    .unwrap_or_default();
                lines.push(format!(
                    "{client_id}  {}  {}  {name}",
                    consent.account_id, consent.scope
                ));
                json.push(json!({
                    "client_id": client_id, "integration": name, "account": consent.account_id,
                    "scope": consent.scope.to_string(), "granted_at": time_text(consent.granted_at),
                }));
            }
            let text = if lines.is_empty() {
                "no consents".to_owned()
            } else {
                lines.join("\n")
            };
            Ok(Printed {
                json: Value::Array(json),
                text,
            })
        }
        UserCommand::WithdrawConsent {
            email,
            client_id,
            account,
        } => {
            let user = user_by_email(store, &email).await?;
            let integration = manager.integration(&client_id).await?;
            let account = parse_account(&account)?;
            manager
                .withdraw_consent(user.id, account, integration.id)
                .await?;
            Ok(Printed {
                json: json!({"withdrawn": true, "client_id": client_id, "account": account}),
                text: format!("{} will ask {} again", integration.name, user.email),
            })
        }
        UserCommand::AddMember {
            email,
            account,
            role,
        } => {
            let (account, role) = (parse_account(&account)?, parse_role(&role)?);
            let user = manager.add_member(account, &email, role, false).await?.user;
            Ok(Printed {
                json: json!({"id": user.id, "email": user.email, "account": account, "role": role}),
                text: format!("{} is now {role} of {account}", user.email),
            })
        }
        UserCommand::SetPassword { email, generate } => {
            let given = if generate {
                None
            } else {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).map_err(|e| {
                    invalid(format!("cannot read the password from standard input: {e}"))
                })?;
                Some(line.trim_end_matches(['\r', '\n']).to_owned())
            };
            let (user, one_time) = manager.set_password(&email, given.as_deref()).await?;
            let mut json = json!({"id": user.id, "email": user.email});
            let mut text = format!(
                "{}'s password is set; their sessions have ended",
                user.email
            );
            if let Some(password) = one_time {
                json["password"] = json!(password);
                text.push_str(&format!(
                    "\none-time password: {password}   (shown once; to be changed at the next login)"
                ));
            }
            Ok(Printed { json, text })
        }
        UserCommand::RemoveMember { email, account } => {
            let account = parse_account(&account)?;
            let user = user_by_email(store, &email).await?;
            manager.remove_member(account, user.id).await?;
            Ok(Printed {
                json: json!({"removed": true, "id": user.id, "email": user.email, "account": account}),
                text: format!(
                    "{} is no longer a member of {account}; their tokens there are revoked",
                    user.email
                ),
            })
        }
    }
}
