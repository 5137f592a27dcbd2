//! `RequestLogStore` over D1: a batch of records is one D1 batch of single-row inserts (D1 binds
//! at most 100 values a statement, and a batch is one transaction); lists and forgetting are
//! the SQL stores' queries (`molts-sea-orm`'s `requests.rs`) in D1's `?N` form.

use async_trait::async_trait;
use molts_core::domain::{
    Caller, Provider, RequestQuery, RequestRecord, Unit, attempts_from_json, attempts_to_json,
};
use molts_core::ids::id_floor;
use molts_core::ports::RequestLogStore;
use molts_core::{ErrorCode, Result, Timestamp};
use serde::Deserialize;

use crate::D1Store;
use crate::rows::{all, corrupt, count, ms, parsed, time};
use crate::sql::{Stmt, V, checked, params};

const COLS: &str = "id, request_id, at, instance_id, caller, agent_id, key_id, key_prefix, \
                    method, route, model, provider, attempts, status, error_code, latency_ms, \
                    unit, units_held, units_charged, streamed, bytes_in, bytes_out, job_id, prompt";

#[derive(Deserialize)]
struct RequestRow {
    id: String,
    request_id: String,
    at: i64,
    instance_id: Option<String>,
    caller: String,
    agent_id: Option<String>,
    key_id: Option<String>,
    key_prefix: Option<String>,
    method: String,
    route: String,
    model: Option<String>,
    provider: Option<String>,
    attempts: String,
    status: i64,
    error_code: Option<String>,
    latency_ms: i64,
    unit: Option<String>,
    units_held: i64,
    units_charged: i64,
    streamed: i64,
    bytes_in: i64,
    bytes_out: i64,
    job_id: Option<String>,
    prompt: Option<String>,
}

impl RequestRow {
    fn into_domain(self) -> Result<RequestRecord> {
        Ok(RequestRecord {
            at: time("request at", self.at)?,
            caller: parsed("request caller", &self.caller, Caller::parse)?,
            provider: self
                .provider
                .as_deref()
                .map(|p| parsed("request provider", p, Provider::parse))
                .transpose()?,
            attempts: attempts_from_json(&self.attempts)
                .ok_or_else(|| corrupt("request attempts", &self.attempts))?,
            status: u16::try_from(self.status).map_err(|_| corrupt("status", self.status))?,
            error_code: self
                .error_code
                .as_deref()
                .map(|c| parsed("request error code", c, ErrorCode::parse))
                .transpose()?,
            latency_ms: count("latency_ms", self.latency_ms)?,
            unit: self
                .unit
                .as_deref()
                .map(|u| parsed("request unit", u, Unit::parse))
                .transpose()?,
            units_held: count("units_held", self.units_held)?,
            units_charged: count("units_charged", self.units_charged)?,
            streamed: self.streamed != 0,
            bytes_in: count("bytes_in", self.bytes_in)?,
            bytes_out: count("bytes_out", self.bytes_out)?,
            id: self.id,
            request_id: self.request_id,
            instance_id: self.instance_id,
            agent_id: self.agent_id,
            key_id: self.key_id,
            key_prefix: self.key_prefix,
            method: self.method,
            route: self.route,
            model: self.model,
            job_id: self.job_id,
            prompt: self.prompt,
        })
    }
}

fn values(r: &RequestRecord) -> Result<Vec<V>> {
    Ok(params![
        &r.id,
        &r.request_id,
        ms(r.at),
        r.instance_id.clone(),
        r.caller.as_str(),
        r.agent_id.clone(),
        r.key_id.clone(),
        r.key_prefix.clone(),
        &r.method,
        &r.route,
        r.model.clone(),
        r.provider.map(Provider::as_str),
        attempts_to_json(&r.attempts),
        i64::from(r.status),
        r.error_code.map(ErrorCode::as_str),
        checked("latency_ms", r.latency_ms)?,
        r.unit.map(Unit::as_str),
        checked("units_held", r.units_held)?,
        checked("units_charged", r.units_charged)?,
        r.streamed,
        checked("bytes_in", r.bytes_in)?,
        checked("bytes_out", r.bytes_out)?,
        r.job_id.clone(),
        r.prompt.clone(),
    ])
}

#[async_trait]
impl RequestLogStore for D1Store {
    async fn append_requests(&self, records: &[RequestRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let placeholders = (1..=24).map(|i| format!("?{i}")).collect::<Vec<_>>();
        let sql = format!(
            "INSERT INTO request_log ({COLS}) VALUES ({})",
            placeholders.join(",")
        );
        let stmts = records
            .iter()
            .map(|r| {
                Ok(Stmt {
                    sql: sql.clone(),
                    params: values(r)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.db
            .batch(stmts, |_| {
                "a request record's id is already logged".to_owned()
            })
            .await?;
        Ok(())
    }

    async fn list_requests(&self, q: &RequestQuery) -> Result<Vec<RequestRecord>> {
        let (low, high) = q.status.map_or((0, 999), |s| s.range());
        let sql = format!(
            "SELECT {COLS} FROM request_log WHERE (?1 IS NULL OR instance_id = ?1) \
             AND (?2 IS NULL OR agent_id = ?2) AND (?3 IS NULL OR key_id = ?3) \
             AND (?4 IS NULL OR model = ?4) AND (?5 IS NULL OR job_id = ?5) \
             AND (?6 IS NULL OR provider = ?6) AND status BETWEEN ?7 AND ?8 \
             AND (?9 IS NULL OR error_code = ?9) \
             AND (?10 IS NULL OR (at >= ?10 AND id >= ?11)) AND (?12 IS NULL OR at < ?12) \
             AND (?13 IS NULL OR id < ?13) ORDER BY id DESC LIMIT ?14"
        );
        let values = params![
            q.instance_id.clone(),
            q.agent_id.clone(),
            q.key_id.clone(),
            q.model.clone(),
            q.job_id.clone(),
            q.provider.map(Provider::as_str),
            i64::from(low),
            i64::from(high),
            q.error_code.map(ErrorCode::as_str),
            q.from.map(ms),
            q.from.map(|f| id_floor("req", f)),
            q.to.map(ms),
            q.before.clone(),
            i64::from(q.limit),
        ];
        all(self.db.rows(&sql, values).await?, RequestRow::into_domain)
    }

    async fn forget_requests_before(&self, before: Timestamp, limit: u32) -> Result<u64> {
        let changed = self
            .db
            .run(
                "DELETE FROM request_log WHERE id IN (SELECT id FROM request_log \
                 WHERE id < ?1 AND at < ?2 ORDER BY id LIMIT ?3)",
                params![id_floor("req", before), ms(before), i64::from(limit)],
                |_| String::new(),
            )
            .await?;
        Ok(changed as u64)
    }
}
