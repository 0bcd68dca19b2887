//! The first start on an empty store: an owner, an account "Demo" and,
//! unless asked not to, a demo fleet of hubs and switches.

use hubgate_core::account::{Account, Membership, Role, User};
use hubgate_core::hub::demo_fleet;
use hubgate_core::password;
use hubgate_store::Store;
use time::OffsetDateTime;

use crate::manage::{self, ManageError};

pub struct BootstrapOptions {
    pub admin_email: String,
    pub demo_hubs: bool,
}

/// What the first start created; the password is shown once and never again.
pub struct Bootstrapped {
    pub user: User,
    pub password: String,
    pub account: Account,
    pub hubs: usize,
}

/// Seeds an empty store; returns `None` when it already has users.
pub async fn bootstrap(
    store: &dyn Store,
    options: &BootstrapOptions,
    now: OffsetDateTime,
) -> Result<Option<Bootstrapped>, ManageError> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    // The user first: when several nodes start on one empty database, the
    // unique email lets exactly one of them bootstrap.
    let password = password::generate_password();
    let user = match manage::create_user(store, &options.admin_email, &password, None, now).await {
        Err(ManageError::Conflict(_)) => return Ok(None),
        other => other?,
    };
    let account = manage::create_account(store, "Demo", now).await?;
    let owner = Membership {
        account_id: account.id,
        user_id: user.id,
        role: Role::Owner,
    };
    store
        .put_membership(&owner, manage::Authority::Operator.write(now))
        .await?;
    let mut hubs = 0;
    if options.demo_hubs {
        for new in demo_fleet() {
            store.insert_hub(&new.into_hub(account.id, now)).await?;
            hubs += 1;
        }
    }
    Ok(Some(Bootstrapped {
        user,
        password,
        account,
        hubs,
    }))
}
