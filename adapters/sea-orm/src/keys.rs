//! `ApiKeyStore` and `AdminKeyStore`.

use async_trait::async_trait;
use molts_core::domain::{AdminKey, ApiKey};
use molts_core::ports::{AdminKeyStore, ApiKeyStore};
use molts_core::{Result, Timestamp};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, Order, QueryFilter, QueryOrder,
};

use crate::convert::{self, ms};
use crate::entity::{admin_key, api_key};
use crate::error::{from_db, on_write};
use crate::{SeaOrmStore, sort_key};

#[async_trait]
impl ApiKeyStore for SeaOrmStore {
    async fn insert_api_key(&self, key: &ApiKey) -> Result<()> {
        api_key::Entity::insert(convert::api_key_row(key).into_active_model().reset_all())
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| on_write(e, || format!("key '{}' already exists", key.id)))?;
        Ok(())
    }

    async fn find_api_keys_by_prefix(&self, prefix: &str) -> Result<Vec<ApiKey>> {
        let rows = api_key::Entity::find()
            .filter(api_key::Column::Prefix.eq(prefix))
            .order_by(sort_key(self.backend(), api_key::Column::Id), Order::Asc)
            .all(&self.db)
            .await
            .map_err(from_db)?;
        Ok(rows
            .into_iter()
            .map(convert::api_key)
            .collect::<Result<_, _>>()?)
    }

    async fn list_api_keys(&self, agent_id: &str) -> Result<Vec<ApiKey>> {
        let rows = api_key::Entity::find()
            .filter(api_key::Column::AgentId.eq(agent_id))
            .order_by(sort_key(self.backend(), api_key::Column::Id), Order::Asc)
            .all(&self.db)
            .await
            .map_err(from_db)?;
        Ok(rows
            .into_iter()
            .map(convert::api_key)
            .collect::<Result<_, _>>()?)
    }

    async fn revoke_api_key(&self, agent_id: &str, key_id: &str, at: Timestamp) -> Result<bool> {
        // One conditional update: revoking twice, or someone else's key, changes nothing.
        let done = api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(ms(at)))
            .filter(api_key::Column::Id.eq(key_id))
            .filter(api_key::Column::AgentId.eq(agent_id))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(from_db)?;
        Ok(done.rows_affected > 0)
    }
}

#[async_trait]
impl AdminKeyStore for SeaOrmStore {
    async fn insert_admin_key(&self, key: &AdminKey) -> Result<()> {
        admin_key::Entity::insert(convert::admin_key_row(key).into_active_model().reset_all())
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| on_write(e, || format!("admin key '{}' already exists", key.id)))?;
        Ok(())
    }

    async fn find_admin_keys_by_prefix(&self, prefix: &str) -> Result<Vec<AdminKey>> {
        let rows = admin_key::Entity::find()
            .filter(admin_key::Column::Prefix.eq(prefix))
            .order_by(sort_key(self.backend(), admin_key::Column::Id), Order::Asc)
            .all(&self.db)
            .await
            .map_err(from_db)?;
        Ok(rows
            .into_iter()
            .map(convert::admin_key)
            .collect::<Result<_, _>>()?)
    }

    async fn list_admin_keys(&self) -> Result<Vec<AdminKey>> {
        let rows = admin_key::Entity::find()
            .order_by(sort_key(self.backend(), admin_key::Column::Id), Order::Asc)
            .all(&self.db)
            .await
            .map_err(from_db)?;
        Ok(rows
            .into_iter()
            .map(convert::admin_key)
            .collect::<Result<_, _>>()?)
    }

    async fn revoke_admin_key(&self, id: &str, at: Timestamp) -> Result<bool> {
        let done = admin_key::Entity::update_many()
            .col_expr(admin_key::Column::RevokedAt, Expr::value(ms(at)))
            .filter(admin_key::Column::Id.eq(id))
            .filter(admin_key::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(from_db)?;
        Ok(done.rows_affected > 0)
    }
}
