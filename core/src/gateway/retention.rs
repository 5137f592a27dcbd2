//! Artifact retention: the scheduled work deletes generated outputs (job videos and renders,
//! kept images and speech) older than [`GatewayConfig::artifact_retention`]
//! (`MOLTS_ARTIFACT_RETENTION_DAYS`), so the object store and the artifacts table grow with the
//! retention window and the generation quotas, not forever.
//!
//! Uploads are the agents' own files and are never expired: their growth is bounded by the
//! storage caps instead (`files.rs`). Each output goes bytes first, then record — a failure in
//! between leaves a record the next round deletes again, never bytes nothing points to.
//!
//! [`GatewayConfig::artifact_retention`]: super::GatewayConfig::artifact_retention

use futures::StreamExt;

use crate::clock::Timestamp;
use crate::domain::Artifact;
use crate::error::Result;

use super::Gateway;

/// Outputs looked at per round, so one round stays short.
const OUTPUTS_PER_ROUND: u32 = 200;

/// What one round of retention did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Pruned {
    /// Outputs deleted, bytes and record.
    pub(super) deleted: u32,
    /// Outputs whose deleting failed (logged); they are due again next round.
    pub(super) failed: u32,
}

impl Gateway {
    /// Deletes up to a round's worth of outputs created before `now` minus the retention
    /// window, a few at once. Nothing when retention is off or no blob store is configured.
    pub(super) async fn prune_expired_outputs(&self, now: Timestamp) -> Result<Pruned> {
        let (Some(keep), Ok(blobs)) = (self.inner.config.artifact_retention, self.blobs()) else {
            return Ok(Pruned::default());
        };
        let Ok(keep) = chrono::Duration::from_std(keep) else {
            return Ok(Pruned::default());
        };
        let store = &self.inner.ports.stores.artifacts;
        let expired = store
            .outputs_created_before(now - keep, OUTPUTS_PER_ROUND)
            .await?;
        let deadline = self.inner.config.scheduled.item_deadline;
        let concurrency = self.inner.config.scheduled.concurrency.max(1);
        let mut pruned = Pruned::default();
        let mut outcomes = futures::stream::iter(expired)
            .map(|artifact: Artifact| async move {
                let delete = async {
                    blobs.delete(&artifact.blob_key).await?;
                    store.delete_artifact(&artifact.id).await
                };
                (
                    artifact.id.clone(),
                    self.within(deadline, "deleting an expired output", delete)
                        .await,
                )
            })
            .buffer_unordered(concurrency);
        while let Some((id, outcome)) = outcomes.next().await {
            match outcome {
                // Another replica may have deleted it first: the bytes are gone either way.
                Ok(_) => pruned.deleted += 1,
                Err(e) => {
                    tracing::warn!(artifact = %id, error = %e, "deleting an expired output failed");
                    pruned.failed += 1;
                }
            }
        }
        Ok(pruned)
    }
}
