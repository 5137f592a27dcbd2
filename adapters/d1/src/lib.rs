//! molts-d1: every store port over Cloudflare D1, the database binding of Workers.
//!
//! The schema is the one migrations source's (molts-migrations), applied to D1 by
//! `wrangler d1 migrations apply` from SQL files generated from it (runtimes/cloudflare/migrations,
//! checked by a test). Values are encoded exactly as molts-sea-orm encodes them on SQLite, so a
//! D1 export opens in the standalone binary and the other way round.
//!
//! What D1 lacks, and what stands in for it: no interactive transactions, so each multi-statement
//! change (cascading deletes, the quota ledger's steps) is one D1 batch, which runs atomically and
//! alone (see `quota.rs` for how reservations stay exact without a read-modify-write). It passes
//! `molts_core::testkit` inside workerd (the `contract-tests` feature of molts-cloudflare).

mod accounts;
mod artifacts;
mod catalog;
mod jobs;
mod keys;
mod quota;
mod requests;
mod rows;
mod sql;
mod webhooks;

use std::sync::Arc;

use molts_core::Stores;
use worker::D1Database;

/// Every store port over one D1 database. Cheap to clone.
#[derive(Clone)]
pub struct D1Store {
    db: sql::Db,
}

impl D1Store {
    /// A store over the binding (`env.d1("DB")`).
    pub fn new(db: D1Database) -> Self {
        Self {
            db: sql::Db::new(db),
        }
    }

    /// All ports served by this store.
    pub fn into_stores(self) -> Stores {
        Stores::from_one(Arc::new(self))
    }
}
