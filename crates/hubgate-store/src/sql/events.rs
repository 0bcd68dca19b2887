//! The SQL of [`crate::Events`]: the event outbox, webhook endpoints and
//! their deliveries. Events themselves are written by the hub writes
//! (`write_events`, in the same transaction).

pub(crate) const INSERT_EVENT: &str = "INSERT INTO events (account_id, hub_id, kind, at_ms, data) VALUES ($1, $2, $3, $4, $5) RETURNING seq";
/// A delivery for every endpoint that wants the event: enabled, of an
/// enabled integration that may read hubs, taking this type ($5 is `%,type,%`).
pub(crate) const FAN_OUT: &str = "INSERT INTO webhook_deliveries \
     (endpoint_id, event_seq, hub_id, status, attempts, next_attempt_ms, created_at_ms) \
     SELECT w.id, $1, $2, 'pending', 0, $3, $3 FROM webhook_endpoints w \
     JOIN integrations i ON i.id = w.integration_id \
     WHERE w.account_id = $4 AND w.enabled AND i.enabled \
     AND (w.event_types = '' OR w.event_types LIKE $5) \
     AND (' ' || i.scopes || ' ') LIKE '% hubs:read %'";
pub(crate) const LAST_EVENT_SEQ: &str = "SELECT COALESCE(MAX(seq), 0) FROM events";
pub(crate) const PURGE_EVENTS: &str = "DELETE FROM events WHERE at_ms < $1";
/// Leases the due deliveries that head their endpoint's queue for their hub.
pub(crate) const CLAIM: &str = "UPDATE webhook_deliveries SET lease_until_ms = $1 WHERE id IN ( \
     SELECT d.id FROM webhook_deliveries d \
     JOIN webhook_endpoints w ON w.id = d.endpoint_id \
     JOIN integrations i ON i.id = w.integration_id \
     WHERE d.status = 'pending' AND d.next_attempt_ms <= $2 \
     AND (d.lease_until_ms IS NULL OR d.lease_until_ms <= $2) \
     AND w.enabled AND i.enabled AND (' ' || i.scopes || ' ') LIKE '% hubs:read %' \
     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.status = 'pending' \
         AND e.endpoint_id = d.endpoint_id AND e.hub_id = d.hub_id AND e.event_seq < d.event_seq) \
     ORDER BY d.next_attempt_ms, d.event_seq LIMIT $3) \
     RETURNING id";
/// Whether any delivery may be claimed now (ignoring order and endpoints).
pub(crate) const ANY_DUE: &str = "SELECT id FROM webhook_deliveries WHERE status = 'pending' \
     AND next_attempt_ms <= $1 AND (lease_until_ms IS NULL OR lease_until_ms <= $1) LIMIT 1";
pub(crate) const RECORD_ATTEMPT: &str = "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, \
     next_attempt_ms = $3, lease_until_ms = NULL, response_status = $4, error = $5, latency_ms = $6 \
     WHERE id = $1";
pub(crate) const ENDPOINT_SUCCEEDED: &str =
    "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL";
pub(crate) const ENDPOINT_FAILED: &str =
    "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $2) WHERE id = $1";
pub(crate) const DISABLE_ENDPOINT: &str = "UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = $2, updated_at = $3 WHERE id = $1";
pub(crate) const RESEND: &str = "UPDATE webhook_deliveries SET status = 'pending', next_attempt_ms = $1, \
     lease_until_ms = NULL WHERE endpoint_id = $2 AND event_seq = $3 \
     AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE account_id = $4)";
pub(crate) const UPDATE_WEBHOOK: &str = "UPDATE webhook_endpoints SET url = $3, event_types = $4, enabled = $5, \
     disabled_reason = $6, sealed_secret = $7, sealed_previous_secret = $8, previous_until = $9, \
     failing_since = $10, updated_at = $11 WHERE id = $1 AND account_id = $2";
pub(crate) const DELETE_WEBHOOK: &str =
    "DELETE FROM webhook_endpoints WHERE id = $1 AND account_id = $2";

