//! Accounts and memberships: the owner and acting-user rules, grants ended with them.

use super::*;

pub async fn memberships_list_the_accounts_of_a_user(store: &dyn Store) {
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

pub async fn an_account_keeps_an_owner_even_when_two_owners_demote_each_other_at_once(
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

pub async fn an_acting_user_cannot_leave_or_lose_the_role_its_integrations_need(store: &dyn Store) {
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

pub async fn ending_a_membership_or_a_consent_revokes_the_users_grants(store: &dyn Store) {
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
