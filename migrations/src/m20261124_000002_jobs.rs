//! Durable jobs, artifacts and outbound webhooks (issue #4).
//!
//! Same conventions as the initial schema: TEXT ids, BIGINT unix milliseconds, JSON as TEXT, no
//! foreign keys, everything `IF NOT EXISTS`. What the stores rely on:
//! - `ux_jobs_agent_idempotency`: two racing submissions with one `Idempotency-Key` store one job.
//!   Jobs without a key never clash: SQLite and PostgreSQL both treat NULLs as distinct.
//! - `ux_artifacts_agent_kind_name_version`: two racing uploads cannot take the same version.
//! - `idx_jobs_due` and `idx_webhook_deliveries_due`: the scheduled hook's sweeps.

use sea_orm_migration::prelude::*;

use crate::{SchemaStatement, Step};

/// This migration as data.
pub(crate) const STEP: Step = Step {
    name: "m20261124_000002_jobs",
    statements,
    tables: &[
        "jobs",
        "artifacts",
        "webhook_endpoints",
        "webhook_deliveries",
    ],
};

fn statements() -> Vec<SchemaStatement> {
    tables()
        .into_iter()
        .map(SchemaStatement::Table)
        .chain(indexes().into_iter().map(SchemaStatement::Index))
        .collect()
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    InstanceId,
    AgentId,
    Kind,
    ModelId,
    Provider,
    ProviderJobId,
    Status,
    Input,
    Units,
    ReservationId,
    IdempotencyKey,
    CallbackTokenHash,
    WebhookUrl,
    Attempts,
    NextCheckAt,
    DeadlineAt,
    Error,
    ArtifactId,
    DurationSeconds,
    CreatedAt,
    UpdatedAt,
    FinishedAt,
    Version,
}

#[derive(DeriveIden)]
enum Artifacts {
    Table,
    Id,
    InstanceId,
    AgentId,
    Kind,
    JobId,
    Name,
    Version,
    BlobKey,
    ContentType,
    Size,
    Sha256,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    AgentId,
    Url,
    Secret,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    AgentId,
    JobId,
    EventType,
    Url,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LastStatus,
    LastError,
    CreatedAt,
    DeliveredAt,
}

fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().to_owned()
}

fn text_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().null().to_owned()
}

fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .text()
        .not_null()
        .primary_key()
        .to_owned()
}

fn big(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

fn big_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().null().to_owned()
}

/// A nullable 8-byte float (`double precision` on PostgreSQL, `REAL` storage on SQLite).
fn double_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).double().null().to_owned()
}

