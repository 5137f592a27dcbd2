//! `JobStore` over D1.
//!
//! Every change after the insert is one conditional `UPDATE … WHERE id = ? AND version = ? AND
//! status NOT IN (<final>)`. D1 runs a database's statements one at a time, so of any number of
//! callers holding one version exactly one changes the row; the others see 0 changes. The
//! idempotency key is a unique index on (agent_id, idempotency_key), so racing submissions store
//! one job.

use async_trait::async_trait;
use molts_core::domain::{Job, JobError, JobKind, JobQuery, JobStatus, Provider};
use molts_core::ports::JobStore;
use molts_core::{Error, Result, Timestamp};
use serde::Deserialize;

use crate::D1Store;
use crate::rows::{all, corrupt, count, from_json, ms, opt_time, parsed, time, to_json};
use crate::sql::{V, checked, params};

const COLS: &str = "id, instance_id, agent_id, kind, model_id, provider, provider_job_id, \
                    status, input, units, reservation_id, idempotency_key, callback_token_hash, \
                    webhook_url, attempts, next_check_at, deadline_at, error, artifact_id, \
                    duration_seconds, created_at, updated_at, finished_at, version";

#[derive(Deserialize)]
struct JobRow {
    id: String,
    instance_id: String,
    agent_id: String,
    kind: String,
    model_id: String,
    provider: String,
    provider_job_id: Option<String>,
    status: String,
    input: String,
    units: i64,
    reservation_id: String,
    idempotency_key: Option<String>,
    callback_token_hash: String,
    webhook_url: Option<String>,
    attempts: i64,
    next_check_at: i64,
    deadline_at: i64,
    error: Option<String>,
    artifact_id: Option<String>,
    duration_seconds: Option<f64>,
    created_at: i64,
    updated_at: i64,
    finished_at: Option<i64>,
    version: i64,
}

impl JobRow {
    fn into_domain(self) -> Result<Job> {
        Ok(Job {
            kind: parsed("job kind", &self.kind, JobKind::parse)?,
            provider: parsed("job provider", &self.provider, Provider::parse)?,
            status: parsed("job status", &self.status, JobStatus::parse)?,
            input: from_json("job input", &self.input)?,
            units: count("job units", self.units)?,
            attempts: u32::try_from(self.attempts)
                .map_err(|_| corrupt("job attempts", self.attempts))?,
            next_check_at: time("job next_check_at", self.next_check_at)?,
            deadline_at: time("job deadline_at", self.deadline_at)?,
            error: self
                .error
                .as_deref()
                .map(|t| from_json::<JobError>("job error", t))
                .transpose()?,
            created_at: time("job created_at", self.created_at)?,
            updated_at: time("job updated_at", self.updated_at)?,
            finished_at: opt_time("job finished_at", self.finished_at)?,
            version: count("job version", self.version)?,
            id: self.id,
            instance_id: self.instance_id,
            agent_id: self.agent_id,
            model_id: self.model_id,
            provider_job_id: self.provider_job_id,
            reservation_id: self.reservation_id,
            idempotency_key: self.idempotency_key,
            callback_token_hash: self.callback_token_hash,
            webhook_url: self.webhook_url,
            artifact_id: self.artifact_id,
            duration_seconds: self.duration_seconds,
        })
    }
}

/// The job's values in `COLS` order (?1 … ?24).
fn job_params(j: &Job) -> Result<Vec<V>> {
    Ok(params![
        &j.id,
        &j.instance_id,
        &j.agent_id,
        j.kind.as_str(),
        &j.model_id,
        j.provider.as_str(),
        j.provider_job_id.clone(),
        j.status.as_str(),
        to_json(&j.input)?,
        checked("units", j.units)?,
        &j.reservation_id,
        j.idempotency_key.clone(),
        &j.callback_token_hash,
        j.webhook_url.clone(),
        i64::from(j.attempts),
        ms(j.next_check_at),
        ms(j.deadline_at),
        j.error.as_ref().map(to_json).transpose()?,
        j.artifact_id.clone(),
        j.duration_seconds,
        ms(j.created_at),
        ms(j.updated_at),
        j.finished_at.map(ms),
        checked("version", j.version)?,
    ])
}

