//! The schema's version: migrations are recorded by sqlx in
//! `_sqlx_migrations`; a database that has one this binary does not know was
//! upgraded by a newer hubgate and is refused (downgrading would run old code
//! on a schema it does not understand), and what an upgrade would apply can be
//! listed without applying it.

use sqlx::migrate::Migrator;

use crate::{Result, StoreError};

/// The applied migrations' versions. On a database never migrated the
/// table is missing: the query fails and the list is empty (any other
/// failure shows again when the migrations run).
pub(crate) const APPLIED: &str =
    "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";

/// Refuses a database with a migration this binary does not know.
pub(crate) fn check_not_newer(migrator: &Migrator, applied: &[i64]) -> Result<()> {
    let known = |version: &i64| migrator.iter().any(|m| m.version == *version);
    match applied.iter().filter(|v| !known(v)).max() {
        Some(&database) => Err(StoreError::SchemaTooNew {
            database,
            binary: newest(migrator),
        }),
        None => Ok(()),
    }
}

/// The newest migration this binary knows.
pub(crate) fn newest(migrator: &Migrator) -> i64 {
    migrator.iter().map(|m| m.version).max().unwrap_or(0)
}

/// A migration an upgrade would apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMigration {
    pub version: i64,
    pub description: String,
}

/// The migrations this binary knows that the database has not applied.
pub(crate) fn pending(migrator: &Migrator, applied: &[i64]) -> Vec<PendingMigration> {
    migrator
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .map(|m| PendingMigration {
            version: m.version,
            description: m.description.to_string(),
        })
        .collect()
}
