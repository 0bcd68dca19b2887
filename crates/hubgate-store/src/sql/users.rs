//! The SQL of [`crate::Users`]: users, their passwords and their browser sessions.

pub(crate) const COUNT_USERS: &str = "SELECT COUNT(*) FROM users";
pub(crate) const SET_PASSWORD_HASH: &str =
    "UPDATE users SET password_hash = $2, must_change_password = $3 WHERE id = $1";
pub(crate) const SET_PASSWORD_END_SESSIONS: &str =
    "DELETE FROM sessions WHERE user_id = $1 AND hash <> $2";
pub(crate) const INSERT_SESSION: &str =
    "INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";
pub(crate) const SESSION_USER: &str =
    "SELECT user_id FROM sessions WHERE hash = $1 AND expires_at > $2";
pub(crate) const DELETE_SESSION: &str = "DELETE FROM sessions WHERE hash = $1";

macro_rules! sql_users {
    ($store:ty, $db:ty, $conn:ty) => {
        #[async_trait]
        impl crate::Users for $store {
            async fn count_users(&self) -> Result<i64> {
                Ok(sqlx::query_scalar(crate::sql::users::COUNT_USERS)
                    .fetch_one(&self.reader)
                    .await?)
            }

            async fn insert_user(&self, user: &User) -> Result<()> {
                sqlx::query(&format!(
                    "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
                ))
                .bind(user.id.to_string())
                .bind(&user.email)
                .bind(&user.password_hash)
                .bind(user.must_change_password)
                .bind(user.created_at.unix_timestamp())
                .execute(&self.writer)
                .await
                .map_err(on_unique("a user with this email"))?;
                Ok(())
            }

            async fn set_password(
                &self,
                write: PasswordWrite<'_>,
                audit: &[AuditEvent],
            ) -> Result<()> {
                let mut tx = self.writer.begin().await?;
                let updated = sqlx::query(crate::sql::users::SET_PASSWORD_HASH)
                    .bind(write.user.to_string())
                    .bind(write.password_hash)
                    .bind(write.must_change)
                    .execute(&mut *tx)
                    .await?;
                if updated.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                // A hash no session has: ends them all when none is kept.
                let kept: &[u8] = write.keep_session.map_or(&[], |hash| hash.as_slice());
                sqlx::query(crate::sql::users::SET_PASSWORD_END_SESSIONS)
                    .bind(write.user.to_string())
                    .bind(kept)
                    .execute(&mut *tx)
                    .await?;
                audit_in_tx(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
                let row: Option<UserRow> =
                    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
                        .bind(id.to_string())
                        .fetch_optional(&self.reader)
                        .await?;
                row.map(User::try_from).transpose()
            }

            async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
                let row: Option<UserRow> = sqlx::query_as(&format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
                ))
                .bind(email)
                .fetch_optional(&self.reader)
                .await?;
                row.map(User::try_from).transpose()
            }

            async fn insert_session(
                &self,
                hash: &[u8; 32],
                user: UserId,
                expires_at: OffsetDateTime,
                now: OffsetDateTime,
            ) -> Result<()> {
                sqlx::query(crate::sql::users::INSERT_SESSION)
                    .bind(hash.as_slice())
                    .bind(user.to_string())
                    .bind(now.unix_timestamp())
                    .bind(expires_at.unix_timestamp())
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            async fn session_user(
                &self,
                hash: &[u8; 32],
                now: OffsetDateTime,
            ) -> Result<Option<UserId>> {
                let user: Option<String> = sqlx::query_scalar(crate::sql::users::SESSION_USER)
                    .bind(hash.as_slice())
                    .bind(now.unix_timestamp())
                    .fetch_optional(&self.reader)
                    .await?;
                user.map(|u| rows::id(&u)).transpose()
            }

            async fn delete_session(&self, hash: &[u8; 32]) -> Result<()> {
                sqlx::query(crate::sql::users::DELETE_SESSION)
                    .bind(hash.as_slice())
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use sql_users;