/// A unique violation on insert or update, in client terms (D1 names the clashing columns).
fn clash(text: &str, job: &Job) -> String {
    if text.contains("idempotency_key") {
        "a job with this idempotency key already exists".to_owned()
    } else {
        format!("job '{}' already exists", job.id)
    }
}

/// `'queued', 'processing'` or `'ready', 'failed', 'canceled'`: fixed spellings, safe inline.
fn statuses(is_final: bool) -> String {
    JobStatus::ALL
        .into_iter()
        .filter(|s| s.is_final() == is_final)
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl JobStore for D1Store {
    async fn insert_job(&self, job: &Job) -> Result<()> {
        let sql = format!(
            "INSERT INTO jobs ({COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,\
             ?16,?17,?18,?19,?20,?21,?22,?23,?24)"
        );
        self.db
            .run(&sql, job_params(job)?, |text| clash(text, job))
            .await?;
        Ok(())
    }

    async fn get_job(&self, id: &str) -> Result<Option<Job>> {
        let sql = format!("SELECT {COLS} FROM jobs WHERE id = ?1");
        let row: Option<JobRow> = self.db.row(&sql, params![id]).await?;
        row.map(JobRow::into_domain).transpose()
    }

    async fn find_job_by_idempotency_key(&self, agent_id: &str, key: &str) -> Result<Option<Job>> {
        let sql = format!("SELECT {COLS} FROM jobs WHERE agent_id = ?1 AND idempotency_key = ?2");
        let row: Option<JobRow> = self.db.row(&sql, params![agent_id, key]).await?;
        row.map(JobRow::into_domain).transpose()
    }

    async fn list_jobs(&self, q: &JobQuery) -> Result<Vec<Job>> {
        let sql = format!(
            "SELECT {COLS} FROM jobs WHERE agent_id = ?1 AND (?2 IS NULL OR kind = ?2) \
             AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR id < ?4) \
             ORDER BY id DESC LIMIT ?5"
        );
        let values = params![
            &q.agent_id,
            q.kind.map(JobKind::as_str),
            q.status.map(JobStatus::as_str),
            q.before.clone(),
            i64::from(q.limit),
        ];
        all(self.db.rows(&sql, values).await?, JobRow::into_domain)
    }

    async fn update_job(&self, job: &Job, expected_version: u64) -> Result<bool> {
        let expected = checked("expected_version", expected_version)?;
        let mut values = job_params(&Job {
            version: expected_version.saturating_add(1),
            ..job.clone()
        })?;
        values.push(V::Int(expected));
        let sql = format!(
            "UPDATE jobs SET instance_id = ?2, agent_id = ?3, kind = ?4, model_id = ?5, \
             provider = ?6, provider_job_id = ?7, status = ?8, input = ?9, units = ?10, \
             reservation_id = ?11, idempotency_key = ?12, callback_token_hash = ?13, \
             webhook_url = ?14, attempts = ?15, next_check_at = ?16, deadline_at = ?17, \
             error = ?18, artifact_id = ?19, duration_seconds = ?20, created_at = ?21, \
             updated_at = ?22, finished_at = ?23, version = ?24 \
             WHERE id = ?1 AND version = ?25 AND status NOT IN ({})",
            statuses(true)
        );
        let changed = self.db.run(&sql, values, |text| clash(text, job)).await?;
        if changed > 0 {
            return Ok(true);
        }
        // Nothing changed: a stale version, a final job, or no job at all.
        #[derive(Deserialize)]
        struct Id {
            #[allow(dead_code)]
            id: String,
        }
        let exists: Option<Id> = self
            .db
            .row("SELECT id FROM jobs WHERE id = ?1", params![&job.id])
            .await?;
        match exists {
            Some(_) => Ok(false),
            None => Err(Error::not_found("job", &job.id)),
        }
    }

    async fn due_jobs(&self, now: Timestamp, limit: u32) -> Result<Vec<Job>> {
        let sql = format!(
            "SELECT {COLS} FROM jobs WHERE status IN ({}) AND next_check_at <= ?1 \
             ORDER BY next_check_at, id LIMIT ?2",
            statuses(false)
        );
        all(
            self.db
                .rows(&sql, params![ms(now), i64::from(limit)])
                .await?,
            JobRow::into_domain,
        )
    }
}
