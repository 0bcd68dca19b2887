//! The store conformance suite: every behaviour the server relies on, run
//! against each backend. (PostgreSQL joins with its implementation.)

use std::sync::Arc;

use hubgate_core::account::{Account, Membership, Role, User};
use hubgate_core::audit::AuditAction;
use hubgate_core::crypto::MasterKey;
use hubgate_core::hub::{HubChange, HubKind, demo_fleet};
use hubgate_core::ids::{AccountId, ClientId, FamilyId, HubId, IntegrationId, UserId};
use hubgate_core::integration::{Integration, RedirectUri};
use hubgate_core::refresh::Rotation;
use hubgate_core::scope::ScopeSet;
use hubgate_core::secret::ClientSecret;
use hubgate_core::tokens::AccessTokenSigner;
use hubgate_store::{Change, HubFilter, MembershipWrite, Store, StoreError};
use serde_json::json;
use time::OffsetDateTime;

struct Fixture {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    _database: Option<hubgate_testkit::TestDatabase>,
}

async fn sqlite() -> Option<Fixture> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = hubgate_store::open_sqlite(dir.path())
        .await
        .expect("open sqlite");
    Some(Fixture {
        store: Arc::new(store),
        _dir: Some(dir),
        _database: None,
    })
}

async fn postgres() -> Option<Fixture> {
    let database = hubgate_testkit::TestDatabase::create().await?;
    let settings = hubgate_store::postgres::PgSettings::default();
    let store = hubgate_store::postgres::PgStore::connect(&database.url, &settings)
        .await
        .expect("connect");
    Some(Fixture {
        store: Arc::new(store),
        _dir: None,
        _database: Some(database),
    })
}

fn now() -> OffsetDateTime {
    hubgate_core::now()
}

/// A membership change by the operator at `at`.
fn write(at: OffsetDateTime) -> MembershipWrite {
    MembershipWrite {
        by: None,
        now: at,
        revoke_until: at.unix_timestamp() + 3600,
    }
}

/// The audit event a management write carries (the store writes it in the
/// change's transaction).
fn audited(account: AccountId) -> hubgate_store::AuditEvent {
    hubgate_store::AuditEvent {
        account_id: account,
        at: now(),
        actor: "conformance".into(),
        action: AuditAction::IntegrationUpdated,
        subject: String::new(),
        detail: String::new(),
    }
}

/// How long the tests' revocations are kept.
fn until() -> i64 {
    now().unix_timestamp() + 3600
}

async fn new_user(store: &dyn Store, account: AccountId, role: Role) -> User {
    let user = User {
        id: UserId::new(),
        email: format!("{}@example.com", UserId::new()),
        password_hash: "$argon2id$placeholder".into(),
        must_change_password: false,
        created_at: now(),
    };
    store.insert_user(&user).await.unwrap();
    let membership = Membership {
        account_id: account,
        user_id: user.id,
        role,
    };
    store
        .put_membership(&membership, write(now()), &audited(membership.account_id))
        .await
        .unwrap();
    user
}

/// A rotation of `family` by a grant of the integration's acting user.
fn rotation(
    integration: &Integration,
    family: FamilyId,
    presented: u32,
    expires_at: i64,
    revoke_until: i64,
) -> hubgate_store::RotationRequest {
    hubgate_store::RotationRequest {
        family,
        integration: integration.id,
        account: integration.account_id,
        user: integration.acting_user,
        scope: integration.scopes,
        presented,
        expires_at,
        revoke_until,
        now: now(),
    }
}

fn grant_revocations(changes: &[(i64, Change)]) -> Vec<hubgate_core::grant::GrantRevocation> {
    changes
        .iter()
        .filter_map(|(_, change)| match change {
            Change::GrantRevoked(revocation) => Some(*revocation),
            _ => None,
        })
        .collect()
}

async fn account_with_owner(store: &dyn Store) -> (Account, User) {
    let account = Account {
        id: AccountId::new(),
        name: "Acme".into(),
        created_at: now(),
    };
    store
        .insert_account(&account, &audited(account.id))
        .await
        .unwrap();
    let user = User {
        id: UserId::new(),
        email: format!("{}@example.com", UserId::new()),
        password_hash: "$argon2id$placeholder".into(),
        must_change_password: false,
        created_at: now(),
    };
    store.insert_user(&user).await.unwrap();
    store
        .put_membership(
            &Membership {
                account_id: account.id,
                user_id: user.id,
                role: Role::Owner,
            },
            write(now()),
            &audited(account.id),
        )
        .await
        .unwrap();
    (account, user)
}

