//! A token the server answered with survives the server being killed at once.

use crate::support::{
    ALL_SCOPES, Server, client_credentials, create_integration, get_status, refresh,
};
use hubgate_api::TokenResponse;

#[tokio::test]
async fn tokens_answered_before_a_sigkill_work_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Tokens name the public URL, which a restart on another port must keep.
    let public = ["--public-url", "http://hubgate.test"];
    let server = Server::start(&data, &public);
    let integration = create_integration(&server, ALL_SCOPES);

    let issued = client_credentials(&server, &integration).await;
    // A rotation, whose new generation must be on disk before the answer.
    let rotated: TokenResponse = refresh(
        &server,
        &integration,
        issued.refresh_token.as_deref().unwrap(),
    )
    .await
    .json()
    .await
    .unwrap();
    server.kill9();

    let server = Server::start(&data, &public);
    let access = rotated.access_token.as_str();
    assert_eq!(get_status(&server, "/api/v1/hubs", access).await, 200);
    let again = refresh(
        &server,
        &integration,
        rotated.refresh_token.as_deref().unwrap(),
    )
    .await;
    assert_eq!(
        again.status(),
        200,
        "the refresh token answered before SIGKILL no longer works"
    );
    // And the one rotated away is still recognised as reuse.
    let old = refresh(
        &server,
        &integration,
        issued.refresh_token.as_deref().unwrap(),
    )
    .await;
    assert_eq!(old.status(), 400);
}
