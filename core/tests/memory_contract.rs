//! The store contract suite against the in-memory store.

use std::sync::Arc;

use molts_core::memory::MemoryStore;
use molts_core::{Result, Stores, testkit};

#[test]
fn memory_store_passes_the_contract() -> Result<()> {
    let stores = Stores::from_one(Arc::new(MemoryStore::new()));
    futures::executor::block_on(testkit::run_all(&stores))
}
