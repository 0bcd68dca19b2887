//! The SQL of [`crate::Consents`]: what users approved for integrations (authorization-code flow).

pub(crate) const PUT_CONSENT: &str = "INSERT INTO consents (user_id, account_id, integration_id, scope, granted_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id, account_id, integration_id) DO UPDATE SET scope = excluded.scope, \
             granted_at = excluded.granted_at";
pub(crate) const CONSENT: &str = "SELECT user_id, account_id, integration_id, scope, granted_at FROM consents \
             WHERE user_id = $1 AND account_id = $2 AND integration_id = $3";
pub(crate) const CONSENTS_OF_USER: &str = "SELECT user_id, account_id, integration_id, scope, granted_at FROM consents WHERE user_id = $1 \
             ORDER BY granted_at, integration_id";
pub(crate) const DELETE_CONSENT: &str =
    "DELETE FROM consents WHERE user_id = $1 AND account_id = $2 AND integration_id = $3";

macro_rules! sql_consents {
    ($store:ty, $db:ty, $conn:ty) => {
        #[async_trait]
        impl crate::Consents for $store {
            async fn put_consent(&self, consent: &Consent) -> Result<()> {
                sqlx::query(crate::sql::consents::PUT_CONSENT)
                    .bind(consent.user_id.to_string())
                    .bind(consent.account_id.to_string())
                    .bind(consent.integration_id.to_string())
                    .bind(consent.scope.to_string())
                    .bind(consent.granted_at.unix_timestamp())
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            async fn consent(
                &self,
                user: UserId,
                account: AccountId,
                integration: IntegrationId,
            ) -> Result<Option<Consent>> {
                let row: Option<ConsentRow> = sqlx::query_as(crate::sql::consents::CONSENT)
                    .bind(user.to_string())
                    .bind(account.to_string())
                    .bind(integration.to_string())
                    .fetch_optional(&self.reader)
                    .await?;
                row.map(Consent::try_from).transpose()
            }

            async fn consents_of_user(&self, user: UserId) -> Result<Vec<Consent>> {
                let rows: Vec<ConsentRow> = sqlx::query_as(crate::sql::consents::CONSENTS_OF_USER)
                    .bind(user.to_string())
                    .fetch_all(&self.reader)
                    .await?;
                rows.into_iter().map(Consent::try_from).collect()
            }

            async fn delete_consent(
                &self,
                user: UserId,
                account: AccountId,
                integration: IntegrationId,
                now: OffsetDateTime,
                revoke_until: i64,
                audit: &AuditEvent,
            ) -> Result<()> {
                let mut tx = self.writer.begin().await?;
                sqlx::query(crate::sql::consents::DELETE_CONSENT)
                    .bind(user.to_string())
                    .bind(account.to_string())
                    .bind(integration.to_string())
                    .execute(&mut *tx)
                    .await?;
                let key = hubgate_core::grant::GrantKey {
                    account,
                    user,
                    integration: Some(integration),
                };
                revoke_grant(&mut tx, &GrantRevocation::new(key, now, revoke_until), now).await?;
                audit_in_tx(&mut tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use sql_consents;
