//! The request log (issue 16): one row per API request, written in batches off the request
//! path. Ids are time-ordered (`req_` + UUIDv7), so the primary key is the listing order and
//! retention deletes by a range of it; `idx_request_log_instance` and `idx_request_log_agent`
//! serve the admin's and the agent's listings (newest first within their scope), and
//! `idx_request_log_job` a job's requests. No body is stored unless the operator keeps prompts.

use sea_orm_migration::prelude::*;

use crate::{SchemaStatement, Step};

/// This migration as data.
pub(crate) const STEP: Step = Step {
    name: "m20261208_000007_request_log",
    statements,
    tables: &["request_log"],
};

#[derive(DeriveIden)]
enum RequestLog {
    Table,
    Id,
    RequestId,
    At,
    InstanceId,
    Caller,
    AgentId,
    KeyId,
    KeyPrefix,
    Method,
    Route,
    Model,
    Provider,
    Attempts,
    Status,
    ErrorCode,
    LatencyMs,
    Unit,
    UnitsHeld,
    UnitsCharged,
    Streamed,
    BytesIn,
    BytesOut,
    JobId,
    Prompt,
}

fn statements() -> Vec<SchemaStatement> {
    let text = |c| ColumnDef::new(c).text().not_null().to_owned();
    let text_null = |c| ColumnDef::new(c).text().null().to_owned();
    let big = |c| ColumnDef::new(c).big_integer().not_null().to_owned();
    use RequestLog as R;
    let index = |name: &str, cols: Vec<R>| {
        let mut index = Index::create();
        index.name(name).table(R::Table).if_not_exists();
        for col in cols {
            index.col(col);
        }
        SchemaStatement::Index(index.to_owned())
    };
    vec![
        SchemaStatement::Table(
            Table::create()
                .table(R::Table)
                .if_not_exists()
                .col(ColumnDef::new(R::Id).text().not_null().primary_key())
                .col(text(R::RequestId))
                .col(big(R::At))
                .col(text_null(R::InstanceId))
                .col(text(R::Caller))
                .col(text_null(R::AgentId))
                .col(text_null(R::KeyId))
                .col(text_null(R::KeyPrefix))
                .col(text(R::Method))
                .col(text(R::Route))
                .col(text_null(R::Model))
                .col(text_null(R::Provider))
                .col(text(R::Attempts))
                .col(big(R::Status))
                .col(text_null(R::ErrorCode))
                .col(big(R::LatencyMs))
                .col(text_null(R::Unit))
                .col(big(R::UnitsHeld))
                .col(big(R::UnitsCharged))
                .col(ColumnDef::new(R::Streamed).boolean().not_null())
                .col(big(R::BytesIn))
                .col(big(R::BytesOut))
                .col(text_null(R::JobId))
                .col(text_null(R::Prompt))
                .to_owned(),
        ),
        index("idx_request_log_instance", vec![R::InstanceId, R::Id]),
        index("idx_request_log_agent", vec![R::AgentId, R::Id]),
        index("idx_request_log_job", vec![R::JobId]),
    ]
}
