//! Integrations.

use super::*;

pub async fn integrations_round_trip_and_log_changes(store: &dyn Store) {
    let (account, user) = account_with_owner(store).await;
    let start = store.revocation_snapshot(now()).await.unwrap().seq;
    let mut integration = integration(account.id, user.id);
    store
        .insert_integration(&integration, &audited(integration.account_id))
        .await
        .unwrap();
    assert_eq!(
        store.integration_by_id(integration.id).await.unwrap(),
        Some(integration.clone())
    );
    assert_eq!(
        store
            .integration_by_client_id(&integration.client_id)
            .await
            .unwrap(),
        Some(integration.clone())
    );

    integration.enabled = false;
    integration.token_epoch = 3;
    store
        .update_integration(&integration, &audited(integration.account_id))
        .await
        .unwrap();
    assert_eq!(
        store.integration_by_id(integration.id).await.unwrap(),
        Some(integration.clone())
    );
    assert_eq!(
        store.list_integrations(Some(account.id)).await.unwrap(),
        vec![integration.clone()]
    );
    assert_eq!(
        store
            .list_integrations(Some(AccountId::new()))
            .await
            .unwrap(),
        vec![]
    );

    store
        .delete_integration(integration.id, &audited(integration.account_id))
        .await
        .unwrap();
    assert_eq!(store.integration_by_id(integration.id).await.unwrap(), None);
    assert!(matches!(
        store
            .delete_integration(integration.id, &audited(integration.account_id))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .update_integration(&integration, &audited(integration.account_id))
            .await,
        Err(StoreError::NotFound)
    ));

    let changes = store.changes_since(start).await.unwrap();
    let kinds: Vec<_> = changes.iter().map(|(_, c)| c.clone()).collect();
    assert_eq!(kinds, vec![Change::Integration(integration.id); 3]);
    assert!(
        changes.windows(2).all(|w| w[0].0 < w[1].0),
        "sequence numbers increase"
    );
}
