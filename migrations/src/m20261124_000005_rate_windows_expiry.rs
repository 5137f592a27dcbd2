//! An index on `rate_windows.expires_at`, so the scheduled work can forget every finished window
//! (`RateLimiter::forget_finished`) with a range scan instead of reading the whole table. Until
//! then a key's finished windows went only when its next one opened, and a key never seen again
//! (a deleted agent, a rotated key) kept its last row forever.

use sea_orm_migration::prelude::*;

use crate::{SchemaStatement, Step};

/// This migration as data.
pub(crate) const STEP: Step = Step {
    name: "m20261124_000005_rate_windows_expiry",
    statements,
    tables: &[],
};

#[derive(DeriveIden)]
enum RateWindows {
    Table,
    ExpiresAt,
}

fn statements() -> Vec<SchemaStatement> {
    vec![SchemaStatement::Index(
        Index::create()
            .name("idx_rate_windows_expires")
            .table(RateWindows::Table)
            .col(RateWindows::ExpiresAt)
            .if_not_exists()
            .to_owned(),
    )]
}
