//! `RequestLogStore` over sea-orm: a batch is one multi-row insert (one transaction); lists
//! walk the scope's index (`instance_id, id` or `agent_id, id`) newest first with the other
//! filters applied on the way; forgetting deletes the oldest ids below the cutoff's first id.

use async_trait::async_trait;
use molts_core::domain::{
    Caller, RequestQuery, RequestRecord, Unit, attempts_from_json, attempts_to_json,
};
use molts_core::ids::id_floor;
use molts_core::ports::RequestLogStore;
use molts_core::{ErrorCode, Result, Timestamp};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, Order, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::convert::{Read, count, ms, parsed, read_count, time};
use crate::entity::request_log::{self as row, Column as C};
use crate::error::{StoreError, from_db, on_write};
use crate::{SeaOrmStore, sort_key};

fn to_row(r: &RequestRecord) -> Result<row::Model> {
    Ok(row::Model {
        id: r.id.clone(),
        request_id: r.request_id.clone(),
        at: ms(r.at),
        instance_id: r.instance_id.clone(),
        caller: r.caller.as_str().to_owned(),
        agent_id: r.agent_id.clone(),
        key_id: r.key_id.clone(),
        key_prefix: r.key_prefix.clone(),
        method: r.method.clone(),
        route: r.route.clone(),
        model: r.model.clone(),
        provider: r.provider.map(|p| p.as_str().to_owned()),
        attempts: attempts_to_json(&r.attempts),
        status: i64::from(r.status),
        error_code: r.error_code.map(|c| c.as_str().to_owned()),
        latency_ms: count("latency_ms", r.latency_ms)?,
        unit: r.unit.map(|u| u.as_str().to_owned()),
        units_held: count("units_held", r.units_held)?,
        units_charged: count("units_charged", r.units_charged)?,
        streamed: r.streamed,
        bytes_in: count("bytes_in", r.bytes_in)?,
        bytes_out: count("bytes_out", r.bytes_out)?,
        job_id: r.job_id.clone(),
        prompt: r.prompt.clone(),
    })
}

fn from_row(m: row::Model) -> Read<RequestRecord> {
    Ok(RequestRecord {
        at: time("request at", m.at)?,
        caller: parsed("request caller", &m.caller, Caller::parse)?,
        provider: m
            .provider
            .as_deref()
            .map(|p| parsed("request provider", p, molts_core::domain::Provider::parse))
            .transpose()?,
        attempts: attempts_from_json(&m.attempts)
            .ok_or_else(|| StoreError::corrupt("request attempts", &m.attempts))?,
        status: u16::try_from(m.status).map_err(|_| StoreError::corrupt("status", m.status))?,
        error_code: m
            .error_code
            .as_deref()
            .map(|c| parsed("request error code", c, ErrorCode::parse))
            .transpose()?,
        latency_ms: read_count("latency_ms", m.latency_ms)?,
        unit: m
            .unit
            .as_deref()
            .map(|u| parsed("request unit", u, Unit::parse))
            .transpose()?,
        units_held: read_count("units_held", m.units_held)?,
        units_charged: read_count("units_charged", m.units_charged)?,
        bytes_in: read_count("bytes_in", m.bytes_in)?,
        bytes_out: read_count("bytes_out", m.bytes_out)?,
        id: m.id,
        request_id: m.request_id,
        instance_id: m.instance_id,
        agent_id: m.agent_id,
        key_id: m.key_id,
        key_prefix: m.key_prefix,
        method: m.method,
        route: m.route,
        model: m.model,
        streamed: m.streamed,
        job_id: m.job_id,
        prompt: m.prompt,
    })
}

#[async_trait]
impl RequestLogStore for SeaOrmStore {
    async fn append_requests(&self, records: &[RequestRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let rows = records
            .iter()
            .map(|r| to_row(r).map(|m| m.into_active_model().reset_all()))
            .collect::<Result<Vec<_>>>()?;
        // SQLite binds at most 32766 values a statement: 24 columns × 256 rows stay well under.
        let _turn = self.write_turn().await;
        row::Entity::insert_many(rows)
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| on_write(e, || "a request record's id is already logged".to_owned()))?;
        Ok(())
    }

    async fn list_requests(&self, q: &RequestQuery) -> Result<Vec<RequestRecord>> {
        let backend = self.backend();
        let mut select = row::Entity::find();
        let text =
            |select: sea_orm::Select<row::Entity>, col: C, value: &Option<String>| match value {
                Some(v) => select.filter(col.eq(v.as_str())),
                None => select,
            };
        select = text(select, C::InstanceId, &q.instance_id);
        select = text(select, C::AgentId, &q.agent_id);
        select = text(select, C::KeyId, &q.key_id);
        select = text(select, C::Model, &q.model);
        select = text(select, C::JobId, &q.job_id);
        if let Some(p) = q.provider {
            select = select.filter(C::Provider.eq(p.as_str()));
        }
        if let Some(s) = q.status {
            let (low, high) = s.range();
            select = select.filter(C::Status.between(i64::from(low), i64::from(high)));
        }
        if let Some(code) = q.error_code {
            select = select.filter(C::ErrorCode.eq(code.as_str()));
        }
        // The time range as an id range too: the scope's index is ordered by id.
        if let Some(from) = q.from {
            select = select
                .filter(C::At.gte(ms(from)))
                .filter(Expr::expr(sort_key(backend, C::Id)).gte(id_floor("req", from)));
        }
        if let Some(to) = q.to {
            select = select.filter(C::At.lt(ms(to)));
        }
        if let Some(before) = &q.before {
            select = select.filter(Expr::expr(sort_key(backend, C::Id)).lt(before.as_str()));
        }
        let found = select
            .order_by(sort_key(backend, C::Id), Order::Desc)
            .limit(u64::from(q.limit))
            .all(&self.db)
            .await
            .map_err(from_db)?;
        Ok(found.into_iter().map(from_row).collect::<Read<Vec<_>>>()?)
    }

    async fn forget_requests_before(&self, before: Timestamp, limit: u32) -> Result<u64> {
        let backend = self.backend();
        // The oldest ids first, never past the cutoff's first id: a range of the primary key.
        let old: Vec<String> = row::Entity::find()
            .select_only()
            .column(C::Id)
            .filter(Expr::expr(sort_key(backend, C::Id)).lt(id_floor("req", before)))
            .filter(C::At.lt(ms(before)))
            .order_by(sort_key(backend, C::Id), Order::Asc)
            .limit(u64::from(limit))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(from_db)?;
        if old.is_empty() {
            return Ok(0);
        }
        let _turn = self.write_turn().await;
        let done = row::Entity::delete_many()
            .filter(C::Id.is_in(old))
            .exec(&self.db)
            .await
            .map_err(from_db)?;
        Ok(done.rows_affected)
    }
}
