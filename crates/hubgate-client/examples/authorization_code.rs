//! The authorization-code flow with PKCE: prints the URL to send a user to,
//! then exchanges the code the redirect brought back.
//!
//! ```sh
//! HUBGATE_URL=… HUBGATE_CLIENT_ID=… HUBGATE_CLIENT_SECRET=… REDIRECT_URI=https://your.app/callback \
//!     cargo run -p hubgate-client --example authorization_code
//! ```

use hubgate_client::authorization::AuthorizationRequest;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let (base, client_id, secret) = (
        env("HUBGATE_URL")?,
        env("HUBGATE_CLIENT_ID")?,
        env("HUBGATE_CLIENT_SECRET")?,
    );
    let request = AuthorizationRequest::new(
        &base,
        &client_id,
        &env("REDIRECT_URI")?,
        ["sub", "email", "hubs:read"],
    )?;
    println!(
        "Open this URL, approve, then paste the `code` and `state` of the redirect:\n{}",
        request.url()
    );

    let mut line = String::new();
    println!("code:");
    std::io::stdin().read_line(&mut line)?;
    let code = line.trim().to_owned();
    line.clear();
    println!("state:");
    std::io::stdin().read_line(&mut line)?;

    // Checks the state, sends the PKCE verifier; the client then refreshes by itself.
    let client = request
        .exchange(&client_id, &secret, &code, line.trim())
        .await?;
    let me = client.userinfo().await?;
    println!("acting for {:?} <{:?}>", me.sub, me.email);
    Ok(())
}
