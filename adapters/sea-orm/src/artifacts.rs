//! `ArtifactStore` over sea-orm. Versions are unique per (agent, kind, name) by a unique index,
//! so two racing uploads cannot both take the next version: one insert fails with `Conflict`.
//!
//! Storage counting: an upload's record and its bytes in `storage_usage` (one row per agent and
//! per instance) change in one transaction. Recording adds the size to each row with
//! `UPDATE … WHERE bytes + size <= cap`, agent row first, then instance row (one order, so no
//! deadlocks): a row that did not change is a full cap and the transaction is rolled back. On
//! PostgreSQL the first update locks the row and a racing one re-reads it after the commit, so
//! racing uploads never pass a cap together; on SQLite writers take turns anyway.

use async_trait::async_trait;
use molts_core::domain::{
    Artifact, ArtifactKind, ArtifactQuery, StorageLimits, StorageOutcome, StorageScope, StorageUsed,
};
use molts_core::ports::ArtifactStore;
use molts_core::{Result, Timestamp};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, Order,
    QueryFilter, QueryOrder, QuerySelect, Statement, Value,
};

use crate::convert::{Read, count, ms, parsed, read_count, time};
use crate::entity::artifact::{self as row, Column as C};
use crate::error::{StoreError, from_db, on_write, violates};
use crate::{SeaOrmStore, in_dialect, sort_key};

/// Both owners' rows, created at zero when missing. `$1`/`$2` the agent's scope and id, `$3`/`$4`
/// the instance's.
const ENSURE_USAGE: &str = "INSERT INTO storage_usage (scope, owner_id, bytes) \
VALUES ($1, $2, 0), ($3, $4, 0) ON CONFLICT (scope, owner_id) DO NOTHING";

/// Adds `$1` bytes to one owner's row if they fit under `$4` (`i64::MAX`: no cap).
const ADD_USAGE: &str = "UPDATE storage_usage SET bytes = bytes + $1 \
WHERE scope = $2 AND owner_id = $3 AND bytes + $1 <= $4";

/// Gives `$1` bytes back to both owners' rows, never below zero.
const RELEASE_USAGE: &str = "UPDATE storage_usage \
SET bytes = CASE WHEN bytes > $1 THEN bytes - $1 ELSE 0 END \
WHERE (scope = $2 AND owner_id = $3) OR (scope = $4 AND owner_id = $5)";

/// The rows of one agent and its instance.
const READ_USAGE: &str = "SELECT scope, bytes FROM storage_usage \
WHERE (scope = $1 AND owner_id = $2) OR (scope = $3 AND owner_id = $4)";

/// Forgets a record, answering what its bytes counted for.
const DELETE_RETURNING: &str = "DELETE FROM artifacts WHERE id = $1 \
RETURNING kind, agent_id, instance_id, size";

fn statement(backend: DbBackend, text: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(backend, in_dialect(backend, text), values)
}

/// The owners' values for `READ_USAGE`/`ENSURE_USAGE`.
fn owners(agent_id: &str, instance_id: &str) -> Vec<Value> {
    vec![
        StorageScope::Agent.as_str().into(),
        agent_id.into(),
        StorageScope::Instance.as_str().into(),
        instance_id.into(),
    ]
}

async fn read_usage(
    db: &impl ConnectionTrait,
    agent_id: &str,
    instance_id: &str,
) -> Result<StorageUsed> {
    let rows = db
        .query_all(statement(
            db.get_database_backend(),
            READ_USAGE,
            owners(agent_id, instance_id),
        ))
        .await
        .map_err(from_db)?;
    let mut used = StorageUsed::default();
    for row in rows {
        let scope: String = row.try_get("", "scope").map_err(from_db)?;
        let bytes: i64 = row.try_get("", "bytes").map_err(from_db)?;
        let bytes = read_count("storage bytes", bytes)?;
        match scope.as_str() {
            "agent" => used.agent = bytes,
            "instance" => used.instance = bytes,
            other => return Err(StoreError::corrupt("storage scope", other).into()),
        }
    }
    Ok(used)
}

