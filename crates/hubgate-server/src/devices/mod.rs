//! Live hubs: devices connect over MQTT (3.1.1 or 5) to a broker embedded in
//! `hubgate serve`, report their state and receive their desired settings.
//!
//! The broker is the `mqtt5` crate's; hubgate adds what is its own, through
//! the crate's hooks (`broker.rs`): who a device is (the hub's serial and its
//! device credential), which topics it may use (its own, see
//! [`hubgate_core::device::Topics`]), and what its messages mean. Reports are
//! checked, coalesced and written in batches (`reports.rs`); desired states
//! are published retained, with their version, when a device subscribes and
//! whenever the change log says its hub changed, whichever node made the
//! change. The same watch disconnects a device whose credential was revoked
//! or replaced, or whose hub was removed.

mod broker;
mod reports;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use anyhow::Context;
use hubgate_core::device::{DesiredMessage, Topics};
use hubgate_core::ids::HubId;
use hubgate_store::DeviceRecord;
use mqtt5::QoS;
use mqtt5::broker::config::TlsConfig;
use mqtt5::broker::router::MessageRouter;
use mqtt5::broker::{
    BrokerConfig, BrokerShutdownHandle, MqttBroker, StorageBackendType, StorageConfig,
};
use mqtt5::packet::publish::PublishPacket;

use crate::state::AppState;
pub use reports::{FLUSH_INTERVAL, ReportBuffer};

/// Authenticated connections waiting to be established, at most.
const MAX_WAITING_CONNECTS: usize = 100_000;

/// Devices connected to this node, and where their messages go.
pub struct Fleet {
    state: AppState,
    reports: Arc<ReportBuffer>,
    router: OnceLock<Arc<MessageRouter>>,
    connections: Mutex<Connections>,
    /// Failed device logins, per serial and per address (this node's).
    auth_failures: crate::limits::ClientAuthLimiter,
}

#[derive(Default)]
struct Connections {
    /// Devices that passed authentication, by MQTT client id, until their
    /// connection is established.
    authenticated: HashMap<String, DeviceRecord>,
    /// One connection per hub.
    by_hub: HashMap<HubId, Connected>,
    /// Every connection's hub, a displaced one's too until it has closed.
    hub_of_client: HashMap<String, HubId>,
}

struct Connected {
    device: DeviceRecord,
    /// The MQTT client id of the hub's connection.
    client: String,
    /// The desired version last published to this device.
    sent_desired: i64,
}

/// What to do about a connected device after its hub changed.
enum Verdict {
    Disconnect(String),
    SendDesired(DeviceRecord),
    Nothing,
}

impl Fleet {
    fn new(state: AppState) -> Arc<Self> {
        Arc::new(Self {
            state,
            reports: Arc::default(),
            router: OnceLock::new(),
            connections: Mutex::default(),
            auth_failures: Default::default(),
        })
    }

    fn connections(&self) -> std::sync::MutexGuard<'_, Connections> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The hub of the connection with this MQTT client id.
    fn hub_of_client(&self, client_id: &str) -> Option<HubId> {
        self.connections().hub_of_client.get(client_id).copied()
    }

    /// Remembers a device that passed authentication, until its connection
    /// is established. Once too many wait, some are dropped (those whose
    /// connection never completed, mostly; a connection that finds its entry
    /// gone reads it again).
    fn authenticated(&self, client_id: &str, device: DeviceRecord) {
        let mut connections = self.connections();
        hubgate_core::bounded::make_room(&mut connections.authenticated, MAX_WAITING_CONNECTS);
        connections
            .authenticated
            .insert(client_id.to_owned(), device);
    }

