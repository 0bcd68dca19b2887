//! The store's SQL, written once for both backends. SQLite and PostgreSQL
//! share the schema column for column and the `$N` placeholder syntax (sqlx
//! maps `$N` on SQLite too); what differs — how a transaction that reads then
//! writes takes its lock — is each backend's `begin_locking` and `ROW_LOCK`.
//! A macro stamps the one implementation onto each backend's type, so the
//! backend choice never leaks into the methods.

macro_rules! sql_store {
    ($module:ident, $store:ty, $db:ty, $conn:ty) => {
        mod $module {
            use async_trait::async_trait;
            use hubgate_core::account::{Account, Membership, Role, User};
            use hubgate_core::hub::{Hub, HubChange};
            use hubgate_core::ids::{AccountId, ClientId, FamilyId, HubId, IntegrationId, UserId};
            use hubgate_core::integration::Integration;
            use hubgate_core::refresh::Rotation;
            use hubgate_core::tokens::StoredKey;
            use serde_json::{Map, Value};
            use sqlx::QueryBuilder;
            use time::OffsetDateTime;

            use crate::error::{on_constraint, on_unique};
            use crate::rows::{
                self, AccountRoleRow, AccountRow, ChangeRow, CodeRow, ConsentRow, HubRow, IntegrationRow, KeyRow, UserRow,
                USER_COLUMNS,
            };
            use crate::{
                AuditEntry, AuditEvent, AuditQuery, Change, Consent, HubFilter, MembershipWrite, PasswordWrite, Result,
                RevocationSnapshot, RotationRequest, Store, StoreError,
            };
            use hubgate_core::authorize::{AuthorizationCode, CodeUse};
            use hubgate_core::grant::GrantRevocation;
            use hubgate_core::scope::ScopeSet;

const INTEGRATION_COLUMNS: &str = "id, account_id, name, client_id, redirect_uris, scopes, enabled, \
    refresh_on_client_credentials, require_pkce, access_token_ttl, refresh_token_ttl, created_by, created_at, \
    sealed_secret, sealed_previous_secret, previous_secret_expires_at, token_epoch, acting_user_id";

const HUB_COLUMNS: &str = "id, account_id, serial, kind, model, firmware, name, room, online, last_seen, \
    state, desired, created_at, updated_at";

async fn log_change(
    conn: &mut $conn,
    kind: &str,
    subject: &str,
    valid_until: Option<i64>,
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query("INSERT INTO changes (kind, subject, valid_until, at) VALUES ($1, $2, $3, $4)")
        .bind(kind)
        .bind(subject)
        .bind(valid_until)
        .bind(now.unix_timestamp())
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes audit events inside the caller's transaction, so they commit with
/// the change they record. An event of an account that is gone is `NotFound`.
async fn audit_in_tx(conn: &mut $conn, events: &[AuditEvent]) -> Result<()> {
    for event in events {
        sqlx::query(
            "INSERT INTO audit_events (account_id, at, actor, action, subject, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(event.account_id.to_string())
        .bind(event.at.unix_timestamp())
        .bind(&event.actor)
        .bind(event.action.as_str())
        .bind(&event.subject)
        .bind(&event.detail)
        .execute(&mut *conn)
        .await
        .map_err(on_constraint("an audit event"))?;
    }
    Ok(())
}

async fn hub_in_tx(conn: &mut $conn, id: HubId) -> Result<Option<Hub>> {
    let row: Option<HubRow> =
        sqlx::query_as(&format!("SELECT {HUB_COLUMNS} FROM hubs WHERE id = $1{}", <$store>::ROW_LOCK))
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
    row.map(Hub::try_from).transpose()
}

/// Records a grant revocation (widening one already there) and its change.
async fn revoke_grant(conn: &mut $conn, revocation: &GrantRevocation, now: OffsetDateTime) -> Result<()> {
    let key = &revocation.key;
    sqlx::query(
        "INSERT INTO grant_revocations (account_id, user_id, integration_id, issued_before, valid_until) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, user_id, integration_id) DO UPDATE SET \
         issued_before = CASE WHEN grant_revocations.issued_before > excluded.issued_before \
         THEN grant_revocations.issued_before ELSE excluded.issued_before END, \
         valid_until = CASE WHEN grant_revocations.valid_until > excluded.valid_until \
         THEN grant_revocations.valid_until ELSE excluded.valid_until END",
    )
    .bind(key.account.to_string())
    .bind(key.user.to_string())
    .bind(rows::grant_integration_text(key.integration))
    .bind(revocation.issued_before)
    .bind(revocation.valid_until)
    .execute(&mut *conn)
    .await?;
    log_change(conn, "grant", &rows::grant_subject(revocation), Some(revocation.valid_until), now).await
}

/// Takes the account's lock for a change to its members or acting users:
/// PostgreSQL locks the account row, SQLite's write transaction holds the
/// database. Every such change takes it first, so two of them (two owners
/// demoting each other) run one after the other and each sees the other's
/// result. `NotFound` if the account is gone.
async fn lock_account(conn: &mut $conn, account: AccountId) -> Result<()> {
    let found: Option<String> =
        sqlx::query_scalar(&format!("SELECT id FROM accounts WHERE id = $1{}", <$store>::ROW_LOCK))
            .bind(account.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    found.map(drop).ok_or(StoreError::NotFound)
}

/// Refuses an acting user who is not a member, or whose role cannot let an
/// integration use `scopes`. Call with the account locked.
async fn check_acting_user(conn: &mut $conn, account: AccountId, user: UserId, scopes: ScopeSet) -> Result<()> {
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM memberships WHERE account_id = $1 AND user_id = $2")
        .bind(account.to_string())
        .bind(user.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(role) = role else {
        return Err(StoreError::Refused(
            "the acting user must be a member of the integration's account".into(),
        ));
    };
    let role: Role = role.parse().map_err(StoreError::Corrupt)?;
    let beyond = role.beyond_delegation(scopes);
    if !beyond.is_empty() {
        return Err(StoreError::Refused(format!(
            "the acting user is a {role} of the account and cannot let an integration use {beyond}: \
             choose an admin or owner"
        )));
    }
    Ok(())
}

/// Adds, changes (`Some`) or ends (`None`) a membership under the account's
/// invariants (see `Store::put_membership`).
async fn change_membership(
    conn: &mut $conn,
    account: AccountId,
    user: UserId,
    role: Option<Role>,
    write: MembershipWrite,
) -> Result<()> {
    let MembershipWrite { by, now, revoke_until } = write;
    lock_account(conn, account).await?;
    let members: Vec<(String, String)> =
        sqlx::query_as("SELECT user_id, role FROM memberships WHERE account_id = $1")
            .bind(account.to_string())
            .fetch_all(&mut *conn)
            .await?;
    let user_text = user.to_string();
    let mut current = None;
    let mut other_owners = 0;
    for (member, member_role) in &members {
        let member_role: Role = member_role.parse().map_err(StoreError::Corrupt)?;
        if *member == user_text {
            current = Some(member_role);
        } else if member_role == Role::Owner {
            other_owners += 1;
        }
    }
    if role.is_none() && current.is_none() {
        return Err(StoreError::NotFound);
    }
    let touches_owner = current == Some(Role::Owner) || role == Some(Role::Owner);
    if touches_owner && by.is_some_and(|by| by != Role::Owner) {
        return Err(StoreError::Refused(
            "only an owner can make someone an owner, or change or remove an owner".into(),
        ));
    }
    if current == Some(Role::Owner) && role != Some(Role::Owner) && other_owners == 0 {
        return Err(StoreError::Refused(
            "an account keeps at least one owner: make someone else owner first".into(),
        ));
    }
    let may_delegate = role.map_or(ScopeSet::EMPTY, Role::delegable_scopes);
    if let Some(before) = current
        && !before.delegable_scopes().is_subset_of(may_delegate)
    {
        let acting: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, scopes FROM integrations WHERE account_id = $1 AND acting_user_id = $2 ORDER BY name",
        )
        .bind(account.to_string())
        .bind(&user_text)
        .fetch_all(&mut *conn)
        .await?;
        let mut blocked = Vec::new();
        for (name, scopes) in acting {
            let scopes = ScopeSet::parse(&scopes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if role.is_none() || !scopes.is_subset_of(may_delegate) {
                blocked.push(format!("\"{name}\""));
            }
        }
        if !blocked.is_empty() {
            let what = if role.is_none() { "removed" } else { "given that role" };
            return Err(StoreError::Refused(format!(
                "this member acts for the integration(s) {} and cannot be {what}: choose another acting user for them first",
                blocked.join(", ")
            )));
        }
        let key = hubgate_core::grant::GrantKey { account, user, integration: None };
        revoke_grant(conn, &GrantRevocation::new(key, now, revoke_until), now).await?;
    }
    let result = match role {
        Some(role) => sqlx::query(
            "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(account.to_string())
        .bind(&user_text)
        .bind(role.as_str())
        .bind(now.unix_timestamp())
        .execute(&mut *conn)
        .await,
        None => sqlx::query("DELETE FROM memberships WHERE account_id = $1 AND user_id = $2")
            .bind(account.to_string())
            .bind(&user_text)
            .execute(&mut *conn)
            .await,
    };
    result.map(drop).map_err(on_constraint("a membership"))
}

/// Which requests' grants still hold: the user is a member of the account
/// whose role covers the scope. One query for a whole batch, on the
/// connection that rotates, so the answer and the rotation agree.
async fn grants_held(conn: &mut $conn, batch: &[RotationRequest]) -> Result<Vec<bool>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let mut pairs: Vec<(String, String)> =
        batch.iter().map(|r| (r.account.to_string(), r.user.to_string())).collect();
    pairs.sort_unstable();
    pairs.dedup();
    let clauses: Vec<String> = (0..pairs.len())
        .map(|i| format!("(account_id = ${} AND user_id = ${})", 2 * i + 1, 2 * i + 2))
        .collect();
    let statement = format!(
        "SELECT account_id, user_id, role FROM memberships WHERE {}",
        clauses.join(" OR ")
    );
    let mut query = sqlx::query_as::<_, (String, String, String)>(&statement);
    for (account, user) in &pairs {
        query = query.bind(account).bind(user);
    }
    let mut roles = std::collections::HashMap::with_capacity(pairs.len());
    for (account, user, role) in query.fetch_all(&mut *conn).await? {
        roles.insert((account, user), role.parse::<Role>().map_err(StoreError::Corrupt)?);
    }
    Ok(batch
        .iter()
        .map(|r| {
            roles
                .get(&(r.account.to_string(), r.user.to_string()))
                .is_some_and(|role| role.may_delegate(r.scope))
        })
        .collect())
}

/// One family rotation inside a write transaction (see `Store::rotate_family`):
/// what a batch of one does, the reference the batch is tested against (on
/// SQLite; the PostgreSQL stamp of it goes unused).
#[cfg(test)]
#[allow(dead_code)]
pub(super) async fn rotate_in_tx(conn: &mut $conn, request: &RotationRequest) -> Result<Rotation> {
    let held = grants_held(conn, std::slice::from_ref(request)).await?;
    if !held.first().copied().unwrap_or(false) {
        return Ok(Rotation::Revoked);
    }
    rotate_one(conn, request).await
}

/// A rotation whose grant holds. Generation 0 has no row yet: the first
/// refresh creates it. Either statement succeeds for exactly one caller per
/// generation.
async fn rotate_one(conn: &mut $conn, request: &RotationRequest) -> Result<Rotation> {
    let RotationRequest { family, integration, presented, expires_at, revoke_until, now, .. } = *request;
    let family_text = family.to_string();
    let won = if presented == 0 {
        sqlx::query(
            "INSERT INTO refresh_families (id, integration_id, generation, revoked, expires_at, updated_at) \
             VALUES ($1, $2, 1, FALSE, $3, $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&family_text)
        .bind(integration.to_string())
        .bind(expires_at)
        .bind(now.unix_timestamp())
        .execute(&mut *conn)
        .await
    } else {
        sqlx::query(
            "UPDATE refresh_families SET generation = generation + 1, expires_at = $3, updated_at = $4 \
             WHERE id = $1 AND generation = $2 AND NOT revoked",
        )
        .bind(&family_text)
        .bind(i64::from(presented))
        .bind(expires_at)
        .bind(now.unix_timestamp())
        .execute(&mut *conn)
        .await
    }?
    .rows_affected()
        == 1;
    if won {
        return Ok(Rotation::Rotated);
    }
    let revoked: Option<bool> = sqlx::query_scalar("SELECT revoked FROM refresh_families WHERE id = $1")
        .bind(&family_text)
        .fetch_optional(&mut *conn)
        .await?;
    if revoked != Some(false) {
        // Revoked before, or (for a generation past 0) no record at all:
        // nothing valid can be rotated.
        return Ok(Rotation::Revoked);
    }
    // Kept (and reloaded after a restart) until the family's last token expires.
    let until = revoke_until.max(expires_at);
    sqlx::query(
        "UPDATE refresh_families SET revoked = TRUE, updated_at = $2, \
         expires_at = CASE WHEN expires_at > $3 THEN expires_at ELSE $3 END WHERE id = $1",
    )
    .bind(&family_text)
    .bind(now.unix_timestamp())
    .bind(until)
    .execute(&mut *conn)
    .await?;
    log_change(conn, "family", &family_text, Some(until), now).await?;
    Ok(Rotation::Reused)
}

/// Starts this node's group commit of rotations (see `crate::group_commit`):
/// each batch is one transaction on `writer`.
pub(super) fn spawn_group_commit(writer: sqlx::Pool<$db>) -> crate::group_commit::Rotations {
    crate::group_commit::spawn(move |batch| {
        let writer = writer.clone();
        async move {
            let mut tx = writer.begin_with(<$store>::BEGIN_LOCKING).await?;
            let rotations = rotate_batch(&mut tx, &batch).await?;
            tx.commit().await?;
            Ok(rotations)
        }
    })
}

/// A batch's rotations, in few statements, with the outcomes one transaction
/// each in arrival order would give (see `crate::group_commit`).
///
/// The families of the batch are locked in id order first (PostgreSQL: so two
/// nodes' batches never wait on each other in a cycle). Then the first
/// rotation of each family runs in one multi-row UPDATE, and first refreshes
/// in one multi-row INSERT. Everything else (a family's later rotations in the
/// batch, and rotations that did not win) runs one by one in arrival order.
/// Families are independent and, within a family, the first request still
/// goes first, so no outcome changes.
pub(super) async fn rotate_batch(conn: &mut $conn, batch: &[RotationRequest]) -> Result<Vec<Rotation>> {
    let held = grants_held(conn, batch).await?;
    let kept: Vec<RotationRequest> =
        batch.iter().zip(&held).filter(|(_, held)| **held).map(|(r, _)| *r).collect();
    let mut rotated = rotate_held(conn, &kept).await?.into_iter();
    Ok(held
        .iter()
        .map(|held| if *held { rotated.next().unwrap_or(Rotation::Revoked) } else { Rotation::Revoked })
        .collect())
}

/// [`rotate_batch`] for requests whose grants hold.
async fn rotate_held(conn: &mut $conn, batch: &[RotationRequest]) -> Result<Vec<Rotation>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let mut first_of_family = std::collections::HashMap::with_capacity(batch.len());
    for (index, request) in batch.iter().enumerate() {
        first_of_family.entry(request.family).or_insert(index);
    }
    let mut firsts: Vec<usize> = first_of_family.values().copied().collect();
    firsts.sort_unstable_by_key(|&index| batch[index].family);
    let lock = <$store>::ROW_LOCK;
    if !lock.is_empty() {
        let placeholders: Vec<String> = (1..=firsts.len()).map(|n| format!("${n}")).collect();
        let statement = format!(
            "SELECT id FROM refresh_families WHERE id IN ({}) ORDER BY id{lock}",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&statement);
        for &index in &firsts {
            query = query.bind(batch[index].family.to_string());
        }
        query.fetch_all(&mut *conn).await?;
    }
    let (updates, inserts): (Vec<usize>, Vec<usize>) =
        firsts.into_iter().partition(|&index| batch[index].presented != 0);
    let mut rotated = std::collections::HashSet::new();
    rotated.extend(bulk_rotate(conn, batch, &updates, BulkRotation::Update).await?);
    rotated.extend(bulk_rotate(conn, batch, &inserts, BulkRotation::Insert).await?);
    let mut rotations = Vec::with_capacity(batch.len());
    for (index, request) in batch.iter().enumerate() {
        let won_in_bulk = first_of_family[&request.family] == index && rotated.contains(&request.family);
        rotations.push(if won_in_bulk {
            Rotation::Rotated
        } else {
            rotate_one(conn, request).await?
        });
    }
    Ok(rotations)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BulkRotation {
    /// Generation > 0: move an existing family on.
    Update,
    /// Generation 0: create the family's row.
    Insert,
}

/// One multi-row statement for `batch[indices]`; returns the families it rotated.
async fn bulk_rotate(
    conn: &mut $conn,
    batch: &[RotationRequest],
    indices: &[usize],
    kind: BulkRotation,
) -> Result<Vec<FamilyId>> {
    if indices.is_empty() {
        return Ok(Vec::new());
    }
    let second = if kind == BulkRotation::Update { "BIGINT" } else { "TEXT" };
    let rows: Vec<String> = (0..indices.len())
        .map(|i| {
            let n = 4 * i;
            format!(
                "(CAST(${} AS TEXT), CAST(${} AS {second}), CAST(${} AS BIGINT), CAST(${} AS BIGINT))",
                n + 1, n + 2, n + 3, n + 4
            )
        })
        .collect();
    let rows = rows.join(", ");
    let statement = match kind {
        BulkRotation::Update => format!(
            "UPDATE refresh_families \
             SET generation = generation + 1, expires_at = v.column3, updated_at = v.column4 \
             FROM (VALUES {rows}) AS v \
             WHERE refresh_families.id = v.column1 AND refresh_families.generation = v.column2 \
             AND NOT refresh_families.revoked RETURNING id"
        ),
        // `WHERE TRUE`: SQLite needs it to read ON CONFLICT after a SELECT.
        BulkRotation::Insert => format!(
            "INSERT INTO refresh_families (id, integration_id, generation, revoked, expires_at, updated_at) \
             SELECT v.column1, v.column2, 1, FALSE, v.column3, v.column4 FROM (VALUES {rows}) AS v WHERE TRUE \
             ON CONFLICT (id) DO NOTHING RETURNING id"
        ),
    };
    let mut query = sqlx::query_scalar::<_, String>(&statement);
    for &index in indices {
        let request = &batch[index];
        query = query.bind(request.family.to_string());
        query = match kind {
            BulkRotation::Update => query.bind(i64::from(request.presented)),
            BulkRotation::Insert => query.bind(request.integration.to_string()),
        };
        query = query.bind(request.expires_at).bind(request.now.unix_timestamp());
    }
    query
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|id| id.parse().map_err(|_| StoreError::Corrupt(format!("family id {id:?}"))))
        .collect()
}

async fn write_hub(conn: &mut $conn, hub: &Hub) -> Result<()> {
    sqlx::query(
        "UPDATE hubs SET name = $2, room = $3, online = $4, last_seen = $5, state = $6, desired = $7, \
         updated_at = $8 WHERE id = $1",
    )
    .bind(hub.id.to_string())
    .bind(&hub.name)
    .bind(&hub.room)
    .bind(hub.online)
    .bind(hub.last_seen.map(|t| t.unix_timestamp()))
    .bind(rows::json_text(&hub.state))
    .bind(rows::json_text(&hub.desired))
    .bind(hub.updated_at.unix_timestamp())
    .execute(conn)
    .await?;
    Ok(())
}

#[async_trait]
impl Store for $store {
    async fn close(&self) {
        self.close_pools().await;
    }

    async fn wait_for_change(&self, max_wait: std::time::Duration) {
        self.wait_for_change_notification(max_wait).await;
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn probe_write(&self, now: OffsetDateTime) -> Result<()> {
        sqlx::query(
            "INSERT INTO heartbeat (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
        )
        .bind(now.unix_timestamp_nanos() as i64)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.reader)
            .await?)
    }

    async fn insert_user(&self, user: &User) -> Result<()> {
        sqlx::query(&format!("INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"))
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

    async fn set_password(&self, write: PasswordWrite<'_>, audit: &[AuditEvent]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let updated = sqlx::query("UPDATE users SET password_hash = $2, must_change_password = $3 WHERE id = $1")
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
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND hash <> $2")
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

    async fn insert_account(&self, account: &Account, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(account.id.to_string())
            .bind(&account.name)
            .bind(account.created_at.unix_timestamp())
            .execute(&mut *tx)
            .await?;
        audit_in_tx(&mut tx, std::slice::from_ref(audit)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>> {
        let row: Option<AccountRow> =
            sqlx::query_as("SELECT id, name, created_at FROM accounts WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.reader)
                .await?;
        row.map(Account::try_from).transpose()
    }

    async fn list_accounts(&self) -> Result<Vec<Account>> {
        let rows: Vec<AccountRow> =
            sqlx::query_as("SELECT id, name, created_at FROM accounts ORDER BY id")
                .fetch_all(&self.reader)
                .await?;
        rows.into_iter().map(Account::try_from).collect()
    }

    async fn put_membership(&self, membership: &Membership, write: MembershipWrite, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.begin_locking().await?;
        change_membership(&mut tx, membership.account_id, membership.user_id, Some(membership.role), write).await?;
        audit_in_tx(&mut tx, std::slice::from_ref(audit)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn membership(&self, account: AccountId, user: UserId) -> Result<Option<Role>> {
        let role: Option<String> = sqlx::query_scalar("SELECT role FROM memberships WHERE account_id = $1 AND user_id = $2")
            .bind(account.to_string())
            .bind(user.to_string())
            .fetch_optional(&self.reader)
            .await?;
        role.map(|r| r.parse().map_err(StoreError::Corrupt)).transpose()
    }

    async fn accounts_of_user(&self, user: UserId) -> Result<Vec<(Account, Role)>> {
        let rows: Vec<AccountRoleRow> = sqlx::query_as(
            "SELECT a.id, a.name, a.created_at, m.role FROM memberships m JOIN accounts a ON a.id = m.account_id \
             WHERE m.user_id = $1 ORDER BY a.name, a.id",
        )
        .bind(user.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter().map(<(Account, Role)>::try_from).collect()
    }

    async fn remove_membership(
        &self,
        account: AccountId,
        user: UserId,
        write: MembershipWrite,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin_locking().await?;
        change_membership(&mut tx, account, user, None, write).await?;
        audit_in_tx(&mut tx, std::slice::from_ref(audit)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn account_members(&self, account: AccountId) -> Result<Vec<(User, Role)>> {
        let rows: Vec<(String, String, String, bool, i64, String)> = sqlx::query_as(
            "SELECT u.id, u.email, u.password_hash, u.must_change_password, u.created_at, m.role FROM memberships m \
             JOIN users u ON u.id = m.user_id WHERE m.account_id = $1 \
             ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, m.created_at, u.id",
        )
        .bind(account.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|(id, email, password_hash, must_change_password, created_at, role)| {
                let user = User {
                    id: rows::id(&id)?,
                    email,
                    password_hash,
                    must_change_password,
                    created_at: rows::time(created_at)?,
                };
                Ok((user, role.parse().map_err(StoreError::Corrupt)?))
            })
            .collect()
    }

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
        let result = sqlx::query(
            "UPDATE integrations SET name = $2, redirect_uris = $3, scopes = $4, enabled = $5, \
             refresh_on_client_credentials = $6, require_pkce = $7, access_token_ttl = $8, refresh_token_ttl = $9, \
             sealed_secret = $10, sealed_previous_secret = $11, previous_secret_expires_at = $12, token_epoch = $13, \
             updated_at = $14, acting_user_id = $15 WHERE id = $1",
        )
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
        let result = sqlx::query("DELETE FROM integrations WHERE id = $1")
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

    async fn insert_hub(&self, hub: &Hub, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO hubs ({HUB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
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
        .execute(&mut *tx)
        .await
        .map_err(on_constraint("a hub with this serial"))?;
        audit_in_tx(&mut tx, std::slice::from_ref(audit)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_hub(&self, account: AccountId, id: HubId, now: OffsetDateTime, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let deleted = sqlx::query("DELETE FROM hubs WHERE id = $1 AND account_id = $2")
            .bind(id.to_string())
            .bind(account.to_string())
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        log_change(&mut tx, "hub", &id.to_string(), None, now).await?;
        audit_in_tx(&mut tx, std::slice::from_ref(audit)).await?;
        tx.commit().await?;
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
        let mut query = QueryBuilder::<$db>::new(format!(
            "SELECT {HUB_COLUMNS} FROM hubs WHERE account_id = "
        ));
        query.push_bind(account.to_string());
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
        query
            .push(" ORDER BY id LIMIT ")
            .push_bind(i64::from(limit));
        let rows: Vec<HubRow> = query.build_query_as().fetch_all(&self.reader).await?;
        rows.into_iter().map(Hub::try_from).collect()
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
        tx.commit().await?;
        Ok(Some(next))
    }

    async fn report_hub_state(
        &self,
        id: HubId,
        state: &Map<String, Value>,
        now: OffsetDateTime,
    ) -> Result<Hub> {
        let mut tx = self.begin_locking().await?;
        let mut hub = hub_in_tx(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        hub.state = state.clone();
        hub.online = true;
        hub.last_seen = Some(now);
        hub.updated_at = now;
        write_hub(&mut tx, &hub).await?;
        log_change(&mut tx, "hub", &hub.id.to_string(), None, now).await?;
        tx.commit().await?;
        Ok(hub)
    }

    async fn insert_signing_key(&self, key: &StoredKey) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("INSERT INTO signing_keys (id, public_key, sealed_private_key, created_at) VALUES ($1, $2, $3, $4)")
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
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT id, public_key, sealed_private_key, created_at FROM signing_keys ORDER BY id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter().map(StoredKey::try_from).collect()
    }

    async fn rotate_family(&self, request: RotationRequest) -> Result<Rotation> {
        self.rotations.rotate(request).await
    }

    async fn family_state(&self, family: FamilyId) -> Result<Option<(u32, bool)>> {
        let row: Option<(i64, bool)> =
            sqlx::query_as("SELECT generation, revoked FROM refresh_families WHERE id = $1")
                .bind(family.to_string())
                .fetch_optional(&self.reader)
                .await?;
        row.map(|(generation, revoked)| {
            Ok((
                u32::try_from(generation).map_err(|e| StoreError::Corrupt(e.to_string()))?,
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
        sqlx::query(
            "INSERT INTO refresh_families (id, integration_id, generation, revoked, expires_at, updated_at) \
             VALUES ($1, $2, 0, TRUE, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET revoked = TRUE, updated_at = excluded.updated_at, \
             expires_at = CASE WHEN refresh_families.expires_at > excluded.expires_at \
             THEN refresh_families.expires_at ELSE excluded.expires_at END",
        )
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
        sqlx::query("INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
            .bind(jti)
            .bind(valid_until)
            .execute(&mut *tx)
            .await?;
        log_change(&mut tx, "access_token", jti, Some(valid_until), now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_code(&self, code: &AuthorizationCode) -> Result<()> {
        sqlx::query(
            "INSERT INTO authorization_codes (hash, integration_id, user_id, account_id, redirect_uri, scope, \
             code_challenge, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
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

    async fn use_code(&self, hash: &[u8; 32], family: FamilyId, now: OffsetDateTime) -> Result<CodeUse> {
        let mut tx = self.begin_locking().await?;
        let spent = sqlx::query(
            "UPDATE authorization_codes SET used_at = $2, family_id = $3 WHERE hash = $1 AND used_at IS NULL",
        )
            .bind(hash.as_slice())
            .bind(now.unix_timestamp())
            .bind(family.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        let row: Option<CodeRow> = sqlx::query_as(
            "SELECT integration_id, user_id, account_id, redirect_uri, scope, code_challenge, expires_at, family_id \
             FROM authorization_codes WHERE hash = $1",
        )
        .bind(hash.as_slice())
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let Some(row) = row else { return Ok(CodeUse::Unknown) };
        row.into_use(*hash, spent)
    }

    async fn put_consent(&self, consent: &Consent) -> Result<()> {
        sqlx::query(
            "INSERT INTO consents (user_id, account_id, integration_id, scope, granted_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id, account_id, integration_id) DO UPDATE SET scope = excluded.scope, \
             granted_at = excluded.granted_at",
        )
        .bind(consent.user_id.to_string())
        .bind(consent.account_id.to_string())
        .bind(consent.integration_id.to_string())
        .bind(consent.scope.to_string())
        .bind(consent.granted_at.unix_timestamp())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn consent(&self, user: UserId, account: AccountId, integration: IntegrationId) -> Result<Option<Consent>> {
        let row: Option<ConsentRow> = sqlx::query_as(
            "SELECT user_id, account_id, integration_id, scope, granted_at FROM consents \
             WHERE user_id = $1 AND account_id = $2 AND integration_id = $3",
        )
        .bind(user.to_string())
        .bind(account.to_string())
        .bind(integration.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.map(Consent::try_from).transpose()
    }

    async fn consents_of_user(&self, user: UserId) -> Result<Vec<Consent>> {
        let rows: Vec<ConsentRow> = sqlx::query_as(
            "SELECT user_id, account_id, integration_id, scope, granted_at FROM consents WHERE user_id = $1 \
             ORDER BY granted_at, integration_id",
        )
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
        sqlx::query("DELETE FROM consents WHERE user_id = $1 AND account_id = $2 AND integration_id = $3")
            .bind(user.to_string())
            .bind(account.to_string())
            .bind(integration.to_string())
            .execute(&mut *tx)
            .await?;
        let key = hubgate_core::grant::GrantKey { account, user, integration: Some(integration) };
        revoke_grant(&mut tx, &GrantRevocation::new(key, now, revoke_until), now).await?;
        audit_in_tx(&mut tx, std::slice::from_ref(audit)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_session(
        &self,
        hash: &[u8; 32],
        user: UserId,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query("INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(hash.as_slice())
            .bind(user.to_string())
            .bind(now.unix_timestamp())
            .bind(expires_at.unix_timestamp())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn session_user(&self, hash: &[u8; 32], now: OffsetDateTime) -> Result<Option<UserId>> {
        let user: Option<String> = sqlx::query_scalar("SELECT user_id FROM sessions WHERE hash = $1 AND expires_at > $2")
            .bind(hash.as_slice())
            .bind(now.unix_timestamp())
            .fetch_optional(&self.reader)
            .await?;
        user.map(|u| rows::id(&u)).transpose()
    }

    async fn delete_session(&self, hash: &[u8; 32]) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE hash = $1").bind(hash.as_slice()).execute(&self.writer).await?;
        Ok(())
    }

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

    async fn touch_integrations(&self, used: &[(IntegrationId, OffsetDateTime)]) -> Result<()> {
        if used.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await?;
        for (id, at) in used {
            sqlx::query(
                "UPDATE integrations SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
            )
            .bind(id.to_string())
            .bind(at.unix_timestamp())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn integration_last_used(&self, id: IntegrationId) -> Result<Option<OffsetDateTime>> {
        let at: Option<Option<i64>> = sqlx::query_scalar("SELECT last_used_at FROM integrations WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        at.flatten().map(rows::time).transpose()
    }

    async fn integrations_last_used(&self, account: AccountId) -> Result<Vec<(IntegrationId, OffsetDateTime)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, last_used_at FROM integrations WHERE account_id = $1 AND last_used_at IS NOT NULL",
        )
        .bind(account.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter().map(|(id, at)| Ok((rows::id(&id)?, rows::time(at)?))).collect()
    }

    async fn revocation_snapshot(&self, now: OffsetDateTime) -> Result<RevocationSnapshot> {
        // One read transaction, so the snapshot and its sequence number agree.
        let mut tx = self.reader.begin().await?;
        let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM changes")
            .fetch_one(&mut *tx)
            .await?;
        let families: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, expires_at FROM refresh_families WHERE revoked AND expires_at > $1",
        )
        .bind(now.unix_timestamp())
        .fetch_all(&mut *tx)
        .await?;
        let tokens: Vec<(String, i64)> = sqlx::query_as(
            "SELECT jti, expires_at FROM revoked_access_tokens WHERE expires_at > $1",
        )
        .bind(now.unix_timestamp())
        .fetch_all(&mut *tx)
        .await?;
        let grants: Vec<rows::GrantRevocationRow> = sqlx::query_as(
            "SELECT account_id, user_id, integration_id, issued_before, valid_until FROM grant_revocations \
             WHERE valid_until > $1",
        )
        .bind(now.unix_timestamp())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let revoked_grants = grants.into_iter().map(GrantRevocation::try_from).collect::<Result<_>>()?;
        let revoked_families = families
            .into_iter()
            .map(|(id, until)| Ok((rows::id(&id)?, until)))
            .collect::<Result<_>>()?;
        Ok(RevocationSnapshot {
            seq,
            revoked_families,
            revoked_access_tokens: tokens,
            revoked_grants,
        })
    }

    async fn changes_since(&self, seq: i64) -> Result<Vec<(i64, Change)>> {
        let rows: Vec<ChangeRow> =
            sqlx::query_as("SELECT seq, kind, subject, valid_until FROM changes WHERE seq > $1 ORDER BY seq LIMIT 10000")
                .bind(seq)
                .fetch_all(&self.reader)
                .await?;
        rows.into_iter().map(ChangeRow::into_change).collect()
    }
}
        }
    };
}

pub(crate) use sql_store;
