//! The `jobs` table: durable jobs, changed only by compare-and-swap on `version`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub instance_id: String,
    pub agent_id: String,
    pub kind: String,
    pub model_id: String,
    pub provider: String,
    pub provider_job_id: Option<String>,
    pub status: String,
    pub input: String,
    pub units: i64,
    pub reservation_id: String,
    pub idempotency_key: Option<String>,
    pub callback_token_hash: String,
    pub webhook_url: Option<String>,
    pub attempts: i64,
    pub next_check_at: i64,
    pub deadline_at: i64,
    pub error: Option<String>,
    pub artifact_id: Option<String>,
    pub duration_seconds: Option<f64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
