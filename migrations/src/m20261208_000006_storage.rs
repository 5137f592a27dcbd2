//! Storage caps and artifact retention (issue 20, unbounded growth).
//!
//! - `tiers.storage_bytes` and `instances.storage_bytes`: the bytes of uploads an agent, and an
//!   instance's agents together, may keep; NULL is unlimited (what every tier and instance made
//!   before this had).
//! - `storage_usage`: the bytes kept now per (scope, owner) — `agent`/`agt_…` and
//!   `instance`/slug — changed in the same transaction as the upload records it counts, so a
//!   cap is checked against one row instead of a sum over every file.
//! - `idx_artifacts_kind_created`: retention finds the oldest outputs with a range scan, passing
//!   no uploads (which are never expired and would otherwise be read again every round).

use sea_orm_migration::prelude::*;

use crate::{SchemaStatement, Step};

/// This migration as data.
pub(crate) const STEP: Step = Step {
    name: "m20261208_000006_storage",
    statements,
    tables: &["storage_usage"],
};

#[derive(DeriveIden)]
enum Tiers {
    Table,
    StorageBytes,
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    StorageBytes,
}

#[derive(DeriveIden)]
enum StorageUsage {
    Table,
    Scope,
    OwnerId,
    Bytes,
}

#[derive(DeriveIden)]
enum Artifacts {
    Table,
    Kind,
    CreatedAt,
}

/// A cap column: NULL is unlimited.
fn cap(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().null().to_owned()
}

fn statements() -> Vec<SchemaStatement> {
    vec![
        SchemaStatement::Alter(
            Table::alter()
                .table(Tiers::Table)
                .add_column(cap(Tiers::StorageBytes))
                .to_owned(),
        ),
        SchemaStatement::Alter(
            Table::alter()
                .table(Instances::Table)
                .add_column(cap(Instances::StorageBytes))
                .to_owned(),
        ),
        SchemaStatement::Table(
            Table::create()
                .table(StorageUsage::Table)
                .if_not_exists()
                .col(ColumnDef::new(StorageUsage::Scope).text().not_null())
                .col(ColumnDef::new(StorageUsage::OwnerId).text().not_null())
                .col(ColumnDef::new(StorageUsage::Bytes).big_integer().not_null())
                .primary_key(
                    Index::create()
                        .col(StorageUsage::Scope)
                        .col(StorageUsage::OwnerId),
                )
                .to_owned(),
        ),
        SchemaStatement::Index(
            Index::create()
                .name("idx_artifacts_kind_created")
                .table(Artifacts::Table)
                .col(Artifacts::Kind)
                .col(Artifacts::CreatedAt)
                .if_not_exists()
                .to_owned(),
        ),
    ]
}
