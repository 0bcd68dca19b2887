//! The SQL of [`crate::Audit`]: the accounts' audit logs.

macro_rules! sql_audit {
    ($store:ty, $db:ty, $conn:ty) => {
#[async_trait]
impl crate::Audit for $store {

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await?;
        audit_in_tx(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }


    async fn audit_events(&self, account: AccountId, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let mut sql = QueryBuilder::<$db>::new(
            "SELECT id, account_id, at, actor, action, subject, detail FROM audit_events WHERE account_id = ",
        );
        sql.push_bind(account.to_string());
        if let Some(action) = query.action {
            sql.push(" AND action = ").push_bind(action.as_str());
        }
        if let Some(actor) = &query.actor {
            sql.push(" AND actor = ").push_bind(actor.clone());
        }
        if let Some(since) = query.since {
            sql.push(" AND at >= ").push_bind(since.unix_timestamp());
        }
        if let Some(until) = query.until {
            sql.push(" AND at < ").push_bind(until.unix_timestamp());
        }
        if let Some(before) = query.before {
            sql.push(" AND id < ").push_bind(before);
        }
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(query.limit));
        let rows: Vec<(i64, String, i64, String, String, String, String)> =
            sql.build_query_as().fetch_all(&self.reader).await?;
        rows.into_iter()
            .map(|(seq, account_id, at, actor, action, subject, detail)| {
                let action = action.parse().map_err(|e: hubgate_core::audit::UnknownAction| StoreError::Corrupt(e.to_string()))?;
                let event = AuditEvent { account_id: rows::id(&account_id)?, at: rows::time(at)?, actor, action, subject, detail };
                Ok(AuditEntry { seq, event })
            })
            .collect()
    }
}
    };
}

pub(crate) use sql_audit;
