//! Each node's in-memory view of what makes a token valid: the integrations
//! (with their secrets opened into digests) and the revocations in force.
//!
//! It is loaded at start and then follows the store's change log, so a change
//! made by another node or by `hubgate admin` takes effect within one poll
//! interval; changes this node makes are applied at once. Every check on the
//! hot path is a hash lookup.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use hubgate_core::crypto::MasterKey;
use hubgate_core::grant::{Client, GrantKey, GrantRevocation};
use hubgate_core::hub::Hub;
use hubgate_core::ids::{AccountId, ClientId, FamilyId, HubId, IntegrationId, UserId};
use hubgate_core::integration::Integration;
use hubgate_core::refresh::RefreshClaims;
use hubgate_core::tokens::AccessClaims;
use hubgate_store::{Change, Store, StoreError};

#[derive(Clone)]
enum Entry {
    Present(Arc<Client>),
    /// Known not to exist (deleted, or never was): no store read on each request.
    Absent,
}

#[derive(Default)]
pub struct Registry {
    by_id: RwLock<HashMap<IntegrationId, Entry>>,
    by_client_id: RwLock<HashMap<ClientId, Entry>>,
    revoked_families: RwLock<HashMap<FamilyId, i64>>,
    revoked_access_tokens: RwLock<HashMap<String, i64>>,
    /// Ended grants, one per key (see `GrantRevocation`).
    revoked_grants: RwLock<HashMap<GrantKey, GrantRevocation>>,
    /// Hubs read recently; dropped when the change log says one changed.
    hubs: RwLock<HashMap<HubId, Arc<Hub>>>,
    /// Hubs changed since the device listener last looked.
    pub hub_changes: HubChanges,
    seq: AtomicI64,
    /// The first missing position after `seq`, and when it was first seen
    /// missing (see [`advance`]).
    gap: std::sync::Mutex<Option<(i64, std::time::Instant)>>,
}

/// How long a missing position in the change log is waited for before it is
/// taken for a rolled-back transaction's (see `hubgate_store::LATE_COMMIT_WINDOW`).
const GAP_PATIENCE: std::time::Duration = hubgate_store::LATE_COMMIT_WINDOW;

/// Where a follower stands after reading `read` (ascending positions) from
/// after `from`: the end of the unbroken run, and the first position still
/// missing with when it was first found missing. A position missing for
/// longer than `patience` is skipped (its transaction rolled back).
pub fn advance(
    from: i64,
    read: &[i64],
    gap: Option<(i64, std::time::Instant)>,
    now: std::time::Instant,
    patience: std::time::Duration,
) -> (i64, Option<(i64, std::time::Instant)>) {
    let mut at = from;
    for &seq in read {
        if seq <= at {
            continue;
        }
        if seq != at + 1 {
            let missing = at + 1;
            let since = match gap {
                Some((position, since)) if position == missing => since,
                _ => now,
            };
            if now.duration_since(since) < patience {
                return (at, Some((missing, since)));
            }
        }
        at = seq;
    }
    (at, None)
}

/// Hubs kept per node (about 1–2 KB each); a full cache drops an eighth.
const MAX_CACHED_HUBS: usize = 20_000;

