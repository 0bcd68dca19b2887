//! Several `hubgate serve` nodes on one PostgreSQL: tokens, revocations and
//! refresh rotation are shared; a node killed under load loses nothing it
//! acknowledged, and the others go on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hubgate_api::TokenResponse;
use hubgate_core::crypto::MasterKey;
use hubgate_testkit::TestDatabase;
use serde_json::Value;

use crate::support::{
    ALL_SCOPES, BIN, Cluster, Integration, REDIRECT_URI, Relay, Server, demo_account,
};

async fn token(
    http: &reqwest::Client,
    url: &str,
    integration: &Integration,
    grant: &[(&str, &str)],
) -> reqwest::Result<reqwest::Response> {
    let mut form = vec![
        ("client_id", integration.client_id.as_str()),
        ("client_secret", integration.client_secret.as_str()),
    ];
    form.extend_from_slice(grant);
    http.post(format!("{url}/identity/oauth/v2/token"))
        .form(&form)
        .send()
        .await
}

/// A `client_credentials` pair from the node at `url`, asserted issued.
async fn client_credentials(
    http: &reqwest::Client,
    url: &str,
    integration: &Integration,
) -> TokenResponse {
    let grant = [("grant_type", "client_credentials")];
    let response = token(http, url, integration, &grant).await.unwrap();
    assert_eq!(response.status(), 200, "client_credentials on {url}");
    response.json().await.unwrap()
}

