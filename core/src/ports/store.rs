//! Store traits, one per aggregate. Every store adapter (memory, sea-orm, D1) implements all of
//! them and passes the contract suites in [`crate::testkit`].
//!
//! # Contract (all traits)
//! - `insert_*` fails with [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) when the id (or a
//!   unique field named in the method's docs) is taken, and changes nothing.
//! - `get_*` answers `Ok(None)` for a missing id; `update_*` fails with `NotFound`.
//! - `delete_*` answers whether something was deleted.
//! - Lists are ordered by id ascending (ids are time-ordered, so this is creation order).
//! - Backend failures map to `Unavailable` (connection, timeout) or `Internal` (anything else).

use std::sync::Arc;

use async_trait::async_trait;

use crate::clock::Timestamp;
use crate::domain::{
    AdminKey, Agent, AgentStatus, ApiKey, Artifact, ArtifactQuery, Instance, InstanceProviderKey,
    Job, JobQuery, ModelConfig, ModelFilter, Period, Project, Provider, RequestQuery,
    RequestRecord, Reservation, ReserveOutcome, ReserveRequest, StorageLimits, StorageOutcome,
    StorageUsed, Tier, UsageCounter, WebhookDelivery, WebhookEndpoint,
};
use crate::error::Result;

/// Tenants.
#[async_trait]
pub trait InstanceStore: Send + Sync {
    /// Adds an instance; `Conflict` if the id exists.
    async fn insert_instance(&self, instance: &Instance) -> Result<()>;
    /// One instance.
    async fn get_instance(&self, id: &str) -> Result<Option<Instance>>;
    /// Every instance.
    async fn list_instances(&self) -> Result<Vec<Instance>>;
    /// Replaces an instance's name and settings; `NotFound` if missing.
    async fn update_instance(&self, instance: &Instance) -> Result<()>;
    /// Removes an instance (callers first make sure it holds no agents).
    async fn delete_instance(&self, id: &str) -> Result<bool>;
}

/// Projects inside instances.
#[async_trait]
pub trait ProjectStore: Send + Sync {
    /// Adds a project; `Conflict` if the id, or the name within the instance, is taken.
    async fn insert_project(&self, project: &Project) -> Result<()>;
    /// One project.
    async fn get_project(&self, id: &str) -> Result<Option<Project>>;
    /// An instance's projects.
    async fn list_projects(&self, instance_id: &str) -> Result<Vec<Project>>;
    /// Removes a project; agents in it keep existing, with no project.
    async fn delete_project(&self, id: &str) -> Result<bool>;
}

/// Which agents to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentQuery {
    /// Only this instance.
    pub instance_id: Option<String>,
    /// Only this project.
    pub project_id: Option<String>,
    /// Only this tier.
    pub tier_id: Option<String>,
    /// Only this status.
    pub status: Option<AgentStatus>,
    /// Only ids greater than this (pagination cursor).
    pub after: Option<String>,
    /// At most this many.
    pub limit: u32,
}

/// Agents.
#[async_trait]
pub trait AgentStore: Send + Sync {
    /// Adds an agent; `Conflict` if the id, or a non-empty email within the instance, is taken.
    async fn insert_agent(&self, agent: &Agent) -> Result<()>;
    /// One agent.
    async fn get_agent(&self, id: &str) -> Result<Option<Agent>>;
    /// Agents matching the query, by id ascending, at most `limit`.
    async fn list_agents(&self, query: &AgentQuery) -> Result<Vec<Agent>>;
    /// Replaces an agent's mutable fields; `NotFound` if missing.
    async fn update_agent(&self, agent: &Agent) -> Result<()>;
    /// Removes an agent together with its API keys.
    async fn delete_agent(&self, id: &str) -> Result<bool>;
}

/// Agents' API keys.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Adds a key; `Conflict` if the id exists.
    async fn insert_api_key(&self, key: &ApiKey) -> Result<()>;
    /// Keys whose lookup prefix is `prefix` (usually one; the caller checks each hash).
    async fn find_api_keys_by_prefix(&self, prefix: &str) -> Result<Vec<ApiKey>>;
    /// An agent's keys, revoked ones included.
    async fn list_api_keys(&self, agent_id: &str) -> Result<Vec<ApiKey>>;
    /// Marks the agent's key revoked at `at`; `false` if it is not the agent's or already revoked.
    async fn revoke_api_key(&self, agent_id: &str, key_id: &str, at: Timestamp) -> Result<bool>;
}

