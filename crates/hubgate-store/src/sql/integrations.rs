//! The SQL of [`crate::Integrations`]: integrations, and when they were last used.

pub(crate) const UPDATE_INTEGRATION: &str = "UPDATE integrations SET name = $2, redirect_uris = $3, scopes = $4, enabled = $5, \
             refresh_on_client_credentials = $6, require_pkce = $7, access_token_ttl = $8, refresh_token_ttl = $9, \
             sealed_secret = $10, sealed_previous_secret = $11, previous_secret_expires_at = $12, token_epoch = $13, \
             updated_at = $14, acting_user_id = $15 WHERE id = $1";
pub(crate) const DELETE_INTEGRATION: &str = "DELETE FROM integrations WHERE id = $1";
pub(crate) const TOUCH_INTEGRATIONS: &str = "UPDATE integrations SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)";
pub(crate) const INTEGRATION_LAST_USED: &str =
    "SELECT last_used_at FROM integrations WHERE id = $1";
pub(crate) const INTEGRATIONS_LAST_USED: &str =
    "SELECT id, last_used_at FROM integrations WHERE account_id = $1 AND last_used_at IS NOT NULL";

macro_rules! sql_integrations {
    ($store:ty, $db:ty, $conn:ty) => {
const INTEGRATION_COLUMNS: &str = "id, account_id, name, client_id, redirect_uris, scopes, enabled, \
    refresh_on_client_credentials, require_pkce, access_token_ttl, refresh_token_ttl, created_by, created_at, \
    sealed_secret, sealed_previous_secret, previous_secret_expires_at, token_epoch, acting_user_id";

#[async_trait]
impl crate::Integrations for $store {

    async fn insert_integration(&self, i: &Integration, audit: &AuditEvent) -> Result<()> {
        let now = audit.at;
        let mut tx = self.begin_locking().await?;
        lock_account(&mut tx, i.account_id).await?;
        check_acting_user(&mut tx, i.account_id, i.acting_user, i.scopes).await?;
        sqlx::query(&format!(
            "INSERT INTO integrations ({INTEGRATION_COLUMNS}, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        ))
        .bind(i.id.to_string())
        .bind(i.account_id.to_string())
        .bind(&i.name)
        .bind(i.client_id.as_str())
        .bind(rows::redirect_uris_json(i))
        .bind(i.scopes.to_string())
        .bind(i.enabled)
        .bind(i.refresh_on_client_credentials)
        .bind(i.require_pkce)
        .bind(i.access_token_ttl.map(i64::from))
        .bind(i.refresh_token_ttl.map(i64::from))
        .bind(i.created_by.to_string())
        .bind(i.created_at.unix_timestamp())
        .bind(&i.sealed_secret)
        .bind(&i.sealed_previous_secret)
        .bind(i.previous_secret_expires_at.map(|t| t.unix_timestamp()))
        .bind(i64::from(i.token_epoch))
        .bind(i.acting_user.to_string())
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await
        .map_err(on_constraint("an integration with this client_id"))?;
        log_change(&mut tx, "integration", &i.id.to_string(), None, now).await?;
        audit_in_tx(&mut tx, std::slice::from_ref(audit)).await?;
        tx.commit().await?;
        Ok(())
    }


    async fn update_integration(&self, i: &Integration, audit: &AuditEvent) -> Result<()> {
        let now = audit.at;
        let mut tx = self.begin_locking().await?;
        lock_account(&mut tx, i.account_id).await?;
        check_acting_user(&mut tx, i.account_id, i.acting_user, i.scopes).await?;
        let result = sqlx::query(crate::sql::integrations::UPDATE_INTEGRATION)
        .bind(i.id.to_string())
        .bind(&i.name)
        .bind(rows::redirect_uris_json(i))
        .bind(i.scopes.to_string())
        .bind(i.enabled)
        .bind(i.refresh_on_client_credentials)
        .bind(i.require_pkce)
        .bind(i.access_token_ttl.map(i64::from))
        .bind(i.refresh_token_ttl.map(i64::from))
        .bind(&i.sealed_secret)
        .bind(&i.sealed_previous_secret)
        .bind(i.previous_secret_expires_at.map(|t| t.unix_timestamp()))
        .bind(i64::from(i.token_epoch))
        .bind(now.unix_timestamp())
        .bind(i.acting_user.to_string())
        .execute(&mut *tx)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        log_change(&mut tx, "integration", &i.id.to_string(), None, now).await?;
        audit_in_tx(&mut tx, std::slice::from_ref(audit)).await?;
        tx.commit().await?;
        Ok(())
    }


    async fn delete_integration(&self, id: IntegrationId, audit: &AuditEvent) -> Result<()> {
        let now = audit.at;
        let mut tx = self.writer.begin().await?;
        let result = sqlx::query(crate::sql::integrations::DELETE_INTEGRATION)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        log_change(&mut tx, "integration", &id.to_string(), None, now).await?;
        audit_in_tx(&mut tx, std::slice::from_ref(audit)).await?;
        tx.commit().await?;
        Ok(())
    }


    async fn integration_by_id(&self, id: IntegrationId) -> Result<Option<Integration>> {
        let row: Option<IntegrationRow> = sqlx::query_as(&format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.map(Integration::try_from).transpose()
    }


    async fn integration_by_client_id(&self, client_id: &ClientId) -> Result<Option<Integration>> {
        let row: Option<IntegrationRow> = sqlx::query_as(&format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE client_id = $1"
        ))
        .bind(client_id.as_str())
        .fetch_optional(&self.reader)
        .await?;
        row.map(Integration::try_from).transpose()
    }


    async fn list_integrations(&self, account: Option<AccountId>) -> Result<Vec<Integration>> {
        let mut query = QueryBuilder::<$db>::new(format!("SELECT {INTEGRATION_COLUMNS} FROM integrations"));
        if let Some(account) = account {
            query.push(" WHERE account_id = ").push_bind(account.to_string());
        }
        query.push(" ORDER BY id");
        let rows: Vec<IntegrationRow> = query.build_query_as().fetch_all(&self.reader).await?;
        rows.into_iter().map(Integration::try_from).collect()
    }


    async fn touch_integrations(&self, used: &[(IntegrationId, OffsetDateTime)]) -> Result<()> {
        if used.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await?;
        for (id, at) in used {
            sqlx::query(crate::sql::integrations::TOUCH_INTEGRATIONS)
            .bind(id.to_string())
            .bind(at.unix_timestamp())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }


    async fn integration_last_used(&self, id: IntegrationId) -> Result<Option<OffsetDateTime>> {
        let at: Option<Option<i64>> = sqlx::query_scalar(crate::sql::integrations::INTEGRATION_LAST_USED)
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        at.flatten().map(rows::time).transpose()
    }


    async fn integrations_last_used(&self, account: AccountId) -> Result<Vec<(IntegrationId, OffsetDateTime)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(crate::sql::integrations::INTEGRATIONS_LAST_USED)
        .bind(account.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter().map(|(id, at)| Ok((rows::id(&id)?, rows::time(at)?))).collect()
    }
}
    };
}

pub(crate) use sql_integrations;
