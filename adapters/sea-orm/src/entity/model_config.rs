//! The `model_configs` table: what a request's `model` names and how it is served.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "model_configs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub provider: String,
    pub modality: String,
    pub provider_model: String,
    pub display_name: String,
    pub description: String,
    /// JSON array of tags.
    pub capabilities: String,
    /// JSON object.
    pub pricing: String,
    pub status: String,
    pub enabled: bool,
    /// JSON value, when the provider is a template.
    pub payload_mapping: Option<String>,
    /// JSON array of model ids.
    pub fallbacks: String,
    pub alias: Option<String>,
    pub weight: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