/// Admin keys.
#[async_trait]
pub trait AdminKeyStore: Send + Sync {
    /// Adds a key; `Conflict` if the id exists.
    async fn insert_admin_key(&self, key: &AdminKey) -> Result<()>;
    /// Keys whose lookup prefix is `prefix`.
    async fn find_admin_keys_by_prefix(&self, prefix: &str) -> Result<Vec<AdminKey>>;
    /// Every admin key, revoked ones included.
    async fn list_admin_keys(&self) -> Result<Vec<AdminKey>>;
    /// Marks a key revoked at `at`; `false` if missing or already revoked.
    async fn revoke_admin_key(&self, id: &str, at: Timestamp) -> Result<bool>;
}

/// Tiers.
#[async_trait]
pub trait TierStore: Send + Sync {
    /// Adds a tier; `Conflict` if the id exists.
    async fn insert_tier(&self, tier: &Tier) -> Result<()>;
    /// One tier.
    async fn get_tier(&self, id: &str) -> Result<Option<Tier>>;
    /// Every tier.
    async fn list_tiers(&self) -> Result<Vec<Tier>>;
    /// Replaces a tier; `NotFound` if missing.
    async fn update_tier(&self, tier: &Tier) -> Result<()>;
    /// Removes a tier (callers first make sure no agent is on it).
    async fn delete_tier(&self, id: &str) -> Result<bool>;
}

/// The quota ledger.
///
/// # Contract
/// - `reserve` is atomic across every period in the request and across concurrent callers,
///   including other processes sharing the database: it adds `amount` to each period's counter
///   only if every capped counter stays within its cap, else adds nothing and answers
///   `Exceeded` with the first full period. N concurrent reservations against R remaining units
///   of size 1 succeed exactly min(N, R) times.
/// - `settle` replaces the held amount with `actual`, but never more than was held (the caps
///   were checked against the hold), in the counters the reservation touched;
///   `refund` removes it. Each works once: on a reservation that is not `Reserved` it fails with
///   `Conflict` and changes nothing; on a missing id, `NotFound`.
/// - `forget_closed_reservations(before, limit)` deletes up to `limit` reservations for which
///   [`Reservation::forgotten_before`]`(before)` holds — closed (settled or refunded) before
///   `before`, with an id in [`reservation_ids_before`]`(before)` — and answers how many. It
///   never deletes an open hold, however old, and never changes a counter: what the forgotten
///   reservations charged stays in the per-period counters, which are the ledger's totals.
///   The rows are found by walking each id range in order (ids are UUIDv7, so creation order),
///   a bounded scan of the primary key; which of the eligible rows go first is unspecified. A
///   forgotten reservation is then missing: closing it again is `NotFound`, not `Conflict`.
///
/// [`reservation_ids_before`]: crate::domain::reservation_ids_before
#[async_trait]
pub trait QuotaStore: Send + Sync {
    /// Holds units, or reports the period that is full.
    async fn reserve(&self, request: &ReserveRequest) -> Result<ReserveOutcome>;
    /// Charges the measured amount.
    async fn settle(&self, reservation_id: &str, actual: u64, at: Timestamp)
    -> Result<Reservation>;
    /// Gives the held units back.
    async fn refund(&self, reservation_id: &str, at: Timestamp) -> Result<Reservation>;
    /// One reservation.
    async fn get_reservation(&self, reservation_id: &str) -> Result<Option<Reservation>>;
    /// Up to `limit` holds still `Reserved` whose `expires_at` is at or before `now`, oldest
    /// expiry first.
    async fn expired_reservations(&self, now: Timestamp, limit: u32) -> Result<Vec<Reservation>>;
    /// Deletes up to `limit` closed reservations closed before `before`; how many it deleted.
    async fn forget_closed_reservations(&self, before: Timestamp, limit: u32) -> Result<u32>;
    /// The agent's counters for the given periods' keys (only counters that exist).
    async fn usage(
        &self,
        agent_id: &str,
        periods: &[(Period, String)],
    ) -> Result<Vec<UsageCounter>>;
}

/// Model configs.
#[async_trait]
pub trait ModelConfigStore: Send + Sync {
    /// Adds a config; `Conflict` if the id exists.
    async fn insert_model(&self, model: &ModelConfig) -> Result<()>;
    /// One config.
    async fn get_model(&self, id: &str) -> Result<Option<ModelConfig>>;
    /// Configs passing the filter.
    async fn list_models(&self, filter: &ModelFilter) -> Result<Vec<ModelConfig>>;
    /// Replaces a config; `NotFound` if missing.
    async fn update_model(&self, model: &ModelConfig) -> Result<()>;
    /// Removes a config.
    async fn delete_model(&self, id: &str) -> Result<bool>;
}