fn integration(account: AccountId, user: UserId) -> Integration {
    let (_, master) = MasterKey::generate();
    let id = IntegrationId::new();
    Integration {
        id,
        account_id: account,
        name: "Room sync".into(),
        client_id: ClientId::generate(),
        redirect_uris: vec![RedirectUri::parse("https://example.com/cb").unwrap()],
        scopes: ScopeSet::all(),
        enabled: true,
        refresh_on_client_credentials: true,
        require_pkce: true,
        access_token_ttl: Some(600),
        refresh_token_ttl: None,
        created_by: user,
        acting_user: user,
        created_at: now(),
        sealed_secret: ClientSecret::generate().seal(&master, id),
        sealed_previous_secret: None,
        previous_secret_expires_at: None,
        token_epoch: 0,
    }
}

/// Runs every listed behaviour on each backend.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        conformance!(@backend on_sqlite, sqlite, $($name),*);
        conformance!(@backend on_postgres, postgres, $($name),*);
    };
    (@backend $module:ident, $fixture:ident, $($name:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(fixture) = super::$fixture().await else { return };
                    super::$name(fixture.store.as_ref()).await;
                    fixture.store.close().await;
                }
            )*
        }
    };
}

conformance!(
    users_are_unique_by_email,
    memberships_list_the_accounts_of_a_user,
    integrations_round_trip_and_log_changes,
    hubs_are_listed_per_account_with_filters_and_cursor,
    a_hub_patch_changes_desired_but_not_reported_state,
    another_accounts_hub_is_invisible,
    refresh_families_rotate_once_per_generation,
    reuse_of_a_rotated_generation_revokes_the_family,
    concurrent_rotations_of_one_generation_have_one_winner,
    revocations_appear_in_the_snapshot_and_the_change_log,
    signing_keys_round_trip,
    the_readiness_write_probe_commits,
    a_code_is_spent_once_and_a_replay_names_its_family,
    consents_are_kept_per_user_account_and_integration,
    sessions_expire,
    the_audit_log_keeps_events_per_account_newest_first,
    an_account_keeps_an_owner_even_when_two_owners_demote_each_other_at_once,
    an_acting_user_cannot_leave_or_lose_the_role_its_integrations_need,
    ending_a_membership_or_a_consent_revokes_the_users_grants,
    a_revocation_for_reuse_lasts_as_long_as_the_familys_tokens,
    a_refresh_whose_grant_no_longer_holds_is_refused_without_touching_the_family,
);

async fn a_refresh_whose_grant_no_longer_holds_is_refused_without_touching_the_family(
    store: &dyn Store,
) {
    let (account, owner) = account_with_owner(store).await;
    let integration = integration(account.id, owner.id);
    store
        .insert_integration(&integration, &audited(integration.account_id))
        .await
        .unwrap();
    let member = new_user(store, account.id, Role::Member).await;
    let until = until();
    let family = FamilyId::new();
    let by = |user: UserId, scope: &str| hubgate_store::RotationRequest {
        user,
        scope: ScopeSet::parse(scope).unwrap(),
        ..rotation(&integration, family, 0, until, until)
    };
    // A member's grant cannot carry hubs:write; a stranger's holds nothing.
    for refused in [
        by(member.id, "hubs:read hubs:write"),
        by(UserId::new(), "hubs:read"),
    ] {
        assert_eq!(
            store.rotate_family(refused).await.unwrap(),
            Rotation::Revoked
        );
    }
    assert_eq!(store.family_state(family).await.unwrap(), None, "untouched");
    assert_eq!(
        store
            .rotate_family(by(member.id, "hubs:read"))
            .await
            .unwrap(),
        Rotation::Rotated
    );
}