/// Every `CREATE TABLE` of this migration.
fn tables() -> Vec<TableCreateStatement> {
    vec![
        Table::create()
            .table(Jobs::Table)
            .if_not_exists()
            .col(id(Jobs::Id))
            .col(text(Jobs::InstanceId))
            .col(text(Jobs::AgentId))
            .col(text(Jobs::Kind))
            .col(text(Jobs::ModelId))
            .col(text(Jobs::Provider))
            .col(text_null(Jobs::ProviderJobId))
            .col(text(Jobs::Status))
            // JSON.
            .col(text(Jobs::Input))
            .col(big(Jobs::Units))
            .col(text(Jobs::ReservationId))
            .col(text_null(Jobs::IdempotencyKey))
            .col(text(Jobs::CallbackTokenHash))
            .col(text_null(Jobs::WebhookUrl))
            .col(big(Jobs::Attempts))
            .col(big(Jobs::NextCheckAt))
            .col(big(Jobs::DeadlineAt))
            // JSON `{"code","message"}`.
            .col(text_null(Jobs::Error))
            .col(text_null(Jobs::ArtifactId))
            .col(double_null(Jobs::DurationSeconds))
            .col(big(Jobs::CreatedAt))
            .col(big(Jobs::UpdatedAt))
            .col(big_null(Jobs::FinishedAt))
            .col(big(Jobs::Version))
            .to_owned(),
        Table::create()
            .table(Artifacts::Table)
            .if_not_exists()
            .col(id(Artifacts::Id))
            .col(text(Artifacts::InstanceId))
            .col(text(Artifacts::AgentId))
            .col(text(Artifacts::Kind))
            .col(text_null(Artifacts::JobId))
            .col(text(Artifacts::Name))
            .col(big(Artifacts::Version))
            .col(text(Artifacts::BlobKey))
            .col(text(Artifacts::ContentType))
            .col(big(Artifacts::Size))
            .col(text(Artifacts::Sha256))
            .col(big(Artifacts::CreatedAt))
            .to_owned(),
        Table::create()
            .table(WebhookEndpoints::Table)
            .if_not_exists()
            // One endpoint per agent.
            .col(id(WebhookEndpoints::AgentId))
            .col(text_null(WebhookEndpoints::Url))
            .col(text(WebhookEndpoints::Secret))
            .col(big(WebhookEndpoints::CreatedAt))
            .col(big(WebhookEndpoints::UpdatedAt))
            .to_owned(),
        Table::create()
            .table(WebhookDeliveries::Table)
            .if_not_exists()
            .col(id(WebhookDeliveries::Id))
            .col(text(WebhookDeliveries::AgentId))
            .col(text(WebhookDeliveries::JobId))
            .col(text(WebhookDeliveries::EventType))
            .col(text(WebhookDeliveries::Url))
            .col(text(WebhookDeliveries::Payload))
            .col(text(WebhookDeliveries::Status))
            .col(big(WebhookDeliveries::Attempts))
            .col(big(WebhookDeliveries::NextAttemptAt))
            .col(big_null(WebhookDeliveries::LastStatus))
            .col(text_null(WebhookDeliveries::LastError))
            .col(big(WebhookDeliveries::CreatedAt))
            .col(big_null(WebhookDeliveries::DeliveredAt))
            .to_owned(),
    ]
}

/// An index named `name` on `table`'s `cols`.
fn index<T: IntoTableRef, C: IntoIndexColumn>(
    name: &str,
    table: T,
    cols: Vec<C>,
) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table).if_not_exists();
    for col in cols {
        stmt.col(col);
    }
    stmt
}

/// Every `CREATE INDEX` of this migration.
fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        // NULL keys never clash (NULLs are distinct in unique indexes on SQLite and PostgreSQL).
        index(
            "ux_jobs_agent_idempotency",
            Jobs::Table,
            vec![Jobs::AgentId, Jobs::IdempotencyKey],
        )
        .unique()
        .to_owned(),
        // An agent's jobs, newest first (ids sort by creation time).
        index("idx_jobs_agent", Jobs::Table, vec![Jobs::AgentId, Jobs::Id]),
        // The scheduled hook: unfinished jobs due a check, earliest first.
        index(
            "idx_jobs_due",
            Jobs::Table,
            vec![Jobs::Status, Jobs::NextCheckAt],
        ),
        // Versions of an upload are unique per agent, kind and name; also serves the latest one.
        index(
            "ux_artifacts_agent_kind_name_version",
            Artifacts::Table,
            vec![
                Artifacts::AgentId,
                Artifacts::Kind,
                Artifacts::Name,
                Artifacts::Version,
            ],
        )
        .unique()
        .to_owned(),
        index(
            "idx_artifacts_agent",
            Artifacts::Table,
            vec![Artifacts::AgentId, Artifacts::Id],
        ),
        // The scheduled hook: pending deliveries due an attempt, earliest first.
        index(
            "idx_webhook_deliveries_due",
            WebhookDeliveries::Table,
            vec![WebhookDeliveries::Status, WebhookDeliveries::NextAttemptAt],
        ),
        // An agent's deliveries, newest first (delivery ids derive from job and event, so they
        // do not sort by time).
        index(
            "idx_webhook_deliveries_agent",
            WebhookDeliveries::Table,
            vec![WebhookDeliveries::AgentId, WebhookDeliveries::CreatedAt],
        ),
        index(
            "idx_webhook_deliveries_job",
            WebhookDeliveries::Table,
            vec![WebhookDeliveries::JobId],
        ),
    ]
}
