//! The SQL of [`crate::Health`]: whether the database is there and writable, and how nodes wait for changes.

pub(crate) const PING: &str = "SELECT 1";
pub(crate) const PROBE_WRITE: &str =
    "INSERT INTO heartbeat (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at";

macro_rules! sql_health {
    ($store:ty, $db:ty, $conn:ty) => {
        #[async_trait]
        impl crate::Health for $store {
            async fn ping(&self) -> Result<()> {
                sqlx::query(crate::sql::health::PING)
                    .execute(&self.reader)
                    .await?;
                Ok(())
            }

            async fn probe_write(&self, now: OffsetDateTime) -> Result<()> {
                sqlx::query(crate::sql::health::PROBE_WRITE)
                    .bind(now.unix_timestamp_nanos() as i64)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            async fn close(&self) {
                self.close_pools().await;
            }

            async fn wait_for_change(&self, max_wait: std::time::Duration) {
                self.wait_for_change_notification(max_wait).await;
            }
        }
    };
}

pub(crate) use sql_health;