    /// A device's connection is established. One hub, one connection: an
    /// older connection of the same hub is closed.
    async fn connected(&self, client_id: &str, serial: Option<&str>) {
        let waiting = self.connections().authenticated.remove(client_id);
        // Not waiting (dropped in a flood of connects): read it again.
        let device = match (waiting, serial) {
            (Some(device), _) => device,
            (None, Some(serial)) => match self.state.store.device_by_serial(serial).await {
                Ok(Some(device)) => device,
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(%error, %serial, "cannot record a device's connection");
                    return;
                }
            },
            (None, None) => return,
        };
        let displaced = {
            let mut connections = self.connections();
            connections
                .hub_of_client
                .insert(client_id.to_owned(), device.hub);
            let connected = Connected {
                device: device.clone(),
                client: client_id.to_owned(),
                sent_desired: -1,
            };
            connections
                .by_hub
                .insert(device.hub, connected)
                .map(|older| older.client)
                .filter(|older| older != client_id)
        };
        if displaced.is_none() {
            self.state.metrics.devices_connected(1.0);
        }
        self.reports.presence(device.hub, true, hubgate_core::now());
        self.disconnect(displaced).await;
        // Retained before the device subscribes: the broker hands it over
        // with the subscription, after a restart of this node too.
        self.send_desired(&device).await;
        tracing::info!(serial = %device.serial, hub = %device.hub, "device connected");
    }

    /// A connection ended; the hub is offline when its last one has, and
    /// its retained desired state is dropped (the next connection, here or
    /// on another node, is sent a fresh one).
    async fn disconnected(&self, client_id: &str) {
        let Some((serial, hub)) = self.forget_client(client_id) else {
            return;
        };
        self.state.metrics.devices_connected(-1.0);
        self.reports.presence(hub, false, hubgate_core::now());
        tracing::info!(%serial, %hub, "device disconnected");
        let clear = PublishPacket::new(Topics::of(&serial).desired, Vec::new(), QoS::AtMostOnce)
            .with_retain(true);
        self.publish(clear).await;
    }

    /// Forgets one connection; the hub's serial and id when it was the
    /// hub's (not one displaced by a newer connection).
    fn forget_client(&self, client_id: &str) -> Option<(String, HubId)> {
        let mut connections = self.connections();
        let hub = connections.hub_of_client.remove(client_id)?;
        if connections.by_hub.get(&hub)?.client != client_id {
            return None;
        }
        let gone = connections.by_hub.remove(&hub)?;
        Some((gone.device.serial, hub))
    }

    async fn disconnect(&self, clients: impl IntoIterator<Item = String>) {
        let Some(router) = self.router.get() else {
            return;
        };
        for client in clients {
            router.disconnect_client(&client).await;
        }
    }

    /// Publishes the hub's desired state, retained, to its device.
    async fn send_desired(&self, device: &DeviceRecord) {
        let hub = match self.state.store.hub(device.account, device.hub).await {
            Ok(Some(hub)) => hub,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, hub = %device.hub, "could not read the desired state");
                return;
            }
        };
        let message = DesiredMessage {
            version: hub.desired_version,
            state: hub.desired.clone(),
        };
        let Ok(payload) = serde_json::to_vec(&message) else {
            return;
        };
        let topic = Topics::of(&hub.serial).desired;
        self.publish(PublishPacket::new(topic, payload, QoS::AtLeastOnce).with_retain(true))
            .await;
        if let Some(entry) = self.connections().by_hub.get_mut(&hub.id) {
            entry.sent_desired = entry.sent_desired.max(hub.desired_version);
        }
    }

    async fn publish(&self, packet: PublishPacket) {
        if let Some(router) = self.router.get() {
            router.route_message(&packet, None).await;
        }
    }

    /// Looks at the connected devices whose hubs changed: a credential
    /// replaced or revoked, or the hub removed, disconnects the device; a
    /// newer desired state is sent to it.
    async fn hubs_changed(&self, changed: Vec<HubId>) {
        let here: Vec<HubId> = {
            let connections = self.connections();
            changed
                .into_iter()
                .filter(|id| connections.by_hub.contains_key(id))
                .collect()
        };
        if here.is_empty() {
            return;
        }
        let current = match self.state.store.devices_of_hubs(&here).await {
            Ok(devices) => devices,
            Err(error) => {
                tracing::warn!(%error, "could not check changed hubs; the next change retries");
                return;
            }
        };
        let current: HashMap<HubId, DeviceRecord> =
            current.into_iter().map(|d| (d.hub, d)).collect();
        let verdicts: Vec<Verdict> = {
            let connections = self.connections();
            here.iter()
                .filter_map(|id| connections.by_hub.get(id))
                .map(|connected| verdict(connected, current.get(&connected.device.hub)))
                .collect()
        };
        for verdict in verdicts {
            match verdict {
                Verdict::Disconnect(client) => {
                    tracing::info!(%client, "device credential no longer valid: disconnecting");
                    self.disconnect([client]).await;
                }
                Verdict::SendDesired(device) => self.send_desired(&device).await,
                Verdict::Nothing => {}
            }
        }
    }
}

