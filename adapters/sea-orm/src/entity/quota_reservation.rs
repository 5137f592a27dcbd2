//! The `quota_reservations` table: units held for one piece of work, then settled or refunded.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "quota_reservations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub agent_id: String,
    pub unit: String,
    pub reserved: i64,
    pub charged: Option<i64>,
    pub state: String,
    pub day_key: String,
    pub month_key: String,
    pub created_at: i64,
    pub closed_at: Option<i64>,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
