//! The token endpoint's rules, with the clock pinned.
use super::*;
use crate::ids::{AccountId, ClientId};
use crate::integration::RedirectUri;
use time::macros::datetime;

fn integration(master: &MasterKey) -> (Integration, ClientSecret) {
    let id = IntegrationId::new();
    let secret = ClientSecret::generate();
    let integration = Integration {
        id,
        account_id: AccountId::new(),
        name: "Room sync".into(),
        client_id: ClientId::generate(),
        redirect_uris: vec![RedirectUri::parse("https://example.com/cb").expect("uri")],
        scopes: ScopeSet::parse("hubs:read accounts:read").expect("scope"),
        enabled: true,
        refresh_on_client_credentials: true,
        require_pkce: true,
        access_token_ttl: None,
        refresh_token_ttl: None,
        created_by: UserId::new(),
        acting_user: UserId::new(),
        created_at: datetime!(2026-01-01 0:00 UTC),
        sealed_secret: secret.seal(master, id),
        sealed_previous_secret: None,
        previous_secret_expires_at: None,
        token_epoch: 0,
    };
    (integration, secret)
}

const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

#[test]
fn the_current_secret_authenticates_and_others_do_not() {
    let (_, master) = MasterKey::generate();
    let (integration, secret) = integration(&master);
    let client = Client::open(integration, &master).unwrap();
    assert_eq!(client.authenticate(secret.expose(), NOW), Ok(()));
    assert_eq!(
        client.authenticate("hgs_wrong", NOW),
        Err(ClientAuthFailure::WrongSecret)
    );
}

#[test]
fn the_previous_secret_works_only_during_the_grace_period() {
    let (_, master) = MasterKey::generate();
    let (mut integration, old) = integration(&master);
    let new = ClientSecret::generate();
    integration.sealed_previous_secret = Some(integration.sealed_secret.clone());
    integration.previous_secret_expires_at = Some(NOW + Duration::minutes(10));
    integration.sealed_secret = new.seal(&master, integration.id);
    let client = Client::open(integration, &master).unwrap();
    assert_eq!(client.authenticate(old.expose(), NOW), Ok(()));
    assert_eq!(client.authenticate(new.expose(), NOW), Ok(()));
    let after = NOW + Duration::minutes(11);
    assert_eq!(
        client.authenticate(old.expose(), after),
        Err(ClientAuthFailure::WrongSecret)
    );
    assert_eq!(client.authenticate(new.expose(), after), Ok(()));
}

#[test]
fn a_disabled_integration_cannot_authenticate() {
    let (_, master) = MasterKey::generate();
    let (mut integration, secret) = integration(&master);
    integration.enabled = false;
    let client = Client::open(integration, &master).unwrap();
    assert_eq!(
        client.authenticate(secret.expose(), NOW),
        Err(ClientAuthFailure::Disabled)
    );
}

#[test]
fn client_credentials_scope_defaults_to_the_integrations_and_may_not_exceed_it() {
    let allowed = ScopeSet::parse("hubs:read accounts:read").unwrap();
    assert_eq!(scope_for_client_credentials(None, allowed), Ok(allowed));
    assert_eq!(scope_for_client_credentials(Some(""), allowed), Ok(allowed));
    assert_eq!(
        scope_for_client_credentials(Some("hubs:read"), allowed),
        Ok(ScopeSet::parse("hubs:read").unwrap())
    );
    assert!(matches!(
        scope_for_client_credentials(Some("hubs:write"), allowed),
        Err(GrantError::InvalidScope(_))
    ));
    assert!(matches!(
        scope_for_client_credentials(Some("root"), allowed),
        Err(GrantError::InvalidScope(_))
    ));
}