/// Instances' own provider keys (sealed).
#[async_trait]
pub trait ProviderKeyStore: Send + Sync {
    /// Sets an instance's key for a provider, replacing any earlier one.
    async fn put_provider_key(&self, key: &InstanceProviderKey) -> Result<()>;
    /// An instance's keys, by provider name.
    async fn list_provider_keys(&self, instance_id: &str) -> Result<Vec<InstanceProviderKey>>;
    /// Removes an instance's key for a provider.
    async fn delete_provider_key(&self, instance_id: &str, provider: Provider) -> Result<bool>;
}

/// Durable jobs.
///
/// # Contract
/// - `insert_job` fails with `Conflict` if the id exists, or if the agent already has a job with
///   the same `idempotency_key` (two racing submissions with one key store exactly one job).
/// - `update_job` is a compare-and-swap: it writes `job` (with `version` = `expected_version` + 1)
///   only if the stored job's version is `expected_version`, and answers whether it did. Stored
///   jobs in a final status never change. A missing id is `NotFound`; a write that would give the
///   agent two jobs with one `idempotency_key` fails with `Conflict`.
/// - `due_jobs` lists up to `limit` jobs not in a final status whose `next_check_at` is at or
///   before `now`, earliest first.
/// - `list_jobs` is newest first (ids sort by creation time), `before` is exclusive.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Stores a new job.
    async fn insert_job(&self, job: &Job) -> Result<()>;
    /// One job.
    async fn get_job(&self, id: &str) -> Result<Option<Job>>;
    /// The agent's job submitted with this idempotency key.
    async fn find_job_by_idempotency_key(&self, agent_id: &str, key: &str) -> Result<Option<Job>>;
    /// A page of an agent's jobs.
    async fn list_jobs(&self, query: &JobQuery) -> Result<Vec<Job>>;
    /// Compare-and-swap on `version`.
    async fn update_job(&self, job: &Job, expected_version: u64) -> Result<bool>;
    /// Up to `limit` unfinished jobs due a check.
    async fn due_jobs(&self, now: Timestamp, limit: u32) -> Result<Vec<Job>>;
}

/// Records of stored files (the bytes are in the `BlobStore`).
///
/// # Contract
/// `insert_artifact` fails with `Conflict` if the id exists, or if the agent already has an
/// artifact of the same kind, name and version (so concurrent uploads cannot share a version).
/// This holds for outputs too, so each job output needs a name of its own per agent (two outputs
/// both named `video.mp4`, version 1, clash). `list_artifacts` is newest first by id, `before`
/// exclusive.
///
/// An upload's `size` is counted in its agent's and its instance's storage
/// ([`StorageScope`](crate::domain::StorageScope)) from the step that records it to the step that
/// forgets it, both atomic with the record: the counts always equal the sum of the recorded
/// uploads' sizes, however many writers race. Outputs are never counted.
#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// Records a stored file; an upload is counted with no limit (see `insert_upload`).
    async fn insert_artifact(&self, artifact: &Artifact) -> Result<()>;
    /// Records an upload and counts its bytes, in one atomic step, if they fit under both of
    /// `limits`; otherwise records and counts nothing and reports the first full scope (the
    /// agent's before the instance's). N racing uploads never together pass a cap. `Conflict`
    /// (nothing counted) when the id or the (agent, name, version) is taken.
    async fn insert_upload(
        &self,
        artifact: &Artifact,
        limits: StorageLimits,
    ) -> Result<StorageOutcome>;
    /// Bytes of uploads kept now by the agent and by the instance (0 when nothing was ever
    /// counted).
    async fn storage_used(&self, agent_id: &str, instance_id: &str) -> Result<StorageUsed>;
    /// One record.
    async fn get_artifact(&self, id: &str) -> Result<Option<Artifact>>;
    /// A page of an agent's records.
    async fn list_artifacts(&self, query: &ArtifactQuery) -> Result<Vec<Artifact>>;
    /// The highest version the agent has under `name` (uploads only).
    async fn latest_upload(&self, agent_id: &str, name: &str) -> Result<Option<Artifact>>;
    /// Up to `limit` outputs (never uploads) of any agent created before `before`, oldest
    /// first: what artifact retention deletes. Reads a bounded range of the time-ordered ids,
    /// not the whole table.
    async fn outputs_created_before(&self, before: Timestamp, limit: u32) -> Result<Vec<Artifact>>;
    /// Forgets a record; an upload's bytes are given back in the same atomic step. Of racing
    /// deletes of one record exactly one answers `true` (and gives the bytes back).
    async fn delete_artifact(&self, id: &str) -> Result<bool>;
}

