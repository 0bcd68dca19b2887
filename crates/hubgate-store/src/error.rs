#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique key is taken; the text names which.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The write would break one of the store's invariants (the last owner,
    /// an acting user's role); the text says which, for the person who asked.
    #[error("{0}")]
    Refused(String),
    /// A stored value could not be read back (corruption or a bug).
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The store could not complete the work right now (a batch failed, or it is closing).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The database was migrated by a newer hubgate.
    #[error(
        "the database's schema is at version {database}, newer than this hubgate knows (its newest is \
         version {binary}): run the hubgate that last opened it, or a newer one"
    )]
    SchemaTooNew { database: i64, binary: i64 },
}

impl StoreError {
    /// Whether retrying later may succeed (the database was unreachable or busy).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Database(
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
            ) | Self::Unavailable(_)
        )
    }
}

/// Maps a unique-key violation to `Conflict(what)`, anything else to `Database`.
pub(crate) fn on_unique(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |error| match error.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Database(error),
    }
}

/// A write's foreign-key violation (its account, user or integration is
/// gone) as `NotFound`, and a unique violation as `Conflict(what)`.
pub(crate) fn on_constraint(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |error| match error.as_database_error() {
        Some(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        Some(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Database(error),
    }
}
