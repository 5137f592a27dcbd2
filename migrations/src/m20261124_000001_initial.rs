//! The initial schema: every table molts keeps, with its indexes.
//!
//! Ids are TEXT primary keys, times BIGINT unix milliseconds, JSON values TEXT. Tables and indexes
//! are created `IF NOT EXISTS`, so a SQLite run that stopped half-way (SQLite migrations run outside
//! a transaction) can simply be run again.

use sea_orm_migration::prelude::*;

use crate::{SchemaStatement, Step};

/// This migration as data.
pub(crate) const STEP: Step = Step {
    name: "m20261124_000001_initial",
    statements,
    tables: &[
        "instances",
        "projects",
        "agents",
        "api_keys",
        "admin_keys",
        "tiers",
        "model_configs",
        "quota_reservations",
        "quota_counters",
        "instance_provider_keys",
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
enum Instances {
    Table,
    Id,
    Name,
    RegistrationMode,
    RegistrationTokenHash,
    DefaultTier,
    AllowedModels,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    InstanceId,
    Name,
    Description,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Agents {
    Table,
    Id,
    InstanceId,
    ProjectId,
    Name,
    Email,
    SoulMd,
    VoiceSampleRef,
    TierId,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    AgentId,
    InstanceId,
    Name,
    Prefix,
    Hash,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AdminKeys {
    Table,
    Id,
    InstanceId,
    ReadOnly,
    Name,
    Prefix,
    Hash,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Tiers {
    Table,
    Id,
    Name,
    Description,
    Limits,
    RequestsPerMinute,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ModelConfigs {
    Table,
    Id,
    Provider,
    Modality,
    ProviderModel,
    DisplayName,
    Description,
    Capabilities,
    Pricing,
    Status,
    Enabled,
    PayloadMapping,
    Fallbacks,
    Alias,
    Weight,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum QuotaReservations {
    Table,
    Id,
    AgentId,
    Unit,
    Reserved,
    Charged,
    State,
    DayKey,
    MonthKey,
    CreatedAt,
    ClosedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum InstanceProviderKeys {
    Table,
    InstanceId,
    Provider,
    SealedKey,
    KeyHint,
    BaseUrl,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum QuotaCounters {
    Table,
    AgentId,
    Unit,
    Period,
    PeriodKey,
    Used,
}

/// A required TEXT column.
fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().to_owned()
}

/// A nullable TEXT column.
fn text_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().null().to_owned()
}

/// The TEXT primary key every entity table uses.
fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .text()
        .not_null()
        .primary_key()
        .to_owned()
}

/// A required BIGINT (times in unix milliseconds, unit counts).
fn big(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

/// A nullable BIGINT.
fn big_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().null().to_owned()
}

/// A required boolean.
fn boolean(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).boolean().not_null().to_owned()
}

/// Every `CREATE TABLE` of this migration.
fn tables() -> Vec<TableCreateStatement> {
    vec![
        Table::create()
            .table(Instances::Table)
            .if_not_exists()
            .col(id(Instances::Id))
            .col(text(Instances::Name))
            .col(text(Instances::RegistrationMode))
            .col(text_null(Instances::RegistrationTokenHash))
            .col(text(Instances::DefaultTier))
            .col(text_null(Instances::AllowedModels))
            .col(big(Instances::CreatedAt))
            .col(big(Instances::UpdatedAt))
            .to_owned(),
        Table::create()
            .table(Projects::Table)
            .if_not_exists()
            .col(id(Projects::Id))
            .col(text(Projects::InstanceId))
            .col(text(Projects::Name))
            .col(text_null(Projects::Description))
            .col(big(Projects::CreatedAt))
            .to_owned(),
        Table::create()
            .table(Agents::Table)
            .if_not_exists()
            .col(id(Agents::Id))
            .col(text(Agents::InstanceId))
            .col(text_null(Agents::ProjectId))
            .col(text(Agents::Name))
            .col(text_null(Agents::Email))
            .col(text(Agents::SoulMd))
            .col(text_null(Agents::VoiceSampleRef))
            .col(text(Agents::TierId))
            .col(text(Agents::Status))
            .col(big(Agents::CreatedAt))
            .col(big(Agents::UpdatedAt))
            .to_owned(),
        Table::create()
            .table(ApiKeys::Table)
            .if_not_exists()
            .col(id(ApiKeys::Id))
            .col(text(ApiKeys::AgentId))
            .col(text(ApiKeys::InstanceId))
            .col(text(ApiKeys::Name))
            .col(text(ApiKeys::Prefix))
            .col(text(ApiKeys::Hash))
            .col(big(ApiKeys::CreatedAt))
            .col(big_null(ApiKeys::ExpiresAt))
            .col(big_null(ApiKeys::RevokedAt))
            .to_owned(),
        Table::create()
            .table(AdminKeys::Table)
            .if_not_exists()
            .col(id(AdminKeys::Id))
            // NULL means operator scope.
            .col(text_null(AdminKeys::InstanceId))
            .col(boolean(AdminKeys::ReadOnly))
            .col(text(AdminKeys::Name))
            .col(text(AdminKeys::Prefix))
            .col(text(AdminKeys::Hash))
            .col(big(AdminKeys::CreatedAt))
            .col(big_null(AdminKeys::ExpiresAt))
            .col(big_null(AdminKeys::RevokedAt))
            .to_owned(),
        Table::create()
            .table(Tiers::Table)
            .if_not_exists()
            .col(id(Tiers::Id))
            .col(text(Tiers::Name))
            .col(text(Tiers::Description))
            .col(text(Tiers::Limits))
            .col(big_null(Tiers::RequestsPerMinute))
            .col(big(Tiers::CreatedAt))
            .col(big(Tiers::UpdatedAt))
            .to_owned(),
        Table::create()
            .table(ModelConfigs::Table)
            .if_not_exists()
            .col(id(ModelConfigs::Id))
            .col(text(ModelConfigs::Provider))
            .col(text(ModelConfigs::Modality))
            .col(text(ModelConfigs::ProviderModel))
            .col(text(ModelConfigs::DisplayName))
            .col(text(ModelConfigs::Description))
            .col(text(ModelConfigs::Capabilities))
            .col(text(ModelConfigs::Pricing))
            .col(text(ModelConfigs::Status))
            .col(boolean(ModelConfigs::Enabled))
            .col(text_null(ModelConfigs::PayloadMapping))
            .col(text(ModelConfigs::Fallbacks))
            .col(text_null(ModelConfigs::Alias))
            .col(big(ModelConfigs::Weight))
            .col(big(ModelConfigs::CreatedAt))
            .col(big(ModelConfigs::UpdatedAt))
            .to_owned(),
        Table::create()
            .table(QuotaReservations::Table)
            .if_not_exists()
            .col(id(QuotaReservations::Id))
            .col(text(QuotaReservations::AgentId))
            .col(text(QuotaReservations::Unit))
            .col(big(QuotaReservations::Reserved))
            .col(big_null(QuotaReservations::Charged))
            .col(text(QuotaReservations::State))
            .col(text(QuotaReservations::DayKey))
            .col(text(QuotaReservations::MonthKey))
            .col(big(QuotaReservations::CreatedAt))
            .col(big_null(QuotaReservations::ClosedAt))
            .col(big(QuotaReservations::ExpiresAt))
            .to_owned(),
        Table::create()
            .table(QuotaCounters::Table)
            .if_not_exists()
            .col(text(QuotaCounters::AgentId))
            .col(text(QuotaCounters::Unit))
            .col(text(QuotaCounters::Period))
            .col(text(QuotaCounters::PeriodKey))
            .col(big(QuotaCounters::Used))
            .primary_key(
                Index::create()
                    .col(QuotaCounters::AgentId)
                    .col(QuotaCounters::Unit)
                    .col(QuotaCounters::Period)
                    .col(QuotaCounters::PeriodKey),
            )
            .to_owned(),
        Table::create()
            .table(InstanceProviderKeys::Table)
            .if_not_exists()
            .col(text(InstanceProviderKeys::InstanceId))
            .col(text(InstanceProviderKeys::Provider))
            .col(text(InstanceProviderKeys::SealedKey))
            .col(text(InstanceProviderKeys::KeyHint))
            .col(text_null(InstanceProviderKeys::BaseUrl))
            .col(big(InstanceProviderKeys::UpdatedAt))
            .primary_key(
                Index::create()
                    .col(InstanceProviderKeys::InstanceId)
                    .col(InstanceProviderKeys::Provider),
            )
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
        index(
            "ux_projects_instance_name",
            Projects::Table,
            vec![Projects::InstanceId, Projects::Name],
        )
        .unique()
        .to_owned(),
        // NULL emails never clash: both SQLite and PostgreSQL treat NULLs as distinct in unique
        // indexes, so agents without email can share an instance.
        index(
            "ux_agents_instance_email",
            Agents::Table,
            vec![Agents::InstanceId, Agents::Email],
        )
        .unique()
        .to_owned(),
        index(
            "idx_agents_instance",
            Agents::Table,
            vec![Agents::InstanceId],
        ),
        index("idx_agents_tier", Agents::Table, vec![Agents::TierId]),
        // Not unique: two keys may share a lookup prefix; the hash decides.
        index("idx_api_keys_prefix", ApiKeys::Table, vec![ApiKeys::Prefix]),
        index("idx_api_keys_agent", ApiKeys::Table, vec![ApiKeys::AgentId]),
        index(
            "idx_admin_keys_prefix",
            AdminKeys::Table,
            vec![AdminKeys::Prefix],
        ),
        index(
            "idx_model_configs_modality",
            ModelConfigs::Table,
            vec![ModelConfigs::Modality],
        ),
        index(
            "idx_model_configs_status",
            ModelConfigs::Table,
            vec![ModelConfigs::Status],
        ),
        index(
            "idx_model_configs_alias",
            ModelConfigs::Table,
            vec![ModelConfigs::Alias],
        ),
        index(
            "idx_quota_reservations_agent",
            QuotaReservations::Table,
            vec![QuotaReservations::AgentId],
        ),
        // The scheduled sweep looks for open holds past their expiry.
        index(
            "idx_quota_reservations_open",
            QuotaReservations::Table,
            vec![QuotaReservations::State, QuotaReservations::ExpiresAt],
        ),
    ]
}
