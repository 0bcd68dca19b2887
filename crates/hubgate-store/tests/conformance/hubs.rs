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

    // The ids-only page and the hubs by id give the same lists.
    let offline_first = store
        .list_hubs(account.id, &offline, None, 100)
        .await
        .unwrap();
    for (filter, after, limit) in [
        (HubFilter::default(), None, 100),
        (HubFilter::default(), None, 4),
        (HubFilter::default(), Some(all[3].id), 4),
        (boardroom.clone(), None, 100),
        (switches.clone(), None, 1),
        (offline.clone(), Some(offline_first[0].id), 100),
    ] {
        let hubs = store
            .list_hubs(account.id, &filter, after, limit)
            .await
            .unwrap();
        let ids = store
            .list_hub_ids(account.id, &filter, after, limit)
            .await
            .unwrap();
        assert_eq!(
            ids,
            hubs.iter().map(|h| h.id).collect::<Vec<_>>(),
            "{filter:?}"
        );
    }
    let mut by_id = store
        .hubs_by_ids(account.id, &all.iter().map(|h| h.id).collect::<Vec<_>>())
        .await
        .unwrap();
    by_id.sort_by_key(|h| h.id.to_string());
    assert_eq!(by_id, all);
    let foreign_ids = store
        .list_hub_ids(other.id, &HubFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(foreign_ids.len(), 1);
    assert_eq!(
        store.hubs_by_ids(account.id, &foreign_ids).await.unwrap(),
        [],
        "another account's hub is not found by id"
    );
    assert_eq!(
        store
            .list_hub_ids(account.id, &offline, Some(offline_first[0].id), 100)
            .await
            .unwrap(),
        [],
        "an empty page"
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

pub async fn a_device_credential_is_kept_as_a_digest_replaced_and_revoked(store: &dyn Store) {
    let (account, _) = account_with_owner(store).await;
    let (other, _) = account_with_owner(store).await;
    let hub = demo_fleet().remove(0).into_hub(account.id, now());
    store.insert_hub(&hub, &audited(account.id)).await.unwrap();
    let fresh = store.device_by_serial(&hub.serial).await.unwrap().unwrap();
    assert_eq!((fresh.hub, fresh.account), (hub.id, account.id));
    assert_eq!(
        fresh.credential_digest, None,
        "no credential until one is issued"
    );

    let digest = [7u8; 32];
    store
        .set_device_credential(
            account.id,
            hub.id,
            Some(digest),
            now(),
            &audited(account.id),
        )
        .await
        .unwrap();
    let from = store.changes_since(0).await.unwrap().last().unwrap().0;
    assert_eq!(
        store
            .device_of_hub(hub.id)
            .await
            .unwrap()
            .unwrap()
            .credential_digest,
        Some(digest)
    );
    let foreign = store
        .set_device_credential(other.id, hub.id, None, now(), &audited(other.id))
        .await;
    assert!(
        matches!(foreign, Err(StoreError::NotFound)),
        "another account's hub is not found"
    );
    store
        .set_device_credential(account.id, hub.id, None, now(), &audited(account.id))
        .await
        .unwrap();
    assert_eq!(
        store
            .device_by_serial(&hub.serial)
            .await
            .unwrap()
            .unwrap()
            .credential_digest,
        None
    );
    let changes = store.changes_since(from).await.unwrap();
    assert!(
        changes.iter().any(|(_, c)| *c == Change::Hub(hub.id)),
        "a revocation reaches every node through the change log"
    );
    assert!(
        store
            .device_by_serial("NO-SUCH-HUB")
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn reports_merge_in_one_write_and_count_versions(store: &dyn Store) {
    let (account, _) = account_with_owner(store).await;
    let hub = demo_fleet().remove(0).into_hub(account.id, now());
    store.insert_hub(&hub, &audited(account.id)).await.unwrap();
    let gone = demo_fleet().remove(1).into_hub(account.id, now());
    let seen = now() + time::Duration::seconds(30);
    let report = |hub: HubId, state: serde_json::Value, reports, online| hubgate_store::HubReport {
        hub,
        state: state.as_object().unwrap().clone(),
        reports,
        online,
        seen,
    };
    store
        .record_hub_reports(&[
            report(
                hub.id,
                json!({"active": 3, "connected": [0, 0, 1, 0]}),
                2,
                Some(false),
            ),
            // A hub deleted meanwhile is skipped, not an error for the batch.
            report(gone.id, json!({"active": 1}), 1, None),
        ])
        .await
        .unwrap();
    let after = store.hub(account.id, hub.id).await.unwrap().unwrap();
    assert_eq!(after.state.get("active"), Some(&json!(3)));
    assert_eq!(
        after.state.get("mtrmode"),
        hub.state.get("mtrmode"),
        "a partial report keeps the other keys"
    );
    assert_eq!(after.reported_version, hub.reported_version + 2);
    assert!(!after.online);
    assert_eq!(after.last_seen, Some(seen));
    assert_eq!(after.desired_version, 0);

    let change: HubChange = HubChange::from_patch(
        serde_json::from_value(json!({"desired": {"mtrmode": false}})).unwrap(),
    )
    .unwrap();
    let patched = store
        .patch_hub(account.id, hub.id, &change, now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(patched.desired_version, 1);
    assert_eq!(
        store
            .hub(account.id, hub.id)
            .await
            .unwrap()
            .unwrap()
            .desired_version,
        1,
        "the desired version is stored"
    );
}
