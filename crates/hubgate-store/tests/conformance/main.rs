//! The store conformance suite: every behaviour the server relies on, run
//! against each backend (SQLite, and PostgreSQL where the test database is
//! reachable). One file per aggregate; the helpers are here.

use std::path::Path;
use std::sync::Arc;

use hubgate_core::account::{Account, Membership, Role, User};
use hubgate_core::audit::AuditAction;
use hubgate_core::crypto::MasterKey;
use hubgate_core::hub::{HubChange, HubKind, demo_fleet};
use hubgate_core::ids::{AccountId, ClientId, FamilyId, HubId, IntegrationId, UserId, WebhookId};
use hubgate_core::integration::{Integration, RedirectUri};
use hubgate_core::refresh::Rotation;
use hubgate_core::scope::ScopeSet;
use hubgate_core::secret::ClientSecret;
use hubgate_core::tokens::AccessTokenSigner;
use hubgate_store::{Change, HubFilter, MembershipWrite, Store, StoreError};
use serde_json::json;
use time::OffsetDateTime;

mod accounts;
mod audit;
mod consents;
mod events;
mod hubs;
mod integrations;
mod schema;
mod tokens;
mod users;

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
    ($($group:ident::$name:ident),* $(,)?) => {
        conformance!(@backend on_sqlite, sqlite, $($group::$name),*);
        conformance!(@backend on_postgres, postgres, $($group::$name),*);
    };
    (@backend $module:ident, $fixture:ident, $($group:ident::$name:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(fixture) = super::$fixture().await else { return };
                    super::$group::$name(fixture.store.as_ref()).await;
                    fixture.store.close().await;
                }
            )*
        }
    };
}

conformance!(
    users::users_are_unique_by_email,
    users::sessions_expire,
    users::a_new_password_ends_the_users_other_sessions,
    accounts::memberships_list_the_accounts_of_a_user,
    accounts::an_account_keeps_an_owner_even_when_two_owners_demote_each_other_at_once,
    accounts::an_acting_user_cannot_leave_or_lose_the_role_its_integrations_need,
    accounts::ending_a_membership_or_a_consent_revokes_the_users_grants,
    integrations::integrations_round_trip_and_log_changes,
    hubs::hubs_are_listed_per_account_with_filters_and_cursor,
    hubs::a_hub_patch_changes_desired_but_not_reported_state,
    hubs::another_accounts_hub_is_invisible,
    hubs::a_removed_hub_is_gone_for_its_account_only,
    hubs::a_device_credential_is_kept_as_a_digest_replaced_and_revoked,
    hubs::reports_merge_in_one_write_and_count_versions,
    tokens::refresh_families_rotate_once_per_generation,
    tokens::reuse_of_a_rotated_generation_revokes_the_family,
    tokens::concurrent_rotations_of_one_generation_have_one_winner,
    tokens::revocations_appear_in_the_snapshot_and_the_change_log,
    tokens::signing_keys_round_trip,
    tokens::a_code_is_spent_once_and_a_replay_names_its_family,
    tokens::a_revocation_for_reuse_lasts_as_long_as_the_familys_tokens,
    tokens::a_refresh_whose_grant_no_longer_holds_is_refused_without_touching_the_family,
    tokens::a_crowd_of_rotations_gets_the_outcomes_each_would_alone,
    consents::consents_are_kept_per_user_account_and_integration,
    audit::the_audit_log_keeps_events_per_account_newest_first,
    audit::the_readiness_write_probe_commits,
    audit::a_change_and_its_audit_event_commit_together,
    events::hub_changes_write_their_events_for_their_account_only,
    events::deliveries_go_to_the_endpoints_that_want_the_event,
    events::an_endpoint_gets_a_hubs_events_one_at_a_time_in_order,
    events::a_failing_endpoint_is_disabled_and_a_delivery_can_be_resent,
);
