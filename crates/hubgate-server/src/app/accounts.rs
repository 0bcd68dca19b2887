//! The operator's work on the store itself: accounts, users, the master key.

use hubgate_core::account::{Account, Role, User, clean_email, clean_name};
use hubgate_core::audit::AuditAction;
use hubgate_core::ids::{AccountId, UserId};

use super::{AppError, Manager, invalid};

impl Manager<'_> {
    pub async fn create_account(&self, name: &str) -> Result<Account, AppError> {
        if !self.actor.is_operator() {
            return Err(AppError::Forbidden(
                "accounts are created by the operator".into(),
            ));
        }
        let account = Account {
            id: AccountId::new(),
            name: clean_name(name, 100).map_err(invalid)?,
            created_at: self.now,
        };
        let event = self.event(
            account.id,
            AuditAction::AccountCreated,
            &account.id.to_string(),
            &account.name,
        );
        self.store.insert_account(&account, &event).await?;
        Ok(account)
    }

    /// Creates a user with `password` and, with `account`, gives them a role
    /// there. `one_time`: the password must be changed at the first login.
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        one_time: bool,
        account: Option<(AccountId, Role)>,
    ) -> Result<User, AppError> {
        if let Some((account, _)) = account {
            self.require_manage(account)?;
        } else if !self.actor.is_operator() {
            return Err(AppError::Forbidden(
                "users outside an account are created by the operator".into(),
            ));
        }
        let email = clean_email(email).map_err(invalid)?;
        let password_hash = super::passwords::hash(password).await?;
        if let Some((account_id, _)) = account {
            self.store
                .account_by_id(account_id)
                .await?
                .ok_or(AppError::NotFound("account"))?;
        }
        let user = User {
            id: UserId::new(),
            email,
            password_hash,
            must_change_password: one_time,
            created_at: self.now,
        };
        self.store.insert_user(&user).await?;
        if let Some((account_id, role)) = account {
            self.write_role(account_id, &user, role, AuditAction::MemberAdded)
                .await?;
        }
        Ok(user)
    }

    /// A user (or the operator for them) withdraws their consent to an
    /// integration in an account: it will ask again, and every token the
    /// consent granted stops working at once.
    pub async fn withdraw_consent(
        &self,
        user: UserId,
        account: AccountId,
        integration: hubgate_core::ids::IntegrationId,
    ) -> Result<(), AppError> {
        if !self.actor.is_operator() && self.actor.user() != Some(user) {
            return Err(AppError::Forbidden(
                "only a user withdraws their own consent".into(),
            ));
        }
        let name = self
            .store
            .integration_by_id(integration)
            .await?
            .map(|i| i.client_id.to_string())
            .unwrap_or_else(|| integration.to_string());
        let event = self.event(account, AuditAction::ConsentWithdrawn, &name, "");
        let until = super::grants_revoked_until(self.now);
        self.store
            .delete_consent(user, account, integration, self.now, until, &event)
            .await?;
        Ok(())
    }
}

/// Checks that `master` is the key the store's secrets were sealed with: it
/// must open the signing keys `hubgate serve` writes at its first start (or,
/// before any, an integration's secret). A wrong key would otherwise seal new
/// secrets no server can open.
pub async fn verify_master_key(
    store: &dyn hubgate_store::Store,
    master: &hubgate_core::crypto::MasterKey,
) -> Result<(), AppError> {
    let wrong = || {
        AppError::Invalid(
            "the master key does not open this store's secrets: use the key `hubgate serve` uses for it \
             (HUBGATE_MASTER_KEY, or master.key in its data directory)"
                .into(),
        )
    };
    let keys = store.signing_keys().await?;
    if !keys.is_empty() {
        let opens = keys
            .iter()
            .any(|key| hubgate_core::tokens::AccessTokenSigner::open(master, key).is_ok());
        return opens.then_some(()).ok_or_else(wrong);
    }
    match store.list_integrations(None).await?.first() {
        Some(integration) => super::integrations::open_secret(master, integration)
            .map(drop)
            .map_err(|_| wrong()),
        None => Ok(()),
    }
}
