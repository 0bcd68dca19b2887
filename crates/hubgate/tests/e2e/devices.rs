//! Live hubs over MQTT, with a real third-party device client (Python
//! paho-mqtt, `tests/clients/python/device.py`): credentials, reports, the
//! shadow, desired states, topic isolation, revocation, restarts, and a
//! desired state crossing nodes on PostgreSQL.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{
    ALL_SCOPES, Cluster, Server, client_credentials, create_integration, repo_root,
};

/// A hub, as paho-mqtt connects it; killed when dropped.
struct Device {
    child: Child,
    stdin: ChildStdin,
    events: Receiver<Value>,
}

impl Device {
    fn start(mqtt: std::net::SocketAddr, serial: &str, password: &str) -> Device {
        Self::start_with(mqtt, serial, password, &[])
    }

    fn start_with(
        mqtt: std::net::SocketAddr,
        serial: &str,
        password: &str,
        extra: &[&str],
    ) -> Device {
        let python = std::env::var("HUBGATE_TEST_PYTHON").unwrap_or_else(|_| {
            repo_root()
                .join("tests/clients/python/.venv/bin/python")
                .to_string_lossy()
                .into_owned()
        });
        let mut child = Command::new(python)
            .arg(repo_root().join("tests/clients/python/device.py"))
            .args([
                &mqtt.ip().to_string(),
                &mqtt.port().to_string(),
                serial,
                password,
            ])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python with paho-mqtt (scripts/install-test-deps)");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, events) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(event) = serde_json::from_str::<Value>(&line) {
                    let _ = sender.send(event);
                }
            }
        });
        Device {
            child,
            stdin,
            events,
        }
    }

    fn send(&mut self, command: Value) {
        writeln!(self.stdin, "{command}").expect("device stdin");
        self.stdin.flush().expect("device stdin");
    }

    /// The next event matching `wanted` within `limit`, skipping others.
    fn expect(&self, what: &str, limit: Duration, wanted: impl Fn(&Value) -> bool) -> Value {
        self.wait_for(limit, wanted)
            .unwrap_or_else(|| panic!("device: no {what} within {limit:?}"))
    }

    fn wait_for(&self, limit: Duration, wanted: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) if wanted(&event) => return Some(event),
                Ok(event) => eprintln!("device (skipped): {event}"),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn event(name: &'static str) -> impl Fn(&Value) -> bool {
    move |e| e["event"] == name
}

