//! The blob store contract suite against the in-memory blob store, on the plain futures executor
//! (no tokio in core).

use molts_core::memory::MemoryBlobStore;
use molts_core::{Result, testkit};

#[test]
fn memory_blob_store_passes_the_contract() -> Result<()> {
    futures::executor::block_on(testkit::run_blob_suite(&MemoryBlobStore::new()))
}