fn to_row(a: &Artifact) -> Result<row::Model> {
    Ok(row::Model {
        id: a.id.clone(),
        instance_id: a.instance_id.clone(),
        agent_id: a.agent_id.clone(),
        kind: a.kind.as_str().to_owned(),
        job_id: a.job_id.clone(),
        name: a.name.clone(),
        version: i64::from(a.version),
        blob_key: a.blob_key.clone(),
        content_type: a.content_type.clone(),
        size: count("size", a.size)?,
        sha256: a.sha256.clone(),
        created_at: ms(a.created_at),
    })
}

fn from_row(m: row::Model) -> Read<Artifact> {
    Ok(Artifact {
        kind: parsed("artifact kind", &m.kind, ArtifactKind::parse)?,
        version: u32::try_from(m.version)
            .map_err(|_| StoreError::corrupt("artifact version", m.version))?,
        size: read_count("artifact size", m.size)?,
        created_at: time("artifact created_at", m.created_at)?,
        id: m.id,
        instance_id: m.instance_id,
        agent_id: m.agent_id,
        job_id: m.job_id,
        name: m.name,
        blob_key: m.blob_key,
        content_type: m.content_type,
        sha256: m.sha256,
    })
}

#[async_trait]
impl ArtifactStore for SeaOrmStore {
    async fn insert_artifact(&self, artifact: &Artifact) -> Result<()> {
        if artifact.kind == ArtifactKind::Upload {
            return self
                .insert_upload(artifact, StorageLimits::NONE)
                .await
                .map(|_| ());
        }
        insert_row(&self.db, artifact).await
    }

    async fn insert_upload(
        &self,
        artifact: &Artifact,
        limits: StorageLimits,
    ) -> Result<StorageOutcome> {
        if artifact.kind != ArtifactKind::Upload {
            insert_row(&self.db, artifact).await?;
            return Ok(StorageOutcome::Stored);
        }
        let backend = self.backend();
        let size = count("size", artifact.size)?;
        let _turn = self.write_turn().await;
        // The first statement writes (see the crate docs).
        let txn = self.begin().await?;
        txn.execute(statement(
            backend,
            ENSURE_USAGE,
            owners(&artifact.agent_id, &artifact.instance_id),
        ))
        .await
        .map_err(from_db)?;
        for (scope, owner) in [
            (StorageScope::Agent, &artifact.agent_id),
            (StorageScope::Instance, &artifact.instance_id),
        ] {
            // A cap beyond BIGINT cannot be reached; treat it as no cap.
            let cap = limits
                .of(scope)
                .and_then(|m| i64::try_from(m).ok())
                .unwrap_or(i64::MAX);
            let added = txn
                .execute(statement(
                    backend,
                    ADD_USAGE,
                    vec![
                        size.into(),
                        scope.as_str().into(),
                        owner.as_str().into(),
                        cap.into(),
                    ],
                ))
                .await
                .map_err(from_db)?;
            if added.rows_affected() == 0 {
                let used = read_usage(&txn, &artifact.agent_id, &artifact.instance_id).await?;
                txn.rollback().await.map_err(from_db)?;
                return Ok(StorageOutcome::Exceeded {
                    scope,
                    max: limits.of(scope).unwrap_or(u64::MAX),
                    used: used.of(scope),
                });
            }
        }
        // A taken id or version fails here, and dropping the transaction takes the bytes back.
        insert_row(&txn, artifact).await?;
        txn.commit().await.map_err(from_db)?;
        Ok(StorageOutcome::Stored)
    }

    async fn storage_used(&self, agent_id: &str, instance_id: &str) -> Result<StorageUsed> {
        read_usage(&self.db, agent_id, instance_id).await
    }

