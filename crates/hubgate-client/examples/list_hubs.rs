//! Lists every hub the integration's account has, with the SDK.
//!
//! ```sh
//! HUBGATE_URL=http://127.0.0.1:8080 HUBGATE_CLIENT_ID=hgc_… HUBGATE_CLIENT_SECRET=hgs_… \
//!     cargo run -p hubgate-client --example list_hubs
//! ```

use futures::TryStreamExt;
use hubgate_client::{Client, HubQuery};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let client = Client::builder(env("HUBGATE_URL")?)
        .client_credentials(env("HUBGATE_CLIENT_ID")?, env("HUBGATE_CLIENT_SECRET")?)
        .scopes(["hubs:read", "accounts:read"])
        .build()?;

    let account = client.account().await?;
    println!("account {} ({})", account.name, account.id);
    // Pages are fetched as the stream is read; the token is renewed as needed.
    let mut hubs = std::pin::pin!(client.all_hubs(HubQuery::default()));
    while let Some(hub) = hubs.try_next().await? {
        let status = if hub.online { "online" } else { "offline" };
        println!(
            "{}  {:<6}  {:<8}  {}",
            hub.id,
            hub.kind.as_str(),
            status,
            hub.name
        );
    }
    Ok(())
}
