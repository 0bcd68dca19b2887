//! Events and webhook deliveries: written with the hub changes that cause
//! them, fanned out to the endpoints that want them, claimed in order per
//! hub, retried, logged and resent.

use hubgate_core::event::EventType;
use hubgate_core::webhook::{EventFilter, WebhookEndpoint, check_url};
use hubgate_store::{AttemptOutcome, DeliveryAttempt, DeliveryStatus, HubReport};

use super::*;

async fn fleet_of(store: &dyn Store, account: AccountId, serial: &str) -> HubId {
    let mut new = demo_fleet().remove(0);
    new.serial = serial.into();
    let hub = new.into_hub(account, now());
    store.insert_hub(&hub, &audited(account)).await.unwrap();
    hub.id
}

async fn endpoint(
    store: &dyn Store,
    integration: &Integration,
    events: &[&str],
) -> WebhookEndpoint {
    let (_, master) = MasterKey::generate();
    let url = check_url("https://hooks.example.com/in").unwrap();
    let (endpoint, _) = WebhookEndpoint::new(
        &master,
        integration.account_id,
        integration.id,
        &url,
        EventFilter::parse(events).unwrap(),
        now(),
    );
    store
        .insert_webhook(&endpoint, &audited(integration.account_id))
        .await
        .unwrap();
    endpoint
}

async fn integration_of(store: &dyn Store, account: AccountId, user: UserId) -> Integration {
    let integration = integration(account, user);
    store
        .insert_integration(&integration, &audited(account))
        .await
        .unwrap();
    integration
}

fn desired(mode: bool) -> HubChange {
    HubChange {
        desired: json!({"mtrmode": mode}).as_object().unwrap().clone(),
        ..Default::default()
    }
}

fn attempt(
    claimed: &hubgate_store::ClaimedDelivery,
    outcome: AttemptOutcome,
    at: OffsetDateTime,
) -> DeliveryAttempt {
    DeliveryAttempt {
        delivery: claimed.id,
        endpoint: claimed.endpoint.id,
        outcome,
        response_status: Some(204),
        error: None,
        latency_ms: 3,
        at,
        disable_endpoint: None,
    }
}

pub async fn hub_changes_write_their_events_for_their_account_only(store: &dyn Store) {
    let (account, _) = account_with_owner(store).await;
    let (other, _) = account_with_owner(store).await;
    let start = store.last_event_seq().await.unwrap();
    let hub = fleet_of(store, account.id, "EVT-1").await;
    fleet_of(store, other.id, "EVT-2").await;
    store
        .patch_hub(account.id, hub, &desired(false), now())
        .await
        .unwrap()
        .unwrap();
    let report = HubReport {
        hub,
        state: json!({"active": 4}).as_object().unwrap().clone(),
        reports: 1,
        online: Some(false),
        seen: now(),
    };
    store.record_hub_reports(&[report]).await.unwrap();
    store
        .delete_hub(account.id, hub, now(), &audited(account.id))
        .await
        .unwrap();

    let mine = store
        .events_after(Some(account.id), start, 100)
        .await
        .unwrap();
    let kinds: Vec<EventType> = mine.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventType::HubCreated,
            EventType::HubDesiredChanged,
            EventType::HubStateReported,
            EventType::HubOffline,
            EventType::HubDeleted
        ]
    );
    assert!(mine.iter().all(|e| e.account == account.id && e.hub == hub));
    assert!(mine.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(mine[2].data["changed"], json!({"active": 4}));

    let all = store.events_after(None, start, 100).await.unwrap();
    assert_eq!(all.len(), 6, "both accounts' events, to a node");
    assert_eq!(store.last_event_seq().await.unwrap(), all[5].seq);
    let paged = store
        .events_after(Some(account.id), mine[1].seq, 2)
        .await
        .unwrap();
    assert_eq!(paged, mine[2..4]);

    let unchanged = store
        .patch_hub(other.id, all[1].hub, &HubChange::default(), now())
        .await
        .unwrap();
    assert!(unchanged.is_some());
    assert_eq!(
        store.events_after(None, all[5].seq, 10).await.unwrap(),
        [],
        "no change, no event"
    );

    let gone = store
        .purge_events(now() + time::Duration::seconds(1))
        .await
        .unwrap();
    assert!(gone >= 6, "{gone}");
    assert_eq!(store.events_after(None, start, 100).await.unwrap(), []);
}

