//! `AgentStore`.

use async_trait::async_trait;
use molts_core::domain::Agent;
use molts_core::ports::{AgentQuery, AgentStore};
use molts_core::{Error, Result};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, Order, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entity::{agent, api_key};
use crate::error::{from_db, on_write};
use crate::{SeaOrmStore, convert, sort_key};

const EMAIL_TAKEN: &str = "an agent with this id or email already exists";

#[async_trait]
impl AgentStore for SeaOrmStore {
    async fn insert_agent(&self, a: &Agent) -> Result<()> {
        agent::Entity::insert(convert::agent_row(a).into_active_model().reset_all())
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| on_write(e, || EMAIL_TAKEN.to_owned()))?;
        Ok(())
    }

    async fn get_agent(&self, id: &str) -> Result<Option<Agent>> {
        let row = agent::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(from_db)?;
        Ok(row.map(convert::agent).transpose()?)
    }

    async fn list_agents(&self, q: &AgentQuery) -> Result<Vec<Agent>> {
        let backend = self.backend();
        let mut select = agent::Entity::find();
        if let Some(instance_id) = &q.instance_id {
            select = select.filter(agent::Column::InstanceId.eq(instance_id));
        }
        if let Some(project_id) = &q.project_id {
            select = select.filter(agent::Column::ProjectId.eq(project_id));
        }
        if let Some(tier_id) = &q.tier_id {
            select = select.filter(agent::Column::TierId.eq(tier_id));
        }
        if let Some(status) = q.status {
            select = select.filter(agent::Column::Status.eq(status.as_str()));
        }
        if let Some(after) = &q.after {
            // Compared in the same order the list is sorted in, so pages never skip or repeat.
            select = select.filter(Expr::expr(sort_key(backend, agent::Column::Id)).gt(after));
        }
        let rows = select
            .order_by(sort_key(backend, agent::Column::Id), Order::Asc)
            .limit(u64::from(q.limit))
            .all(&self.db)
            .await
            .map_err(from_db)?;
        Ok(rows
            .into_iter()
            .map(convert::agent)
            .collect::<Result<_, _>>()?)
    }

    async fn update_agent(&self, a: &Agent) -> Result<()> {
        let done = agent::Entity::update_many()
            .set(convert::agent_row(a).into_active_model().reset_all())
            .filter(agent::Column::Id.eq(&a.id))
            .exec(&self.db)
            .await
            .map_err(|e| on_write(e, || EMAIL_TAKEN.to_owned()))?;
        if done.rows_affected == 0 {
            return Err(Error::not_found("agent", &a.id));
        }
        Ok(())
    }

    async fn delete_agent(&self, id: &str) -> Result<bool> {
        // Keys go with their agent, atomically: a key must never outlive the agent it names.
        let txn = self.begin().await?;
        api_key::Entity::delete_many()
            .filter(api_key::Column::AgentId.eq(id))
            .exec(&txn)
            .await
            .map_err(from_db)?;
        let done = agent::Entity::delete_by_id(id)
            .exec(&txn)
            .await
            .map_err(from_db)?;
        txn.commit().await.map_err(from_db)?;
        Ok(done.rows_affected > 0)
    }
}
