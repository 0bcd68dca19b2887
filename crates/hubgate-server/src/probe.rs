//! `/readyz`'s write probe: readiness means writes commit (a full disk is
//! not ready), checked at most once a second.

use hubgate_store::Store;

/// `/readyz`'s write probe: one committed one-row write at most every
/// second, whoever asks and however often.
#[derive(Default)]
pub struct WriteProbe {
    last: tokio::sync::Mutex<Option<(std::time::Instant, bool)>>,
}

impl WriteProbe {
    const FRESH: std::time::Duration = std::time::Duration::from_secs(1);

    pub async fn writes_commit(&self, store: &dyn Store) -> bool {
        let mut last = self.last.lock().await;
        if let Some((at, ok)) = *last
            && at.elapsed() < Self::FRESH
        {
            return ok;
        }
        let probe = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            store.probe_write(hubgate_core::now()),
        )
        .await;
        let ok = match probe {
            Ok(Ok(())) => true,
            Ok(Err(error)) => {
                tracing::warn!(%error, "readiness: a store write failed");
                false
            }
            Err(_) => {
                tracing::warn!("readiness: a store write timed out");
                false
            }
        };
        *last = Some((std::time::Instant::now(), ok));
        ok
    }
}