pub async fn deliveries_go_to_the_endpoints_that_want_the_event(store: &dyn Store) {
    let (account, owner) = account_with_owner(store).await;
    let (other, other_owner) = account_with_owner(store).await;
    let hub = fleet_of(store, account.id, "DLV-1").await;
    let integration = integration_of(store, account.id, owner.id).await;
    let everything = endpoint(store, &integration, &[]).await;
    let desired_only = endpoint(store, &integration, &["hub.desired.changed"]).await;
    let mut disabled = endpoint(store, &integration, &[]).await;
    disabled.set_enabled(false, now());
    store
        .update_webhook(&disabled, &audited(account.id))
        .await
        .unwrap();
    let mut blind = integration_of(store, account.id, owner.id).await;
    blind.scopes = ScopeSet::parse("hubs:write").unwrap();
    store
        .update_integration(&blind, &audited(account.id))
        .await
        .unwrap();
    endpoint(store, &blind, &[]).await;
    let foreign = integration_of(store, other.id, other_owner.id).await;
    endpoint(store, &foreign, &[]).await;

    store
        .patch_hub(account.id, hub, &desired(false), now())
        .await
        .unwrap();
    let claimed = store
        .claim_deliveries(now(), now() + time::Duration::seconds(30), 100)
        .await
        .unwrap();
    let mut got: Vec<(WebhookId, EventType)> = claimed
        .iter()
        .map(|c| (c.endpoint.id, c.event.kind))
        .collect();
    got.sort_by_key(|(id, _)| id.to_string());
    let mut want = vec![
        (desired_only.id, EventType::HubDesiredChanged),
        (everything.id, EventType::HubDesiredChanged),
    ];
    want.sort_by_key(|(id, _)| id.to_string());
    assert_eq!(
        got, want,
        "hub.created came before the endpoints; a disabled endpoint, an integration \
         without hubs:read and another account get nothing"
    );
    assert!(claimed.iter().all(|c| c.attempts == 0));
    assert_eq!(
        store
            .webhooks(account.id, Some(integration.id))
            .await
            .unwrap(),
        [everything.clone(), desired_only.clone(), disabled.clone()]
    );
    assert_eq!(
        store
            .webhooks(other.id, Some(integration.id))
            .await
            .unwrap(),
        []
    );
    assert_eq!(store.webhook(other.id, everything.id).await.unwrap(), None);
    assert!(matches!(
        store
            .delete_webhook(other.id, everything.id, &audited(other.id))
            .await,
        Err(StoreError::NotFound)
    ));
}

pub async fn an_endpoint_gets_a_hubs_events_one_at_a_time_in_order(store: &dyn Store) {
    let (account, owner) = account_with_owner(store).await;
    let integration = integration_of(store, account.id, owner.id).await;
    let endpoint = endpoint(store, &integration, &["hub.desired.changed"]).await;
    let first = fleet_of(store, account.id, "ORD-1").await;
    let second = fleet_of(store, account.id, "ORD-2").await;
    for mode in [false, true, false] {
        store
            .patch_hub(account.id, first, &desired(mode), now())
            .await
            .unwrap();
    }
    store
        .patch_hub(account.id, second, &desired(false), now())
        .await
        .unwrap();
    let lease = |s: i64| now() + time::Duration::seconds(s);

    let heads = store.claim_deliveries(now(), lease(30), 100).await.unwrap();
    let hubs: Vec<HubId> = heads.iter().map(|c| c.event.hub).collect();
    assert_eq!(hubs, [first, second], "the oldest of each hub only");
    assert_eq!(
        store
            .claim_deliveries(now(), lease(30), 100)
            .await
            .unwrap()
            .len(),
        0,
        "leased heads hold their queues"
    );

    let retry_at = now() + time::Duration::seconds(5);
    store
        .record_attempts(&[
            attempt(&heads[0], AttemptOutcome::Delivered, now()),
            attempt(&heads[1], AttemptOutcome::RetryAt(retry_at), now()),
        ])
        .await
        .unwrap();
    let next = store.claim_deliveries(now(), lease(30), 100).await.unwrap();
    assert_eq!(next.len(), 1, "a retry waits for its time");
    assert_eq!(next[0].event.hub, first);
    assert!(next[0].event.seq > heads[0].event.seq);

    let later = retry_at + time::Duration::seconds(1);
    let retried = store
        .claim_deliveries(later, later + time::Duration::seconds(30), 100)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!((retried[0].id, retried[0].attempts), (heads[1].id, 1));

    let expired = later + time::Duration::seconds(31);
    let again = store
        .claim_deliveries(expired, expired + time::Duration::seconds(30), 100)
        .await
        .unwrap();
    let ids: Vec<i64> = again.iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        [next[0].id, retried[0].id],
        "a lease that ran out (its node died) is taken again"
    );

    let log = store
        .deliveries(account.id, endpoint.id, None, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 4);
    assert!(log.windows(2).all(|w| w[0].event_seq > w[1].event_seq));
    let delivered = log
        .iter()
        .find(|d| d.event_seq == heads[0].event.seq)
        .unwrap();
    assert_eq!(
        (
            delivered.status,
            delivered.attempts,
            delivered.response_status
        ),
        (DeliveryStatus::Delivered, 1, Some(204))
    );
    assert_eq!(delivered.next_attempt_at, None);
    assert_eq!(
        store
            .deliveries(account.id, endpoint.id, Some(log[1].event_seq), 10)
            .await
            .unwrap(),
        log[2..]
    );
}

