//! The audit log's writer for events that come at request rates: token
//! events and failed client authentications are counted in memory and written
//! as one row per integration and kind every half second ("token.issued
//! ×250"), with each integration's last-used time. Counting is a map update
//! under a short lock: no write, no channel, no task wake-up per request.
//! Each row is also a structured log line (target `hubgate::audit`).
//! Management actions are written with their change, by the `app` layer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hubgate_core::audit::AuditAction;
use hubgate_core::ids::{AccountId, IntegrationId};
use hubgate_store::{AuditEvent, Store};
use time::OffsetDateTime;

const FLUSH_EVERY: Duration = Duration::from_millis(500);

type CountKey = (AccountId, String, AuditAction, String);

#[derive(Default)]
struct Pending {
    counts: HashMap<CountKey, u64>,
    used: HashMap<IntegrationId, OffsetDateTime>,
}

#[derive(Clone)]
pub struct Auditor {
    pending: Arc<Mutex<Pending>>,
    store: Arc<dyn Store>,
    /// Serialises flushes, so rows are written in order and none twice.
    writing: Arc<tokio::sync::Mutex<()>>,
}

impl Auditor {
    pub fn start(store: Arc<dyn Store>) -> Self {
        let auditor = Self {
            pending: Arc::default(),
            store,
            writing: Arc::default(),
        };
        // The task holds the counts weakly, so it stops with the last handle
        // (the app's state) gone, and a panic restarts it (supervised).
        let pending = Arc::downgrade(&auditor.pending);
        let (store, writing) = (auditor.store.clone(), auditor.writing.clone());
        hubgate_store::supervisor::supervise("auditor", move || {
            let (pending, store, writing) = (pending.clone(), store.clone(), writing.clone());
            async move {
                let mut tick = tokio::time::interval(FLUSH_EVERY);
                loop {
                    tick.tick().await;
                    let Some(pending) = pending.upgrade() else {
                        return;
                    };
                    let background = Auditor {
                        pending,
                        store: store.clone(),
                        writing: writing.clone(),
                    };
                    background.flush().await;
                }
            }
        });
        auditor
    }

    /// A token event or failed authentication, counted per integration; its
    /// log line comes with the aggregated row, not once per request.
    pub fn count(
        &self,
        account: AccountId,
        integration: IntegrationId,
        client_id: &str,
        action: AuditAction,
        detail: &str,
    ) {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *pending
            .counts
            .entry((account, client_id.to_owned(), action, detail.to_owned()))
            .or_default() += 1;
        if action != AuditAction::ClientAuthFailed {
            pending.used.insert(integration, hubgate_core::now());
        }
    }

    /// Writes everything counted so far.
    pub async fn flush(&self) {
        let _writing = self.writing.lock().await;
        let pending = std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if pending.counts.is_empty() && pending.used.is_empty() {
            return;
        }
        let now = hubgate_core::now();
        let events: Vec<AuditEvent> = pending
            .counts
            .into_iter()
            .map(|((account_id, subject, action, detail), n)| AuditEvent {
                account_id,
                at: now,
                actor: subject.clone(),
                action,
                subject,
                detail: if n == 1 {
                    detail
                } else {
                    format!("{detail} ×{n}")
                },
            })
            .collect();
        for event in &events {
            tracing::info!(target: "hubgate::audit", account = %event.account_id,
                actor = %crate::logsafe::untrusted(&event.actor),
                action = %event.action, detail = %crate::logsafe::untrusted(&event.detail));
        }
        // An event of a just-deleted account cannot be stored: write the rest.
        if let Err(error) = self.store.append_audit(&events).await {
            for event in &events {
                if self
                    .store
                    .append_audit(std::slice::from_ref(event))
                    .await
                    .is_err()
                {
                    tracing::warn!(%error, action = %event.action, "audit event not stored");
                }
            }
        }
        let used: Vec<_> = pending.used.into_iter().collect();
        if let Err(error) = self.store.touch_integrations(&used).await {
            tracing::warn!(%error, "could not record when integrations were last used");
        }
    }
}
