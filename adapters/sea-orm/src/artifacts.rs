//! `ArtifactStore` over sea-orm. Versions are unique per (agent, kind, name) by a unique index,
//! so two racing uploads cannot both take the next version: one insert fails with `Conflict`.

use async_trait::async_trait;
use molts_core::Result;
use molts_core::domain::{Artifact, ArtifactKind, ArtifactQuery};
use molts_core::ports::ArtifactStore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, Order, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::convert::{Read, count, ms, parsed, read_count, time};
use crate::entity::artifact::{self as row, Column as C};
use crate::error::{StoreError, from_db, on_write, violates};
use crate::{SeaOrmStore, sort_key};

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
        row::Entity::insert(to_row(artifact)?.into_active_model().reset_all())
            .exec_without_returning(&self.db)
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

    async fn delete_artifact(&self, id: &str) -> Result<bool> {
        let done = row::Entity::delete_by_id(id)
            .exec(&self.db)
            .await
            .map_err(from_db)?;
        Ok(done.rows_affected > 0)
    }
}
