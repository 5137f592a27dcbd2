//! The job, artifact and webhook ports of [`MemoryStore`], under the same single lock as the
//! rest, so every compare-and-swap and uniqueness check is atomic.

use async_trait::async_trait;

use crate::clock::Timestamp;
use crate::domain::{
    Artifact, ArtifactKind, ArtifactQuery, DeliveryStatus, Job, JobQuery, StorageLimits,
    StorageOutcome, StorageScope, StorageUsed, WebhookDelivery, WebhookEndpoint,
};
use crate::error::{Error, Result};
use crate::ports::{ArtifactStore, JobStore, WebhookStore};

use super::store::{MemoryStore, State, insert_new};

/// Newest first, strictly before `before`, at most `limit`.
fn page<'a, T: 'a>(
    rows: impl DoubleEndedIterator<Item = (&'a String, &'a T)>,
    before: Option<&str>,
    limit: u32,
    keep: impl Fn(&T) -> bool,
) -> Vec<&'a T> {
    rows.rev()
        .filter(|(id, _)| before.is_none_or(|b| id.as_str() < b))
        .map(|(_, row)| row)
        .filter(|row| keep(row))
        .take(limit as usize)
        .collect()
}

#[async_trait]
impl JobStore for MemoryStore {
    async fn insert_job(&self, job: &Job) -> Result<()> {
        let mut state = self.lock();
        if let Some(key) = &job.idempotency_key
            && state
                .jobs
                .values()
                .any(|j| j.agent_id == job.agent_id && j.idempotency_key.as_deref() == Some(key))
        {
            return Err(Error::conflict(format!(
                "a job with idempotency key '{key}' already exists"
            )));
        }
        insert_new(&mut state.jobs, &job.id, job, "job")
    }

    async fn get_job(&self, id: &str) -> Result<Option<Job>> {
        Ok(self.lock().jobs.get(id).cloned())
    }

    async fn find_job_by_idempotency_key(&self, agent_id: &str, key: &str) -> Result<Option<Job>> {
        Ok(self
            .lock()
            .jobs
            .values()
            .find(|j| j.agent_id == agent_id && j.idempotency_key.as_deref() == Some(key))
            .cloned())
    }

    async fn list_jobs(&self, query: &JobQuery) -> Result<Vec<Job>> {
        let state = self.lock();
        Ok(page(
            state.jobs.iter(),
            query.before.as_deref(),
            query.limit,
            |j: &Job| {
                j.agent_id == query.agent_id
                    && query.kind.is_none_or(|k| j.kind == k)
                    && query.status.is_none_or(|s| j.status == s)
            },
        )
        .into_iter()
        .cloned()
        .collect())
    }

    async fn update_job(&self, job: &Job, expected_version: u64) -> Result<bool> {
        let mut state = self.lock();
        let stored = state
            .jobs
            .get(&job.id)
            .ok_or_else(|| Error::not_found("job", &job.id))?;
        if stored.version != expected_version || stored.status.is_final() {
            return Ok(false);
        }
        // The key stays unique per agent through updates too, as SQL's unique index keeps it.
        if let Some(key) = &job.idempotency_key
            && state.jobs.values().any(|j| {
                j.id != job.id
                    && j.agent_id == job.agent_id
                    && j.idempotency_key.as_deref() == Some(key)
            })
        {
            return Err(Error::conflict(format!(
                "a job with idempotency key '{key}' already exists"
            )));
        }
        state.jobs.insert(
            job.id.clone(),
            Job {
                version: expected_version + 1,
                ..job.clone()
            },
        );
        Ok(true)
    }

    async fn due_jobs(&self, now: Timestamp, limit: u32) -> Result<Vec<Job>> {
        let state = self.lock();
        let mut due: Vec<Job> = state
            .jobs
            .values()
            .filter(|j| !j.status.is_final() && j.next_check_at <= now)
            .cloned()
            .collect();
        due.sort_by(|a, b| a.next_check_at.cmp(&b.next_check_at).then(a.id.cmp(&b.id)));
        due.truncate(limit as usize);
        Ok(due)
    }
}

/// The owners an upload's bytes count for, in the order their caps are checked.
fn storage_owners(a: &Artifact) -> [(StorageScope, String); 2] {
    [
        (StorageScope::Agent, a.agent_id.clone()),
        (StorageScope::Instance, a.instance_id.clone()),
    ]
}

impl State {
    fn storage_used(&self, agent_id: &str, instance_id: &str) -> StorageUsed {
        let used = |scope, owner: &str| {
            self.storage
                .get(&(scope, owner.to_owned()))
                .copied()
                .unwrap_or(0)
        };
        StorageUsed {
            agent: used(StorageScope::Agent, agent_id),
            instance: used(StorageScope::Instance, instance_id),
        }
    }
}

#[async_trait]
impl ArtifactStore for MemoryStore {
    async fn insert_artifact(&self, artifact: &Artifact) -> Result<()> {
        self.insert_upload(artifact, StorageLimits::NONE)
            .await
            .map(|_| ())
    }

