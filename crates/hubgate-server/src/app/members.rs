//! An account's members: add or invite, change a role, remove, reset a
//! password. The store keeps the account's invariants in the write itself
//! (at least one owner; only owners make or unmake owners; acting users keep
//! a role that covers their integrations).

use hubgate_core::account::{Membership, Role, User, clean_email};
use hubgate_core::audit::AuditAction;
use hubgate_core::ids::{AccountId, UserId};
use hubgate_core::password;
use hubgate_store::StoreError;

use super::{AppError, Manager, invalid};

/// A member just added: with a one-time password when they were invited
/// (they had no user yet), shown once to whoever added them.
pub struct Added {
    pub user: User,
    pub role: Role,
    pub one_time_password: Option<String>,
}

impl Manager<'_> {
    pub async fn members(&self, account: AccountId) -> Result<Vec<(User, Role)>, AppError> {
        self.require_member(account)?;
        Ok(self.store.account_members(account).await?)
    }

    /// One member of the account; someone else is not found.
    pub async fn member(&self, account: AccountId, user: UserId) -> Result<(User, Role), AppError> {
        self.require_member(account)?;
        let role = self
            .store
            .membership(account, user)
            .await?
            .ok_or(AppError::NotFound("member"))?;
        let user = self
            .store
            .user_by_id(user)
            .await?
            .ok_or(AppError::NotFound("member"))?;
        Ok((user, role))
    }

    /// Adds the user with this email to the account, or changes the role of
    /// one already there. With `invite`, an unknown email becomes a new user
    /// with a one-time password; without it, an unknown email is not found.
    pub async fn add_member(
        &self,
        account: AccountId,
        email: &str,
        role: Role,
        invite: bool,
    ) -> Result<Added, AppError> {
        self.require_manage(account)?;
        let email = clean_email(email).map_err(invalid)?;
        let Some(user) = self.store.user_by_email(&email).await? else {
            if !invite {
                return Err(AppError::NotFound("user"));
            }
            let one_time = password::generate_password();
            let user = self
                .create_user(&email, &one_time, true, Some((account, role)))
                .await?;
            return Ok(Added {
                user,
                role,
                one_time_password: Some(one_time),
            });
        };
        self.write_role(account, &user, role, AuditAction::MemberAdded)
            .await?;
        Ok(Added {
            user,
            role,
            one_time_password: None,
        })
    }

    /// Gives `user` `role` in `account`, with its audit event, under the
    /// store's membership rules.
    pub(super) async fn write_role(
        &self,
        account: AccountId,
        user: &User,
        role: Role,
        action: AuditAction,
    ) -> Result<(), AppError> {
        let membership = Membership {
            account_id: account,
            user_id: user.id,
            role,
        };
        let event = self.event(account, action, &user.email, role.as_str());
        match self
            .store
            .put_membership(&membership, self.membership_write(), &event)
            .await
        {
            // The account (or the user) went away meanwhile.
            Err(StoreError::NotFound) => Err(AppError::NotFound("account")),
            other => Ok(other?),
        }
    }

    /// Changes a member's role; a role that may delegate less revokes the
    /// member's grants in the account.
    pub async fn set_role(
        &self,
        account: AccountId,
        user: UserId,
        role: Role,
    ) -> Result<User, AppError> {
        self.require_manage(account)?;
        let (user, _) = self.member(account, user).await?;
        self.write_role(account, &user, role, AuditAction::MemberRoleChanged)
            .await?;
        Ok(user)
    }

    /// Removes a member and revokes every token acting for them in the account.
    pub async fn remove_member(&self, account: AccountId, user: UserId) -> Result<User, AppError> {
        self.require_manage(account)?;
        let (user, _) = self.member(account, user).await?;
        let event = self.event(account, AuditAction::MemberRemoved, &user.email, "");
        match self
            .store
            .remove_membership(account, user.id, self.membership_write(), &event)
            .await
        {
            Err(StoreError::NotFound) => Err(AppError::NotFound("member")),
            other => Ok(other.map(|()| user)?),
        }
    }

    /// Gives a member a new one-time password (returned, shown once) and ends
    /// their sessions. An owner's password only an owner resets: otherwise an
    /// admin could take over an owner's login.
    pub async fn reset_password(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<(User, String), AppError> {
        self.require_manage(account)?;
        let (user, role) = self.member(account, user).await?;
        if self
            .actor
            .role_in(account)
            .is_some_and(|mine| !mine.may_reset_password_of(role))
        {
            return Err(AppError::Forbidden(
                "only an owner resets an owner's password".into(),
            ));
        }
        if self.actor.user() == Some(user.id) {
            return Err(AppError::Invalid(
                "change your own password with your current one, not by a reset".into(),
            ));
        }
        let one_time = password::generate_password();
        let hash = super::passwords::hash(&one_time).await?;
        let event = self.event(account, AuditAction::MemberPasswordReset, &user.email, "");
        self.write_password(&user, &hash, true, None, vec![event])
            .await?;
        Ok((user, one_time))
    }
}