/// Why a verified access token is no longer valid. Logged; the client hears `invalid_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    IntegrationGone,
    IntegrationDisabled,
    OldEpoch,
    Family,
    Token,
    /// The user left the account, lost the role, or withdrew consent.
    Grant,
    /// The integration's scopes were narrowed past the token's.
    ScopeWithdrawn,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Registry {
    pub async fn load(store: &dyn Store, master: &MasterKey) -> Result<Self, StoreError> {
        let registry = Self::default();
        let snapshot = store.revocation_snapshot(hubgate_core::now()).await?;
        for integration in store.list_integrations(None).await? {
            registry.put(integration, master);
        }
        write(&registry.revoked_families).extend(snapshot.revoked_families);
        write(&registry.revoked_access_tokens).extend(snapshot.revoked_access_tokens);
        for revocation in snapshot.revoked_grants {
            registry.note_grant_revoked(revocation);
        }
        registry.seq.store(snapshot.follow_from, Ordering::SeqCst);
        Ok(registry)
    }

    fn put(&self, integration: Integration, master: &MasterKey) {
        let (id, client_id) = (integration.id, integration.client_id.clone());
        match Client::open(integration, master) {
            Ok(client) => {
                let entry = Entry::Present(Arc::new(client));
                write(&self.by_client_id).insert(client_id, entry.clone());
                write(&self.by_id).insert(id, entry);
            }
            Err(_) => {
                tracing::error!(integration = %id, "integration secret does not open with this master key; ignoring it");
                self.remove(id);
            }
        }
    }

    fn remove(&self, id: IntegrationId) {
        let previous = write(&self.by_id).insert(id, Entry::Absent);
        if let Some(Entry::Present(client)) = previous {
            write(&self.by_client_id).insert(client.integration.client_id.clone(), Entry::Absent);
        }
    }

    /// Re-reads one integration from the store (after a change).
    pub async fn refresh_integration(
        &self,
        store: &dyn Store,
        master: &MasterKey,
        id: IntegrationId,
    ) -> Result<(), StoreError> {
        match store.integration_by_id(id).await? {
            Some(integration) => self.put(integration, master),
            None => self.remove(id),
        }
        Ok(())
    }

    /// The client for a client_id; reads the store on a miss, so an
    /// integration created a moment ago elsewhere works at once.
    pub async fn client(
        &self,
        store: &dyn Store,
        master: &MasterKey,
        client_id: &ClientId,
    ) -> Result<Option<Arc<Client>>, StoreError> {
        if let Some(entry) = read(&self.by_client_id).get(client_id) {
            return Ok(match entry {
                Entry::Present(client) => Some(client.clone()),
                Entry::Absent => None,
            });
        }
        match store.integration_by_client_id(client_id).await? {
            Some(integration) => {
                let id = integration.id;
                self.put(integration, master);
                Ok(self.client_by_integration(id))
            }
            None => Ok(None),
        }
    }

    fn client_by_integration(&self, id: IntegrationId) -> Option<Arc<Client>> {
        match read(&self.by_id).get(&id) {
            Some(Entry::Present(client)) => Some(client.clone()),
            _ => None,
        }
    }

    /// Checks a verified access token against integrations and revocations.
    pub async fn check_access(
        &self,
        store: &dyn Store,
        master: &MasterKey,
        claims: &AccessClaims,
    ) -> Result<Arc<Client>, Revoked> {
        let client = match self.client_by_integration(claims.integration_id) {
            Some(client) => client,
            None if !read(&self.by_id).contains_key(&claims.integration_id) => {
                // Not seen yet (created on another node a moment ago): ask the store once.
                let _ = self
                    .refresh_integration(store, master, claims.integration_id)
                    .await;
                self.client_by_integration(claims.integration_id)
                    .ok_or(Revoked::IntegrationGone)?
            }
            None => return Err(Revoked::IntegrationGone),
        };
        if !client.integration.enabled {
            return Err(Revoked::IntegrationDisabled);
        }
        if client.integration.token_epoch != claims.epoch {
            return Err(Revoked::OldEpoch);
        }
        if !claims.scope.is_subset_of(client.integration.scopes) {
            return Err(Revoked::ScopeWithdrawn);
        }
        if claims.family_id.is_some_and(|f| self.family_revoked(f)) {
            return Err(Revoked::Family);
        }
        if read(&self.revoked_access_tokens).contains_key(&claims.jti) {
            return Err(Revoked::Token);
        }
        if self.grant_revoked(
            claims.account_id,
            claims.sub,
            claims.integration_id,
            claims.iat,
        ) {
            return Err(Revoked::Grant);
        }
        Ok(client)
    }

    /// Whether a token acting for `user` in `account` through `integration`,
    /// issued at `issued_at`, belongs to a grant that has ended.
    pub fn grant_revoked(
        &self,
        account: AccountId,
        user: UserId,
        integration: IntegrationId,
        issued_at: i64,
    ) -> bool {
        let grants = read(&self.revoked_grants);
        if grants.is_empty() {
            return false;
        }
        let integration_id = integration;
        [None, Some(integration)].into_iter().any(|integration| {
            let key = GrantKey {
                account,
                user,
                integration,
            };
            grants
                .get(&key)
                .is_some_and(|revocation| revocation.covers(integration_id, issued_at))
        })
    }

    /// Whether a refresh token's family was revoked or its grant has ended:
    /// the refresh-token counterpart of [`Registry::check_access`].
    pub fn refresh_token_revoked(&self, claims: &RefreshClaims) -> bool {
        self.family_revoked(claims.family)
            || self.grant_revoked(
                claims.account,
                claims.user,
                claims.integration,
                claims.issued_at,
            )
    }

    pub fn note_grant_revoked(&self, revocation: GrantRevocation) {
        write(&self.revoked_grants)
            .entry(revocation.key)
            .and_modify(|known| known.widen(&revocation))
            .or_insert(revocation);
    }

    pub fn family_revoked(&self, family: FamilyId) -> bool {
        read(&self.revoked_families).contains_key(&family)
    }

    pub fn note_family_revoked(&self, family: FamilyId, valid_until: i64) {
        write(&self.revoked_families).insert(family, valid_until);
    }

    pub fn note_access_token_revoked(&self, jti: String, valid_until: i64) {
        write(&self.revoked_access_tokens).insert(jti, valid_until);
    }

    /// Applies the change log from where this node left off. Returns whether
    /// signing keys changed, which the caller reloads. Every change read is
    /// applied (applying one twice does no harm); the position advances only
    /// over an unbroken run, see [`advance`].
    pub async fn follow(&self, store: &dyn Store, master: &MasterKey) -> Result<bool, StoreError> {
        let mut keys_changed = false;
        loop {
            let from = self.seq.load(Ordering::SeqCst);
            let changes = store.changes_since(from).await?;
            if changes.is_empty() {
                return Ok(keys_changed);
            }
            let positions: Vec<i64> = changes.iter().map(|(seq, _)| *seq).collect();
            for (_, change) in changes {
                match change {
                    Change::Integration(id) => self.refresh_integration(store, master, id).await?,
                    Change::FamilyRevoked {
                        family,
                        valid_until,
                    } => self.note_family_revoked(family, valid_until),
                    Change::AccessTokenRevoked { jti, valid_until } => {
                        self.note_access_token_revoked(jti, valid_until)
                    }
                    Change::SigningKey => keys_changed = true,
                    Change::Hub(id) => {
                        self.forget_hub(id);
                        self.hub_changes.note(id);
                    }
                    Change::GrantRevoked(revocation) => self.note_grant_revoked(revocation),
                }
            }
            let mut gap = self
                .gap
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let (to, still_missing) = advance(
                from,
                &positions,
                *gap,
                std::time::Instant::now(),
                GAP_PATIENCE,
            );
            *gap = still_missing;
            drop(gap);
            self.seq.store(to, Ordering::SeqCst);
            if still_missing.is_some() {
                // Read again at the next poll, from before the gap.
                return Ok(keys_changed);
            }
        }
    }

    pub fn hub(&self, id: HubId) -> Option<Arc<Hub>> {
        read(&self.hubs).get(&id).cloned()
    }

    pub fn remember_hub(&self, hub: Arc<Hub>) {
        let mut hubs = write(&self.hubs);
        if !hubs.contains_key(&hub.id) {
            hubgate_core::bounded::make_room(&mut hubs, MAX_CACHED_HUBS);
        }
        hubs.insert(hub.id, hub);
    }

    pub fn forget_hub(&self, id: HubId) {
        write(&self.hubs).remove(&id);
    }

    /// Forgets revocations of tokens that have expired anyway.
    pub fn prune(&self, now: i64) {
        write(&self.revoked_families).retain(|_, until| *until > now);
        write(&self.revoked_access_tokens).retain(|_, until| *until > now);
        write(&self.revoked_grants).retain(|_, revocation| revocation.valid_until > now);
    }
}

