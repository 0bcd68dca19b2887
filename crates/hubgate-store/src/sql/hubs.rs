//! The SQL of [`crate::Hubs`]: hubs and switches: what they reported and what integrations asked of them.

pub(crate) const WRITE_HUB: &str = "UPDATE hubs SET name = $2, room = $3, online = $4, last_seen = $5, state = $6, desired = $7, \
         updated_at = $8, reported_version = $9, desired_version = $10 WHERE id = $1";
pub(crate) const SET_DEVICE_CREDENTIAL: &str =
    "UPDATE hubs SET device_secret_digest = $3, updated_at = $4 WHERE id = $1 AND account_id = $2";
pub(crate) const DEVICE_COLUMNS: &str =
    "id, account_id, serial, device_secret_digest, desired_version";
pub(crate) const DELETE_HUB: &str = "DELETE FROM hubs WHERE id = $1 AND account_id = $2";

macro_rules! sql_hubs {
    ($store:ty, $db:ty, $conn:ty) => {

const HUB_COLUMNS: &str = "id, account_id, serial, kind, model, firmware, name, room, online, last_seen, \
    state, desired, created_at, updated_at, reported_version, desired_version";


async fn hub_in_tx(conn: &mut $conn, id: HubId) -> Result<Option<Hub>> {
    let row: Option<HubRow> =
        sqlx::query_as(&format!("SELECT {HUB_COLUMNS} FROM hubs WHERE id = $1{}", <$store>::ROW_LOCK))
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
    row.map(Hub::try_from).transpose()
}


async fn write_hub(conn: &mut $conn, hub: &Hub) -> Result<()> {
    sqlx::query(crate::sql::hubs::WRITE_HUB)
    .bind(hub.id.to_string())
    .bind(&hub.name)
    .bind(&hub.room)
    .bind(hub.online)
    .bind(hub.last_seen.map(|t| t.unix_timestamp()))
    .bind(rows::json_text(&hub.state))
    .bind(rows::json_text(&hub.desired))
    .bind(hub.updated_at.unix_timestamp())
    .bind(hub.reported_version)
    .bind(hub.desired_version)
    .execute(conn)
    .await?;
    Ok(())
}

async fn device_where(pool: &sqlx::Pool<$db>, condition: &str, value: &str) -> Result<Option<DeviceRecord>> {
    let row: Option<DeviceRow> = sqlx::query_as(&format!(
        "SELECT {} FROM hubs WHERE {condition} = $1",
        crate::sql::hubs::DEVICE_COLUMNS
    ))
    .bind(value)
    .fetch_optional(pool)
    .await?;
    row.map(DeviceRecord::try_from).transpose()
}

/// ` IN (…)` of these hubs' ids, one bound parameter each.
fn push_id_list(query: &mut QueryBuilder<'_, $db>, ids: &[HubId]) {
    query.push(" IN (");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id.to_string());
    }
    query.push(")");
}

/// ` WHERE` … ` ORDER BY id LIMIT` of one page of an account's hubs.
fn push_page(
    query: &mut QueryBuilder<'_, $db>,
    account: AccountId,
    filter: &HubFilter,
    after: Option<HubId>,
    limit: u32,
) {
    query.push(" WHERE account_id = ").push_bind(account.to_string());
    if let Some(after) = after {
        query.push(" AND id > ").push_bind(after.to_string());
    }
    if let Some(kind) = filter.kind {
        query.push(" AND kind = ").push_bind(kind.as_str());
    }
    if let Some(online) = filter.online {
        query.push(" AND online = ").push_bind(online);
    }
    if let Some(room) = &filter.room {
        query.push(" AND room = ").push_bind(room.clone());
    }
    query.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
}

#[async_trait]
impl crate::Hubs for $store {

