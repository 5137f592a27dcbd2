//! `JobStore` over sea-orm.
//!
//! Every change after the insert is one conditional `UPDATE … WHERE id = ? AND version = ? AND
//! status NOT IN (<final>)`: the database decides the race (SQLite runs writers one at a time;
//! PostgreSQL re-checks the `WHERE` against the latest row after waiting on its lock), so of any
//! number of callers holding one version exactly one changes the row. The idempotency key is a
//! unique index on (agent_id, idempotency_key), so racing submissions store one job.

use async_trait::async_trait;
use molts_core::domain::{Job, JobError, JobKind, JobQuery, JobStatus, Provider};
use molts_core::ports::JobStore;
use molts_core::{Error, Result, Timestamp};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, Order, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::convert::{Read, count, from_json, ms, opt_time, parsed, read_count, time, to_json};
use crate::entity::job::{self as row, Column as C};
use crate::error::{StoreError, from_db, on_write, violates};
use crate::{SeaOrmStore, sort_key};

fn to_row(j: &Job) -> Result<row::Model> {
    Ok(row::Model {
        id: j.id.clone(),
        instance_id: j.instance_id.clone(),
        agent_id: j.agent_id.clone(),
        kind: j.kind.as_str().to_owned(),
        model_id: j.model_id.clone(),
        provider: j.provider.as_str().to_owned(),
        provider_job_id: j.provider_job_id.clone(),
        status: j.status.as_str().to_owned(),
        input: to_json(&j.input)?,
        units: count("units", j.units)?,
        reservation_id: j.reservation_id.clone(),
        idempotency_key: j.idempotency_key.clone(),
        callback_token_hash: j.callback_token_hash.clone(),
        webhook_url: j.webhook_url.clone(),
        attempts: i64::from(j.attempts),
        next_check_at: ms(j.next_check_at),
        deadline_at: ms(j.deadline_at),
        error: j.error.as_ref().map(to_json).transpose()?,
        artifact_id: j.artifact_id.clone(),
        duration_seconds: j.duration_seconds,
        created_at: ms(j.created_at),
        updated_at: ms(j.updated_at),
        finished_at: j.finished_at.map(ms),
        version: count("version", j.version)?,
    })
}

fn from_row(m: row::Model) -> Read<Job> {
    Ok(Job {
        kind: parsed("job kind", &m.kind, JobKind::parse)?,
        provider: parsed("job provider", &m.provider, Provider::parse)?,
        status: parsed("job status", &m.status, JobStatus::parse)?,
        input: from_json("job input", &m.input)?,
        units: read_count("job units", m.units)?,
        attempts: u32::try_from(m.attempts)
            .map_err(|_| StoreError::corrupt("job attempts", m.attempts))?,
        next_check_at: time("job next_check_at", m.next_check_at)?,
        deadline_at: time("job deadline_at", m.deadline_at)?,
        error: m
            .error
            .as_deref()
            .map(|t| from_json::<JobError>("job error", t))
            .transpose()?,
        created_at: time("job created_at", m.created_at)?,
        updated_at: time("job updated_at", m.updated_at)?,
        finished_at: opt_time("job finished_at", m.finished_at)?,
        version: read_count("job version", m.version)?,
        id: m.id,
        instance_id: m.instance_id,
        agent_id: m.agent_id,
        model_id: m.model_id,
        provider_job_id: m.provider_job_id,
        reservation_id: m.reservation_id,
        idempotency_key: m.idempotency_key,
        callback_token_hash: m.callback_token_hash,
        webhook_url: m.webhook_url,
        artifact_id: m.artifact_id,
        duration_seconds: m.duration_seconds,
    })
}

/// The stored spellings of the statuses a job can leave (`true`) or never leaves (`false`).
fn statuses(is_final: bool) -> Vec<&'static str> {
    JobStatus::ALL
        .into_iter()
        .filter(|s| s.is_final() == is_final)
        .map(JobStatus::as_str)
        .collect()
}

/// A unique violation on insert or update, in client terms.
fn clash(err: sea_orm::DbErr, job: &Job) -> Error {
    let idempotency = violates(&err, "idempotency");
    on_write(err, || {
        if idempotency {
            "a job with this idempotency key already exists".to_owned()
        } else {
            format!("job '{}' already exists", job.id)
        }
    })
}

fn rows(models: Vec<row::Model>) -> Result<Vec<Job>> {
    Ok(models.into_iter().map(from_row).collect::<Read<Vec<_>>>()?)
}

#[async_trait]
impl JobStore for SeaOrmStore {
    async fn insert_job(&self, job: &Job) -> Result<()> {
        row::Entity::insert(to_row(job)?.into_active_model().reset_all())
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| clash(e, job))?;
        Ok(())
    }

    async fn get_job(&self, id: &str) -> Result<Option<Job>> {
        let found = row::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(from_db)?;
        Ok(found.map(from_row).transpose()?)
    }

    async fn find_job_by_idempotency_key(&self, agent_id: &str, key: &str) -> Result<Option<Job>> {
        let found = row::Entity::find()
            .filter(C::AgentId.eq(agent_id))
            .filter(C::IdempotencyKey.eq(key))
            .one(&self.db)
            .await
            .map_err(from_db)?;
        Ok(found.map(from_row).transpose()?)
    }

    async fn list_jobs(&self, q: &JobQuery) -> Result<Vec<Job>> {
        let backend = self.backend();
        let mut select = row::Entity::find().filter(C::AgentId.eq(&q.agent_id));
        if let Some(kind) = q.kind {
            select = select.filter(C::Kind.eq(kind.as_str()));
        }
        if let Some(status) = q.status {
            select = select.filter(C::Status.eq(status.as_str()));
        }
        if let Some(before) = &q.before {
            // Compared in the order the list is sorted in, so pages never skip or repeat.
            select = select.filter(Expr::expr(sort_key(backend, C::Id)).lt(before));
        }
        let found = select
            .order_by(sort_key(backend, C::Id), Order::Desc)
            .limit(u64::from(q.limit))
            .all(&self.db)
            .await
            .map_err(from_db)?;
        rows(found)
    }

    async fn update_job(&self, job: &Job, expected_version: u64) -> Result<bool> {
        let expected = count("expected_version", expected_version)?;
        let changed = to_row(&Job {
            version: expected_version.saturating_add(1),
            ..job.clone()
        })?;
        let done = row::Entity::update_many()
            .set(changed.into_active_model().reset_all())
            .filter(C::Id.eq(&job.id))
            .filter(C::Version.eq(expected))
            .filter(C::Status.is_not_in(statuses(true)))
            .exec(&self.db)
            .await
            .map_err(|e| clash(e, job))?;
        if done.rows_affected > 0 {
            return Ok(true);
        }
        // Nothing changed: a stale version, a final job, or no job at all.
        let exists = row::Entity::find_by_id(&job.id)
            .select_only()
            .column(C::Id)
            .into_tuple::<String>()
            .one(&self.db)
            .await
            .map_err(from_db)?;
        match exists {
            Some(_) => Ok(false),
            None => Err(Error::not_found("job", &job.id)),
        }
    }

    async fn due_jobs(&self, now: Timestamp, limit: u32) -> Result<Vec<Job>> {
        // `status IN (<unfinished>)` rather than `NOT IN (<final>)`: ranges of idx_jobs_due.
        let found = row::Entity::find()
            .filter(C::Status.is_in(statuses(false)))
            .filter(C::NextCheckAt.lte(ms(now)))
            .order_by_asc(C::NextCheckAt)
            .order_by(sort_key(self.backend(), C::Id), Order::Asc)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(from_db)?;
        rows(found)
    }
}
