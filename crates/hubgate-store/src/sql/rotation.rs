//! Refresh-token rotation: one family at a time, or a group-commit batch in
//! few statements with the outcomes one transaction each would give.

pub(crate) const ROTATE_ONE_FIRST: &str = "INSERT INTO refresh_families (id, integration_id, generation, revoked, expires_at, updated_at) \
             VALUES ($1, $2, 1, FALSE, $3, $4) ON CONFLICT (id) DO NOTHING";
pub(crate) const ROTATE_ONE_NEXT: &str = "UPDATE refresh_families SET generation = generation + 1, expires_at = $3, updated_at = $4 \
             WHERE id = $1 AND generation = $2 AND NOT revoked";
pub(crate) const ROTATE_ONE_REVOKED: &str = "SELECT revoked FROM refresh_families WHERE id = $1";
pub(crate) const ROTATE_ONE_REVOKE_FOR_REUSE: &str = "UPDATE refresh_families SET revoked = TRUE, updated_at = $2, \
         expires_at = CASE WHEN expires_at > $3 THEN expires_at ELSE $3 END WHERE id = $1";

macro_rules! sql_rotation {
    ($store:ty, $db:ty, $conn:ty) => {

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
        sqlx::query(crate::sql::rotation::ROTATE_ONE_FIRST)
        .bind(&family_text)
        .bind(integration.to_string())
        .bind(expires_at)
        .bind(now.unix_timestamp())
        .execute(&mut *conn)
        .await
    } else {
        sqlx::query(crate::sql::rotation::ROTATE_ONE_NEXT)
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
    let revoked: Option<bool> = sqlx::query_scalar(crate::sql::rotation::ROTATE_ONE_REVOKED)
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
    sqlx::query(crate::sql::rotation::ROTATE_ONE_REVOKE_FOR_REUSE)
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
    };
}

pub(crate) use sql_rotation;
