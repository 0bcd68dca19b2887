//! `hubgate simulate`: a fleet of virtual hubs over MQTT, so the console and
//! the API are live without hardware, and the device listener can be loaded.
//!
//! It works on the store like `hubgate admin` (to find or create the hubs and
//! issue their credentials: issuing replaces a real device's credential, so
//! simulate a demo or test account only), then connects one MQTT client per
//! hub. Each hub reports realistic changes (a laptop connects to a port as a
//! meeting starts and becomes the active port; it leaves as the meeting
//! ends), applies the desired settings it receives and reports them, and
//! drops and reconnects now and then.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use hubgate_core::device::{DesiredMessage, Topics};
use hubgate_core::hub::HubKind;
use hubgate_core::ids::AccountId;
use hubgate_server::app::{Actor, Manager};
use hubgate_store::HubFilter;
use mqtt5::{ConnectOptions, MqttClient};
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The data directory of the server's store [env: HUBGATE_DATA_DIR] [default: ./hubgate-data]
    #[arg(long, env = "HUBGATE_DATA_DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    /// The server's PostgreSQL store instead [env: HUBGATE_DATABASE_URL]
    #[arg(long, env = "HUBGATE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The server's MQTT listener
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub mqtt: String,
    /// The account whose hubs to simulate [default: the first account]
    #[arg(long)]
    pub account: Option<String>,
    /// How many hubs; more than the account has are created (SIM-000001…)
    /// [default: the account's hubs]
    #[arg(long)]
    pub hubs: Option<usize>,
    /// Mean seconds between one hub's reports
    #[arg(long, default_value_t = 5.0)]
    pub report_every: f64,
    /// How often a device drops its connection and reconnects, per hour
    #[arg(long, default_value_t = 1.0)]
    pub drops_per_hour: f64,
    /// Stop after this many seconds [default: run until Ctrl-C]
    #[arg(long)]
    pub duration: Option<u64>,
}

/// A hub's own state as the device keeps it, and how it changes.
#[derive(Debug, Clone, PartialEq)]
pub struct VirtualHub {
    state: Map<String, Value>,
}

impl VirtualHub {
    pub fn new() -> Self {
        let state = json!({
            "connected": [0, 0, 0, 0], "active": 0, "mtrmode": false, "mtrport": 1,
            "mtrdisable": 0, "mtrextension": "disable", "mtrsync": true,
            "externalmtr": false, "adminmode": false, "otp": "normal"
        });
        Self {
            state: state.as_object().cloned().unwrap_or_default(),
        }
    }

    pub fn state(&self) -> &Map<String, Value> {
        &self.state
    }

    fn ports(&self) -> [u8; 4] {
        let mut ports = [0; 4];
        if let Some(Value::Array(values)) = self.state.get("connected") {
            for (port, value) in ports.iter_mut().zip(values) {
                *port = u8::from(value.as_u64() == Some(1));
            }
        }
        ports
    }

    /// One change of the room: a laptop joins a free port and becomes the
    /// active one (a meeting starts), or the active laptop leaves and the
    /// next connected port, if any, takes over. Returns the changed keys.
    pub fn step(&mut self, rng: &mut impl rand::Rng) -> Map<String, Value> {
        let mut ports = self.ports();
        let free: Vec<usize> = (0..4).filter(|&p| ports[p] == 0).collect();
        let joins = !free.is_empty() && (ports.iter().all(|&p| p == 0) || rng.random_bool(0.5));
        let active = if joins {
            let port = free[rng.random_range(0..free.len())];
            ports[port] = 1;
            port + 1
        } else {
            let leaving = match self.state.get("active").and_then(Value::as_u64) {
                Some(active @ 1..=4) if ports[active as usize - 1] == 1 => active as usize - 1,
                _ => (0..4).find(|&p| ports[p] == 1).unwrap_or(0),
            };
            ports[leaving] = 0;
            (0..4).find(|&p| ports[p] == 1).map_or(0, |p| p + 1)
        };
        let mut changed = Map::new();
        changed.insert("connected".into(), json!(ports));
        changed.insert("active".into(), json!(active));
        hubgate_core::hub::merge_report(&mut self.state, &changed);
        changed
    }

