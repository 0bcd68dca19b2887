//! The SQL of [`crate::Accounts`]: accounts and their members. A membership change keeps the account's invariants in its own transaction.

pub(crate) const CHANGE_MEMBERSHIP_SELECT_MEMBERSHIPS: &str =
    "SELECT user_id, role FROM memberships WHERE account_id = $1";
pub(crate) const CHANGE_MEMBERSHIP_SELECT_ACTING: &str = "SELECT name, scopes FROM integrations WHERE account_id = $1 AND acting_user_id = $2 ORDER BY name";
pub(crate) const CHANGE_MEMBERSHIP_INSERT_MEMBERSHIPS: &str = "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, user_id) DO UPDATE SET role = excluded.role";
pub(crate) const CHANGE_MEMBERSHIP_DELETE_MEMBERSHIPS: &str =
    "DELETE FROM memberships WHERE account_id = $1 AND user_id = $2";
pub(crate) const INSERT_ACCOUNT: &str =
    "INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)";
pub(crate) const ACCOUNT_BY_ID: &str = "SELECT id, name, created_at FROM accounts WHERE id = $1";
pub(crate) const LIST_ACCOUNTS: &str = "SELECT id, name, created_at FROM accounts ORDER BY id";
pub(crate) const ACCOUNTS_OF_USER: &str = "SELECT a.id, a.name, a.created_at, m.role FROM memberships m JOIN accounts a ON a.id = m.account_id \
             WHERE m.user_id = $1 ORDER BY a.name, a.id";
pub(crate) const MEMBERSHIP: &str =
    "SELECT role FROM memberships WHERE account_id = $1 AND user_id = $2";
pub(crate) const ACCOUNT_MEMBERS: &str = "SELECT u.id, u.email, u.password_hash, u.must_change_password, u.created_at, m.role FROM memberships m \
             JOIN users u ON u.id = m.user_id WHERE m.account_id = $1 \
             ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, m.created_at, u.id";

macro_rules! sql_accounts {
    ($store:ty, $db:ty, $conn:ty) => {

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
        sqlx::query_as(crate::sql::accounts::CHANGE_MEMBERSHIP_SELECT_MEMBERSHIPS)
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
        let acting: Vec<(String, String)> = sqlx::query_as(crate::sql::accounts::CHANGE_MEMBERSHIP_SELECT_ACTING)
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
        Some(role) => sqlx::query(crate::sql::accounts::CHANGE_MEMBERSHIP_INSERT_MEMBERSHIPS)
        .bind(account.to_string())
        .bind(&user_text)
        .bind(role.as_str())
        .bind(now.unix_timestamp())
        .execute(&mut *conn)
        .await,
        None => sqlx::query(crate::sql::accounts::CHANGE_MEMBERSHIP_DELETE_MEMBERSHIPS)
            .bind(account.to_string())
            .bind(&user_text)
            .execute(&mut *conn)
            .await,
    };
    result.map(drop).map_err(on_constraint("a membership"))
}

#[async_trait]
impl crate::Accounts for $store {

    async fn insert_account(&self, account: &Account, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(crate::sql::accounts::INSERT_ACCOUNT)
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
            sqlx::query_as(crate::sql::accounts::ACCOUNT_BY_ID)
                .bind(id.to_string())
                .fetch_optional(&self.reader)
                .await?;
        row.map(Account::try_from).transpose()
    }


    async fn list_accounts(&self) -> Result<Vec<Account>> {
        let rows: Vec<AccountRow> =
            sqlx::query_as(crate::sql::accounts::LIST_ACCOUNTS)
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


    async fn accounts_of_user(&self, user: UserId) -> Result<Vec<(Account, Role)>> {
        let rows: Vec<AccountRoleRow> = sqlx::query_as(crate::sql::accounts::ACCOUNTS_OF_USER)
        .bind(user.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter().map(<(Account, Role)>::try_from).collect()
    }


    async fn membership(&self, account: AccountId, user: UserId) -> Result<Option<Role>> {
        let role: Option<String> = sqlx::query_scalar(crate::sql::accounts::MEMBERSHIP)
            .bind(account.to_string())
            .bind(user.to_string())
            .fetch_optional(&self.reader)
            .await?;
        role.map(|r| r.parse().map_err(StoreError::Corrupt)).transpose()
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
        let rows: Vec<(String, String, String, bool, i64, String)> = sqlx::query_as(crate::sql::accounts::ACCOUNT_MEMBERS)
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
}
    };
}

pub(crate) use sql_accounts;
