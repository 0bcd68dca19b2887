//! The token flows of the application layer, called without HTTP: a node's
//! state over the test app's store, a client from its registry, and `now`
//! chosen by the test.

use std::sync::Arc;

use hubgate_core::grant::{GrantError, InvalidGrant};
use hubgate_core::ids::ClientId;
use hubgate_core::refresh::RefreshClaims;
use hubgate_server::AppState;
use hubgate_server::app::grants::{self, FlowError, TokenRequest};
use hubgate_testkit::{ALL_SCOPES, TestApp};

#[tokio::test]
async fn client_credentials_then_refresh_and_reuse_run_without_http() {
    let app = TestApp::spawn().await;
    let creds = app.integration(ALL_SCOPES).await;
    let store: Arc<dyn hubgate_store::Store> = app.store.clone();
    let state = AppState::new(store, app.master.clone(), app.config.clone())
        .await
        .unwrap();
    let client = state
        .registry
        .client(
            state.store.as_ref(),
            &state.master,
            &ClientId::parse(&creds.client_id).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    let now = hubgate_core::now();

    let issued = grants::exchange(
        &state,
        &client,
        TokenRequest::ClientCredentials {
            scope: Some("hubs:read"),
        },
        now,
    )
    .await
    .unwrap();
    assert_eq!(issued.access.scope.to_string(), "hubs:read");
    let refresh = issued
        .refresh
        .expect("the guide's refresh token")
        .seal(&state.master);

    let request = TokenRequest::RefreshToken {
        refresh_token: &refresh,
        scope: None,
        redirect_uri: None,
    };
    let rotated = grants::exchange(&state, &client, request, now)
        .await
        .unwrap();
    let next =
        RefreshClaims::open(&state.master, &rotated.refresh.unwrap().seal(&state.master)).unwrap();
    assert_eq!(next.generation, 1, "the pair rotated");

    let reused = grants::exchange(&state, &client, request, now).await;
    assert!(matches!(
        reused,
        Err(FlowError::Grant(GrantError::InvalidGrant(
            InvalidGrant::Reused
        )))
    ));

    // Past the refresh token's expiry, by the clock the test passes in.
    let later = now + time::Duration::days(400);
    let request = TokenRequest::RefreshToken {
        refresh_token: &refresh,
        scope: None,
        redirect_uri: None,
    };
    let expired = grants::exchange(&state, &client, request, later).await;
    assert!(matches!(
        expired,
        Err(FlowError::Grant(GrantError::InvalidGrant(
            InvalidGrant::Expired
        )))
    ));
}