    async fn insert_hub(&self, hub: &Hub, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO hubs ({HUB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(hub.id.to_string())
        .bind(hub.account_id.to_string())
        .bind(&hub.serial)
        .bind(hub.kind.as_str())
        .bind(&hub.model)
        .bind(&hub.firmware)
        .bind(&hub.name)
        .bind(&hub.room)
        .bind(hub.online)
        .bind(hub.last_seen.map(|t| t.unix_timestamp()))
        .bind(rows::json_text(&hub.state))
        .bind(rows::json_text(&hub.desired))
        .bind(hub.created_at.unix_timestamp())
        .bind(hub.updated_at.unix_timestamp())
        .bind(hub.reported_version)
        .bind(hub.desired_version)
        .execute(&mut *tx)
        .await
        .map_err(on_constraint("a hub with this serial"))?;
        audit_in_tx(&mut tx, std::slice::from_ref(audit)).await?;
        commit_with_events(tx, &self.events_written, &[hubgate_core::event::hub_created(hub)]).await?;
        Ok(())
    }


    async fn delete_hub(&self, account: AccountId, id: HubId, now: OffsetDateTime, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin_locking().await?;
        let Some(hub) = hub_in_tx(&mut tx, id).await?.filter(|h| h.account_id == account) else {
            return Err(StoreError::NotFound);
        };
        sqlx::query(crate::sql::hubs::DELETE_HUB)
            .bind(id.to_string())
            .bind(account.to_string())
            .execute(&mut *tx)
            .await?;
        log_change(&mut tx, "hub", &id.to_string(), None, now).await?;
        audit_in_tx(&mut tx, std::slice::from_ref(audit)).await?;
        commit_with_events(tx, &self.events_written, &[hubgate_core::event::hub_deleted(&hub, now)]).await?;
        Ok(())
    }


    async fn hub(&self, account: AccountId, id: HubId) -> Result<Option<Hub>> {
        let row: Option<HubRow> = sqlx::query_as(&format!(
            "SELECT {HUB_COLUMNS} FROM hubs WHERE id = $1 AND account_id = $2"
        ))
        .bind(id.to_string())
        .bind(account.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.map(Hub::try_from).transpose()
    }


    async fn list_hubs(
        &self,
        account: AccountId,
        filter: &HubFilter,
        after: Option<HubId>,
        limit: u32,
    ) -> Result<Vec<Hub>> {
        let mut query = QueryBuilder::<$db>::new(format!("SELECT {HUB_COLUMNS} FROM hubs"));
        push_page(&mut query, account, filter, after, limit);
        let rows: Vec<HubRow> = query.build_query_as().fetch_all(&self.reader).await?;
        rows.into_iter().map(Hub::try_from).collect()
    }


    async fn list_hub_ids(
        &self,
        account: AccountId,
        filter: &HubFilter,
        after: Option<HubId>,
        limit: u32,
    ) -> Result<Vec<HubId>> {
        let mut query = QueryBuilder::<$db>::new(format!(
            "SELECT {} FROM (SELECT id FROM hubs",
            <$store>::JOIN_IDS
        ));
        push_page(&mut query, account, filter, after, limit);
        query.push(") page");
        let joined: Option<String> = query.build_query_scalar().fetch_one(&self.reader).await?;
        let mut ids = joined
            .unwrap_or_default()
            .split(',')
            .filter(|id| !id.is_empty())
            .map(rows::id::<HubId>)
            .collect::<Result<Vec<_>>>()?;
        // The aggregate keeps no order of its own; ids (UUIDv7) sort as
        // their text does, which is the list's order.
        ids.sort_unstable();
        Ok(ids)
    }


    async fn hubs_by_ids(&self, account: AccountId, ids: &[HubId]) -> Result<Vec<Hub>> {
        let mut hubs = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut query = QueryBuilder::<$db>::new(format!(
                "SELECT {HUB_COLUMNS} FROM hubs WHERE account_id = "
            ));
            query.push_bind(account.to_string()).push(" AND id");
            push_id_list(&mut query, chunk);
            let rows: Vec<HubRow> = query.build_query_as().fetch_all(&self.reader).await?;
            for row in rows {
                hubs.push(Hub::try_from(row)?);
            }
        }
        Ok(hubs)
    }


    async fn patch_hub(
        &self,
        account: AccountId,
        id: HubId,
        change: &HubChange,
        now: OffsetDateTime,
    ) -> Result<Option<Hub>> {
        let mut tx = self.begin_locking().await?;
        let Some(hub) = hub_in_tx(&mut tx, id)
            .await?
            .filter(|h| h.account_id == account)
        else {
            return Ok(None);
        };
        let next = change.apply(&hub, now);
        write_hub(&mut tx, &next).await?;
        log_change(&mut tx, "hub", &next.id.to_string(), None, now).await?;
        commit_with_events(tx, &self.events_written, &hubgate_core::event::hub_changed(&hub, &next, now)).await?;
        Ok(Some(next))
    }


    async fn report_hub_state(
        &self,
        id: HubId,
        state: &Map<String, Value>,
        now: OffsetDateTime,
    ) -> Result<Hub> {
        let mut tx = self.begin_locking().await?;
        let before = hub_in_tx(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        let mut hub = before.clone();
        hub.state = state.clone();
        hub.reported_version += 1;
        hub.online = true;
        hub.last_seen = Some(now);
        hub.updated_at = now;
        write_hub(&mut tx, &hub).await?;
        log_change(&mut tx, "hub", &hub.id.to_string(), None, now).await?;
        commit_with_events(tx, &self.events_written, &hubgate_core::event::hub_changed(&before, &hub, now)).await?;
        Ok(hub)
    }


    async fn record_hub_reports(&self, reports: &[HubReport]) -> Result<()> {
        if reports.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_locking().await?;
        let mut events = Vec::new();
        for report in reports {
            let Some(before) = hub_in_tx(&mut tx, report.hub).await? else {
                continue;
            };
            let mut hub = before.clone();
            hubgate_core::hub::merge_report(&mut hub.state, &report.state);
            hub.reported_version += i64::from(report.reports);
            if let Some(online) = report.online {
                hub.online = online;
            }
            hub.last_seen = Some(report.seen);
            hub.updated_at = report.seen;
            write_hub(&mut tx, &hub).await?;
            log_change(&mut tx, "hub", &hub.id.to_string(), None, report.seen).await?;
            events.extend(hubgate_core::event::hub_changed(&before, &hub, report.seen));
        }
        commit_with_events(tx, &self.events_written, &events).await?;
        Ok(())
    }


    async fn device_by_serial(&self, serial: &str) -> Result<Option<DeviceRecord>> {
        device_where(&self.reader, "serial", serial).await
    }


    async fn device_of_hub(&self, id: HubId) -> Result<Option<DeviceRecord>> {
        device_where(&self.reader, "id", &id.to_string()).await
    }


    async fn devices_of_hubs(&self, ids: &[HubId]) -> Result<Vec<DeviceRecord>> {
        let mut devices = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut query = QueryBuilder::<$db>::new(format!(
                "SELECT {} FROM hubs WHERE id",
                crate::sql::hubs::DEVICE_COLUMNS
            ));
            push_id_list(&mut query, chunk);
            let rows: Vec<DeviceRow> = query.build_query_as().fetch_all(&self.reader).await?;
            for row in rows {
                devices.push(DeviceRecord::try_from(row)?);
            }
        }
        Ok(devices)
    }


    async fn set_device_credential(
        &self,
        account: AccountId,
        id: HubId,
        digest: Option<[u8; 32]>,
        now: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let updated = sqlx::query(crate::sql::hubs::SET_DEVICE_CREDENTIAL)
            .bind(id.to_string())
            .bind(account.to_string())
            .bind(digest.map(|d| d.to_vec()))
            .bind(now.unix_timestamp())
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        log_change(&mut tx, "hub", &id.to_string(), None, now).await?;
        audit_in_tx(&mut tx, std::slice::from_ref(audit)).await?;
        tx.commit().await?;
        Ok(())
    }
}
    };
}

pub(crate) use sql_hubs;
