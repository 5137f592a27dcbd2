//! The request log port of [`MemoryStore`]: records by id (time-ordered), filtered with the
//! query's own reference check.

use async_trait::async_trait;

use crate::clock::Timestamp;
use crate::domain::{RequestQuery, RequestRecord};
use crate::error::{Error, Result};
use crate::ports::RequestLogStore;

use super::store::MemoryStore;

#[async_trait]
impl RequestLogStore for MemoryStore {
    async fn append_requests(&self, records: &[RequestRecord]) -> Result<()> {
        let mut state = self.lock();
        // All or nothing: check every id before storing any.
        for (i, r) in records.iter().enumerate() {
            if state.requests.contains_key(&r.id) || records[..i].iter().any(|o| o.id == r.id) {
                return Err(Error::conflict(format!(
                    "request '{}' already logged",
                    r.id
                )));
            }
        }
        for r in records {
            state.requests.insert(r.id.clone(), r.clone());
        }
        Ok(())
    }

    async fn list_requests(&self, query: &RequestQuery) -> Result<Vec<RequestRecord>> {
        Ok(self
            .lock()
            .requests
            .values()
            .rev()
            .filter(|r| query.accepts(r))
            .take(query.limit as usize)
            .cloned()
            .collect())
    }

    async fn forget_requests_before(&self, before: Timestamp, limit: u32) -> Result<u64> {
        let mut state = self.lock();
        let old: Vec<String> = state
            .requests
            .values()
            .filter(|r| r.at < before)
            .take(limit as usize)
            .map(|r| r.id.clone())
            .collect();
        for id in &old {
            state.requests.remove(id);
        }
        Ok(old.len() as u64)
    }
}
