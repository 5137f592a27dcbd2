//! `ProviderKeyStore` over sea-orm: one row per (instance, provider), replaced on update.

use async_trait::async_trait;
use molts_core::Result;
use molts_core::domain::{InstanceProviderKey, Provider};
use molts_core::ports::ProviderKeyStore;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};

use crate::SeaOrmStore;
use crate::convert::{ms, time};
use crate::entity::instance_provider_key::{self as row, Column as C};
use crate::error::{StoreError, from_db};

fn to_row(k: &InstanceProviderKey) -> row::Model {
    row::Model {
        instance_id: k.instance_id.clone(),
        provider: k.provider.as_str().to_owned(),
        sealed_key: k.sealed_key.clone(),
        key_hint: k.key_hint.clone(),
        base_url: k.base_url.clone(),
        updated_at: ms(k.updated_at),
    }
}

fn from_row(m: row::Model) -> std::result::Result<InstanceProviderKey, StoreError> {
    Ok(InstanceProviderKey {
        provider: Provider::parse(&m.provider)
            .ok_or_else(|| StoreError::corrupt("provider key provider", &m.provider))?,
        updated_at: time("provider key updated_at", m.updated_at)?,
        instance_id: m.instance_id,
        sealed_key: m.sealed_key,
        key_hint: m.key_hint,
        base_url: m.base_url,
    })
}

#[async_trait]
impl ProviderKeyStore for SeaOrmStore {
    async fn put_provider_key(&self, key: &InstanceProviderKey) -> Result<()> {
        let upsert = OnConflict::columns([C::InstanceId, C::Provider])
            .update_columns([C::SealedKey, C::KeyHint, C::BaseUrl, C::UpdatedAt])
            .to_owned();
        row::Entity::insert(to_row(key).into_active_model())
            .on_conflict(upsert)
            .exec_without_returning(&self.db)
            .await
            .map_err(from_db)?;
        Ok(())
    }

    async fn list_provider_keys(&self, instance_id: &str) -> Result<Vec<InstanceProviderKey>> {
        let rows = row::Entity::find()
            .filter(C::InstanceId.eq(instance_id))
            .order_by_asc(C::Provider)
            .all(&self.db)
            .await
            .map_err(from_db)?;
        Ok(rows
            .into_iter()
            .map(from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    async fn delete_provider_key(&self, instance_id: &str, provider: Provider) -> Result<bool> {
        let done = row::Entity::delete_many()
            .filter(C::InstanceId.eq(instance_id))
            .filter(C::Provider.eq(provider.as_str()))
            .exec(&self.db)
            .await
            .map_err(from_db)?;
        Ok(done.rows_affected > 0)
    }
}
