//! Users: unique emails, sessions, passwords.

use super::*;

pub async fn users_are_unique_by_email(store: &dyn Store) {
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

pub async fn sessions_expire(store: &dyn Store) {
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

pub async fn a_new_password_ends_the_users_other_sessions(store: &dyn Store) {
    use hubgate_store::{AuditEvent, AuditQuery, PasswordWrite};
    let (account, user) = account_with_owner(store).await;
    let expires = now() + time::Duration::hours(1);
    for hash in [[1u8; 32], [2u8; 32], [3u8; 32]] {
        store
            .insert_session(&hash, user.id, expires, now())
            .await
            .unwrap();
    }
    let event = AuditEvent {
        account_id: account.id,
        at: now(),
        actor: "conformance".into(),
        action: AuditAction::MemberPasswordReset,
        subject: user.email.clone(),
        detail: String::new(),
    };
    let write = PasswordWrite {
        user: user.id,
        password_hash: "$argon2id$new",
        must_change: true,
        keep_session: Some(&[2u8; 32]),
    };
    store.set_password(write, &[event]).await.unwrap();
    assert_eq!(store.session_user(&[1u8; 32], now()).await.unwrap(), None);
    assert_eq!(
        store.session_user(&[2u8; 32], now()).await.unwrap(),
        Some(user.id),
        "the kept one"
    );
    assert_eq!(store.session_user(&[3u8; 32], now()).await.unwrap(), None);
    let stored = store.user_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(stored.password_hash, "$argon2id$new");
    assert!(stored.must_change_password);
    let query = AuditQuery {
        action: Some(AuditAction::MemberPasswordReset),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        store.audit_events(account.id, &query).await.unwrap().len(),
        1
    );

    let nobody = PasswordWrite {
        user: UserId::new(),
        ..write
    };
    assert!(matches!(
        store.set_password(nobody, &[]).await,
        Err(StoreError::NotFound)
    ));
    let everyone = PasswordWrite {
        keep_session: None,
        ..write
    };
    store.set_password(everyone, &[]).await.unwrap();
    assert_eq!(
        store.session_user(&[2u8; 32], now()).await.unwrap(),
        None,
        "none kept: all end"
    );
}
