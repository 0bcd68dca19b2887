//! An account's integrations: create, change, reveal and rotate the secret,
//! disable and enable, choose the acting user, delete.

use hubgate_core::account::Role;
use hubgate_core::audit::AuditAction;
use hubgate_core::ids::{AccountId, ClientId, IntegrationId, UserId};
use hubgate_core::integration::{Integration, IntegrationSettings, grace_until};
use hubgate_core::secret::ClientSecret;
use hubgate_store::StoreError;
use time::Duration;

use super::{AppError, Manager};

/// An integration just created or rotated, with its secret in plain text
/// for the one who asked: shown, never stored.
pub struct WithSecret {
    pub integration: Integration,
    pub secret: ClientSecret,
}

/// The longest grace period a rotated-out secret may keep working.
pub const MAX_GRACE: Duration = Duration::days(30);

impl Manager<'_> {
    pub async fn integrations(&self, account: AccountId) -> Result<Vec<Integration>, AppError> {
        self.require_member(account)?;
        Ok(self.store.list_integrations(Some(account)).await?)
    }

    /// The integration with this client_id in the actor's account; one of
    /// another account is not found. The operator finds any.
    pub async fn integration(&self, client_id: &str) -> Result<Integration, AppError> {
        let not_found = || AppError::NotFound("integration");
        let client_id = ClientId::parse(client_id).ok_or_else(not_found)?;
        let integration = self
            .store
            .integration_by_client_id(&client_id)
            .await?
            .ok_or_else(not_found)?;
        match self.actor.account() {
            Some(account) if integration.account_id != account => Err(not_found()),
            _ if !self.actor.is_operator() && self.actor.account().is_none() => Err(not_found()),
            _ => Ok(integration),
        }
    }

    /// Creates an integration for `account`. Its client_credentials tokens
    /// act through `acting_user`, who must be a member whose role covers the
    /// scopes; `None` picks the actor's user (for the operator, the account's
    /// first owner).
    pub async fn create_integration(
        &self,
        account: AccountId,
        settings: IntegrationSettings,
        acting_user: Option<UserId>,
    ) -> Result<WithSecret, AppError> {
        self.require_manage(account)?;
        // Acting through someone else borrows their role: an owner's choice
        // (an admin's integration acting through an owner could make owners).
        if let Some(chosen) = acting_user
            && Some(chosen) != self.actor.user()
        {
            self.require_role(
                account,
                Role::Owner,
                "choose who an integration acts through: only owners do",
            )?;
        }
        self.store
            .account_by_id(account)
            .await?
            .ok_or(AppError::NotFound("account"))?;
        let acting = match acting_user.or(self.actor.user()) {
            Some(user) => user,
            None => self
                .store
                .account_members(account)
                .await?
                .first()
                .map(|(user, _)| user.id)
                .ok_or_else(|| {
                    AppError::Invalid(
                        "the account has no members: add a user first (its client_credentials tokens act for that user)"
                            .into(),
                    )
                })?,
        };
        let id = IntegrationId::new();
        let secret = ClientSecret::generate();
        let integration = Integration {
            id,
            account_id: account,
            name: settings.name,
            client_id: ClientId::generate(),
            redirect_uris: settings.redirect_uris,
            scopes: settings.scopes,
            enabled: true,
            refresh_on_client_credentials: settings.refresh_on_client_credentials,
            require_pkce: settings.require_pkce,
            access_token_ttl: settings.access_token_ttl,
            refresh_token_ttl: settings.refresh_token_ttl,
            created_by: self.actor.user().unwrap_or(acting),
            acting_user: acting,
            created_at: self.now,
            sealed_secret: secret.seal(self.master, id),
            sealed_previous_secret: None,
            previous_secret_expires_at: None,
            token_epoch: 0,
        };
        let event = self.event(
            account,
            AuditAction::IntegrationCreated,
            integration.client_id.as_str(),
            &format!("{} ({})", integration.name, integration.scopes),
        );
        self.store.insert_integration(&integration, &event).await?;
        Ok(WithSecret {
            integration,
            secret,
        })
    }

    /// Replaces the integration's settings. Narrower scopes apply to tokens
    /// already issued too (a token carrying a removed scope stops working);
    /// a removed redirect URI serves no new authorization.
    pub async fn update_integration(
        &self,
        mut integration: Integration,
        settings: IntegrationSettings,
    ) -> Result<Integration, AppError> {
        self.require_manage(integration.account_id)?;
        self.require_power_over(&integration, "change its settings")
            .await?;
        let mut changed = Vec::new();
        if integration.name != settings.name {
            changed.push(format!("name {:?}", settings.name));
        }
        if integration.redirect_uris != settings.redirect_uris {
            changed.push("redirect URIs".to_owned());
        }
        if integration.scopes != settings.scopes {
            changed.push(format!("scopes {}", settings.scopes));
        }
        if (
            integration.refresh_on_client_credentials,
            integration.require_pkce,
        ) != (
            settings.refresh_on_client_credentials,
            settings.require_pkce,
        ) {
            changed.push("options".to_owned());
        }
        if (integration.access_token_ttl, integration.refresh_token_ttl)
            != (settings.access_token_ttl, settings.refresh_token_ttl)
        {
            changed.push("token lifetimes".to_owned());
        }
        integration.name = settings.name;
        integration.redirect_uris = settings.redirect_uris;
        integration.scopes = settings.scopes;
        integration.refresh_on_client_credentials = settings.refresh_on_client_credentials;
        integration.require_pkce = settings.require_pkce;
        integration.access_token_ttl = settings.access_token_ttl;
        integration.refresh_token_ttl = settings.refresh_token_ttl;
        self.write(
            &integration,
            AuditAction::IntegrationUpdated,
            &changed.join(", "),
        )
        .await?;
        Ok(integration)
    }

    /// The secret in plain text, for the integration's admins; every reveal
    /// is audited (before it is shown).
    pub async fn reveal_secret(&self, integration: &Integration) -> Result<ClientSecret, AppError> {
        self.require_manage(integration.account_id)?;
        self.require_power_over(integration, "see its secret")
            .await?;
        let secret = open_secret(self.master, integration)?;
        let event = self.event(
            integration.account_id,
            AuditAction::IntegrationSecretRevealed,
            integration.client_id.as_str(),
            "",
        );
        self.store.append_audit(&[event]).await?;
        Ok(secret)
    }

    /// Replaces the secret. With a grace period the old secret keeps working
    /// until it ends and issued tokens stay valid; without one the old secret
    /// and every token issued so far stop working at once.
    pub async fn rotate_secret(
        &self,
        mut integration: Integration,
        grace: Duration,
    ) -> Result<WithSecret, AppError> {
        self.require_manage(integration.account_id)?;
        self.require_power_over(&integration, "rotate its secret")
            .await?;
        if grace < Duration::ZERO || grace > MAX_GRACE {
            return Err(AppError::Invalid(
                "the grace period must be between 0 and 30 days".into(),
            ));
        }
        let secret = ClientSecret::generate();
        let detail = match grace_until(self.now, grace) {
            Some(until) => {
                integration.sealed_previous_secret = Some(integration.sealed_secret.clone());
                integration.previous_secret_expires_at = Some(until);
                format!("old secret valid for {} s more", grace.whole_seconds())
            }
            None => {
                integration.sealed_previous_secret = None;
                integration.previous_secret_expires_at = None;
                integration.token_epoch += 1;
                "old secret and its tokens revoked at once".to_owned()
            }
        };
        integration.sealed_secret = secret.seal(self.master, integration.id);
        self.write(&integration, AuditAction::IntegrationSecretRotated, &detail)
            .await?;
        Ok(WithSecret {
            integration,
            secret,
        })
    }

    /// Disabling stops the integration's client from authenticating and its
    /// tokens from working at once, for good: it also moves the token epoch
    /// on, so enabling again lets only newly issued tokens work.
    pub async fn set_enabled(
        &self,
        mut integration: Integration,
        enabled: bool,
    ) -> Result<Integration, AppError> {
        self.require_manage(integration.account_id)?;
        if integration.enabled && !enabled {
            integration.token_epoch += 1;
        }
        integration.enabled = enabled;
        let action = if enabled {
            AuditAction::IntegrationEnabled
        } else {
            AuditAction::IntegrationDisabled
        };
        self.write(&integration, action, "").await?;
        Ok(integration)
    }

    /// Makes `user` the member the integration's client_credentials tokens
    /// act through. The store refuses a user who is not a member or whose
    /// role does not cover the integration's scopes. Tokens issued so far
    /// keep acting through the previous user until they expire or that user
    /// leaves.
    pub async fn set_acting_user(
        &self,
        mut integration: Integration,
        user: UserId,
    ) -> Result<Integration, AppError> {
        self.require_manage(integration.account_id)?;
        // Who an integration borrows its rights from is an owner's choice.
        self.require_role(
            integration.account_id,
            Role::Owner,
            "choose who an integration acts through: only owners do",
        )?;
        let (member, _) = self.member(integration.account_id, user).await?;
        integration.acting_user = user;
        self.write(
            &integration,
            AuditAction::IntegrationActingUserChanged,
            &member.email,
        )
        .await?;
        Ok(integration)
    }

    /// Deletes the integration; its tokens stop working at once.
    pub async fn delete_integration(&self, integration: &Integration) -> Result<(), AppError> {
        self.require_manage(integration.account_id)?;
        let event = self.event(
            integration.account_id,
            AuditAction::IntegrationDeleted,
            integration.client_id.as_str(),
            &integration.name,
        );
        match self.store.delete_integration(integration.id, &event).await {
            Err(StoreError::NotFound) => Err(AppError::NotFound("integration")),
            other => Ok(other?),
        }
    }

    /// An integration acts with its acting user's role: only someone of at
    /// least that role may hold its secret or widen what it may do (else an
    /// admin could act as an owner through an owner's integration).
    async fn require_power_over(
        &self,
        integration: &Integration,
        to: &str,
    ) -> Result<(), AppError> {
        let Some(mine) = self.actor.role_in(integration.account_id) else {
            return Ok(()); // the operator (others were refused by require_manage)
        };
        if self.actor.user() == Some(integration.acting_user) {
            return Ok(());
        }
        let theirs = self
            .store
            .membership(integration.account_id, integration.acting_user)
            .await?;
        match theirs {
            // Above a member there are only admins and owners: "an" fits both.
            Some(theirs) if theirs > mine => Err(AppError::Forbidden(format!(
                "this integration acts through an {theirs}: only an {theirs} may {to}"
            ))),
            _ => Ok(()),
        }
    }

    async fn write(
        &self,
        integration: &Integration,
        action: AuditAction,
        detail: &str,
    ) -> Result<(), AppError> {
        let event = self.event(
            integration.account_id,
            action,
            integration.client_id.as_str(),
            detail,
        );
        match self.store.update_integration(integration, &event).await {
            Err(StoreError::NotFound) => Err(AppError::NotFound("integration")),
            other => Ok(other?),
        }
    }
}

/// Opens the integration's sealed secret with the master key.
pub fn open_secret(
    master: &hubgate_core::crypto::MasterKey,
    integration: &Integration,
) -> Result<ClientSecret, AppError> {
    ClientSecret::open(master, integration.id, &integration.sealed_secret)
        .map_err(|_| AppError::Invalid("the secret does not open with this master key".into()))
}