    async fn get_artifact(&self, id: &str) -> Result<Option<Artifact>> {
        let found = row::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(from_db)?;
        Ok(found.map(from_row).transpose()?)
    }

    async fn list_artifacts(&self, q: &ArtifactQuery) -> Result<Vec<Artifact>> {
        let backend = self.backend();
        let mut select = row::Entity::find().filter(C::AgentId.eq(&q.agent_id));
        if let Some(kind) = q.kind {
            select = select.filter(C::Kind.eq(kind.as_str()));
        }
        if let Some(name) = &q.name {
            select = select.filter(C::Name.eq(name));
        }
        if let Some(before) = &q.before {
            select = select.filter(Expr::expr(sort_key(backend, C::Id)).lt(before));
        }
        let found = select
            .order_by(sort_key(backend, C::Id), Order::Desc)
            .limit(u64::from(q.limit))
            .all(&self.db)
            .await
            .map_err(from_db)?;
        Ok(found.into_iter().map(from_row).collect::<Read<Vec<_>>>()?)
    }

    async fn latest_upload(&self, agent_id: &str, name: &str) -> Result<Option<Artifact>> {
        // The unique index's prefix (agent, kind, name) finds it, already ordered by version.
        let found = row::Entity::find()
            .filter(C::AgentId.eq(agent_id))
            .filter(C::Kind.eq(ArtifactKind::Upload.as_str()))
            .filter(C::Name.eq(name))
            .order_by_desc(C::Version)
            .limit(1)
            .one(&self.db)
            .await
            .map_err(from_db)?;
        Ok(found.map(from_row).transpose()?)
    }

    async fn outputs_created_before(&self, before: Timestamp, limit: u32) -> Result<Vec<Artifact>> {
        // `idx_artifacts_kind_created` answers it as a range, passing no uploads.
        let found = row::Entity::find()
            .filter(C::Kind.eq(ArtifactKind::Output.as_str()))
            .filter(C::CreatedAt.lt(ms(before)))
            .order_by_asc(C::CreatedAt)
            .order_by_asc(C::Id)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(from_db)?;
        Ok(found.into_iter().map(from_row).collect::<Read<Vec<_>>>()?)
    }

    async fn delete_artifact(&self, id: &str) -> Result<bool> {
        let backend = self.backend();
        let _turn = self.write_turn().await;
        let txn = self.begin().await?;
        let gone = txn
            .query_one(statement(backend, DELETE_RETURNING, vec![id.into()]))
            .await
            .map_err(from_db)?;
        let Some(gone) = gone else {
            txn.commit().await.map_err(from_db)?;
            return Ok(false);
        };
        let kind: String = gone.try_get("", "kind").map_err(from_db)?;
        if kind == ArtifactKind::Upload.as_str() {
            let agent_id: String = gone.try_get("", "agent_id").map_err(from_db)?;
            let instance_id: String = gone.try_get("", "instance_id").map_err(from_db)?;
            let size: i64 = gone.try_get("", "size").map_err(from_db)?;
            let mut values: Vec<Value> = vec![size.into()];
            values.extend(owners(&agent_id, &instance_id));
            txn.execute(statement(backend, RELEASE_USAGE, values))
                .await
                .map_err(from_db)?;
        }
        txn.commit().await.map_err(from_db)?;
        Ok(true)
    }
}

/// Inserts the record, reading a unique violation as `Conflict` naming what was taken.
async fn insert_row(db: &impl ConnectionTrait, artifact: &Artifact) -> Result<()> {
    row::Entity::insert(to_row(artifact)?.into_active_model().reset_all())
        .exec_without_returning(db)
        .await
        .map_err(|e| {
            let version_taken = violates(&e, "version");
            on_write(e, || {
                if version_taken {
                    format!(
                        "'{}' version {} already exists",
                        artifact.name, artifact.version
                    )
                } else {
                    format!("artifact '{}' already exists", artifact.id)
                }
            })
        })?;
    Ok(())
}
