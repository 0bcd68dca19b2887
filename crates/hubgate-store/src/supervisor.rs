//! Background tasks that must outlive a panic: the group commit of refresh
//! rotations here, and the server's change follower, auditor, event feed
//! and webhook deliveries. A task that
//! panics is logged, counted ([`restarts`]) and started again after a second;
//! one that returns is done.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::FutureExt;

/// The supervised tasks, for the restart counts.
pub const TASKS: [&str; 6] = [
    "group_commit",
    "change_follower",
    "auditor",
    "event_feed",
    "event_retention",
    "webhook_delivery",
];

static RESTARTS: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];

/// Restarts of each supervised task in this process, by name.
pub fn restarts() -> impl Iterator<Item = (&'static str, u64)> {
    TASKS
        .iter()
        .zip(RESTARTS.iter())
        .map(|(name, count)| (*name, count.load(Ordering::Relaxed)))
}

/// Runs `task()` on the runtime until it returns; after a panic, logs it,
/// counts it and runs a fresh `task()` a second later. Aborting the returned
/// handle stops it for good.
pub fn supervise<F, Fut>(name: &'static str, task: F) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            match AssertUnwindSafe(task()).catch_unwind().await {
                Ok(()) => return,
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    if let Some(i) = TASKS.iter().position(|t| *t == name) {
                        RESTARTS[i].fetch_add(1, Ordering::Relaxed);
                    }
                    tracing::error!(task = name, panic = %what, "a background task panicked; restarting it in a second");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_panicking_task_is_restarted_and_counted() {
        let runs = Arc::new(AtomicU64::new(0));
        let before = restarts().find(|(n, _)| *n == "auditor").unwrap().1;
        let counter = runs.clone();
        let handle = supervise("auditor", move || {
            let counter = counter.clone();
            async move {
                if counter.fetch_add(1, Ordering::Relaxed) < 2 {
                    panic!("boom");
                }
            }
        });
        handle.await.unwrap();
        assert_eq!(runs.load(Ordering::Relaxed), 3);
        let after = restarts().find(|(n, _)| *n == "auditor").unwrap().1;
        assert_eq!(after - before, 2);
    }
}
