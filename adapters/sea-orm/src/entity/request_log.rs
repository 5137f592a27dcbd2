//! The `request_log` table: one row per API request.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "request_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub request_id: String,
    pub at: i64,
    pub instance_id: Option<String>,
    pub caller: String,
    pub agent_id: Option<String>,
    pub key_id: Option<String>,
    pub key_prefix: Option<String>,
    pub method: String,
    pub route: String,
    pub model: Option<String>,
    pub provider: Option<String>,
    /// JSON array of `{provider, model, error, latency_ms}`.
    pub attempts: String,
    pub status: i64,
    pub error_code: Option<String>,
    pub latency_ms: i64,
    pub unit: Option<String>,
    pub units_held: i64,
    pub units_charged: i64,
    pub streamed: bool,
    pub bytes_in: i64,
    pub bytes_out: i64,
    pub job_id: Option<String>,
    pub prompt: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
