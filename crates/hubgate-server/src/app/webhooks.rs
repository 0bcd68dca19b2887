//! An integration's webhook endpoints: create, change, rotate the secret,
//! disable and enable, delete; the delivery log and resending.

use hubgate_core::audit::AuditAction;
use hubgate_core::event::parse_event_id;
use hubgate_core::ids::WebhookId;
use hubgate_core::integration::Integration;
use hubgate_core::scope::Scope;
use hubgate_core::webhook::{self, EventFilter, WebhookEndpoint, WebhookSecret};
use hubgate_store::DeliveryRecord;

use super::{AppError, Manager, invalid};

/// An endpoint just created or rotated, with its secret for the one who
/// asked: shown once.
pub struct WebhookWithSecret {
    pub endpoint: WebhookEndpoint,
    pub secret: WebhookSecret,
}

/// What a change of an endpoint may set; `None` leaves it.
#[derive(Debug, Default, Clone)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// The most endpoints one integration may have.
pub const MAX_ENDPOINTS: usize = 20;

impl Manager<'_> {
    /// The integration's endpoints (any member may look).
    pub async fn webhooks(
        &self,
        integration: &Integration,
    ) -> Result<Vec<WebhookEndpoint>, AppError> {
        self.require_member(integration.account_id)?;
        Ok(self
            .store
            .webhooks(integration.account_id, Some(integration.id))
            .await?)
    }

    /// One endpoint of the integration; another's is not found.
    pub async fn webhook(
        &self,
        integration: &Integration,
        id: &str,
    ) -> Result<WebhookEndpoint, AppError> {
        self.require_member(integration.account_id)?;
        let not_found = || AppError::NotFound("webhook endpoint");
        let id: WebhookId = id.parse().map_err(|_| not_found())?;
        self.store
            .webhook(integration.account_id, id)
            .await?
            .filter(|endpoint| endpoint.integration_id == integration.id)
            .ok_or_else(not_found)
    }

    /// Adds an endpoint receiving `events` (all when empty) at `url`, which
    /// must not resolve to a private address unless `allow_private`.
    pub async fn create_webhook(
        &self,
        integration: &Integration,
        url: &str,
        events: &[String],
        allow_private: bool,
    ) -> Result<WebhookWithSecret, AppError> {
        self.require_manage(integration.account_id)?;
        if !integration.scopes.contains(Scope::HubsRead) {
            return Err(AppError::Invalid(
                "the integration needs the hubs:read scope to receive events".into(),
            ));
        }
        let url = checked_url(url, allow_private).await?;
        let events = EventFilter::parse(events).map_err(invalid)?;
        let existing = self
            .store
            .webhooks(integration.account_id, Some(integration.id))
            .await?;
        if existing.len() >= MAX_ENDPOINTS {
            return Err(AppError::Invalid(format!(
                "an integration has at most {MAX_ENDPOINTS} webhook endpoints"
            )));
        }
        let (endpoint, secret) = WebhookEndpoint::new(
            self.master,
            integration.account_id,
            integration.id,
            &url,
            events,
            self.now,
        );
        let audit = self.event(
            integration.account_id,
            AuditAction::WebhookCreated,
            integration.client_id.as_str(),
            &format!("{} {}", endpoint.id, endpoint.url),
        );
        self.store.insert_webhook(&endpoint, &audit).await?;
        Ok(WebhookWithSecret { endpoint, secret })
    }

    pub async fn update_webhook(
        &self,
        integration: &Integration,
        id: &str,
        change: WebhookChange,
        allow_private: bool,
    ) -> Result<WebhookEndpoint, AppError> {
        self.require_manage(integration.account_id)?;
        let mut endpoint = self.webhook(integration, id).await?;
        let mut said = Vec::new();
        if let Some(url) = change.url {
            endpoint.url = checked_url(&url, allow_private).await?.to_string();
            said.push(format!("url {}", endpoint.url));
        }
        if let Some(events) = change.events {
            endpoint.events = EventFilter::parse(&events).map_err(invalid)?;
            said.push(format!("events {}", describe_filter(&endpoint.events)));
        }
        // Enabling clears the server's reason to disable; disabling an
        // endpoint that is already disabled keeps it.
        let action = match change.enabled {
            Some(enabled) if enabled != endpoint.enabled => {
                endpoint.set_enabled(enabled, self.now);
                if enabled {
                    AuditAction::WebhookEnabled
                } else {
                    AuditAction::WebhookDisabled
                }
            }
            _ => AuditAction::WebhookUpdated,
        };
        endpoint.updated_at = self.now;
        let audit = self.event(
            integration.account_id,
            action,
            integration.client_id.as_str(),
            &format!("{} {}", endpoint.id, said.join(", ")),
        );
        self.store.update_webhook(&endpoint, &audit).await?;
        Ok(endpoint)
    }

    /// A new secret; the old one signs beside it for a day.
    pub async fn rotate_webhook_secret(
        &self,
        integration: &Integration,
        id: &str,
    ) -> Result<WebhookWithSecret, AppError> {
        self.require_manage(integration.account_id)?;
        let mut endpoint = self.webhook(integration, id).await?;
        let secret = endpoint.rotate_secret(self.master, self.now);
        let audit = self.event(
            integration.account_id,
            AuditAction::WebhookSecretRotated,
            integration.client_id.as_str(),
            &format!("{} (the old secret signs too for 24 h)", endpoint.id),
        );
        self.store.update_webhook(&endpoint, &audit).await?;
        Ok(WebhookWithSecret { endpoint, secret })
    }

    pub async fn delete_webhook(
        &self,
        integration: &Integration,
        id: &str,
    ) -> Result<(), AppError> {
        self.require_manage(integration.account_id)?;
        let endpoint = self.webhook(integration, id).await?;
        let audit = self.event(
            integration.account_id,
            AuditAction::WebhookDeleted,
            integration.client_id.as_str(),
            &format!("{} {}", endpoint.id, endpoint.url),
        );
        self.store
            .delete_webhook(integration.account_id, endpoint.id, &audit)
            .await?;
        Ok(())
    }

    /// The endpoint's deliveries, newest first, before the event `before`.
    pub async fn webhook_deliveries(
        &self,
        integration: &Integration,
        id: &str,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, AppError> {
        let endpoint = self.webhook(integration, id).await?;
        let before = before
            .map(|text| {
                parse_event_id(text).ok_or_else(|| invalid("before must be an event id (evt_…)"))
            })
            .transpose()?;
        Ok(self
            .store
            .deliveries(integration.account_id, endpoint.id, before, limit)
            .await?)
    }

    /// Sends an event to the endpoint again now, whatever became of it.
    pub async fn resend_webhook_delivery(
        &self,
        integration: &Integration,
        id: &str,
        event_id: &str,
    ) -> Result<(), AppError> {
        self.require_manage(integration.account_id)?;
        let endpoint = self.webhook(integration, id).await?;
        let seq = parse_event_id(event_id).ok_or(AppError::NotFound("delivery"))?;
        self.store
            .resend_delivery(integration.account_id, endpoint.id, seq, self.now)
            .await
            .map_err(|error| match error {
                hubgate_store::StoreError::NotFound => AppError::NotFound("delivery"),
                other => other.into(),
            })
    }
}

/// The types an endpoint takes, for people: `all events` or a list.
pub fn describe_filter(filter: &EventFilter) -> String {
    if filter.kinds().is_empty() {
        return "all events".into();
    }
    filter
        .kinds()
        .iter()
        .map(|kind| kind.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks the URL's form, and unless `allow_private`, that its host resolves
/// to public addresses only (deliveries check again each time).
async fn checked_url(text: &str, allow_private: bool) -> Result<url::Url, AppError> {
    let url = webhook::check_url(text).map_err(invalid)?;
    if allow_private {
        return Ok(url);
    }
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| AppError::Invalid(format!("the host {host} does not resolve")))?;
    for address in addresses {
        if !webhook::is_public(address.ip()) {
            return Err(invalid(webhook::UrlError::Private(address.ip())));
        }
    }
    Ok(url)
}
