//! The SQL of [`crate::Tokens`]: what token validity rests on: signing keys, refresh-token families, authorization codes and revoked access tokens.

pub(crate) const INSERT_SIGNING_KEY: &str = "INSERT INTO signing_keys (id, public_key, sealed_private_key, created_at) VALUES ($1, $2, $3, $4)";
pub(crate) const SIGNING_KEYS: &str =
    "SELECT id, public_key, sealed_private_key, created_at FROM signing_keys ORDER BY id";
pub(crate) const FAMILY_STATE: &str =
    "SELECT generation, revoked FROM refresh_families WHERE id = $1";
pub(crate) const REVOKE_FAMILY: &str = "INSERT INTO refresh_families (id, integration_id, generation, revoked, expires_at, updated_at) \
             VALUES ($1, $2, 0, TRUE, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET revoked = TRUE, updated_at = excluded.updated_at, \
             expires_at = CASE WHEN refresh_families.expires_at > excluded.expires_at \
             THEN refresh_families.expires_at ELSE excluded.expires_at END";
pub(crate) const REVOKE_ACCESS_TOKEN: &str = "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING";
pub(crate) const INSERT_CODE: &str = "INSERT INTO authorization_codes (hash, integration_id, user_id, account_id, redirect_uri, scope, \
             code_challenge, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
pub(crate) const USE_CODE_SPEND: &str = "UPDATE authorization_codes SET used_at = $2, family_id = $3 WHERE hash = $1 AND used_at IS NULL";
pub(crate) const USE_CODE_REPLAYED: &str = "SELECT integration_id, user_id, account_id, redirect_uri, scope, code_challenge, expires_at, family_id \
             FROM authorization_codes WHERE hash = $1";

macro_rules! sql_tokens {
    ($store:ty, $db:ty, $conn:ty) => {
        #[async_trait]
        impl crate::Tokens for $store {
            async fn insert_signing_key(&self, key: &StoredKey) -> Result<()> {
                let mut tx = self.writer.begin().await?;
                sqlx::query(crate::sql::tokens::INSERT_SIGNING_KEY)
                    .bind(key.id.to_string())
                    .bind(key.public_key.as_slice())
                    .bind(&key.sealed_private_key)
                    .bind(key.created_at.unix_timestamp())
                    .execute(&mut *tx)
                    .await?;
                log_change(
                    &mut tx,
                    "signing_key",
                    &key.id.to_string(),
                    None,
                    key.created_at,
                )
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn signing_keys(&self) -> Result<Vec<StoredKey>> {
                let rows: Vec<KeyRow> = sqlx::query_as(crate::sql::tokens::SIGNING_KEYS)
                    .fetch_all(&self.reader)
                    .await?;
                rows.into_iter().map(StoredKey::try_from).collect()
            }

            async fn rotate_family(&self, request: RotationRequest) -> Result<Rotation> {
                self.rotations.rotate(request).await
            }

            async fn family_state(&self, family: FamilyId) -> Result<Option<(u32, bool)>> {
                let row: Option<(i64, bool)> = sqlx::query_as(crate::sql::tokens::FAMILY_STATE)
                    .bind(family.to_string())
                    .fetch_optional(&self.reader)
                    .await?;
                row.map(|(generation, revoked)| {
                    Ok((
                        u32::try_from(generation)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        revoked,
                    ))
                })
                .transpose()
            }

            async fn revoke_family(
                &self,
                family: FamilyId,
                integration: IntegrationId,
                valid_until: i64,
                now: OffsetDateTime,
            ) -> Result<()> {
                let family_text = family.to_string();
                let mut tx = self.writer.begin().await?;
                sqlx::query(crate::sql::tokens::REVOKE_FAMILY)
                    .bind(&family_text)
                    .bind(integration.to_string())
                    .bind(valid_until)
                    .bind(now.unix_timestamp())
                    .execute(&mut *tx)
                    .await
                    .map_err(on_constraint("a refresh-token family"))?;
                log_change(&mut tx, "family", &family_text, Some(valid_until), now).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn revoke_access_token(
                &self,
                jti: &str,
                valid_until: i64,
                now: OffsetDateTime,
            ) -> Result<()> {
                let mut tx = self.writer.begin().await?;
                sqlx::query(crate::sql::tokens::REVOKE_ACCESS_TOKEN)
                    .bind(jti)
                    .bind(valid_until)
                    .execute(&mut *tx)
                    .await?;
                log_change(&mut tx, "access_token", jti, Some(valid_until), now).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn insert_code(&self, code: &AuthorizationCode) -> Result<()> {
                sqlx::query(crate::sql::tokens::INSERT_CODE)
                    .bind(code.hash.as_slice())
                    .bind(code.integration_id.to_string())
                    .bind(code.user_id.to_string())
                    .bind(code.account_id.to_string())
                    .bind(&code.redirect_uri)
                    .bind(code.scope.to_string())
                    .bind(&code.code_challenge)
                    .bind(code.expires_at.unix_timestamp())
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            async fn use_code(
                &self,
                hash: &[u8; 32],
                family: FamilyId,
                now: OffsetDateTime,
            ) -> Result<CodeUse> {
                let mut tx = self.begin_locking().await?;
                let spent = sqlx::query(crate::sql::tokens::USE_CODE_SPEND)
                    .bind(hash.as_slice())
                    .bind(now.unix_timestamp())
                    .bind(family.to_string())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                let row: Option<CodeRow> = sqlx::query_as(crate::sql::tokens::USE_CODE_REPLAYED)
                    .bind(hash.as_slice())
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                let Some(row) = row else {
                    return Ok(CodeUse::Unknown);
                };
                row.into_use(*hash, spent)
            }
        }
    };
}

pub(crate) use sql_tokens;