macro_rules! sql_events {
    ($store:ty, $db:ty, $conn:ty) => {

/// Ends a hub write: its events (last, see `EVENT_ORDER_LOCK`) with a
/// delivery for each endpoint that wants them, the commit, and then a word
/// to this process's event readers.
async fn commit_with_events(
    mut tx: sqlx::Transaction<'static, $db>,
    events_written: &tokio::sync::watch::Sender<u64>,
    events: &[NewEvent],
) -> Result<()> {
    write_events(&mut tx, events).await?;
    tx.commit().await?;
    if !events.is_empty() {
        crate::note_events_written(events_written);
    }
    Ok(())
}

/// Writes the events a change causes, in its transaction and after its
/// other writes, with a delivery for each endpoint that wants them.
async fn write_events(conn: &mut $conn, events: &[NewEvent]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let lock = <$store>::EVENT_ORDER_LOCK;
    if !lock.is_empty() {
        sqlx::query(lock).execute(&mut *conn).await?;
    }
    for event in events {
        let at = rows::unix_ms(event.at);
        let seq: i64 = sqlx::query_scalar(crate::sql::events::INSERT_EVENT)
            .bind(event.account.to_string())
            .bind(event.hub.to_string())
            .bind(event.kind.as_str())
            .bind(at)
            .bind(event.data.to_string())
            .fetch_one(&mut *conn)
            .await?;
        sqlx::query(crate::sql::events::FAN_OUT)
            .bind(seq)
            .bind(event.hub.to_string())
            .bind(at)
            .bind(event.account.to_string())
            .bind(format!("%,{},%", event.kind.as_str()))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn webhooks_where(
    pool: &sqlx::Pool<$db>,
    account: AccountId,
    condition: &str,
    value: Option<String>,
) -> Result<Vec<WebhookEndpoint>> {
    let mut query = QueryBuilder::<$db>::new(format!(
        "SELECT {} FROM webhook_endpoints WHERE account_id = ",
        rows::WEBHOOK_COLUMNS
    ));
    query.push_bind(account.to_string());
    if let Some(value) = value {
        query.push(format!(" AND {condition} = ")).push_bind(value);
    }
    query.push(" ORDER BY created_at, id");
    let found: Vec<rows::WebhookRow> = query.build_query_as().fetch_all(pool).await?;
    found.into_iter().map(WebhookEndpoint::try_from).collect()
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: i64,
    attempts: i32,
    endpoint_id: String,
    #[sqlx(flatten)]
    event: rows::EventRow,
}

#[async_trait]
impl crate::Events for $store {
    async fn events_after(
        &self,
        account: Option<AccountId>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        let mut query = QueryBuilder::<$db>::new(format!(
            "SELECT {} FROM events WHERE seq > ",
            rows::EVENT_COLUMNS
        ));
        query.push_bind(after);
        if let Some(account) = account {
            query.push(" AND account_id = ").push_bind(account.to_string());
        }
        query.push(" ORDER BY seq LIMIT ").push_bind(i64::from(limit));
        let found: Vec<rows::EventRow> = query.build_query_as().fetch_all(&self.reader).await?;
        found.into_iter().map(Event::try_from).collect()
    }

    fn events_written(&self) -> tokio::sync::watch::Receiver<u64> {
        self.events_written.subscribe()
    }

    async fn last_event_seq(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(crate::sql::events::LAST_EVENT_SEQ)
            .fetch_one(&self.reader)
            .await?)
    }

    async fn purge_events(&self, before: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query(crate::sql::events::PURGE_EVENTS)
            .bind(rows::unix_ms(before))
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn insert_webhook(&self, endpoint: &WebhookEndpoint, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO webhook_endpoints ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            rows::WEBHOOK_COLUMNS
        ))
        .bind(endpoint.id.to_string())
        .bind(endpoint.account_id.to_string())
        .bind(endpoint.integration_id.to_string())
        .bind(&endpoint.url)
        .bind(endpoint.events.to_column())
        .bind(endpoint.enabled)
        .bind(&endpoint.disabled_reason)
        .bind(&endpoint.sealed_secret)
        .bind(&endpoint.sealed_previous_secret)
        .bind(endpoint.previous_until.map(|t| t.unix_timestamp()))
        .bind(endpoint.failing_since.map(|t| t.unix_timestamp()))
        .bind(endpoint.created_at.unix_timestamp())
        .bind(endpoint.updated_at.unix_timestamp())
        .execute(&mut *tx)
        .await
        .map_err(on_constraint("a webhook endpoint"))?;
        audit_in_tx(&mut tx, std::slice::from_ref(audit)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_webhook(&self, endpoint: &WebhookEndpoint, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let updated = sqlx::query(crate::sql::events::UPDATE_WEBHOOK)
            .bind(endpoint.id.to_string())
            .bind(endpoint.account_id.to_string())
            .bind(&endpoint.url)
            .bind(endpoint.events.to_column())
            .bind(endpoint.enabled)
            .bind(&endpoint.disabled_reason)
            .bind(&endpoint.sealed_secret)
            .bind(&endpoint.sealed_previous_secret)
            .bind(endpoint.previous_until.map(|t| t.unix_timestamp()))
            .bind(endpoint.failing_since.map(|t| t.unix_timestamp()))
            .bind(endpoint.updated_at.unix_timestamp())
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        audit_in_tx(&mut tx, std::slice::from_ref(audit)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_webhook(&self, account: AccountId, id: WebhookId, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let deleted = sqlx::query(crate::sql::events::DELETE_WEBHOOK)
            .bind(id.to_string())
            .bind(account.to_string())
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        audit_in_tx(&mut tx, std::slice::from_ref(audit)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn webhook(&self, account: AccountId, id: WebhookId) -> Result<Option<WebhookEndpoint>> {
        Ok(webhooks_where(&self.reader, account, "id", Some(id.to_string()))
            .await?
            .pop())
    }

    async fn webhooks(
        &self,
        account: AccountId,
        integration: Option<IntegrationId>,
    ) -> Result<Vec<WebhookEndpoint>> {
        webhooks_where(&self.reader, account, "integration_id", integration.map(|i| i.to_string())).await
    }

    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>> {
        // Idle nodes look every second: a read first, so that looking takes
        // no write lock (SQLite's writer, PostgreSQL's claim lock) when
        // nothing is due.
        let due: Option<i64> = sqlx::query_scalar(crate::sql::events::ANY_DUE)
            .bind(rows::unix_ms(now))
            .fetch_optional(&self.reader)
            .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_locking().await?;
        let lock = <$store>::CLAIM_LOCK;
        if !lock.is_empty() {
            sqlx::query(lock).execute(&mut *tx).await?;
        }
        let ids: Vec<i64> = sqlx::query_scalar(crate::sql::events::CLAIM)
            .bind(rows::unix_ms(lease_until))
            .bind(rows::unix_ms(now))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<$db>::new(
            "SELECT d.id, d.attempts, d.endpoint_id, v.seq, v.account_id, v.hub_id, v.kind, v.at_ms, v.data \
             FROM webhook_deliveries d JOIN events v ON v.seq = d.event_seq WHERE d.id IN (",
        );
        let mut list = query.separated(", ");
        for id in &ids {
            list.push_bind(*id);
        }
        query.push(") ORDER BY v.seq");
        let claimed: Vec<ClaimRow> = query.build_query_as().fetch_all(&self.writer).await?;

        let mut endpoint_ids: Vec<&str> = claimed.iter().map(|c| c.endpoint_id.as_str()).collect();
        endpoint_ids.sort_unstable();
        endpoint_ids.dedup();
        let mut query = QueryBuilder::<$db>::new(format!(
            "SELECT {} FROM webhook_endpoints WHERE id IN (",
            rows::WEBHOOK_COLUMNS
        ));
        let mut list = query.separated(", ");
        for id in &endpoint_ids {
            list.push_bind(id.to_string());
        }
        query.push(")");
        let found: Vec<rows::WebhookRow> = query.build_query_as().fetch_all(&self.writer).await?;
        let endpoints: std::collections::HashMap<String, std::sync::Arc<WebhookEndpoint>> = found
            .into_iter()
            .map(|row| {
                let endpoint = WebhookEndpoint::try_from(row)?;
                Ok((endpoint.id.to_string(), std::sync::Arc::new(endpoint)))
            })
            .collect::<Result<_>>()?;
        claimed
            .into_iter()
            .filter_map(|row| {
                // An endpoint deleted since the claim takes its deliveries with it.
                let endpoint = endpoints.get(&row.endpoint_id)?.clone();
                Some(Ok(ClaimedDelivery {
                    id: row.id,
                    endpoint,
                    event: match Event::try_from(row.event) {
                        Ok(event) => event,
                        Err(error) => return Some(Err(error)),
                    },
                    attempts: u32::try_from(row.attempts).unwrap_or(0),
                }))
            })
            .collect()
    }

    async fn record_attempts(&self, attempts: &[DeliveryAttempt]) -> Result<()> {
        if attempts.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await?;
        for attempt in attempts {
            let (status, next) = match attempt.outcome {
                AttemptOutcome::Delivered => ("delivered", attempt.at),
                AttemptOutcome::RetryAt(at) => ("pending", at),
                AttemptOutcome::GivenUp => ("failed", attempt.at),
            };
            sqlx::query(crate::sql::events::RECORD_ATTEMPT)
                .bind(attempt.delivery)
                .bind(status)
                .bind(rows::unix_ms(next))
                .bind(attempt.response_status.map(i32::from))
                .bind(&attempt.error)
                .bind(i32::try_from(attempt.latency_ms).unwrap_or(i32::MAX))
                .execute(&mut *tx)
                .await?;
            let endpoint = attempt.endpoint.to_string();
            if attempt.outcome == AttemptOutcome::Delivered {
                sqlx::query(crate::sql::events::ENDPOINT_SUCCEEDED)
                    .bind(&endpoint)
                    .execute(&mut *tx)
                    .await?;
            } else {
                sqlx::query(crate::sql::events::ENDPOINT_FAILED)
                    .bind(&endpoint)
                    .bind(attempt.at.unix_timestamp())
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(reason) = &attempt.disable_endpoint {
                sqlx::query(crate::sql::events::DISABLE_ENDPOINT)
                    .bind(&endpoint)
                    .bind(reason)
                    .bind(attempt.at.unix_timestamp())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn deliveries(
        &self,
        account: AccountId,
        endpoint: WebhookId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>> {
        let mut query = QueryBuilder::<$db>::new(
            "SELECT d.event_seq, v.kind, d.status, d.attempts, d.response_status, d.error, d.latency_ms, \
             d.next_attempt_ms, d.created_at_ms FROM webhook_deliveries d \
             JOIN events v ON v.seq = d.event_seq JOIN webhook_endpoints w ON w.id = d.endpoint_id \
             WHERE d.endpoint_id = ",
        );
        query.push_bind(endpoint.to_string());
        query.push(" AND w.account_id = ").push_bind(account.to_string());
        if let Some(before) = before {
            query.push(" AND d.event_seq < ").push_bind(before);
        }
        query.push(" ORDER BY d.event_seq DESC LIMIT ").push_bind(i64::from(limit));
        let found: Vec<rows::DeliveryRow> = query.build_query_as().fetch_all(&self.reader).await?;
        found.into_iter().map(DeliveryRecord::try_from).collect()
    }

    async fn resend_delivery(
        &self,
        account: AccountId,
        endpoint: WebhookId,
        event_seq: i64,
        now: OffsetDateTime,
    ) -> Result<()> {
        let updated = sqlx::query(crate::sql::events::RESEND)
            .bind(rows::unix_ms(now))
            .bind(endpoint.to_string())
            .bind(event_seq)
            .bind(account.to_string())
            .execute(&self.writer)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
    };
}

pub(crate) use sql_events;
