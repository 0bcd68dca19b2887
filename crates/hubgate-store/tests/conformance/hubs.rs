//! Hubs: lists, filters, patches, tenancy, removal.

use super::*;

pub async fn hubs_are_listed_per_account_with_filters_and_cursor(store: &dyn Store) {
    let (account, _) = account_with_owner(store).await;
    let (other, _) = account_with_owner(store).await;
    for new in demo_fleet() {
        store
            .insert_hub(&new.into_hub(account.id, now()), &audited(account.id))
            .await
            .unwrap();
    }
    let mut foreign = demo_fleet().remove(0);
    foreign.serial = "FOREIGN-1".into();
    store
        .insert_hub(&foreign.into_hub(other.id, now()), &audited(other.id))
        .await
        .unwrap();

    let all = store
        .list_hubs(account.id, &HubFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 6);
    let first = store
        .list_hubs(account.id, &HubFilter::default(), None, 4)
        .await
        .unwrap();
    let rest = store
        .list_hubs(account.id, &HubFilter::default(), Some(first[3].id), 4)
        .await
        .unwrap();
    assert_eq!([first, rest].concat(), all);

    let switches = HubFilter {
        kind: Some(HubKind::Switch),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_hubs(account.id, &switches, None, 100)
            .await
            .unwrap()
            .len(),
        2
    );
    let offline = HubFilter {
        online: Some(false),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_hubs(account.id, &offline, None, 100)
            .await
            .unwrap()
            .len(),
        1
    );
    let boardroom = HubFilter {
        room: Some("Boardroom".into()),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_hubs(account.id, &boardroom, None, 100)
            .await
            .unwrap()
            .len(),
        2
    );

    let mut duplicate = demo_fleet().remove(0);
    duplicate.name = "dup".into();
    assert!(matches!(
        store
            .insert_hub(&duplicate.into_hub(account.id, now()), &audited(account.id))
            .await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn a_hub_patch_changes_desired_but_not_reported_state(store: &dyn Store) {
    let (account, _) = account_with_owner(store).await;
    let hub = demo_fleet().remove(0).into_hub(account.id, now());
    store
        .insert_hub(&hub, &audited(hub.account_id))
        .await
        .unwrap();
    let patch =
        serde_json::from_value(json!({"name": "Renamed", "desired": {"mtrmode": false}})).unwrap();
    let change = HubChange::from_patch(patch).unwrap();
    let before = store.revocation_snapshot(now()).await.unwrap().seq;
    let patched = store
        .patch_hub(account.id, hub.id, &change, now())
        .await
        .unwrap()
        .unwrap();
    let logged: Vec<_> = store
        .changes_since(before)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    assert_eq!(
        logged,
        vec![Change::Hub(hub.id)],
        "caches elsewhere learn of the change"
    );
    assert_eq!(patched.name, "Renamed");
    assert_eq!(patched.desired.get("mtrmode"), Some(&json!(false)));
    assert_eq!(patched.state, hub.state);
    assert_eq!(store.hub(account.id, hub.id).await.unwrap(), Some(patched));

    let reported = serde_json::from_value(json!({"mtrmode": false, "active": 2})).unwrap();
    let after = store
        .report_hub_state(hub.id, &reported, now())
        .await
        .unwrap();
    assert_eq!(after.state, reported);
    assert!(after.online);
    assert!(matches!(
        store.report_hub_state(HubId::new(), &reported, now()).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn another_accounts_hub_is_invisible(store: &dyn Store) {
    let (account, _) = account_with_owner(store).await;
    let (other, _) = account_with_owner(store).await;
    let hub = demo_fleet().remove(0).into_hub(account.id, now());
    store
        .insert_hub(&hub, &audited(hub.account_id))
        .await
        .unwrap();
    assert_eq!(store.hub(other.id, hub.id).await.unwrap(), None);
    let patch = serde_json::from_value(json!({"name": "Mine now"})).unwrap();
    let change = HubChange::from_patch(patch).unwrap();
    assert_eq!(
        store
            .patch_hub(other.id, hub.id, &change, now())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.hub(account.id, hub.id).await.unwrap().unwrap().name,
        hub.name
    );
}

pub async fn a_removed_hub_is_gone_for_its_account_only(store: &dyn Store) {
    let (account, _) = account_with_owner(store).await;
    let (other, _) = account_with_owner(store).await;
    let hub = demo_fleet().remove(0).into_hub(account.id, now());
    store.insert_hub(&hub, &audited(account.id)).await.unwrap();
    let before = store.revocation_snapshot(now()).await.unwrap().seq;
    assert!(matches!(
        store
            .delete_hub(other.id, hub.id, now(), &audited(other.id))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store.hub(account.id, hub.id).await.unwrap().is_some(),
        "another account cannot remove it"
    );
    store
        .delete_hub(account.id, hub.id, now(), &audited(account.id))
        .await
        .unwrap();
    assert!(store.hub(account.id, hub.id).await.unwrap().is_none());
    let changes = store.changes_since(before).await.unwrap();
    assert!(
        changes.iter().any(|(_, c)| *c == Change::Hub(hub.id)),
        "nodes drop it from their caches"
    );
    assert!(matches!(
        store
            .delete_hub(account.id, hub.id, now(), &audited(account.id))
            .await,
        Err(StoreError::NotFound)
    ));
}