    async fn insert_upload(
        &self,
        artifact: &Artifact,
        limits: StorageLimits,
    ) -> Result<StorageOutcome> {
        let mut state = self.lock();
        if state.artifacts.values().any(|a| {
            a.agent_id == artifact.agent_id
                && a.kind == artifact.kind
                && a.name == artifact.name
                && a.version == artifact.version
        }) {
            return Err(Error::conflict(format!(
                "'{}' version {} already exists",
                artifact.name, artifact.version
            )));
        }
        let counted = artifact.kind == ArtifactKind::Upload;
        if counted {
            let used = state.storage_used(&artifact.agent_id, &artifact.instance_id);
            if let Some((scope, max)) = used.exceeded_by(artifact.size, limits) {
                return Ok(StorageOutcome::Exceeded {
                    scope,
                    max,
                    used: used.of(scope),
                });
            }
        }
        insert_new(&mut state.artifacts, &artifact.id, artifact, "artifact")?;
        if counted {
            for owner in storage_owners(artifact) {
                let bytes = state.storage.entry(owner).or_default();
                *bytes = bytes.saturating_add(artifact.size);
            }
        }
        Ok(StorageOutcome::Stored)
    }

    async fn storage_used(&self, agent_id: &str, instance_id: &str) -> Result<StorageUsed> {
        Ok(self.lock().storage_used(agent_id, instance_id))
    }

    async fn get_artifact(&self, id: &str) -> Result<Option<Artifact>> {
        Ok(self.lock().artifacts.get(id).cloned())
    }

    async fn list_artifacts(&self, query: &ArtifactQuery) -> Result<Vec<Artifact>> {
        let state = self.lock();
        Ok(page(
            state.artifacts.iter(),
            query.before.as_deref(),
            query.limit,
            |a: &Artifact| {
                a.agent_id == query.agent_id
                    && query.kind.is_none_or(|k| a.kind == k)
                    && query.name.as_deref().is_none_or(|n| a.name == n)
            },
        )
        .into_iter()
        .cloned()
        .collect())
    }

    async fn latest_upload(&self, agent_id: &str, name: &str) -> Result<Option<Artifact>> {
        Ok(self
            .lock()
            .artifacts
            .values()
            .filter(|a| a.agent_id == agent_id && a.kind == ArtifactKind::Upload && a.name == name)
            .max_by_key(|a| a.version)
            .cloned())
    }

    async fn outputs_created_before(&self, before: Timestamp, limit: u32) -> Result<Vec<Artifact>> {
        let mut old: Vec<Artifact> = self
            .lock()
            .artifacts
            .values()
            .filter(|a| a.kind == ArtifactKind::Output && a.created_at < before)
            .cloned()
            .collect();
        old.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        old.truncate(limit as usize);
        Ok(old)
    }

    async fn delete_artifact(&self, id: &str) -> Result<bool> {
        let mut state = self.lock();
        let Some(gone) = state.artifacts.remove(id) else {
            return Ok(false);
        };
        if gone.kind == ArtifactKind::Upload {
            for owner in storage_owners(&gone) {
                if let Some(bytes) = state.storage.get_mut(&owner) {
                    *bytes = bytes.saturating_sub(gone.size);
                }
            }
        }
        Ok(true)
    }
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn put_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<()> {
        self.lock()
            .webhook_endpoints
            .insert(endpoint.agent_id.clone(), endpoint.clone());
        Ok(())
    }

    async fn get_endpoint(&self, agent_id: &str) -> Result<Option<WebhookEndpoint>> {
        Ok(self.lock().webhook_endpoints.get(agent_id).cloned())
    }

    async fn delete_endpoint(&self, agent_id: &str) -> Result<bool> {
        Ok(self.lock().webhook_endpoints.remove(agent_id).is_some())
    }

    async fn insert_delivery(&self, delivery: &WebhookDelivery) -> Result<()> {
        insert_new(
            &mut self.lock().webhook_deliveries,
            &delivery.id,
            delivery,
            "webhook delivery",
        )
    }

    async fn get_delivery(&self, id: &str) -> Result<Option<WebhookDelivery>> {
        Ok(self.lock().webhook_deliveries.get(id).cloned())
    }

    async fn update_delivery(
        &self,
        delivery: &WebhookDelivery,
        expected_attempts: u32,
    ) -> Result<bool> {
        let mut state = self.lock();
        let stored = state
            .webhook_deliveries
            .get_mut(&delivery.id)
            .ok_or_else(|| Error::not_found("webhook delivery", &delivery.id))?;
        if stored.attempts != expected_attempts {
            return Ok(false);
        }
        *stored = delivery.clone();
        Ok(true)
    }

    async fn due_deliveries(&self, now: Timestamp, limit: u32) -> Result<Vec<WebhookDelivery>> {
        let state = self.lock();
        let mut due: Vec<WebhookDelivery> = state
            .webhook_deliveries
            .values()
            .filter(|d| d.status == DeliveryStatus::Pending && d.next_attempt_at <= now)
            .cloned()
            .collect();
        due.sort_by(|a, b| {
            a.next_attempt_at
                .cmp(&b.next_attempt_at)
                .then(a.id.cmp(&b.id))
        });
        due.truncate(limit as usize);
        Ok(due)
    }

    async fn list_deliveries(
        &self,
        agent_id: &str,
        job_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        let state = self.lock();
        let mut rows: Vec<WebhookDelivery> = state
            .webhook_deliveries
            .values()
            .filter(|d| d.agent_id == agent_id && job_id.is_none_or(|j| d.job_id == j))
            .cloned()
            .collect();
        rows.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        rows.truncate(limit as usize);
        Ok(rows)
    }
}
