//! `TierStore` and `ModelConfigStore`.

use async_trait::async_trait;
use molts_core::domain::{ModelConfig, ModelFilter, Tier};
use molts_core::ports::{ModelConfigStore, TierStore};
use molts_core::{Error, Result};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, Order, QueryFilter, QueryOrder,
};

use crate::entity::{model_config, tier};
use crate::error::{from_db, on_write};
use crate::{SeaOrmStore, convert, sort_key};

#[async_trait]
impl TierStore for SeaOrmStore {
    async fn insert_tier(&self, t: &Tier) -> Result<()> {
        tier::Entity::insert(convert::tier_row(t)?.into_active_model().reset_all())
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| on_write(e, || format!("tier '{}' already exists", t.id)))?;
        Ok(())
    }

    async fn get_tier(&self, id: &str) -> Result<Option<Tier>> {
        let row = tier::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(from_db)?;
        Ok(row.map(convert::tier).transpose()?)
    }

    async fn list_tiers(&self) -> Result<Vec<Tier>> {
        let rows = tier::Entity::find()
            .order_by(sort_key(self.backend(), tier::Column::Id), Order::Asc)
            .all(&self.db)
            .await
            .map_err(from_db)?;
        Ok(rows
            .into_iter()
            .map(convert::tier)
            .collect::<Result<_, _>>()?)
    }

    async fn update_tier(&self, t: &Tier) -> Result<()> {
        let done = tier::Entity::update_many()
            .set(convert::tier_row(t)?.into_active_model().reset_all())
            .filter(tier::Column::Id.eq(&t.id))
            .exec(&self.db)
            .await
            .map_err(from_db)?;
        if done.rows_affected == 0 {
            return Err(Error::not_found("tier", &t.id));
        }
        Ok(())
    }

    async fn delete_tier(&self, id: &str) -> Result<bool> {
        let done = tier::Entity::delete_by_id(id)
            .exec(&self.db)
            .await
            .map_err(from_db)?;
        Ok(done.rows_affected > 0)
    }
}

#[async_trait]
impl ModelConfigStore for SeaOrmStore {
    async fn insert_model(&self, m: &ModelConfig) -> Result<()> {
        model_config::Entity::insert(convert::model_row(m)?.into_active_model().reset_all())
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| on_write(e, || format!("model '{}' already exists", m.id)))?;
        Ok(())
    }

    async fn get_model(&self, id: &str) -> Result<Option<ModelConfig>> {
        let row = model_config::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(from_db)?;
        Ok(row.map(convert::model).transpose()?)
    }

    async fn list_models(&self, filter: &ModelFilter) -> Result<Vec<ModelConfig>> {
        let mut select = model_config::Entity::find();
        if let Some(modality) = filter.modality {
            select = select.filter(model_config::Column::Modality.eq(modality.as_str()));
        }
        if let Some(status) = filter.status {
            select = select.filter(model_config::Column::Status.eq(status.as_str()));
        }
        if let Some(provider) = filter.provider {
            select = select.filter(model_config::Column::Provider.eq(provider.as_str()));
        }
        if filter.enabled_only {
            select = select.filter(model_config::Column::Enabled.eq(true));
        }
        if let Some(alias) = &filter.alias {
            select = select.filter(model_config::Column::Alias.eq(alias.as_str()));
        }
        let rows = select
            .order_by(
                sort_key(self.backend(), model_config::Column::Id),
                Order::Asc,
            )
            .all(&self.db)
            .await
            .map_err(from_db)?;
        Ok(rows
            .into_iter()
            .map(convert::model)
            .collect::<Result<_, _>>()?)
    }

    async fn update_model(&self, m: &ModelConfig) -> Result<()> {
        let done = model_config::Entity::update_many()
            .set(convert::model_row(m)?.into_active_model().reset_all())
            .filter(model_config::Column::Id.eq(&m.id))
            .exec(&self.db)
            .await
            .map_err(from_db)?;
        if done.rows_affected == 0 {
            return Err(Error::not_found("model", &m.id));
        }
        Ok(())
    }

    async fn delete_model(&self, id: &str) -> Result<bool> {
        let done = model_config::Entity::delete_by_id(id)
            .exec(&self.db)
            .await
            .map_err(from_db)?;
        Ok(done.rows_affected > 0)
    }
}