async fn an_account_keeps_an_owner_even_when_two_owners_demote_each_other_at_once(
    store: &dyn Store,
) {
    let (account, first) = account_with_owner(store).await;
    let second = new_user(store, account.id, Role::Owner).await;
    let demote = |user: UserId| Membership {
        account_id: account.id,
        user_id: user,
        role: Role::Member,
    };
    let (a, b) = (demote(first.id), demote(second.id));
    // Only an owner may change an owner's role, checked in the same transaction.
    let by_admin = MembershipWrite {
        by: Some(Role::Admin),
        ..write(now())
    };
    assert!(matches!(
        store.put_membership(&a, by_admin, &audited(a.account_id)).await,
        Err(StoreError::Refused(ref m)) if m.contains("only an owner")
    ));
    let (audit_a, audit_b) = (audited(a.account_id), audited(b.account_id));
    let (one, other) = tokio::join!(
        store.put_membership(&a, write(now()), &audit_a),
        store.put_membership(&b, write(now()), &audit_b),
    );
    assert!(
        one.is_ok() != other.is_ok(),
        "exactly one demotion wins: {one:?} {other:?}"
    );
    let refused = one.err().or(other.err()).unwrap();
    assert!(matches!(refused, StoreError::Refused(ref m) if m.contains("owner")));
    let owners = store.account_members(account.id).await.unwrap();
    assert_eq!(owners.iter().filter(|(_, r)| *r == Role::Owner).count(), 1);
    let (owner, _) = owners.into_iter().find(|(_, r)| *r == Role::Owner).unwrap();
    assert!(matches!(
        store
            .remove_membership(account.id, owner.id, write(now()), &audited(account.id))
            .await,
        Err(StoreError::Refused(_))
    ));
    assert!(matches!(
        store
            .remove_membership(
                account.id,
                UserId::new(),
                write(now()),
                &audited(account.id)
            )
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn an_acting_user_cannot_leave_or_lose_the_role_its_integrations_need(store: &dyn Store) {
    let (account, owner) = account_with_owner(store).await;
    let admin = new_user(store, account.id, Role::Admin).await;
    let mut integration = integration(account.id, owner.id);
    integration.acting_user = admin.id;
    integration.name = "Writer".into();
    store
        .insert_integration(&integration, &audited(integration.account_id))
        .await
        .unwrap();
    let refused = store
        .remove_membership(account.id, admin.id, write(now()), &audited(account.id))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Refused(ref m)) if m.contains("\"Writer\"")),
        "{refused:?}"
    );
    let to_member = Membership {
        account_id: account.id,
        user_id: admin.id,
        role: Role::Member,
    };
    assert!(matches!(
        store
            .put_membership(&to_member, write(now()), &audited(to_member.account_id))
            .await,
        Err(StoreError::Refused(_))
    ));
    // A member cannot be made the acting user of an integration that writes.
    let member = new_user(store, account.id, Role::Member).await;
    integration.acting_user = member.id;
    assert!(matches!(
        store.update_integration(&integration, &audited(integration.account_id)).await,
        Err(StoreError::Refused(ref m)) if m.contains("hubs:write")
    ));
    // Nor can someone outside the account.
    let (_, stranger) = account_with_owner(store).await;
    integration.acting_user = stranger.id;
    assert!(matches!(
        store
            .update_integration(&integration, &audited(integration.account_id))
            .await,
        Err(StoreError::Refused(_))
    ));
    // Once another member acts, the first may go.
    integration.acting_user = owner.id;
    store
        .update_integration(&integration, &audited(integration.account_id))
        .await
        .unwrap();
    store
        .remove_membership(account.id, admin.id, write(now()), &audited(account.id))
        .await
        .unwrap();
    assert_eq!(
        store
            .integration_by_id(integration.id)
            .await
            .unwrap()
            .unwrap()
            .acting_user,
        owner.id
    );
}

