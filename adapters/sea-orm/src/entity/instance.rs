//! The `instances` table: tenants and their settings.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "instances")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub registration_mode: String,
    pub registration_token_hash: Option<String>,
    pub default_tier: String,
    /// JSON array of model ids; NULL means every enabled model.
    pub allowed_models: Option<String>,
    /// Bytes of uploads allowed; NULL is unlimited.
    pub storage_bytes: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