    /// Applies desired settings, as a hub obeys them; returns what changed.
    pub fn apply(&mut self, desired: &Map<String, Value>) -> Map<String, Value> {
        let changed: Map<String, Value> = desired
            .iter()
            .filter(|(key, value)| self.state.get(*key) != Some(*value))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        hubgate_core::hub::merge_report(&mut self.state, &changed);
        changed
    }
}

impl Default for VirtualHub {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Default)]
struct Counters {
    connected: AtomicU64,
    connects: AtomicU64,
    refused: AtomicU64,
    reports: AtomicU64,
    desired: AtomicU64,
}

pub async fn run(args: SimulateArgs) -> ExitCode {
    match simulate(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hubgate simulate: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// A serial and its credential.
struct Credential {
    serial: String,
    secret: String,
}

async fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let credentials = prepare(&args).await?;
    let counters = Arc::new(Counters::default());
    let address = format!("mqtt://{}", args.mqtt);
    println!(
        "simulating {} hubs against {address} (a report every ~{} s per hub, {} drops per hour)",
        credentials.len(),
        args.report_every,
        args.drops_per_hour
    );
    for credential in credentials {
        let counters = counters.clone();
        let address = address.clone();
        let report_every = args.report_every;
        let drops_per_hour = args.drops_per_hour;
        tokio::spawn(async move {
            run_device(credential, address, report_every, drops_per_hour, counters).await;
        });
        // Spread the connects: a burst of thousands is not what a fleet does.
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let started = Instant::now();
    let stop = async {
        match args.duration {
            Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut last_reports = 0;
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = tick.tick() => last_reports = print_status(&counters, started, last_reports),
        }
    }
    // A last line at the stop, so a short run still shows where it ended.
    print_status(&counters, started, last_reports);
    Ok(())
}

/// Prints one status line; returns the report count it showed.
fn print_status(counters: &Counters, started: Instant, last_reports: u64) -> u64 {
    let reports = counters.reports.load(Ordering::Relaxed);
    println!(
        "{:>5} s  connected {}  connects {}  refused {}  reports {} (+{} since the last line)  desired received {}",
        started.elapsed().as_secs(),
        counters.connected.load(Ordering::Relaxed),
        counters.connects.load(Ordering::Relaxed),
        counters.refused.load(Ordering::Relaxed),
        reports,
        reports - last_reports,
        counters.desired.load(Ordering::Relaxed),
    );
    reports
}

/// Finds (or creates) the hubs and issues each a fresh credential.
async fn prepare(args: &SimulateArgs) -> anyhow::Result<Vec<Credential>> {
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("hubgate-data"));
    let store = crate::admin::open(&data_dir, args.database_url.as_deref()).await?;
    let master = crate::admin::verified_master_key(&data_dir, store.as_ref())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let account: AccountId = match &args.account {
        Some(raw) => raw
            .parse()
            .map_err(|_| anyhow::anyhow!("{raw:?} is not an account id (acc_…)"))?,
        None => store
            .list_accounts()
            .await?
            .first()
            .map(|a| a.id)
            .context("the store has no account yet")?,
    };
    let mut hubs = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_hubs(account, &HubFilter::default(), after, 200)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        hubs.extend(page);
    }
    let wanted = args.hubs.unwrap_or(hubs.len());
    let operator = Actor::Operator;
    let manager = Manager::new(store.as_ref(), &master, &operator, hubgate_core::now());
    let mut ids: Vec<_> = hubs.iter().take(wanted).map(|h| h.id).collect();
    for n in hubs.len()..wanted {
        let serial = format!("SIM-{:06}", n + 1);
        let name = format!("Simulated hub {}", n + 1);
        let room = format!("Room {}", n / 4 + 1);
        let hub = manager
            .create_hub(account, &serial, &name, HubKind::Hub, Some(&room))
            .await
            .map_err(|e| anyhow::anyhow!("creating {serial}: {e}"))?;
        ids.push(hub.id);
    }
    let mut credentials = Vec::with_capacity(ids.len());
    for id in ids {
        let (device, secret) = manager
            .issue_device_credential(id)
            .await
            .map_err(|e| anyhow::anyhow!("issuing a credential: {e}"))?;
        credentials.push(Credential {
            serial: device.serial,
            secret: secret.expose().to_owned(),
        });
    }
    store.close().await;
    Ok(credentials)
}