async fn ending_a_membership_or_a_consent_revokes_the_users_grants(store: &dyn Store) {
    let (account, owner) = account_with_owner(store).await;
    let integration = integration(account.id, owner.id);
    store
        .insert_integration(&integration, &audited(integration.account_id))
        .await
        .unwrap();
    let admin = new_user(store, account.id, Role::Admin).await;
    let start = store.revocation_snapshot(now()).await.unwrap().seq;
    // Owner to admin takes nothing away: nothing is revoked.
    let promote = Membership {
        account_id: account.id,
        user_id: admin.id,
        role: Role::Owner,
    };
    store
        .put_membership(&promote, write(now()), &audited(promote.account_id))
        .await
        .unwrap();
    let demote = Membership {
        role: Role::Admin,
        ..promote.clone()
    };
    store
        .put_membership(&demote, write(now()), &audited(demote.account_id))
        .await
        .unwrap();
    assert!(grant_revocations(&store.changes_since(start).await.unwrap()).is_empty());
    // Admin to member can no longer delegate hubs:write: every grant ends.
    let to_member = Membership {
        role: Role::Member,
        ..promote.clone()
    };
    let at = now();
    store
        .put_membership(&to_member, write(at), &audited(to_member.account_id))
        .await
        .unwrap();
    store
        .remove_membership(account.id, admin.id, write(at), &audited(account.id))
        .await
        .unwrap();
    store
        .delete_consent(
            owner.id,
            account.id,
            integration.id,
            at,
            until(),
            &audited(account.id),
        )
        .await
        .unwrap();
    let revoked = grant_revocations(&store.changes_since(start).await.unwrap());
    assert_eq!(revoked.len(), 3, "{revoked:?}");
    let everything = hubgate_core::grant::GrantKey {
        account: account.id,
        user: admin.id,
        integration: None,
    };
    assert!(
        revoked
            .iter()
            .all(|r| r.issued_before == at.unix_timestamp())
    );
    assert_eq!(revoked[0].key, everything);
    assert_eq!(revoked[2].key.integration, Some(integration.id));
    assert_eq!(revoked[2].key.user, owner.id);
    // Restarted nodes load them from the snapshot.
    let snapshot = store.revocation_snapshot(now()).await.unwrap();
    assert!(snapshot.revoked_grants.iter().any(|r| r.key == everything));
    assert!(
        snapshot
            .revoked_grants
            .iter()
            .any(|r| r.key.integration == Some(integration.id))
    );
}

async fn a_revocation_for_reuse_lasts_as_long_as_the_familys_tokens(store: &dyn Store) {
    let (account, user) = account_with_owner(store).await;
    let integration = integration(account.id, user.id);
    store
        .insert_integration(&integration, &audited(integration.account_id))
        .await
        .unwrap();
    let family = FamilyId::new();
    // Refresh tokens end in 20 s here, access tokens in an hour.
    let refresh_expiry = now().unix_timestamp() + 20;
    let horizon = now().unix_timestamp() + 3600;
    store
        .rotate_family(rotation(&integration, family, 0, refresh_expiry, horizon))
        .await
        .unwrap();
    assert_eq!(
        store
            .rotate_family(rotation(&integration, family, 0, refresh_expiry, horizon))
            .await
            .unwrap(),
        Rotation::Reused
    );
    let later = now() + time::Duration::seconds(60);
    let snapshot = store.revocation_snapshot(later).await.unwrap();
    assert_eq!(
        snapshot.revoked_families,
        vec![(family, horizon)],
        "still revoked a minute later, after the refresh token expired"
    );
}

