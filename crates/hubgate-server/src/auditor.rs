//! The audit log's writer for events that come at request rates: token
//! events and failed client authentications are counted in memory and written
//! as one row per integration and kind every half second ("token.issued
//! ×250"), with each integration's last-used time; no write on the token hot
//! path. Each row is also a structured log line (target `hubgate::audit`). Management actions are written at once by
//! [`crate::manage::audit`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hubgate_core::ids::{AccountId, IntegrationId};
use hubgate_store::{AuditEvent, Store};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

const FLUSH_EVERY: Duration = Duration::from_millis(500);

enum Entry {
    Counted {
        account: AccountId,
        integration: IntegrationId,
        client_id: String,
        action: &'static str,
        detail: String,
    },
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct Auditor {
    sender: mpsc::UnboundedSender<Entry>,
}

impl Auditor {
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(run(store, receiver));
        Self { sender }
    }

    /// A token event or failed authentication, counted per integration; its
    /// log line comes with the aggregated row, not once per request.
    pub fn count(
        &self,
        account: AccountId,
        integration: IntegrationId,
        client_id: &str,
        action: &'static str,
        detail: &str,
    ) {
        let _ = self.sender.send(Entry::Counted {
            account,
            integration,
            client_id: client_id.to_owned(),
            action,
            detail: detail.to_owned(),
        });
    }

    /// Writes everything recorded so far.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Entry::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

#[derive(Default)]
struct Batch {
    counts: HashMap<(AccountId, String, &'static str, String), u64>,
    used: HashMap<IntegrationId, OffsetDateTime>,
}

impl Batch {
    fn add(&mut self, entry: Entry) -> Option<oneshot::Sender<()>> {
        match entry {
            Entry::Counted {
                account,
                integration,
                client_id,
                action,
                detail,
            } => {
                *self
                    .counts
                    .entry((account, client_id, action, detail))
                    .or_default() += 1;
                if action != "client_auth.failed" {
                    self.used.insert(integration, hubgate_core::now());
                }
            }
            Entry::Flush(done) => return Some(done),
        }
        None
    }

    async fn write(&mut self, store: &dyn Store) {
        let now = hubgate_core::now();
        let counted = self
            .counts
            .drain()
            .map(|((account_id, subject, action, detail), n)| AuditEvent {
                account_id,
                at: now,
                actor: subject.clone(),
                action: action.to_owned(),
                subject,
                detail: if n == 1 {
                    detail
                } else {
                    format!("{detail} ×{n}")
                },
            });
        let events: Vec<AuditEvent> = counted.collect();
        for event in &events {
            tracing::info!(target: "hubgate::audit", account = %event.account_id, actor = %event.actor,
                action = %event.action, detail = %event.detail);
        }
        for event in &events {
            tracing::info!(target: "hubgate::audit", account = %event.account_id, actor = %event.actor,
                action = %event.action, detail = %event.detail);
        }
        // An event of a just-deleted account cannot be stored: write the rest.
        if let Err(error) = store.append_audit(&events).await {
            for event in &events {
                if store
                    .append_audit(std::slice::from_ref(event))
                    .await
                    .is_err()
                {
                    tracing::warn!(%error, action = %event.action, "audit event not stored");
                }
            }
        }
        let used: Vec<_> = self.used.drain().collect();
        if let Err(error) = store.touch_integrations(&used).await {
            tracing::warn!(%error, "could not record when integrations were last used");
        }
    }
}

async fn run(store: Arc<dyn Store>, mut receiver: mpsc::UnboundedReceiver<Entry>) {
    let mut batch = Batch::default();
    loop {
        let mut waiting = Vec::new();
        let deadline = tokio::time::sleep(FLUSH_EVERY);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                entry = receiver.recv() => match entry {
                    Some(entry) => if let Some(done) = batch.add(entry) { waiting.push(done); break },
                    None => { batch.write(store.as_ref()).await; return }
                },
                () = &mut deadline => break,
            }
        }
        batch.write(store.as_ref()).await;
        for done in waiting {
            let _ = done.send(());
        }
    }
}