#[test]
fn refresh_claims_are_checked_against_the_client_expiry_epoch_and_redirect_uri() {
    let (_, master) = MasterKey::generate();
    let (integration, _) = integration(&master);
    let minted = mint(
        Grant {
            integration: &integration,
            account: integration.account_id,
            user: integration.acting_user,
            scope: integration.scopes,
            family: None,
            with_refresh_token: true,
        },
        "iss",
        "aud",
        Lifetimes {
            access: Duration::hours(1),
            refresh: Duration::days(30),
        },
        NOW,
    );
    let claims = minted.refresh.expect("refresh token minted");
    assert_eq!(minted.access.family_id, Some(claims.family));
    assert_eq!(
        check_refresh_claims(&claims, &integration, None, NOW),
        Ok(())
    );
    assert_eq!(
        check_refresh_claims(&claims, &integration, Some("https://example.com/cb"), NOW),
        Ok(())
    );
    assert_eq!(
        check_refresh_claims(&claims, &integration, Some("https://example.com/cb/"), NOW),
        Err(InvalidGrant::RedirectUriMismatch)
    );
    assert_eq!(
        check_refresh_claims(&claims, &integration, None, NOW + Duration::days(31)),
        Err(InvalidGrant::Expired)
    );
    let mut bumped = integration.clone();
    bumped.token_epoch += 1;
    assert_eq!(
        check_refresh_claims(&claims, &bumped, None, NOW),
        Err(InvalidGrant::OldEpoch)
    );
    let (other, _) = self::integration(&master);
    assert_eq!(
        check_refresh_claims(&claims, &other, None, NOW),
        Err(InvalidGrant::OtherClient)
    );
}

#[test]
fn a_revocation_lasts_until_the_longest_lived_token_it_covers_expires() {
    let lifetimes = Lifetimes {
        access: Duration::hours(2),
        refresh: Duration::minutes(20),
    };
    // The access token outlives the refresh token here: the longer decides.
    assert_eq!(
        lifetimes.revocation_horizon(NOW),
        NOW.unix_timestamp() + 7200
    );
    let (_, master) = MasterKey::generate();
    let (mut integration, _) = integration(&master);
    integration.access_token_ttl = Some(86_400);
    assert_eq!(
        lifetimes
            .for_integration(&integration)
            .revocation_horizon(NOW),
        NOW.unix_timestamp() + 86_400
    );
    assert_eq!(
        Lifetimes::LONGEST.revocation_horizon(NOW),
        NOW.unix_timestamp() + 365 * 86_400
    );
}

#[test]
fn a_grant_revocation_covers_tokens_issued_up_to_its_second() {
    let integration = IntegrationId::new();
    let key = GrantKey {
        account: AccountId::new(),
        user: UserId::new(),
        integration: Some(integration),
    };
    let lifetimes = Lifetimes {
        access: Duration::hours(1),
        refresh: Duration::days(30),
    };
    let revocation = GrantRevocation::new(key, NOW, lifetimes.revocation_horizon(NOW));
    let t = NOW.unix_timestamp();
    assert!(revocation.covers(integration, t - 100));
    assert!(revocation.covers(integration, t));
    assert!(!revocation.covers(integration, t + 1));
    assert!(!revocation.covers(IntegrationId::new(), t - 100));
    let mut everything = GrantRevocation::new(
        GrantKey {
            integration: None,
            ..key
        },
        NOW - Duration::days(1),
        NOW.unix_timestamp(),
    );
    everything.widen(&GrantRevocation::new(
        everything.key,
        NOW,
        lifetimes.revocation_horizon(NOW),
    ));
    assert!(everything.covers(IntegrationId::new(), t - 100));
    assert_eq!(everything.valid_until, t + 30 * 86_400);
}

#[test]
fn an_integration_may_opt_out_of_refresh_tokens_and_override_lifetimes() {
    let (_, master) = MasterKey::generate();
    let (mut integration, _) = integration(&master);
    integration.access_token_ttl = Some(120);
    let minted = mint(
        Grant {
            integration: &integration,
            account: integration.account_id,
            user: integration.acting_user,
            scope: integration.scopes,
            family: None,
            with_refresh_token: false,
        },
        "iss",
        "aud",
        Lifetimes {
            access: Duration::hours(1),
            refresh: Duration::days(30),
        },
        NOW,
    );
    assert!(minted.refresh.is_none());
    assert_eq!(minted.access.family_id, None);
    assert_eq!(minted.expires_in, 120);
    assert_eq!(minted.access.exp - minted.access.iat, 120);
}

#[test]
fn every_grant_kind_is_listed_at_its_own_index_and_parses_back() {
    for (index, kind) in GrantKind::ALL.into_iter().enumerate() {
        assert_eq!(kind as usize, index);
        assert_eq!(GrantKind::parse(kind.as_str()), Some(kind));
    }
    assert_eq!(GrantKind::parse("password"), None);
}
