//! `InstanceStore` and `ProjectStore`.

use async_trait::async_trait;
use molts_core::domain::{Instance, Project};
use molts_core::ports::{InstanceStore, ProjectStore};
use molts_core::{Error, Result};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, Order, QueryFilter, QueryOrder,
    sea_query::Expr,
};

use crate::SeaOrmStore;
use crate::convert;
use crate::entity::{agent, instance, project};
use crate::error::{from_db, on_write};

#[async_trait]
impl InstanceStore for SeaOrmStore {
    async fn insert_instance(&self, i: &Instance) -> Result<()> {
        let row = convert::instance_row(i)?.into_active_model().reset_all();
        instance::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| on_write(e, || format!("instance '{}' already exists", i.id)))?;
        Ok(())
    }

    async fn get_instance(&self, id: &str) -> Result<Option<Instance>> {
        let row = instance::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(from_db)?;
        Ok(row.map(convert::instance).transpose()?)
    }

    async fn list_instances(&self) -> Result<Vec<Instance>> {
        let rows = instance::Entity::find()
            .order_by(
                crate::sort_key(self.backend(), instance::Column::Id),
                Order::Asc,
            )
            .all(&self.db)
            .await
            .map_err(from_db)?;
        Ok(rows
            .into_iter()
            .map(convert::instance)
            .collect::<Result<_, _>>()?)
    }

    async fn update_instance(&self, i: &Instance) -> Result<()> {
        let row = convert::instance_row(i)?.into_active_model().reset_all();
        let done = instance::Entity::update_many()
            .set(row)
            .filter(instance::Column::Id.eq(&i.id))
            .exec(&self.db)
            .await
            .map_err(from_db)?;
        if done.rows_affected == 0 {
            return Err(Error::not_found("instance", &i.id));
        }
        Ok(())
    }

    async fn delete_instance(&self, id: &str) -> Result<bool> {
        let done = instance::Entity::delete_by_id(id)
            .exec(&self.db)
            .await
            .map_err(from_db)?;
        Ok(done.rows_affected > 0)
    }
}

#[async_trait]
impl ProjectStore for SeaOrmStore {
    async fn insert_project(&self, p: &Project) -> Result<()> {
        project::Entity::insert(convert::project_row(p).into_active_model().reset_all())
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| on_write(e, || format!("project '{}' already exists", p.name)))?;
        Ok(())
    }

    async fn get_project(&self, id: &str) -> Result<Option<Project>> {
        let row = project::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(from_db)?;
        Ok(row.map(convert::project).transpose()?)
    }

    async fn list_projects(&self, instance_id: &str) -> Result<Vec<Project>> {
        let rows = project::Entity::find()
            .filter(project::Column::InstanceId.eq(instance_id))
            .order_by(
                crate::sort_key(self.backend(), project::Column::Id),
                Order::Asc,
            )
            .all(&self.db)
            .await
            .map_err(from_db)?;
        Ok(rows
            .into_iter()
            .map(convert::project)
            .collect::<Result<_, _>>()?)
    }

    async fn delete_project(&self, id: &str) -> Result<bool> {
        // Delete first: the transaction's first statement is a write (see the crate docs).
        let txn = self.begin().await?;
        let done = project::Entity::delete_by_id(id)
            .exec(&txn)
            .await
            .map_err(from_db)?;
        if done.rows_affected > 0 {
            agent::Entity::update_many()
                .col_expr(
                    agent::Column::ProjectId,
                    Expr::value(Option::<String>::None),
                )
                .filter(agent::Column::ProjectId.eq(id))
                .exec(&txn)
                .await
                .map_err(from_db)?;
        }
        txn.commit().await.map_err(from_db)?;
        Ok(done.rows_affected > 0)
    }
}
