//! The broker's hooks: authentication, per-topic authorization, and what a
//! device's connect, subscribe, publish and disconnect mean to hubgate.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use hubgate_core::device::{self, ReportRefused, Topics, credential_matches};
use mqtt5::QoS;
use mqtt5::broker::{
    AuthProvider, AuthResult, BrokerEventHandler, ClientConnectEvent, ClientDisconnectEvent,
    ClientPublishEvent, PublishAction,
};
use mqtt5::packet::connect::ConnectPacket;
use mqtt5::packet::publish::PublishPacket;
use mqtt5::protocol::v5::reason_codes::ReasonCode;

use super::Fleet;

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl Fleet {
    /// Username = the hub's serial, password = its device credential.
    /// Failures are limited per serial and per address like client
    /// authentications at the token endpoint; past a limit a device is
    /// refused before its credential is looked up, so guessing costs the
    /// store nothing.
    async fn authenticate_device(
        &self,
        connect: &ConnectPacket,
        address: SocketAddr,
    ) -> AuthResult {
        let limits = &self.state.config.client_auth_limits;
        let address = Some(address.ip());
        let serial = connect.username.as_deref();
        if self
            .auth_failures
            .blocked(limits, serial, address)
            .is_some()
        {
            self.state.metrics.device_auth_failed();
            self.state.metrics.device_message("connect", "limited");
            return AuthResult::fail(ReasonCode::NotAuthorized);
        }
        let refused = || {
            self.state.metrics.device_auth_failed();
            self.auth_failures.failed(limits, serial, address);
            AuthResult::fail(ReasonCode::BadUsernameOrPassword)
        };
        let (Some(serial), Some(password)) = (&connect.username, &connect.password) else {
            return refused();
        };
        let device = match self.state.store.device_by_serial(serial).await {
            Ok(Some(device)) => device,
            Ok(None) => return refused(),
            Err(error) => {
                tracing::warn!(%error, "cannot check a device credential");
                return AuthResult::fail(ReasonCode::ServerUnavailable);
            }
        };
        match &device.credential_digest {
            Some(digest) if credential_matches(digest, password) => {
                self.authenticated(&connect.client_id, device);
                AuthResult::success_with_user(serial.clone())
            }
            _ => refused(),
        }
    }

    /// A device may use only its own topics; anything else is refused and counted.
    fn allowed(
        &self,
        kind: &'static str,
        serial: Option<&str>,
        topic: &str,
        rule: fn(&str, &str) -> bool,
    ) -> bool {
        let allowed = serial.is_some_and(|serial| rule(serial, topic));
        if !allowed {
            self.state.metrics.device_message(kind, "forbidden");
            tracing::info!(serial = serial.unwrap_or("-"), %topic, kind, "device refused a topic outside its own");
        }
        allowed
    }

    /// A report: checked, then merged; a refused one is answered on the
    /// device's errors topic with the reason.
    async fn published(&self, event: ClientPublishEvent) {
        // Authorized already: only the device's own reported topic gets here.
        let (Some(hub), Some(serial)) = (self.hub_of_client(&event.client_id), &event.user_id)
        else {
            return;
        };
        match hubgate_core::hub::parse_report(&event.payload) {
            Ok(report) => {
                self.state.metrics.device_message("report", "accepted");
                self.reports.report(hub, report, hubgate_core::now());
            }
            Err(error) => {
                self.state.metrics.device_message("report", "invalid");
                let refusal = ReportRefused {
                    topic: event.topic.to_string(),
                    error: error.to_string(),
                };
                if let Ok(payload) = serde_json::to_vec(&refusal) {
                    let errors = Topics::of(serial).errors;
                    self.publish(PublishPacket::new(errors, payload, QoS::AtLeastOnce))
                        .await;
                }
            }
        }
    }
}

impl AuthProvider for Fleet {
    fn authenticate<'a>(
        &'a self,
        connect: &'a ConnectPacket,
        client_addr: SocketAddr,
    ) -> Boxed<'a, mqtt5::error::Result<AuthResult>> {
        Box::pin(async move { Ok(self.authenticate_device(connect, client_addr).await) })
    }

    fn authorize_publish<'a>(
        &'a self,
        _client_id: &str,
        user_id: Option<&'a str>,
        topic: &'a str,
    ) -> Boxed<'a, bool> {
        let allowed = self.allowed("publish", user_id, topic, device::may_publish);
        Box::pin(async move { allowed })
    }

    fn authorize_subscribe<'a>(
        &'a self,
        _client_id: &str,
        user_id: Option<&'a str>,
        topic_filter: &'a str,
    ) -> Boxed<'a, bool> {
        let allowed = self.allowed("subscribe", user_id, topic_filter, device::may_subscribe);
        Box::pin(async move { allowed })
    }
}

impl BrokerEventHandler for Fleet {
    fn on_client_connect<'a>(&'a self, event: ClientConnectEvent) -> Boxed<'a, ()> {
        Box::pin(async move {
            self.connected(&event.client_id, event.user_id.as_deref())
                .await
        })
    }

    fn on_client_publish<'a>(&'a self, event: ClientPublishEvent) -> Boxed<'a, PublishAction> {
        // Reports are hubgate's to keep: nobody else subscribes to them.
        Box::pin(async move {
            self.published(event).await;
            PublishAction::Handled
        })
    }

    fn on_client_disconnect<'a>(&'a self, event: ClientDisconnectEvent) -> Boxed<'a, ()> {
        Box::pin(async move { self.disconnected(&event.client_id).await })
    }
}
