//! Consents.

use super::*;

pub async fn consents_are_kept_per_user_account_and_integration(store: &dyn Store) {
    use hubgate_store::Consent;
    let (account, user) = account_with_owner(store).await;
    let integration = integration(account.id, user.id);
    store
        .insert_integration(&integration, &audited(integration.account_id))
        .await
        .unwrap();
    let consent = Consent {
        user_id: user.id,
        account_id: account.id,
        integration_id: integration.id,
        scope: ScopeSet::parse("sub").unwrap(),
        granted_at: now(),
    };
    store.put_consent(&consent).await.unwrap();
    let wider = Consent {
        scope: ScopeSet::parse("sub email").unwrap(),
        ..consent.clone()
    };
    store.put_consent(&wider).await.unwrap();
    assert_eq!(
        store
            .consent(user.id, account.id, integration.id)
            .await
            .unwrap(),
        Some(wider.clone())
    );
    assert_eq!(store.consents_of_user(user.id).await.unwrap(), vec![wider]);
    assert_eq!(
        store
            .consent(user.id, AccountId::new(), integration.id)
            .await
            .unwrap(),
        None
    );
    store
        .delete_consent(
            user.id,
            account.id,
            integration.id,
            now(),
            until(),
            &audited(account.id),
        )
        .await
        .unwrap();
    assert_eq!(store.consents_of_user(user.id).await.unwrap(), vec![]);
}
