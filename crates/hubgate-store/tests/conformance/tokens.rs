//! Token validity: refresh families, codes, revocations, signing keys.

use super::*;

pub async fn refresh_families_rotate_once_per_generation(store: &dyn Store) {
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

pub async fn reuse_of_a_rotated_generation_revokes_the_family(store: &dyn Store) {
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

pub async fn concurrent_rotations_of_one_generation_have_one_winner(store: &dyn Store) {
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

pub async fn revocations_appear_in_the_snapshot_and_the_change_log(store: &dyn Store) {
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
    assert!(
        snapshot.follow_from <= start,
        "a node starting now re-reads the recent changes, in case one commits late"
    );
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

pub async fn signing_keys_round_trip(store: &dyn Store) {
    let (_, master) = MasterKey::generate();
    let (_, stored) = AccessTokenSigner::generate(&master, now());
    store.insert_signing_key(&stored).await.unwrap();
    assert_eq!(store.signing_keys().await.unwrap(), vec![stored]);
}

pub async fn a_code_is_spent_once_and_a_replay_names_its_family(store: &dyn Store) {
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

pub async fn a_revocation_for_reuse_lasts_as_long_as_the_familys_tokens(store: &dyn Store) {
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

pub async fn a_refresh_whose_grant_no_longer_holds_is_refused_without_touching_the_family(
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

/// Many rotations at once land in few group-commit batches, mixing first
/// refreshes, later ones, a replayed generation and grants that no longer
/// hold: each gets the outcome it would alone.
pub async fn a_crowd_of_rotations_gets_the_outcomes_each_would_alone(store: &dyn Store) {
    let (account, owner) = account_with_owner(store).await;
    let integration = integration(account.id, owner.id);
    store
        .insert_integration(&integration, &audited(integration.account_id))
        .await
        .unwrap();
    let until = until();
    let moved_on: Vec<FamilyId> = (0..30).map(|_| FamilyId::new()).collect();
    for family in &moved_on {
        let first = rotation(&integration, *family, 0, until, until);
        assert_eq!(store.rotate_family(first).await.unwrap(), Rotation::Rotated);
    }
    let fresh: Vec<FamilyId> = (0..30).map(|_| FamilyId::new()).collect();
    let stranger = FamilyId::new();
    let mut requests = Vec::new();
    let mut expected = Vec::new();
    for family in &moved_on {
        requests.push(rotation(&integration, *family, 1, until, until));
        expected.push(Rotation::Rotated);
    }
    for family in &fresh {
        requests.push(rotation(&integration, *family, 0, until, until));
        expected.push(Rotation::Rotated);
    }
    // Generation 0 of a family already at 1: a replay, which revokes it.
    requests.push(rotation(&integration, moved_on[0], 0, until, until));
    expected.push(Rotation::Reused);
    requests.push(hubgate_store::RotationRequest {
        user: UserId::new(),
        ..rotation(&integration, stranger, 0, until, until)
    });
    expected.push(Rotation::Revoked);
    let outcomes =
        futures::future::join_all(requests.into_iter().map(|r| store.rotate_family(r))).await;
    let outcomes: Vec<Rotation> = outcomes.into_iter().map(Result::unwrap).collect();
    // The replay of moved_on[0] may run before or after its rotation to 2;
    // every other outcome is fixed.
    assert_eq!(outcomes[1..60], expected[1..60]);
    assert_eq!(
        outcomes[61],
        Rotation::Revoked,
        "a stranger's grant holds nothing"
    );
    assert!(
        matches!(
            (outcomes[0], outcomes[60]),
            (Rotation::Rotated, Rotation::Reused) | (Rotation::Revoked, Rotation::Reused)
        ),
        "{:?}",
        (outcomes[0], outcomes[60])
    );
    assert_eq!(
        store.family_state(moved_on[0]).await.unwrap().map(|s| s.1),
        Some(true)
    );
    for family in &moved_on[1..] {
        assert_eq!(store.family_state(*family).await.unwrap(), Some((2, false)));
    }
    for family in &fresh {
        assert_eq!(store.family_state(*family).await.unwrap(), Some((1, false)));
    }
    assert_eq!(store.family_state(stranger).await.unwrap(), None);
}
