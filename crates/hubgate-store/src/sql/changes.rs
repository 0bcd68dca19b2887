//! The SQL of [`crate::ChangeLog`]: the change log nodes follow to keep their view of revocations current.

pub(crate) const REVOCATION_SNAPSHOT_SEQ: &str = "SELECT COALESCE(MAX(seq), 0) FROM changes";
/// Where a node starting up begins following: before the changes of the
/// last `LATE_COMMIT_WINDOW` ($1), so one still committing is not passed over.
pub(crate) const FOLLOW_FROM: &str = "SELECT COALESCE((SELECT MIN(seq) - 1 FROM changes WHERE at >= $1), (SELECT MAX(seq) FROM changes), 0)";
pub(crate) const REVOCATION_SNAPSHOT_FAMILIES: &str =
    "SELECT id, expires_at FROM refresh_families WHERE revoked AND expires_at > $1";
pub(crate) const REVOCATION_SNAPSHOT_ACCESS_TOKENS: &str =
    "SELECT jti, expires_at FROM revoked_access_tokens WHERE expires_at > $1";
pub(crate) const REVOCATION_SNAPSHOT_GRANTS: &str = "SELECT account_id, user_id, integration_id, issued_before, valid_until FROM grant_revocations \
             WHERE valid_until > $1";
pub(crate) const CHANGES_SINCE: &str =
    "SELECT seq, kind, subject, valid_until FROM changes WHERE seq > $1 ORDER BY seq LIMIT 10000";

macro_rules! sql_changes {
    ($store:ty, $db:ty, $conn:ty) => {
        #[async_trait]
        impl crate::ChangeLog for $store {
            async fn revocation_snapshot(&self, now: OffsetDateTime) -> Result<RevocationSnapshot> {
                // One read transaction, so the snapshot and its sequence number agree.
                let mut tx = self.reader.begin().await?;
                let seq: i64 = sqlx::query_scalar(crate::sql::changes::REVOCATION_SNAPSHOT_SEQ)
                    .fetch_one(&mut *tx)
                    .await?;
                let window =
                    time::Duration::try_from(crate::LATE_COMMIT_WINDOW).unwrap_or_default();
                let follow_from: i64 = sqlx::query_scalar(crate::sql::changes::FOLLOW_FROM)
                    .bind((now - window).unix_timestamp())
                    .fetch_one(&mut *tx)
                    .await?;
                let families: Vec<(String, i64)> =
                    sqlx::query_as(crate::sql::changes::REVOCATION_SNAPSHOT_FAMILIES)
                        .bind(now.unix_timestamp())
                        .fetch_all(&mut *tx)
                        .await?;
                let tokens: Vec<(String, i64)> =
                    sqlx::query_as(crate::sql::changes::REVOCATION_SNAPSHOT_ACCESS_TOKENS)
                        .bind(now.unix_timestamp())
                        .fetch_all(&mut *tx)
                        .await?;
                let grants: Vec<rows::GrantRevocationRow> =
                    sqlx::query_as(crate::sql::changes::REVOCATION_SNAPSHOT_GRANTS)
                        .bind(now.unix_timestamp())
                        .fetch_all(&mut *tx)
                        .await?;
                tx.commit().await?;
                let revoked_grants = grants
                    .into_iter()
                    .map(GrantRevocation::try_from)
                    .collect::<Result<_>>()?;
                let revoked_families = families
                    .into_iter()
                    .map(|(id, until)| Ok((rows::id(&id)?, until)))
                    .collect::<Result<_>>()?;
                Ok(RevocationSnapshot {
                    seq,
                    follow_from: seq.min(follow_from),
                    revoked_families,
                    revoked_access_tokens: tokens,
                    revoked_grants,
                })
            }

            async fn changes_since(&self, seq: i64) -> Result<Vec<(i64, Change)>> {
                let rows: Vec<ChangeRow> = sqlx::query_as(crate::sql::changes::CHANGES_SINCE)
                    .bind(seq)
                    .fetch_all(&self.reader)
                    .await?;
                rows.into_iter().map(ChangeRow::into_change).collect()
            }
        }
    };
}

pub(crate) use sql_changes;
