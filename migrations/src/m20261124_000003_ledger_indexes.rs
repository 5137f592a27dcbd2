//! The quota ledger writes less per call (issue #3's benchmark).
//!
//! Every metered call inserts a reservation and then closes it, and on SQLite each change rewrites
//! whole pages into the write-ahead log, one per index the row is in. Two indexes were costing
//! more than they served:
//! - `idx_quota_reservations_agent` (agent id): no query reads reservations by agent.
//! - `idx_quota_reservations_open` on (state, expires_at) kept every reservation ever made, so
//!   closing one moved its entry from one part of the index to another. It is now a partial index
//!   of the open holds only — what the expiry sweep reads — so it stays small, and closing a hold
//!   only removes its entry. The sweep's query names `state = 'reserved'` literally, so SQLite,
//!   D1 and PostgreSQL (with a generic plan too) can all see the index applies.
//!
//! Together: about three log pages fewer per call, a third of the ledger's write volume.

use sea_orm_migration::prelude::*;

use crate::{SchemaStatement, Step};

/// This migration as data.
pub(crate) const STEP: Step = Step {
    name: "m20261124_000003_ledger_indexes",
    statements,
    tables: &[],
};

#[derive(DeriveIden)]
enum QuotaReservations {
    Table,
    State,
    ExpiresAt,
}

fn drop(name: &str) -> SchemaStatement {
    SchemaStatement::DropIndex(
        Index::drop()
            .name(name)
            .table(QuotaReservations::Table)
            .if_exists()
            .to_owned(),
    )
}

fn statements() -> Vec<SchemaStatement> {
    vec![
        drop("idx_quota_reservations_agent"),
        drop("idx_quota_reservations_open"),
        SchemaStatement::Index(
            Index::create()
                .name("idx_quota_reservations_open")
                .table(QuotaReservations::Table)
                .col(QuotaReservations::ExpiresAt)
                .and_where(Expr::col(QuotaReservations::State).eq("reserved"))
                .if_not_exists()
                .to_owned(),
        ),
    ]
}