async fn hubs_status(http: &reqwest::Client, url: &str, access: &str) -> u16 {
    http.get(format!("{url}/api/v1/hubs"))
        .bearer_auth(access)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

async fn rejected_within(
    http: &reqwest::Client,
    url: &str,
    access: &str,
    limit: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if hubs_status(http, url, access).await == 401 {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

#[tokio::test]
async fn three_nodes_share_tokens_revocations_and_refresh_rotation() {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    let http = reqwest::Client::new();
    let integration = cluster.integration();
    let [one, two, three] = [&cluster.urls[0], &cluster.urls[1], &cluster.urls[2]];

    // A token issued by node 1 works on nodes 2 and 3.
    let issued = client_credentials(&http, one, &integration).await;
    let access = &issued.access_token;
    assert_eq!(hubs_status(&http, two, access).await, 200);
    assert_eq!(hubs_status(&http, three, access).await, 200);

    // 16 concurrent refreshes of one token, spread over the nodes: one winner.
    let refresh = issued.refresh_token.as_deref().unwrap();
    let attempts = (0..16).map(|i| {
        let (http, url, integration) = (http.clone(), cluster.urls[i % 3].clone(), &integration);
        async move {
            token(
                &http,
                &url,
                integration,
                &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            )
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );

    // A refresh token revoked through node 3: node 1 rejects its access tokens within 1 s.
    let family = client_credentials(&http, one, &integration).await;
    let family_access = &family.access_token;
    assert_eq!(hubs_status(&http, one, family_access).await, 200);
    let revoked = http
        .post(format!("{three}/identity/oauth/v2/revoke"))
        .form(&[
            ("client_id", integration.client_id.as_str()),
            ("client_secret", integration.client_secret.as_str()),
            ("token", family.refresh_token.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let took = rejected_within(&http, one, family_access, Duration::from_secs(1)).await;
    assert!(
        took.is_some(),
        "node 1 still accepts a token revoked through node 3"
    );
    eprintln!("revocation through node 3 reached node 1 in {took:?}");

    // The integration deleted (admin tool on the shared database): node 1 rejects within 1 s.
    let fresh = client_credentials(&http, two, &integration).await;
    let fresh_access = &fresh.access_token;
    assert_eq!(hubs_status(&http, one, fresh_access).await, 200);
    cluster.admin(&["integration", "delete", &integration.client_id]);
    let took = rejected_within(&http, one, fresh_access, Duration::from_secs(1)).await;
    assert!(
        took.is_some(),
        "node 1 still accepts a deleted integration's token"
    );
    eprintln!("deletion reached node 1 in {took:?}");
}

#[tokio::test]
async fn a_member_removed_with_the_admin_tool_loses_their_tokens_on_every_node_within_a_second() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let http = reqwest::Client::new();
    let account = demo_account(&cluster.banner);
    cluster.admin(&[
        "user",
        "create",
        "--email",
        "ops@example.com",
        "--account",
        &account,
        "--role",
        "admin",
    ]);
    let created = cluster.admin(&[
        "integration",
        "create",
        "--account",
        &account,
        "--name",
        "Acting through ops",
        "--redirect-uri",
        REDIRECT_URI,
        "--scope",
        ALL_SCOPES,
        "--created-by",
        "ops@example.com",
    ]);
    let integration = Integration {
        client_id: created["client_id"].as_str().unwrap().to_owned(),
        client_secret: created["client_secret"].as_str().unwrap().to_owned(),
    };
    let issued = client_credentials(&http, &cluster.urls[0], &integration).await;
    let access = &issued.access_token;
    assert_eq!(hubs_status(&http, &cluster.urls[1], access).await, 200);

    // Acting for the integration, ops cannot be removed until someone else acts.
    let refused = std::process::Command::new(BIN)
        .args(["admin", "--database-url", &cluster.database_url])
        .args([
            "user",
            "remove-member",
            "--email",
            "ops@example.com",
            "--account",
            &account,
        ])
        .env("HUBGATE_MASTER_KEY", &cluster.master_key)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(4));
    cluster.admin(&[
        "integration",
        "set-acting-user",
        &integration.client_id,
        "--email",
        "admin@localhost",
    ]);
    cluster.admin(&[
        "user",
        "remove-member",
        "--email",
        "ops@example.com",
        "--account",
        &account,
    ]);

    // Tokens issued through ops die on both nodes.
    for url in &cluster.urls {
        let took = rejected_within(&http, url, access, Duration::from_secs(1)).await;
        assert!(
            took.is_some(),
            "{url} still accepts a removed member's token"
        );
        eprintln!("removal reached {url} in {took:?}");
    }
    let refreshed = token(
        &http,
        &cluster.urls[1],
        &integration,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", issued.refresh_token.as_deref().unwrap()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(refreshed.status(), 400);
    // New tokens act through the new acting user and work.
    let fresh = client_credentials(&http, &cluster.urls[1], &integration).await;
    let fresh_access = &fresh.access_token;
    let works = {
        let started = Instant::now();
        loop {
            if hubs_status(&http, &cluster.urls[0], fresh_access).await == 200 {
                break true;
            }
            if started.elapsed() > Duration::from_secs(2) {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    assert!(works, "a token issued after the removal works");
}

/// Each chain refreshes over and over, moving between nodes, and remembers
/// the last pair a node acknowledged. A request that was in flight on the
/// killed node is ambiguous (it may have committed without answering), so
/// that chain stops there and is not checked.
#[tokio::test]
async fn a_node_killed_under_load_loses_nothing_it_acknowledged() {
    const CHAINS: usize = 24;
    let Some(mut cluster) = Cluster::start(3).await else {
        return;
    };
    let http = reqwest::Client::new();
    let integration = Arc::new(cluster.integration());
    let urls = Arc::new(cluster.urls.clone());
    let stop_at = Instant::now() + Duration::from_millis(2500);

    // Each chain wanders the nodes in its own pseudo-random order: chains
    // answered in one commit batch must not all move to the same next node,
    // or the victim would take whole groups of them down at once.
    let chains = (0..CHAINS).map(|chain| {
        let (http, urls, integration) = (http.clone(), urls.clone(), integration.clone());
        tokio::spawn(async move {
            let mut acknowledged: Option<(usize, Value)> = None;
            let mut acked_by_victim = Vec::new();
            let mut seed = 0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(chain as u64 + 1);
            while Instant::now() < stop_at {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let node = (seed % 3) as usize;
                let grant = match &acknowledged {
                    None => vec![("grant_type", "client_credentials".to_owned())],
                    Some((_, pair)) => vec![
                        ("grant_type", "refresh_token".to_owned()),
                        (
                            "refresh_token",
                            pair["refresh_token"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                        ),
                    ],
                };
                let grant: Vec<(&str, &str)> =
                    grant.iter().map(|(k, v)| (*k, v.as_str())).collect();
                match token(&http, &urls[node], &integration, &grant).await {
                    Ok(response) if response.status() == 200 => {
                        let pair: Value = response.json().await.unwrap();
                        if node == 1 {
                            acked_by_victim.push(pair["access_token"].as_str().unwrap().to_owned());
                        }
                        acknowledged = Some((node, pair));
                    }
                    Ok(response) => {
                        panic!("chain {chain}: node {node} answered {}", response.status())
                    }
                    // Refused before it was sent: the victim is gone, try the next node.
                    Err(error) if error.is_connect() => continue,
                    // Cut off in flight: it may or may not have committed.
                    Err(_) => return (None, acked_by_victim),
                }
            }
            (acknowledged, acked_by_victim)
        })
    });
    let chains: Vec<_> = chains.collect();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    if let Some(victim) = cluster.nodes[1].take() {
        victim.kill9();
    }
    let mut checked = 0;
    let mut victim_tokens = 0;
    for chain in chains {
        let (last, acked_by_victim) = chain.await.unwrap();
        for access in &acked_by_victim {
            assert_eq!(
                hubs_status(&http, &cluster.urls[0], access).await,
                200,
                "a token node 2 acknowledged was lost"
            );
            victim_tokens += 1;
        }
        if let Some((_, pair)) = last {
            let refresh = pair["refresh_token"].as_str().unwrap();
            let again = token(
                &http,
                &cluster.urls[2],
                &integration,
                &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            )
            .await
            .unwrap();
            assert_eq!(
                again.status(),
                200,
                "the last acknowledged refresh token no longer works"
            );
            checked += 1;
        }
    }
    // About a third of the chains are in flight to the victim when it dies
    // (more when a commit batch holds several): a quarter must be left to check.
    assert!(
        checked >= CHAINS / 4,
        "too few chains survived to check: {checked} of {CHAINS}"
    );
    assert!(
        victim_tokens > 0,
        "node 2 acknowledged nothing before it was killed"
    );
    eprintln!("checked {checked} chains; {victim_tokens} tokens node 2 acknowledged still work");
}

// Multi-threaded: the relay must run while `Server::start` blocks on the banner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_the_database_reports_not_ready_and_recovers_by_itself() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let url = url::Url::parse(&database.url).unwrap();
    let relay = Relay::start(format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port().unwrap_or(5432)
    ))
    .await;
    let mut relayed = url.clone();
    relayed.set_port(Some(relay.address.port())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = MasterKey::generate();
    let key = MasterKey::encode(&bytes);
    let node = Server::start_with_env(
        &dir.path().join("node"),
        &[
            "--database-url",
            relayed.as_str(),
            "--db-acquire-timeout",
            "1",
        ],
        &[("HUBGATE_MASTER_KEY", &key)],
    );
    let http = reqwest::Client::new();
    let ready = |http: reqwest::Client, url: String| async move {
        http.get(format!("{url}/readyz"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    assert_eq!(ready(http.clone(), node.url.clone()).await, 200);

    relay.cut();
    let mut went_unready = false;
    for _ in 0..100 {
        if ready(http.clone(), node.url.clone()).await == 503 {
            went_unready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        went_unready,
        "/readyz stayed 200 with the database unreachable"
    );
    assert_eq!(ready(http.clone(), node.url.clone()).await, 503);
    // Still alive, just not ready.
    assert_eq!(
        http.get(format!("{}/healthz", node.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    relay.restore();
    let started = Instant::now();
    let mut recovered = false;
    while started.elapsed() < Duration::from_secs(15) {
        if ready(http.clone(), node.url.clone()).await == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "the node did not recover after the database came back"
    );
    eprintln!(
        "recovered {:?} after the database came back",
        started.elapsed()
    );
    drop(node);
    drop(database);
}

/// The `kid` in a JWT's header.
fn kid(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap_or_default();
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap_or_default();
    let header: Value = serde_json::from_slice(&decoded).unwrap_or_default();
    header["kid"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_signing_key_rotated_on_the_shared_store_signs_on_every_node_while_old_tokens_still_verify()
 {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    let http = reqwest::Client::new();
    let integration = cluster.integration();
    let old_access = client_credentials(&http, &cluster.urls[0], &integration)
        .await
        .access_token;

    let keys = cluster.admin(&["key", "rotate"]);
    let new_kid = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["signing"] == true)
        .unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(kid(&old_access), new_kid);

    for url in &cluster.urls {
        let started = Instant::now();
        let fresh = loop {
            let access = client_credentials(&http, url, &integration)
                .await
                .access_token;
            if kid(&access) == new_kid || started.elapsed() > Duration::from_secs(1) {
                break access;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(
            kid(&fresh),
            new_kid,
            "{url} still signs with the old key after 1 s"
        );
        for other in &cluster.urls {
            assert_eq!(
                hubs_status(&http, other, &fresh).await,
                200,
                "a token from {url} fails on {other}"
            );
        }
    }
    for url in &cluster.urls {
        assert_eq!(
            hubs_status(&http, url, &old_access).await,
            200,
            "the old key no longer verifies on {url}"
        );
    }
}
