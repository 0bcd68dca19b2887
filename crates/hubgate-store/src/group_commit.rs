//! Group commit for refresh-token rotations.
//!
//! A rotation must be durable before the client hears of it, and a commit
//! costs one flush to disk whatever it holds. One task per node therefore
//! takes every rotation waiting at that moment (up to [`MAX_BATCH`]) and runs
//! them in one transaction: one flush serves them all, and the batch's
//! statements are few (`sql::rotate_batch`). Within a batch, rotations keep
//! their arrival order, so outcomes are those of one transaction each.

use std::future::Future;

use hubgate_core::refresh::Rotation;
use tokio::sync::{mpsc, oneshot};

use crate::{Result, RotationRequest, StoreError};

/// Rotations per transaction at most.
pub const MAX_BATCH: usize = 512;

type Waiting = (RotationRequest, oneshot::Sender<Result<Rotation>>);

/// The handle a store keeps: submits one rotation and waits for its batch.
#[derive(Debug, Clone)]
pub struct Rotations(mpsc::Sender<Waiting>);

/// Starts the batching task; `run_batch` runs one batch in one transaction
/// and answers one outcome per request, in order.
pub fn spawn<F, Fut>(run_batch: F) -> Rotations
where
    F: Fn(Vec<RotationRequest>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<Rotation>>> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel::<Waiting>(4 * MAX_BATCH);
    // Shared with every restart of the task, so a panic loses no waiting rotation.
    let receiver = std::sync::Arc::new(tokio::sync::Mutex::new(receiver));
    let run_batch = std::sync::Arc::new(run_batch);
    crate::supervisor::supervise("group_commit", move || {
        let receiver = receiver.clone();
        let run_batch = run_batch.clone();
        async move {
            let mut receiver = receiver.lock().await;
            while let Some(first) = receiver.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match receiver.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let (requests, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                match run_batch(requests).await {
                    Ok(rotations) => {
                        for (reply, rotation) in replies.into_iter().zip(rotations) {
                            let _ = reply.send(Ok(rotation));
                        }
                    }
                    Err(error) => {
                        // Nothing was committed: every token of the batch is still valid.
                        let text = error.to_string();
                        tracing::warn!(error = %text, "a batch of refresh rotations failed");
                        for reply in replies {
                            let _ = reply.send(Err(StoreError::Unavailable(text.clone())));
                        }
                    }
                }
            }
        }
    });
    Rotations(sender)
}

impl Rotations {
    pub async fn rotate(&self, request: RotationRequest) -> Result<Rotation> {
        let closed = || StoreError::Unavailable("the store is closed".into());
        let (reply, answer) = oneshot::channel();
        self.0.send((request, reply)).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}
