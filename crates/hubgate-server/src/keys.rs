//! The signing keys every node shares through the store.

use hubgate_api::JwkSet;
use hubgate_core::crypto::MasterKey;
use hubgate_core::tokens::{AccessTokenSigner, AccessTokenVerifier, StoredKey, public_jwk};
use hubgate_store::Store;

use crate::config::ServerConfig;

pub struct KeyRing {
    pub signer: AccessTokenSigner,
    pub verifier: AccessTokenVerifier,
    pub jwks: JwkSet,
}

impl KeyRing {
    /// Loads the keys from the store, creating the first one on an empty store.
    /// The newest key signs; every key verifies and is published.
    pub async fn load(
        store: &dyn Store,
        master: &MasterKey,
        config: &ServerConfig,
    ) -> anyhow::Result<Self> {
        let mut keys = store.signing_keys().await?;
        if keys.is_empty() {
            let (_, stored) = AccessTokenSigner::generate(master, hubgate_core::now());
            store.insert_signing_key(&stored).await?;
            keys = store.signing_keys().await?;
        }
        Self::from_stored(&keys, master, config)
    }

    pub fn from_stored(
        keys: &[StoredKey],
        master: &MasterKey,
        config: &ServerConfig,
    ) -> anyhow::Result<Self> {
        let newest = keys
            .iter()
            .max_by_key(|k| (k.created_at, k.id))
            .ok_or_else(|| anyhow::anyhow!("no signing key"))?;
        let signer = AccessTokenSigner::open(master, newest).map_err(|_| {
            anyhow::anyhow!(
                "signing key {} does not open with this master key: is HUBGATE_MASTER_KEY or the key file the one this \
                 database was created with?",
                newest.id
            )
        })?;
        Ok(Self {
            signer,
            verifier: AccessTokenVerifier::new(&config.issuer, &config.audience(), keys),
            jwks: JwkSet {
                keys: keys.iter().map(public_jwk).collect(),
            },
        })
    }
}