async fn users_are_unique_by_email(store: &dyn Store) {
    let (_, user) = account_with_owner(store).await;
    let again = User {
        id: UserId::new(),
        ..user.clone()
    };
    assert!(matches!(
        store.insert_user(&again).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.user_by_email(&user.email).await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(store.user_by_id(user.id).await.unwrap(), Some(user));
    assert_eq!(store.count_users().await.unwrap(), 1);
}

async fn memberships_list_the_accounts_of_a_user(store: &dyn Store) {
    let (account, user) = account_with_owner(store).await;
    let other = Account {
        id: AccountId::new(),
        name: "Beta".into(),
        created_at: now(),
    };
    store
        .insert_account(&other, &audited(other.id))
        .await
        .unwrap();
    store
        .put_membership(
            &Membership {
                account_id: other.id,
                user_id: user.id,
                role: Role::Member,
            },
            write(now()),
            &audited(other.id),
        )
        .await
        .unwrap();
    store
        .put_membership(
            &Membership {
                account_id: other.id,
                user_id: user.id,
                role: Role::Admin,
            },
            write(now()),
            &audited(other.id),
        )
        .await
        .unwrap();
    let accounts = store.accounts_of_user(user.id).await.unwrap();
    assert_eq!(
        accounts,
        vec![(account.clone(), Role::Owner), (other.clone(), Role::Admin)]
    );
    let members = store.account_members(other.id).await.unwrap();
    assert_eq!(members, vec![(user.clone(), Role::Admin)]);
    assert_eq!(
        store.account_members(account.id).await.unwrap()[0].1,
        Role::Owner
    );
    let missing = Membership {
        account_id: AccountId::new(),
        user_id: user.id,
        role: Role::Member,
    };
    assert!(matches!(
        store
            .put_membership(&missing, write(now()), &audited(missing.account_id))
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn integrations_round_trip_and_log_changes(store: &dyn Store) {
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

async fn hubs_are_listed_per_account_with_filters_and_cursor(store: &dyn Store) {
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

async fn a_hub_patch_changes_desired_but_not_reported_state(store: &dyn Store) {
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

async fn another_accounts_hub_is_invisible(store: &dyn Store) {
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

async fn refresh_families_rotate_once_per_generation(store: &dyn Store) {
    let (account, user) = account_with_owner(store).await;
    let integration = integration(account.id, user.id);
    store
        .insert_integration(&integration, &audited(integration.account_id))
        .await
        .unwrap();
    let family = FamilyId::new();
    let until = now().unix_timestamp() + 3600;
    assert_eq!(
        store
            .rotate_family(rotation(&integration, family, 0, until, until))
            .await
            .unwrap(),
        Rotation::Rotated
    );
    assert_eq!(
        store
            .rotate_family(rotation(&integration, family, 1, until, until))
            .await
            .unwrap(),
        Rotation::Rotated
    );
    assert_eq!(
        store
            .rotate_family(rotation(&integration, family, 2, until, until))
            .await
            .unwrap(),
        Rotation::Rotated
    );
    assert_eq!(store.family_state(family).await.unwrap(), Some((3, false)));
    assert_eq!(store.family_state(FamilyId::new()).await.unwrap(), None);
}

async fn reuse_of_a_rotated_generation_revokes_the_family(store: &dyn Store) {
    let (account, user) = account_with_owner(store).await;
    let integration = integration(account.id, user.id);
    store
        .insert_integration(&integration, &audited(integration.account_id))
        .await
        .unwrap();
    let family = FamilyId::new();
    let until = now().unix_timestamp() + 3600;
    store
        .rotate_family(rotation(&integration, family, 0, until, until))
        .await
        .unwrap();
    assert_eq!(
        store
            .rotate_family(rotation(&integration, family, 0, until, until))
            .await
            .unwrap(),
        Rotation::Reused
    );
    // The current generation dies with the family.
    assert_eq!(
        store
            .rotate_family(rotation(&integration, family, 1, until, until))
            .await
            .unwrap(),
        Rotation::Revoked
    );
    assert_eq!(store.family_state(family).await.unwrap(), Some((1, true)));
    let snapshot = store.revocation_snapshot(now()).await.unwrap();
    assert!(snapshot.revoked_families.iter().any(|(f, _)| *f == family));
    // A generation with no record behind it was never valid.
    let unknown = FamilyId::new();
    assert_eq!(
        store
            .rotate_family(rotation(&integration, unknown, 5, until, until))
            .await
            .unwrap(),
        Rotation::Revoked
    );
}

async fn concurrent_rotations_of_one_generation_have_one_winner(store: &dyn Store) {
    let (account, user) = account_with_owner(store).await;
    let integration = integration(account.id, user.id);
    store
        .insert_integration(&integration, &audited(integration.account_id))
        .await
        .unwrap();
    for generation_start in [0u32, 1] {
        let family = FamilyId::new();
        let until = now().unix_timestamp() + 3600;
        if generation_start == 1 {
            store
                .rotate_family(rotation(&integration, family, 0, until, until))
                .await
                .unwrap();
        }
        let attempts = (0..16).map(|_| {
            store.rotate_family(rotation(
                &integration,
                family,
                generation_start,
                until,
                until,
            ))
        });
        let outcomes = futures::future::join_all(attempts).await;
        let winners = outcomes
            .iter()
            .filter(|o| matches!(o, Ok(Rotation::Rotated)))
            .count();
        assert_eq!(winners, 1, "outcomes: {outcomes:?}");
        assert!(outcomes.iter().all(Result::is_ok));
    }
}

async fn revocations_appear_in_the_snapshot_and_the_change_log(store: &dyn Store) {
    let (account, user) = account_with_owner(store).await;
    let integration = integration(account.id, user.id);
    store
        .insert_integration(&integration, &audited(integration.account_id))
        .await
        .unwrap();
    let start = store.revocation_snapshot(now()).await.unwrap().seq;
    let family = FamilyId::new();
    let until = now().unix_timestamp() + 3600;
    store
        .revoke_family(family, integration.id, until, now())
        .await
        .unwrap();
    store
        .revoke_access_token("jti-1", until, now())
        .await
        .unwrap();
    store
        .revoke_access_token("jti-expired", now().unix_timestamp() - 1, now())
        .await
        .unwrap();
    let snapshot = store.revocation_snapshot(now()).await.unwrap();
    assert_eq!(snapshot.revoked_families, vec![(family, until)]);
    assert_eq!(
        snapshot.revoked_access_tokens,
        vec![("jti-1".to_owned(), until)]
    );
    let changes: Vec<_> = store
        .changes_since(start)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    assert_eq!(
        changes[0],
        Change::FamilyRevoked {
            family,
            valid_until: until
        }
    );
    assert_eq!(
        changes[1],
        Change::AccessTokenRevoked {
            jti: "jti-1".into(),
            valid_until: until
        }
    );
    assert_eq!(snapshot.seq, start + 3);
    // Revoking a revoked family again is harmless.
    store
        .revoke_family(family, integration.id, until, now())
        .await
        .unwrap();
}

async fn signing_keys_round_trip(store: &dyn Store) {
    let (_, master) = MasterKey::generate();
    let (_, stored) = AccessTokenSigner::generate(&master, now());
    store.insert_signing_key(&stored).await.unwrap();
    assert_eq!(store.signing_keys().await.unwrap(), vec![stored]);
}

async fn a_code_is_spent_once_and_a_replay_names_its_family(store: &dyn Store) {
    use hubgate_core::authorize::{AuthorizationCode, CodeUse, code_hash};
    let (account, user) = account_with_owner(store).await;
    let integration = integration(account.id, user.id);
    store
        .insert_integration(&integration, &audited(integration.account_id))
        .await
        .unwrap();
    let code = AuthorizationCode {
        hash: code_hash("hga_test"),
        integration_id: integration.id,
        user_id: user.id,
        account_id: account.id,
        redirect_uri: "https://example.com/cb".into(),
        scope: ScopeSet::parse("sub hubs:read").unwrap(),
        code_challenge: Some("c".repeat(43)),
        expires_at: now() + time::Duration::seconds(60),
    };
    store.insert_code(&code).await.unwrap();
    let family = FamilyId::new();
    assert_eq!(
        store.use_code(&code.hash, family, now()).await.unwrap(),
        CodeUse::First(code.clone())
    );
    // A replay learns the first use's family even before it issued anything.
    assert_eq!(
        store
            .use_code(&code.hash, FamilyId::new(), now())
            .await
            .unwrap(),
        CodeUse::Replayed {
            family: Some(family),
            integration_id: integration.id
        }
    );
    assert_eq!(
        store
            .use_code(&code_hash("hga_other"), FamilyId::new(), now())
            .await
            .unwrap(),
        CodeUse::Unknown
    );
}

async fn consents_are_kept_per_user_account_and_integration(store: &dyn Store) {
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

async fn sessions_expire(store: &dyn Store) {
    let (_, user) = account_with_owner(store).await;
    let hash = [7u8; 32];
    let expires = now() + time::Duration::hours(1);
    store
        .insert_session(&hash, user.id, expires, now())
        .await
        .unwrap();
    assert_eq!(
        store.session_user(&hash, now()).await.unwrap(),
        Some(user.id)
    );
    assert_eq!(store.session_user(&hash, expires).await.unwrap(), None);
    assert_eq!(store.session_user(&[8u8; 32], now()).await.unwrap(), None);
    store.delete_session(&hash).await.unwrap();
    assert_eq!(store.session_user(&hash, now()).await.unwrap(), None);
}

async fn the_audit_log_keeps_events_per_account_newest_first(store: &dyn Store) {
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
async fn the_readiness_write_probe_commits(store: &dyn Store) {
    for _ in 0..3 {
        store.probe_write(now()).await.unwrap();
    }
}
