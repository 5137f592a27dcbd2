//! The `tiers` table: limits per unit and period (JSON text) and a request rate.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tiers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub description: String,
    /// JSON object: unit -> period -> number or "unlimited".
    pub limits: String,
    pub requests_per_minute: Option<i64>,
    /// Bytes of uploads allowed; NULL is unlimited.
    pub storage_bytes: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