/// The hubs that changed (a desired PATCH, a credential revoked, a report),
/// collected for the MQTT listener, which wakes and looks at those whose
/// device is connected here. A set, so a burst of changes to one hub is one
/// look; nothing is collected until a listener subscribes.
#[derive(Default)]
pub struct HubChanges {
    enabled: std::sync::atomic::AtomicBool,
    pending: std::sync::Mutex<std::collections::HashSet<HubId>>,
    wake: tokio::sync::Notify,
}

impl HubChanges {
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    pub fn note(&self, id: HubId) {
        if self.enabled.load(Ordering::Relaxed) {
            self.pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(id);
            self.wake.notify_one();
        }
    }

    /// Waits until some hub changed, then takes every change noted so far.
    pub async fn next(&self) -> Vec<HubId> {
        loop {
            let taken: Vec<HubId> = self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .drain()
                .collect();
            if !taken.is_empty() {
                return taken;
            }
            self.wake.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::advance;

    const PATIENCE: Duration = Duration::from_secs(30);

    #[test]
    fn the_position_advances_over_an_unbroken_run_only() {
        let now = Instant::now();
        assert_eq!(advance(10, &[11, 12, 13], None, now, PATIENCE), (13, None));
        // 12 is not visible yet (its transaction commits after 13's): wait
        // for it, re-reading from 11, so a late revocation is not passed over.
        assert_eq!(
            advance(10, &[11, 13], None, now, PATIENCE),
            (11, Some((12, now)))
        );
        let later = now + Duration::from_secs(1);
        assert_eq!(
            advance(11, &[12, 13], Some((12, now)), later, PATIENCE),
            (13, None),
            "the late one arrived"
        );
    }

    #[test]
    fn a_position_missing_past_the_patience_was_a_rollback_and_is_skipped() {
        let now = Instant::now();
        let seen = now - PATIENCE - Duration::from_secs(1);
        assert_eq!(
            advance(10, &[12, 13], Some((11, seen)), now, PATIENCE),
            (13, None)
        );
        // A gap at another position starts its own wait.
        assert_eq!(
            advance(10, &[12, 14], Some((11, seen)), now, PATIENCE),
            (12, Some((13, now)))
        );
        assert_eq!(advance(10, &[], None, now, PATIENCE), (10, None));
    }
}