fn desired_version(version: i64) -> impl Fn(&Value) -> bool {
    move |e| e["event"] == "desired" && e["payload"]["version"] == version
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn of(server: &Server) -> Api {
        Self::with(server, &create_integration(server, ALL_SCOPES)).await
    }

    async fn with(server: &Server, integration: &crate::support::Integration) -> Api {
        let token = client_credentials(server, integration).await.access_token;
        Api {
            http: reqwest::Client::new(),
            base: server.url.clone(),
            token,
        }
    }

    fn on(&self, url: &str) -> Api {
        Api {
            http: self.http.clone(),
            base: url.to_owned(),
            token: self.token.clone(),
        }
    }

    async fn hubs(&self) -> Vec<Value> {
        let page: Value = self
            .http
            .get(format!("{}/api/v1/hubs", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        page["items"].as_array().unwrap().clone()
    }

    async fn shadow(&self, hub: &str) -> Value {
        let response = self
            .http
            .get(format!("{}/api/v1/hubs/{hub}/state", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Polls the shadow until `done` holds; how long that took.
    async fn shadow_until(
        &self,
        hub: &str,
        limit: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Duration {
        let started = Instant::now();
        loop {
            let shadow = self.shadow(hub).await;
            if done(&shadow) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "shadow not as expected within {limit:?}: {shadow}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn patch_desired(&self, hub: &str, desired: Value) {
        let response = self
            .http
            .patch(format!("{}/api/v1/hubs/{hub}", self.base))
            .bearer_auth(&self.token)
            .json(&json!({"desired": desired}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
}

fn credential(issued: &Value) -> (String, String) {
    (
        issued["serial"].as_str().unwrap().to_owned(),
        issued["secret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_device_reports_receives_desired_states_and_stays_in_its_own_topics() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let mqtt = server.mqtt.expect("the MQTT listener is in the banner");
    let api = Api::of(&server).await;
    let hubs = api.hubs().await;
    let (hub, other) = (
        hubs[0]["id"].as_str().unwrap(),
        hubs[1]["id"].as_str().unwrap(),
    );
    let other_before = api.shadow(other).await;

    let issued = server.admin(&["hub", "credential", hub]);
    assert_eq!(issued["hub_id"], hub);
    let (serial, secret) = credential(&issued);
    assert!(secret.starts_with("hgd_"));
    let other_serial = hubs[1]["serial"].as_str().unwrap();

    // A wrong password is refused.
    let wrong = Device::start(mqtt, &serial, "hgd_not-the-secret");
    wrong.expect("refusal", Duration::from_secs(10), event("refused"));
    drop(wrong);

    // Connected: online, the full state reported, the (empty) desired state received.
    let mut device = Device::start(mqtt, &serial, &secret);
    device.expect("connection", Duration::from_secs(10), event("connected"));
    let first = device.expect("desired state", Duration::from_secs(5), event("desired"));
    assert_eq!(first["payload"], json!({"version": 0, "state": {}}));
    api.shadow_until(hub, Duration::from_secs(2), |s| {
        s["online"] == true && s["reported"]["connected"] == json!([1, 0, 0, 0])
    })
    .await;

    // A partial report merges; the shadow shows it on the API.
    device.send(json!({"state": {"active": 3, "connected": [0, 0, 1, 0]}}));
    let took = api
        .shadow_until(hub, Duration::from_secs(2), |s| {
            s["reported"]["active"] == 3
        })
        .await;
    println!("report visible through the API after {took:?}");
    let shadow = api.shadow(hub).await;
    assert_eq!(shadow["reported"]["connected"], json!([0, 0, 1, 0]));
    assert_eq!(
        shadow["reported"]["mtrport"], 1,
        "keys not in the report are kept"
    );
    assert_eq!(shadow["state"], shadow["reported"]);

    // A desired change reaches the device; the delta clears once it reports it.
    api.patch_desired(hub, json!({"mtrmode": true, "mtrport": 2}))
        .await;
    let desired = device.expect(
        "new desired state",
        Duration::from_secs(2),
        desired_version(1),
    );
    assert_eq!(
        desired["payload"]["state"],
        json!({"mtrmode": true, "mtrport": 2})
    );
    let shadow = api.shadow(hub).await;
    assert_eq!(shadow["desired_version"], 1);
    assert_eq!(shadow["delta"], json!({"mtrmode": true, "mtrport": 2}));
    device.send(json!({"state": {"mtrmode": true, "mtrport": 2}}));
    api.shadow_until(hub, Duration::from_secs(2), |s| {
        s["delta"] == json!({}) && s["reported"]["mtrmode"] == true
    })
    .await;

    // A report with an unknown key or a wrong type is refused with the reason.
    device.send(json!({"state": {"colour": "red"}}));
    let refused = device.expect("error", Duration::from_secs(2), event("error"));
    assert!(
        refused["payload"]["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `colour`"),
        "{refused}"
    );
    device.send(json!({"state": {"active": "two"}}));
    device.expect("error", Duration::from_secs(2), event("error"));
    assert!(api.shadow(hub).await["reported"].get("colour").is_none());

    // Another hub's topics: publishing is refused (the hub is unchanged),
    // and so is subscribing to them. MQTT 3.1.1 has no negative PUBACK: the
    // broker refuses by closing the connection, and the device reconnects.
    let refusal = |e: &Value| {
        e["event"] == "disconnected"
            || (e["event"] == "published" && e["reason"] != "Success")
            || (e["event"] == "subscribed"
                && e["codes"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c.as_i64() >= Some(0x80))))
    };
    device.send(
        json!({"publish": format!("hubs/{other_serial}/state/reported"), "payload": {"active": 4}}),
    );
    device.expect("refused publish", Duration::from_secs(2), refusal);
    // paho sends the unacknowledged publish again after each reconnect, and
    // is refused again each time: this device is done.
    drop(device);
    let mut device = Device::start(mqtt, &serial, &secret);
    device.expect("connection", Duration::from_secs(10), event("connected"));
    device.expect(
        "own subscriptions",
        Duration::from_secs(2),
        event("subscribed"),
    );
    device.send(json!({"subscribe": format!("hubs/{other_serial}/state/desired")}));
    let refused = device.expect("refused subscription", Duration::from_secs(2), refusal);
    if refused["event"] == "disconnected" {
        device.expect("reconnection", Duration::from_secs(5), event("connected"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let other_after = api.shadow(other).await;
    assert_eq!(other_after["reported"], other_before["reported"]);
    assert_eq!(
        other_after["reported_version"],
        other_before["reported_version"]
    );
    let metrics = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("hubgate_mqtt_messages_total{kind=\"publish\",outcome=\"forbidden\"}")
            && metrics
                .contains("hubgate_mqtt_messages_total{kind=\"subscribe\",outcome=\"forbidden\"}"),
        "refusals are counted:\n{metrics}"
    );

    // Revoked: disconnected within a second, and refused when it retries.
    let started = Instant::now();
    server.admin(&["hub", "revoke-credential", hub]);
    device.expect(
        "disconnection",
        Duration::from_secs(1),
        event("disconnected"),
    );
    println!("revoked device disconnected after {:?}", started.elapsed());
    device.expect("refusal", Duration::from_secs(5), event("refused"));
    api.shadow_until(hub, Duration::from_secs(2), |s| s["online"] == false)
        .await;
}

#[tokio::test]
async fn a_device_reconnects_after_a_restart_and_gets_its_desired_state() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mqtt_listen = format!("127.0.0.1:{port}");
    let server = Server::start(&data, &["--mqtt-listen", &mqtt_listen]);
    let mqtt = server.mqtt.unwrap();
    let integration = create_integration(&server, ALL_SCOPES);
    let api = Api::with(&server, &integration).await;
    let hub = api.hubs().await[0]["id"].as_str().unwrap().to_owned();
    let (serial, secret) = credential(&server.admin(&["hub", "credential", &hub]));
    let device = Device::start(mqtt, &serial, &secret);
    device.expect("connection", Duration::from_secs(10), event("connected"));
    api.patch_desired(&hub, json!({"otp": "disable"})).await;
    device.expect("desired state", Duration::from_secs(2), desired_version(1));

    let status = server.terminate();
    assert!(status.success());
    device.expect(
        "disconnection",
        Duration::from_secs(5),
        event("disconnected"),
    );
    let server = Server::start(&data, &["--mqtt-listen", &mqtt_listen]);
    // A new port is a new issuer: a new token.
    let api = Api::with(&server, &integration).await;
    device.expect("reconnection", Duration::from_secs(10), event("connected"));
    let again = device.expect(
        "desired state after the restart",
        Duration::from_secs(5),
        desired_version(1),
    );
    assert_eq!(again["payload"]["state"], json!({"otp": "disable"}));
    api.shadow_until(&hub, Duration::from_secs(2), |s| s["online"] == true)
        .await;
}

#[tokio::test]
async fn a_desired_state_patched_on_one_node_reaches_a_device_on_another() {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    let node1 = cluster.nodes[0].as_ref().unwrap();
    let node2 = cluster.nodes[1].as_ref().unwrap();
    let integration = cluster.integration();
    let token = client_credentials(node2, &integration).await.access_token;
    let api = Api {
        http: reqwest::Client::new(),
        base: node2.url.clone(),
        token,
    };
    let hub = api.hubs().await[0]["id"].as_str().unwrap().to_owned();
    let (serial, secret) = credential(&cluster.admin(&["hub", "credential", &hub]));
    let device = Device::start(node1.mqtt.unwrap(), &serial, &secret);
    device.expect("connection", Duration::from_secs(10), event("connected"));
    device.expect("desired state", Duration::from_secs(5), desired_version(0));

    let mut latencies = Vec::new();
    for version in 1..=5 {
        let started = Instant::now();
        api.patch_desired(&hub, json!({"mtrport": 1 + version % 4}))
            .await;
        device.expect(
            "desired state from another node",
            Duration::from_secs(1),
            desired_version(version),
        );
        latencies.push(started.elapsed());
    }
    println!("desired on node 2 → device on node 1: {latencies:?}");
    // The device's reports are visible on every node.
    let node3 = api.on(&cluster.urls[2]);
    node3
        .shadow_until(&hub, Duration::from_secs(1), |s| s["online"] == true)
        .await;
}

#[tokio::test]
async fn with_a_tls_certificate_devices_connect_over_tls_only() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    crate::tls::make_certificate(dir.path(), &cert, &key);
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let server = Server::start(
        &dir.path().join("data"),
        &["--tls-cert", cert, "--tls-key", key],
    );
    assert!(
        server.banner.contains("devices (MQTT)  mqtts://"),
        "{}",
        server.banner
    );
    let mqtt = server.mqtt.unwrap();
    let account = crate::support::demo_account(&server.banner);
    let hub = server.admin(&[
        "hub",
        "create",
        "--account",
        &account,
        "--serial",
        "TLS-1",
        "--name",
        "TLS hub",
    ]);
    let (serial, secret) =
        credential(&server.admin(&["hub", "credential", hub["id"].as_str().unwrap()]));

    let device = Device::start_with(mqtt, &serial, &secret, &["--tls", cert]);
    device.expect(
        "connection over TLS",
        Duration::from_secs(10),
        event("connected"),
    );
    device.expect("desired state", Duration::from_secs(5), event("desired"));
    drop(device);
    let plain = Device::start(mqtt, &serial, &secret);
    assert!(
        plain
            .wait_for(Duration::from_secs(3), event("connected"))
            .is_none(),
        "a plain-text connection is not served"
    );
}

#[tokio::test]
async fn a_device_that_stops_answering_goes_offline_at_its_keep_alive() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let api = Api::of(&server).await;
    let hub = api.hubs().await[0]["id"].as_str().unwrap().to_owned();
    let (serial, secret) = credential(&server.admin(&["hub", "credential", &hub]));
    let device = Device::start(server.mqtt.unwrap(), &serial, &secret);
    device.expect("connection", Duration::from_secs(10), event("connected"));
    api.shadow_until(&hub, Duration::from_secs(2), |s| s["online"] == true)
        .await;
    let seen = api.shadow(&hub).await["last_seen"].clone();
    // Frozen, as a device that lost power or network: its socket stays open
    // but nothing comes. The device asked for a 5 s keep-alive; MQTT allows
    // one and a half of it.
    let stopped = Command::new("kill")
        .args(["-STOP", &device.child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let took = api
        .shadow_until(&hub, Duration::from_secs(15), |s| s["online"] == false)
        .await;
    println!("offline {took:?} after the device froze");
    assert!(api.shadow(&hub).await["last_seen"].as_str() >= seen.as_str());
    let _ = Command::new("kill")
        .args(["-CONT", &device.child.id().to_string()])
        .status();
}

#[tokio::test]
async fn guessing_a_device_credential_is_limited_before_the_store_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &["--client-auth-failures-per-client", "3"],
    );
    let mqtt = server.mqtt.unwrap();
    let api = Api::of(&server).await;
    let hubs = api.hubs().await;
    let (serial, secret) =
        credential(&server.admin(&["hub", "credential", hubs[0]["id"].as_str().unwrap()]));
    let (other, other_secret) =
        credential(&server.admin(&["hub", "credential", hubs[1]["id"].as_str().unwrap()]));

    // paho retries every second: three refusals, then the limit.
    let guesser = Device::start(mqtt, &serial, "hgd_guess");
    for _ in 0..4 {
        guesser.expect("refusal", Duration::from_secs(5), event("refused"));
    }
    drop(guesser);
    let metrics = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("hubgate_mqtt_messages_total{kind=\"connect\",outcome=\"limited\"}"),
        "{metrics}"
    );
    // The guessed hub waits out the window, even with its real credential;
    // another hub from the same address is not held up.
    let owner = Device::start(mqtt, &serial, &secret);
    owner.expect(
        "refusal while limited",
        Duration::from_secs(5),
        event("refused"),
    );
    let neighbour = Device::start(mqtt, &other, &other_secret);
    neighbour.expect("connection", Duration::from_secs(10), event("connected"));
}

#[tokio::test]
async fn simulate_makes_the_demo_fleet_live_with_the_command_the_banner_prints() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let mqtt = server.mqtt.unwrap().to_string();
    assert!(
        server.banner.contains("hubgate simulate --data-dir"),
        "{}",
        server.banner
    );
    let api = Api::of(&server).await;
    let before = api.hubs().await;
    let output = Command::new(crate::support::BIN)
        .args(["simulate", "--data-dir"])
        .arg(&data)
        .args([
            "--mqtt",
            &mqtt,
            "--hubs",
            "3",
            "--report-every",
            "0.3",
            "--duration",
            "3",
        ])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("connected 3"), "{printed}");
    for hub in &before[..3] {
        let id = hub["id"].as_str().unwrap();
        let old = api.shadow(id).await;
        assert!(
            old["reported_version"].as_i64() > Some(0),
            "the simulated hub reported: {old}"
        );
    }
    let untouched = api.shadow(before[3]["id"].as_str().unwrap()).await;
    assert_eq!(untouched["reported_version"], 0, "only the hubs asked for");
}
