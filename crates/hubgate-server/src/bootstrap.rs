//! The first start on an empty store: an owner, an account "Demo" and,
//! unless asked not to, a demo fleet of hubs and switches.

use hubgate_core::account::{Account, Role, User};
use hubgate_core::audit::AuditAction;
use hubgate_core::crypto::MasterKey;
use hubgate_core::hub::demo_fleet;
use hubgate_core::password;
use hubgate_store::Store;
use time::OffsetDateTime;

use crate::app::{Actor, AppError, Manager};

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
    master: &MasterKey,
    options: &BootstrapOptions,
    now: OffsetDateTime,
) -> Result<Option<Bootstrapped>, AppError> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let operator = Actor::Operator;
    let manager = Manager::new(store, master, &operator, now);
    // The user first: when several nodes start on one empty database, the
    // unique email lets exactly one of them bootstrap.
    let password = password::generate_password();
    let user = match manager
        .create_user(&options.admin_email, &password, false, None)
        .await
    {
        Err(AppError::Conflict(_)) => return Ok(None),
        other => other?,
    };
    let account = manager.create_account("Demo").await?;
    manager
        .add_member(account.id, &user.email, Role::Owner, false)
        .await?;
    let mut hubs = 0;
    if options.demo_hubs {
        for new in demo_fleet() {
            let hub = new.into_hub(account.id, now);
            let event = manager.event(
                account.id,
                AuditAction::HubCreated,
                &hub.id.to_string(),
                &hub.name,
            );
            store.insert_hub(&hub, &event).await?;
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
