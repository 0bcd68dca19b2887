//! TLS served directly: a certificate and key from PEM files, swapped for
//! new connections when the files change (a renewal), without a restart.
//!
//! [`ReloadingCert`] answers every handshake with the pair it holds now;
//! [`ReloadingCert::reload`] reads the files again and swaps the pair only
//! when the new one loads (a half-written or mismatched pair keeps the old
//! one serving). The binary calls it every few seconds and on `SIGHUP`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::sync::Notify;

/// Where the certificate chain and its private key are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM: the server's certificate first, then any intermediates.
    pub cert: PathBuf,
    /// PEM: the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} holds no PEM certificate", .0.display())]
    NoCertificate(PathBuf),
    #[error("{} holds no PEM private key", .0.display())]
    NoKey(PathBuf),
    #[error("{} is not valid PEM: {error}", path.display())]
    Pem { path: PathBuf, error: String },
    #[error("the key in {} does not fit the certificate in {}, or is unsupported: {error}", key.display(), cert.display())]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        error: rustls::Error,
    },
    #[error("cannot configure TLS: {0}")]
    Config(rustls::Error),
}

/// The one crypto provider: ring, which sqlx and reqwest already bring.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The files' bytes, as last read.
#[derive(PartialEq, Eq)]
struct Contents {
    cert: Vec<u8>,
    key: Vec<u8>,
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn parse(files: &TlsFiles, contents: &Contents) -> Result<CertifiedKey, TlsError> {
    let pem_error = |path: &Path| {
        let path = path.to_owned();
        move |error: rustls::pki_types::pem::Error| TlsError::Pem {
            path,
            error: error.to_string(),
        }
    };
    let chain = CertificateDer::pem_slice_iter(&contents.cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error(&files.cert))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(files.cert.clone()));
    }
    let key = match PrivateKeyDer::from_pem_slice(&contents.key) {
        Ok(key) => key,
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            return Err(TlsError::NoKey(files.key.clone()));
        }
        Err(error) => return Err(pem_error(&files.key)(error)),
    };
    CertifiedKey::from_der(chain, key, &provider()).map_err(|error| TlsError::Pair {
        cert: files.cert.clone(),
        key: files.key.clone(),
        error,
    })
}

/// The certificate every new handshake gets, replaceable while serving.
pub struct ReloadingCert {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
    /// What the files held at the last look, loadable or not: a bad file is
    /// reported once, not at every look.
    seen: Mutex<Contents>,
}

impl std::fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The files only: never key material.
        f.debug_struct("ReloadingCert")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl ReloadingCert {
    /// Loads the pair; at start, a bad one is an error.
    pub fn load(files: TlsFiles) -> Result<Arc<Self>, TlsError> {
        let contents = Contents {
            cert: read(&files.cert)?,
            key: read(&files.key)?,
        };
        let certified = parse(&files, &contents)?;
        Ok(Arc::new(Self {
            files,
            current: RwLock::new(Arc::new(certified)),
            seen: Mutex::new(contents),
        }))
    }

    /// Reads the files again: `Ok(true)` when a new pair now serves,
    /// `Ok(false)` when nothing changed, an error (the old pair still
    /// serving) when the changed files do not load.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let contents = Contents {
            cert: read(&self.files.cert)?,
            key: read(&self.files.key)?,
        };
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if *seen == contents {
            return Ok(false);
        }
        let parsed = parse(&self.files, &contents);
        *seen = contents;
        let certified = parsed?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(certified);
        Ok(true)
    }

    /// Reloads every `interval` and whenever `now` is notified (`SIGHUP`),
    /// logging what happened; runs until the task is dropped.
    pub async fn watch(self: Arc<Self>, interval: Duration, now: Arc<Notify>) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let asked = tokio::select! {
                _ = ticks.tick() => false,
                () = now.notified() => true,
            };
            let cert = self.clone();
            // File reads and parsing off the async workers.
            let outcome = tokio::task::spawn_blocking(move || cert.reload()).await;
            match outcome {
                Ok(Ok(true)) => tracing::info!(
                    cert = %self.files.cert.display(),
                    "TLS certificate reloaded: new connections get the new one"
                ),
                Ok(Ok(false)) if asked => {
                    tracing::info!("TLS certificate files unchanged: nothing to reload")
                }
                Ok(Ok(false)) => {}
                Ok(Err(error)) => tracing::error!(
                    %error,
                    "cannot reload the TLS certificate; still serving the one loaded before"
                ),
                Err(error) => tracing::error!(%error, "the TLS reload task failed"),
            }
        }
    }

    /// A TLS acceptor offering HTTP/2 and HTTP/1.1 (ALPN) with this
    /// certificate, as it is at each handshake.
    pub fn acceptor(self: &Arc<Self>) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}