/// The request log (`domain/request_log.rs`).
///
/// # Contract
/// `append_requests` stores every record of the batch or none (one transaction); a record whose
/// id exists fails the batch with `Conflict`. `list_requests` answers the records passing every
/// filter of the query ([`RequestQuery::accepts`](crate::domain::RequestQuery::accepts) is the
/// reference), newest first by id. `forget_requests_before` deletes up to `limit` of the records
/// that arrived before the cutoff, oldest first, answering how many; it reads a bounded range of
/// the time-ordered ids, never the whole table.
#[async_trait]
pub trait RequestLogStore: Send + Sync {
    /// Stores a batch of records.
    async fn append_requests(&self, records: &[RequestRecord]) -> Result<()>;
    /// A page of records, newest first.
    async fn list_requests(&self, query: &RequestQuery) -> Result<Vec<RequestRecord>>;
    /// Deletes records that arrived before `before`, at most `limit`; how many went.
    async fn forget_requests_before(&self, before: Timestamp, limit: u32) -> Result<u64>;
}

/// Outbound webhooks: agents' endpoints and the delivery outbox.
///
/// # Contract
/// - `insert_delivery` fails with `Conflict` if the id exists (the id is derived from the job
///   and event, so the same event cannot be queued twice).
/// - `update_delivery` is a compare-and-swap on `attempts`: it writes `delivery` as given only if
///   the stored delivery's attempts equal `expected_attempts`, and answers whether it did. A
///   missing id is `NotFound`.
/// - `due_deliveries` lists up to `limit` `Pending` deliveries whose `next_attempt_at` is at or
///   before `now`, earliest first; `list_deliveries` is newest first by `created_at` (delivery ids
///   do not sort by time).
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Creates or replaces the agent's endpoint.
    async fn put_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<()>;
    /// The agent's endpoint.
    async fn get_endpoint(&self, agent_id: &str) -> Result<Option<WebhookEndpoint>>;
    /// Removes the agent's endpoint.
    async fn delete_endpoint(&self, agent_id: &str) -> Result<bool>;
    /// Queues a delivery.
    async fn insert_delivery(&self, delivery: &WebhookDelivery) -> Result<()>;
    /// One delivery.
    async fn get_delivery(&self, id: &str) -> Result<Option<WebhookDelivery>>;
    /// Compare-and-swap on `attempts`.
    async fn update_delivery(
        &self,
        delivery: &WebhookDelivery,
        expected_attempts: u32,
    ) -> Result<bool>;
    /// Up to `limit` pending deliveries due an attempt.
    async fn due_deliveries(&self, now: Timestamp, limit: u32) -> Result<Vec<WebhookDelivery>>;
    /// An agent's deliveries, optionally for one job, newest first.
    async fn list_deliveries(
        &self,
        agent_id: &str,
        job_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>>;
}

/// Every store port, as trait objects. Usually all point at one adapter value.
#[derive(Clone)]
pub struct Stores {
    /// Tenants.
    pub instances: Arc<dyn InstanceStore>,
    /// Projects.
    pub projects: Arc<dyn ProjectStore>,
    /// Agents.
    pub agents: Arc<dyn AgentStore>,
    /// Agents' keys.
    pub api_keys: Arc<dyn ApiKeyStore>,
    /// Admin keys.
    pub admin_keys: Arc<dyn AdminKeyStore>,
    /// Tiers.
    pub tiers: Arc<dyn TierStore>,
    /// The quota ledger.
    pub quota: Arc<dyn QuotaStore>,
    /// Model configs.
    pub models: Arc<dyn ModelConfigStore>,
    /// Instances' own provider keys.
    pub provider_keys: Arc<dyn ProviderKeyStore>,
    /// Durable jobs.
    pub jobs: Arc<dyn JobStore>,
    /// Stored files' records.
    pub artifacts: Arc<dyn ArtifactStore>,
    /// Webhook endpoints and the delivery outbox.
    pub webhooks: Arc<dyn WebhookStore>,
    /// The request log.
    pub requests: Arc<dyn RequestLogStore>,
}

impl Stores {
    /// All ports served by one adapter value.
    pub fn from_one<S>(store: Arc<S>) -> Self
    where
        S: InstanceStore
            + ProjectStore
            + AgentStore
            + ApiKeyStore
            + AdminKeyStore
            + TierStore
            + QuotaStore
            + ModelConfigStore
            + ProviderKeyStore
            + JobStore
            + ArtifactStore
            + WebhookStore
            + RequestLogStore
            + 'static,
    {
        Self {
            instances: store.clone(),
            projects: store.clone(),
            agents: store.clone(),
            api_keys: store.clone(),
            admin_keys: store.clone(),
            tiers: store.clone(),
            quota: store.clone(),
            models: store.clone(),
            provider_keys: store.clone(),
            jobs: store.clone(),
            artifacts: store.clone(),
            webhooks: store.clone(),
            requests: store,
        }
    }
}