async fn run_device(
    credential: Credential,
    address: String,
    report_every: f64,
    drops_per_hour: f64,
    counters: Arc<Counters>,
) {
    let topics = Topics::of(&credential.serial);
    let mut hub = VirtualHub::new();
    // Sendable across the task's awaits, unlike the thread-local generator.
    let mut rng = rand::rngs::StdRng::from_rng(&mut rand::rng());
    let mut attempt = 0u32;
    loop {
        let client = MqttClient::new(format!("sim-{}", credential.serial));
        let options = ConnectOptions::new(format!("sim-{}", credential.serial))
            .with_credentials(credential.serial.clone(), credential.secret.as_bytes())
            .with_keep_alive(Duration::from_secs(30))
            .with_automatic_reconnect(false);
        if client
            .connect_with_options(&address, options)
            .await
            .is_err()
        {
            counters.refused.fetch_add(1, Ordering::Relaxed);
            attempt = (attempt + 1).min(6);
            let backoff = Duration::from_millis(250 << attempt);
            tokio::time::sleep(backoff.mul_f64(rng.random_range(0.5..1.5))).await;
            continue;
        }
        attempt = 0;
        counters.connects.fetch_add(1, Ordering::Relaxed);
        counters.connected.fetch_add(1, Ordering::Relaxed);
        let (desired_tx, mut desired_rx) = tokio::sync::mpsc::unbounded_channel();
        let subscribed = client
            .subscribe(topics.desired.clone(), move |message| {
                if let Ok(desired) = serde_json::from_slice::<DesiredMessage>(&message.payload) {
                    let _ = desired_tx.send(desired);
                }
            })
            .await;
        let full = json!({ "state": hub.state() }).to_string();
        let mut healthy =
            subscribed.is_ok() && client.publish_qos1(&topics.reported, full).await.is_ok();
        // When this connection drops, as a device on a flaky network does.
        let stays = if drops_per_hour > 0.0 {
            let mean = 3600.0 / drops_per_hour;
            Duration::from_secs_f64(-mean * (1.0_f64 - rng.random::<f64>()).ln())
        } else {
            Duration::MAX
        };
        let drop_at = tokio::time::Instant::now()
            .checked_add(stays)
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86_400 * 365));
        while healthy {
            let wait = Duration::from_secs_f64(report_every * rng.random_range(0.5..1.5));
            let changed = tokio::select! {
                () = tokio::time::sleep(wait) => hub.step(&mut rng),
                Some(desired) = desired_rx.recv() => {
                    counters.desired.fetch_add(1, Ordering::Relaxed);
                    hub.apply(&desired.state)
                }
                () = tokio::time::sleep_until(drop_at) => break,
            };
            if changed.is_empty() {
                continue;
            }
            let report = json!({ "state": changed }).to_string();
            healthy = client.publish_qos1(&topics.reported, report).await.is_ok();
            if healthy {
                counters.reports.fetch_add(1, Ordering::Relaxed);
            }
        }
        let _ = client.disconnect().await;
        counters.connected.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meetings_start_and_end_and_the_active_port_follows() {
        let mut hub = VirtualHub::new();
        let mut rng = rand::rng();
        for _ in 0..200 {
            let changed = hub.step(&mut rng);
            let report = serde_json::to_vec(&changed).unwrap();
            hubgate_core::hub::parse_report(&report).expect("every step is a valid report");
            let ports = hub.ports();
            let active = hub.state()["active"].as_u64().unwrap() as usize;
            if ports.iter().all(|&p| p == 0) {
                assert_eq!(active, 0, "no laptop, no active port");
            } else {
                assert!(active >= 1 && ports[active - 1] == 1, "{:?}", hub.state());
            }
        }
    }

    #[test]
    fn a_hub_obeys_desired_settings_and_reports_only_what_changed() {
        let mut hub = VirtualHub::new();
        let desired = json!({"mtrmode": true, "mtrport": 1});
        let changed = hub.apply(desired.as_object().unwrap());
        assert_eq!(Value::Object(changed), json!({"mtrmode": true}));
        assert!(hub.apply(desired.as_object().unwrap()).is_empty());
    }
}
