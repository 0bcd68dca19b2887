//! The audit log, written with the changes it records; the readiness probe.

use super::*;

pub async fn the_audit_log_keeps_events_per_account_newest_first(store: &dyn Store) {
    use hubgate_store::{AuditEvent, AuditQuery};
    let (account, user) = account_with_owner(store).await;
    let (other, _) = account_with_owner(store).await;
    let event = |account_id, action: AuditAction, actor: &str| AuditEvent {
        account_id,
        at: now(),
        actor: actor.into(),
        action,
        subject: "hgc_x".into(),
        detail: String::new(),
    };
    store
        .append_audit(&[
            event(account.id, AuditAction::IntegrationCreated, "kim"),
            event(account.id, AuditAction::TokenIssued, "hgc_x"),
            event(account.id, AuditAction::TokenIssued, "hgc_y"),
        ])
        .await
        .unwrap();
    store
        .append_audit(&[event(other.id, AuditAction::TokenIssued, "hgc_x")])
        .await
        .unwrap();
    let query = |action, actor: Option<&str>, before, limit| AuditQuery {
        action,
        actor: actor.map(str::to_owned),
        before,
        limit,
        ..Default::default()
    };
    let tokens = store
        .audit_events(
            account.id,
            &query(Some(AuditAction::TokenIssued), None, None, 10),
        )
        .await
        .unwrap();
    assert_eq!(
        tokens
            .iter()
            .map(|e| e.event.actor.as_str())
            .collect::<Vec<_>>(),
        ["hgc_y", "hgc_x"],
        "newest first, this account's only"
    );
    let first = store
        .audit_events(account.id, &query(None, None, None, 1))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].event.actor, "hgc_y");
    let next = store
        .audit_events(account.id, &query(None, None, Some(first[0].seq), 2))
        .await
        .unwrap();
    assert_eq!(
        next.iter()
            .map(|e| e.event.actor.as_str())
            .collect::<Vec<_>>(),
        ["hgc_x", "kim"],
        "the page before the cursor"
    );
    let by_kim = store
        .audit_events(account.id, &query(None, Some("kim"), None, 10))
        .await
        .unwrap();
    assert_eq!(by_kim.len(), 1);
    assert_eq!(by_kim[0].event.action, AuditAction::IntegrationCreated);
    let later = AuditQuery {
        since: Some(now() + time::Duration::hours(1)),
        limit: 10,
        ..Default::default()
    };
    assert!(
        store
            .audit_events(account.id, &later)
            .await
            .unwrap()
            .is_empty()
    );

    let integration = integration(account.id, user.id);
    store
        .insert_integration(&integration, &audited(integration.account_id))
        .await
        .unwrap();
    assert_eq!(
        store.integration_last_used(integration.id).await.unwrap(),
        None
    );
    let later = now() + time::Duration::seconds(5);
    store
        .touch_integrations(&[(integration.id, later), (integration.id, now())])
        .await
        .unwrap();
    assert_eq!(
        store.integration_last_used(integration.id).await.unwrap(),
        Some(later)
    );
    assert_eq!(
        store.integrations_last_used(account.id).await.unwrap(),
        vec![(integration.id, later)]
    );
}

/// `/readyz`'s write probe rewrites one row, as often as asked.
pub async fn the_readiness_write_probe_commits(store: &dyn Store) {
    for _ in 0..3 {
        store.probe_write(now()).await.unwrap();
    }
}

pub async fn a_change_and_its_audit_event_commit_together(store: &dyn Store) {
    let (account, owner) = account_with_owner(store).await;
    let mut integration = integration(account.id, owner.id);
    store
        .insert_integration(&integration, &audited(account.id))
        .await
        .unwrap();
    let before = store.revocation_snapshot(now()).await.unwrap().seq;
    // An event that cannot be stored (its account does not exist) fails the
    // whole write: the change does not happen without its record.
    integration.name = "Renamed".into();
    let orphan = audited(AccountId::new());
    assert!(
        store
            .update_integration(&integration, &orphan)
            .await
            .is_err()
    );
    let stored = store
        .integration_by_id(integration.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.name, "Room sync",
        "the change rolled back with its event"
    );
    assert!(
        store.changes_since(before).await.unwrap().is_empty(),
        "nor was it announced"
    );
    store
        .update_integration(&integration, &audited(account.id))
        .await
        .unwrap();
    let stored = store
        .integration_by_id(integration.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.name, "Renamed");
}