fn verdict(connected: &Connected, now: Option<&DeviceRecord>) -> Verdict {
    match now {
        Some(now)
            if now.credential_digest.is_some()
                && now.credential_digest == connected.device.credential_digest =>
        {
            if now.desired_version > connected.sent_desired {
                Verdict::SendDesired(now.clone())
            } else {
                Verdict::Nothing
            }
        }
        _ => Verdict::Disconnect(connected.client.clone()),
    }
}

/// The MQTT listener of one node.
pub struct DeviceListener {
    addr: SocketAddr,
    fleet: Arc<Fleet>,
    shutdown: BrokerShutdownHandle,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl DeviceListener {
    /// Binds the listener and starts the broker, the report writer and the
    /// watch on changed hubs. With `tls`, devices connect over TLS only
    /// (MQTT over TLS on the same address) with the HTTP server's
    /// certificate, read at start.
    pub async fn start(
        state: AppState,
        addr: SocketAddr,
        tls: Option<&crate::tls::TlsFiles>,
    ) -> anyhow::Result<Self> {
        let fleet = Fleet::new(state.clone());
        let storage = StorageConfig {
            enable_persistence: false,
            ..StorageConfig::default()
        }
        .with_backend(StorageBackendType::Memory);
        let config = BrokerConfig::default()
            .with_bind_address(addr)
            .with_max_clients(100_000)
            // Devices re-publish their state and re-subscribe on every
            // connect: a session outliving its connection for long only
            // holds memory.
            .with_session_expiry(Duration::from_secs(60))
            .with_max_packet_size(64 * 1024)
            // A device is sent a desired state now and then, not a stream:
            // a short queue per connection (the default holds 10,000).
            .with_client_channel_capacity(64)
            .with_max_outbound_inflight(16)
            .with_maximum_qos(1)
            .with_sys_topics_enabled(false)
            .with_storage(storage)
            .with_event_handler(fleet.clone());
        let config = match tls {
            Some(files) => config.with_bind_addresses(Vec::new()).with_tls(
                TlsConfig::new(files.cert.clone(), files.key.clone()).with_bind_address(addr),
            ),
            None => config,
        };
        let mut broker = MqttBroker::with_config(config)
            .await
            .with_context(|| format!("cannot listen for devices (MQTT) on {addr}"))?
            .with_auth_provider(fleet.clone());
        let bound = match tls {
            // The broker only warns when its TLS listener cannot bind.
            Some(_) => broker
                .tls_local_addr()
                .with_context(|| format!("cannot listen for devices (MQTT over TLS) on {addr}"))?,
            None => broker.local_addr().unwrap_or(addr),
        };
        let _ = fleet.router.set(broker.router());
        let shutdown = broker.shutdown_handle();
        state.registry.hub_changes.enable();
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(async move {
            if let Err(error) = broker.run().await {
                tracing::error!(%error, "the MQTT listener stopped");
            }
        }));
        tasks.push(tokio::spawn(
            fleet.reports.clone().flush_forever(state.store.clone()),
        ));
        let watcher = fleet.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let changed = watcher.state.registry.hub_changes.next().await;
                watcher.hubs_changed(changed).await;
            }
        }));
        Ok(Self {
            addr: bound,
            fleet,
            shutdown,
            tasks,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes the device connections and writes what they reported, with
    /// their hubs offline, before the process ends.
    pub async fn stop(self) {
        self.shutdown.shutdown();
        for task in &self.tasks {
            task.abort();
        }
        let hubs: Vec<HubId> = self.fleet.connections().by_hub.keys().copied().collect();
        let now = hubgate_core::now();
        for hub in hubs {
            self.fleet.reports.presence(hub, false, now);
        }
        if let Err(error) = self
            .fleet
            .reports
            .flush(self.fleet.state.store.as_ref())
            .await
        {
            tracing::warn!(%error, "could not write the last device reports");
        }
    }
}
