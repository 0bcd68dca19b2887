//! Webhooks and the event stream against the real binary, with a receiver
//! that checks every delivery with the Standard Webhooks project's own
//! library (PyPI `standardwebhooks`): signatures through a secret rotation,
//! a SIGKILL while a thousand events are delivered, a receiver down for
//! 30 s, another account's endpoint, three nodes on PostgreSQL, and
//! `hubgate events tail`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::Cluster;
use crate::support::{
    ALL_SCOPES, BIN, Integration, Server, client_credentials, create_integration, demo_account,
    repo_root,
};

/// Deliver to the test's receivers on 127.0.0.1; a short attempt limit
/// keeps the lease of a killed node's deliveries (limit + 10 s) short.
const SERVE: [&str; 3] = ["--webhook-allow-private", "--webhook-timeout", "2"];
const DESIRED: &str = "hub.desired.changed";

fn python() -> PathBuf {
    std::env::var_os("HUBGATE_TEST_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| repo_root().join("tests/clients/python/.venv/bin/python"))
}

/// `webhook_receiver.py`: verifies every delivery with `standardwebhooks`
/// and records it as a JSON line.
struct Receiver {
    child: Child,
    url: String,
    record: PathBuf,
    secrets: PathBuf,
}

impl Receiver {
    fn start(dir: &Path, name: &str, fail_for: u32) -> Receiver {
        Self::start_slow(dir, name, fail_for, 0.0)
    }

    /// A receiver taking `delay` seconds over each answer.
    fn start_slow(dir: &Path, name: &str, fail_for: u32, delay: f64) -> Receiver {
        let record = dir.join(format!("{name}.jsonl"));
        let secrets = dir.join(format!("{name}.secrets"));
        let mut child = Command::new(python())
            .arg(repo_root().join("tests/clients/python/webhook_receiver.py"))
            .arg("--record")
            .arg(&record)
            .arg("--secrets-file")
            .arg(&secrets)
            .args(["--fail-for", &fail_for.to_string()])
            .args(["--delay", &delay.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("run the webhook receiver (scripts/install-test-deps makes its venv)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the receiver said {line:?}"));
        Receiver {
            child,
            url: format!("http://127.0.0.1:{port}/hook"),
            record,
            secrets,
        }
    }

    fn add_secret(&self, secret: &str) {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.secrets)
            .unwrap();
        writeln!(file, "{secret}").unwrap();
    }

    /// The complete lines only: the receiver may be writing the last one.
    fn records(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// The ids it took (answered 2xx), with how many times each.
    fn taken(&self) -> HashMap<String, usize> {
        let mut taken = HashMap::new();
        for record in self.records() {
            if record["answered"]
                .as_u64()
                .is_some_and(|s| (200..300).contains(&s))
            {
                *taken
                    .entry(record["webhook_id"].as_str().unwrap().to_owned())
                    .or_insert(0) += 1;
            }
        }
        taken
    }

    /// Waits until every id in `ids` was taken at least once.
    fn wait_for(&self, ids: &[String], limit: Duration) -> HashMap<String, usize> {
        let started = Instant::now();
        loop {
            let taken = self.taken();
            let missing: Vec<&String> = ids.iter().filter(|id| !taken.contains_key(*id)).collect();
            if missing.is_empty() {
                return taken;
            }
            assert!(
                started.elapsed() < limit,
                "{} of {} events never arrived, e.g. {:?}",
                missing.len(),
                ids.len(),
                &missing[..missing.len().min(3)]
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `hubgate admin --output json …` against a server's store.
fn admin(server: &Server, args: &[&str]) -> Value {
    server.admin(args)
}

fn create_webhook(
    admin: impl Fn(&[&str]) -> Value,
    client_id: &str,
    url: &str,
) -> (String, String) {
    let created = admin(&[
        "webhook",
        "create",
        client_id,
        "--url",
        url,
        "--event",
        DESIRED,
        "--allow-private",
    ]);
    (
        created["id"].as_str().unwrap().to_owned(),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

/// A client of one or more nodes' API with one token.
struct Api {
    http: reqwest::Client,
    token: String,
}

impl Api {
    async fn of(server: &Server, integration: &Integration) -> Api {
        Api {
            http: reqwest::Client::new(),
            token: client_credentials(server, integration).await.access_token,
        }
    }

    async fn hub_ids(&self, base: &str) -> Vec<String> {
        let page: Value = self
            .http
            .get(format!("{base}/api/v1/hubs"))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// `count` changes of desired settings, round-robin over hubs and nodes,
    /// each one a change (a hub's value flips every time it comes round).
    async fn change_desired(&self, bases: &[String], hubs: &[String], count: usize, from: usize) {
        for i in from..from + count {
            let hub = &hubs[i % hubs.len()];
            let mode = (i / hubs.len()).is_multiple_of(2);
            let base = &bases[i % bases.len()];
            let response = self
                .http
                .patch(format!("{base}/api/v1/hubs/{hub}"))
                .bearer_auth(&self.token)
                .json(&json!({"desired": {"mtrmode": mode}}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        }
    }

    /// The account's events after `after`, every page, from the API.
    async fn events_after(&self, base: &str, after: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut after = after.to_owned();
        loop {
            let page: Value = self
                .http
                .get(format!("{base}/api/v1/events?limit=1000&after={after}"))
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let items = page["items"].as_array().unwrap();
            let Some(last) = items.last() else {
                return events;
            };
            after = last["id"].as_str().unwrap().to_owned();
            events.extend(items.iter().cloned());
        }
    }

    /// The ids of the account's `kind` events after `after`.
    async fn event_ids(&self, base: &str, kind: &str, after: &str) -> Vec<String> {
        self.events_after(base, after)
            .await
            .iter()
            .filter(|e| e["type"] == kind)
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The newest event id, to count from.
    async fn last_event_id(&self, base: &str) -> String {
        self.events_after(base, "")
            .await
            .last()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn deliveries_verify_with_standardwebhooks_through_a_rotation_and_stay_in_their_account() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &SERVE);
    let integration = create_integration(&server, ALL_SCOPES);
    let receiver = Receiver::start(dir.path(), "main", 0);
    let (webhook, secret) =
        create_webhook(|a| admin(&server, a), &integration.client_id, &receiver.url);
    receiver.add_secret(&secret);

    // Another account's integration with an endpoint of its own.
    let other = admin(&server, &["account", "create", "--name", "Elsewhere"]);
    let other_account = other["id"].as_str().unwrap();
    admin(
        &server,
        &[
            "user",
            "create",
            "--email",
            "owner@elsewhere.example",
            "--password",
            "a long enough password",
            "--account",
            other_account,
            "--role",
            "owner",
        ],
    );
    let foreign = admin(
        &server,
        &[
            "integration",
            "create",
            "--account",
            other_account,
            "--name",
            "Other",
            "--redirect-uri",
            "https://example.com/cb",
            "--scope",
            ALL_SCOPES,
        ],
    );
    let stranger = Receiver::start(dir.path(), "stranger", 0);
    let (_, stranger_secret) = create_webhook(
        |a| admin(&server, a),
        foreign["client_id"].as_str().unwrap(),
        &stranger.url,
    );
    stranger.add_secret(&stranger_secret);

    let api = Api::of(&server, &integration).await;
    let hubs = api.hub_ids(&server.url).await;
    let start = api.last_event_id(&server.url).await;
    let bases = [server.url.clone()];
    api.change_desired(&bases, &hubs, 6, 0).await;
    let before = api.event_ids(&server.url, DESIRED, &start).await;
    assert_eq!(before.len(), 6);
    receiver.wait_for(&before, Duration::from_secs(20));

    let rotated = admin(
        &server,
        &["webhook", "rotate-secret", &integration.client_id, &webhook],
    );
    receiver.add_secret(rotated["secret"].as_str().unwrap());
    let mark = before.last().unwrap().clone();
    api.change_desired(&bases, &hubs, 6, 6).await;
    let after = api.event_ids(&server.url, DESIRED, &mark).await;
    assert_eq!(after.len(), 6);
    receiver.wait_for(&after, Duration::from_secs(20));

    let records = receiver.records();
    assert!(records.iter().all(|r| r["verified"] == true), "{records:?}");
    for record in &records {
        let id = record["webhook_id"].as_str().unwrap().to_owned();
        if before.contains(&id) {
            assert_eq!(record["verified_with"], json!([0]), "{record}");
        } else {
            assert_eq!(
                (&record["verified_with"], &record["signatures"]),
                (&json!([0, 1]), &json!(2)),
                "during the overlap both the old and the new secret verify: {record}"
            );
        }
        assert_eq!(record["type"], DESIRED);
    }
    assert_eq!(
        stranger.records(),
        Vec::<Value>::new(),
        "another account's endpoint gets none of these events"
    );
    let account = demo_account(&server.banner);
    let listed = admin(&server, &["webhook", "list", &integration.client_id]);
    assert_eq!(listed[0]["id"], webhook.as_str());
    assert!(account.starts_with("acc_"));
}

#[tokio::test]
async fn a_sigkill_while_a_thousand_events_are_delivered_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &SERVE);
    let integration = create_integration(&server, ALL_SCOPES);
    // Slow enough that deliveries are still under way when the changes are
    // done (6 hubs, one delivery at a time each: about 40 a second).
    let receiver = Receiver::start_slow(dir.path(), "main", 0, 0.15);
    let (_, secret) = create_webhook(|a| admin(&server, a), &integration.client_id, &receiver.url);
    receiver.add_secret(&secret);
    let api = Api::of(&server, &integration).await;
    let hubs = api.hub_ids(&server.url).await;
    let start = api.last_event_id(&server.url).await;
    api.change_desired(std::slice::from_ref(&server.url), &hubs, 1000, 0)
        .await;
    let events = api.event_ids(&server.url, DESIRED, &start).await;
    assert_eq!(events.len(), 1000);

    // Kill it while deliveries are under way.
    let started = Instant::now();
    while receiver.taken().len() < 100 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let delivered_before = receiver.taken().len();
    assert!(
        delivered_before < events.len(),
        "the kill came after every delivery ({delivered_before}): nothing was in flight"
    );
    server.kill9();

    let restarted = Server::start(&data, &SERVE);
    let taken = receiver.wait_for(&events, Duration::from_secs(60));
    let duplicates: usize = taken.values().map(|n| n - 1).sum();
    eprintln!(
        "SIGKILL after {delivered_before} of {} deliveries: all arrived, {duplicates} delivered twice",
        events.len()
    );
    assert!(receiver.records().iter().all(|r| r["verified"] == true));
    // A duplicate can only be a delivery the dead node sent but never
    // recorded: at most the attempts one claim takes (64).
    assert!(duplicates <= 64, "{duplicates} duplicates");
    drop(restarted);
}

#[tokio::test]
async fn a_receiver_down_for_thirty_seconds_gets_every_event_after_in_order_per_hub() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &SERVE);
    let integration = create_integration(&server, ALL_SCOPES);
    let receiver = Receiver::start(dir.path(), "main", 30);
    let receiver_started = Instant::now();
    let (_, secret) = create_webhook(|a| admin(&server, a), &integration.client_id, &receiver.url);
    receiver.add_secret(&secret);
    let api = Api::of(&server, &integration).await;
    let hubs = api.hub_ids(&server.url).await;
    let start = api.last_event_id(&server.url).await;
    api.change_desired(std::slice::from_ref(&server.url), &hubs[..2], 10, 0)
        .await;
    let events = api.event_ids(&server.url, DESIRED, &start).await;
    assert_eq!(events.len(), 10);
    receiver.wait_for(&events, Duration::from_secs(90));
    assert!(
        receiver_started.elapsed() >= Duration::from_secs(30),
        "nothing is taken while the receiver fails"
    );

    let records = receiver.records();
    assert!(
        records.iter().any(|r| r["answered"] == 500),
        "it did fail first"
    );
    let mut per_hub: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut seen = HashSet::new();
    for record in records.iter().filter(|r| r["answered"] == 204) {
        let id = record["webhook_id"].as_str().unwrap().to_owned();
        if seen.insert(id.clone()) {
            per_hub
                .entry(record["hub_id"].as_str().unwrap().to_owned())
                .or_default()
                .push(id);
        }
    }
    assert_eq!(per_hub.len(), 2);
    for (hub, ids) in per_hub {
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "hub {hub}'s events arrived out of order");
        assert_eq!(ids.len(), 5);
    }
}

#[tokio::test]
async fn events_tail_prints_events_as_they_happen() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--no-mqtt"]);
    let integration = create_integration(&server, ALL_SCOPES);
    let mut tail = Command::new(BIN)
        .args(["events", "tail", "--output", "json"])
        .env("HUBGATE_URL", &server.url)
        .env("HUBGATE_CLIENT_ID", &integration.client_id)
        .env("HUBGATE_CLIENT_SECRET", &integration.client_secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(tail.stdout.take().unwrap()).lines();
    let (sender, printed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    let api = Api::of(&server, &integration).await;
    let hubs = api.hub_ids(&server.url).await;
    // The stream starts from now: change until the tail has connected and printed.
    let mut got = None;
    for round in 0..20 {
        api.change_desired(std::slice::from_ref(&server.url), &hubs[..1], 1, round)
            .await;
        if let Ok(line) = printed.recv_timeout(Duration::from_millis(500)) {
            got = Some(line);
            break;
        }
    }
    let _ = tail.kill();
    let _ = tail.wait();
    let line = got.expect("events tail printed an event");
    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["type"], DESIRED);
    assert_eq!(event["hub_id"], hubs[0].as_str());
    assert!(event["id"].as_str().unwrap().starts_with("evt_"));
}

#[tokio::test]
async fn three_nodes_on_postgresql_deliver_each_event_once_and_lose_none_when_one_dies() {
    let Some(mut cluster) = Cluster::start_with(3, &SERVE).await else {
        eprintln!("skipped: no PostgreSQL for tests");
        return;
    };
    let integration = cluster.integration();
    let dir = tempfile::tempdir().unwrap();
    // Slow enough that the second batch is still being delivered at the kill.
    let receiver = Receiver::start_slow(dir.path(), "main", 0, 0.1);
    let (_, secret) = create_webhook(|a| cluster.admin(a), &integration.client_id, &receiver.url);
    receiver.add_secret(&secret);
    let first = cluster.nodes[0].as_ref().unwrap();
    let api = Api::of(first, &integration).await;
    let hubs = api.hub_ids(&cluster.urls[0]).await;
    let start = api.last_event_id(&cluster.urls[0]).await;

    // Every node writes events and every node delivers.
    api.change_desired(&cluster.urls, &hubs, 150, 0).await;
    let events = api.event_ids(&cluster.urls[1], DESIRED, &start).await;
    assert_eq!(events.len(), 150);
    let taken = receiver.wait_for(&events, Duration::from_secs(30));
    let duplicates: usize = taken.values().map(|n| n - 1).sum();
    eprintln!("three nodes, 150 events: {duplicates} delivered twice");
    assert_eq!(duplicates, 0, "no event is delivered twice by two nodes");

    // A node killed while deliveries are under way loses none: it dies
    // between two batches of changes, with the first still being delivered.
    let mark = events.last().unwrap().clone();
    let survivors = cluster.urls[1..].to_vec();
    api.change_desired(&survivors, &hubs, 60, 150).await;
    let taken_before = receiver.taken();
    cluster.nodes[0].take().unwrap().kill9();
    api.change_desired(&survivors, &hubs, 240, 210).await;
    let later = api.event_ids(&cluster.urls[1], DESIRED, &mark).await;
    assert_eq!(later.len(), 300);
    let delivered_before = later
        .iter()
        .filter(|id| taken_before.contains_key(*id))
        .count();
    let taken = receiver.wait_for(&later, Duration::from_secs(60));
    let duplicates: usize = later.iter().map(|id| taken[id] - 1).sum();
    eprintln!(
        "a node killed after {delivered_before} of 300 deliveries: all arrived, {duplicates} delivered twice"
    );
    assert!(receiver.records().iter().all(|r| r["verified"] == true));
}

#[tokio::test]
async fn a_server_with_open_event_streams_stops_at_once_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &["--no-mqtt"]);
    let integration = create_integration(&server, ALL_SCOPES);
    let api = Api::of(&server, &integration).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let response = api
            .http
            .get(format!("{}/api/v1/events", server.url))
            .bearer_auth(&api.token)
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        streams.push(response);
    }
    let started = Instant::now();
    let stopped = tokio::task::spawn_blocking(move || server.terminate());
    for mut stream in streams {
        let ended = tokio::time::timeout(Duration::from_secs(5), async {
            while stream.chunk().await.ok().flatten().is_some() {}
        })
        .await;
        assert!(ended.is_ok(), "a stream was still open 5 s after SIGTERM");
    }
    let status = tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .expect("the server stopped")
        .unwrap();
    assert!(status.success(), "{status}");
    eprintln!(
        "stopped {:?} after SIGTERM with 3 streams open",
        started.elapsed()
    );
}