pub async fn a_failing_endpoint_is_disabled_and_a_delivery_can_be_resent(store: &dyn Store) {
    let (account, owner) = account_with_owner(store).await;
    let (other, _) = account_with_owner(store).await;
    let hub = fleet_of(store, account.id, "FAIL-1").await;
    let integration = integration_of(store, account.id, owner.id).await;
    let endpoint = endpoint(store, &integration, &[]).await;
    store
        .patch_hub(account.id, hub, &desired(false), now())
        .await
        .unwrap();
    let claimed = store
        .claim_deliveries(now(), now() + time::Duration::seconds(30), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let mut failed = attempt(&claimed[0], AttemptOutcome::GivenUp, now());
    failed.response_status = Some(500);
    failed.error = Some("answered 500".into());
    failed.disable_endpoint = Some("every delivery failed for 5 days".into());
    store.record_attempts(&[failed]).await.unwrap();

    let stored = store
        .webhook(account.id, endpoint.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.enabled);
    assert_eq!(
        stored.disabled_reason.as_deref(),
        Some("every delivery failed for 5 days")
    );
    assert!(stored.failing_since.is_some());
    let log = store
        .deliveries(account.id, endpoint.id, None, 10)
        .await
        .unwrap();
    assert_eq!(log[0].status, DeliveryStatus::Failed);
    assert_eq!(log[0].error.as_deref(), Some("answered 500"));

    let seq = claimed[0].event.seq;
    assert!(matches!(
        store
            .resend_delivery(other.id, endpoint.id, seq, now())
            .await,
        Err(StoreError::NotFound)
    ));
    store
        .resend_delivery(account.id, endpoint.id, seq, now())
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_deliveries(now(), now() + time::Duration::seconds(30), 10)
            .await
            .unwrap()
            .len(),
        0,
        "a disabled endpoint gets nothing"
    );
    let mut enabled = stored.clone();
    enabled.set_enabled(true, now());
    store
        .update_webhook(&enabled, &audited(account.id))
        .await
        .unwrap();
    let resent = store
        .claim_deliveries(now(), now() + time::Duration::seconds(30), 10)
        .await
        .unwrap();
    assert_eq!(resent.len(), 1);
    store
        .record_attempts(&[attempt(&resent[0], AttemptOutcome::Delivered, now())])
        .await
        .unwrap();
    let healthy = store
        .webhook(account.id, endpoint.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(healthy.failing_since, None);

    store
        .delete_webhook(account.id, endpoint.id, &audited(account.id))
        .await
        .unwrap();
    assert_eq!(store.webhook(account.id, endpoint.id).await.unwrap(), None);
    assert_eq!(
        store
            .deliveries(account.id, endpoint.id, None, 10)
            .await
            .unwrap(),
        []
    );
}
