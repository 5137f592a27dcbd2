//! The request log's use cases: taking finished requests' records from the HTTP layer and
//! writing them in batches off the request path, listing them for admins (their instance) and
//! agents (themselves), and forgetting them after the retention window.
//!
//! Writing: [`Gateway::log_request`] only queues the record. Where the runtime lends a spawner
//! (the standalone binary) one background flush at a time waits a moment for more records, then
//! drains the queue, up to [`BATCH`] records a transaction, so molts writes many requests per
//! commit and no request waits for the log. Where none is lent (Lambda, Workers: nothing may run after the
//! answer) the HTTP layer calls [`Gateway::flush_request_log`] once the answer is produced. The
//! queue is bounded: past [`MAX_QUEUED`] records (a database that stopped answering) the oldest
//! are dropped and counted, never the requests themselves.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::Timestamp;
use crate::domain::{RequestQuery, RequestRecord};
use crate::error::{Error, Result};

use super::admin::Page;
use super::{AdminPrincipal, AgentPrincipal, Gateway};

/// Records written per transaction.
pub(super) const BATCH: usize = 256;
/// How long a background flush waits before draining, so records arriving meanwhile share its
/// transaction. Flushing each record at once cost the benchmark's single client about 0.2 ms a
/// request (one SQLite transaction each, behind the quota ledger's writes); a list flushes
/// first, so nothing waits to be seen.
const FLUSH_DELAY: Duration = Duration::from_millis(50);
/// Records kept waiting at most; beyond, the oldest are dropped.
pub(super) const MAX_QUEUED: usize = 20_000;
/// Records forgotten per round of scheduled work.
const FORGET_PER_ROUND: u32 = 5_000;
/// The widest time range one query may cover.
pub const MAX_QUERY_RANGE: chrono::Duration = chrono::Duration::days(93);

/// How the request log behaves; the same on every runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLogSettings {
    /// Whether requests are logged at all (`MOLTS_REQUEST_LOG`).
    pub enabled: bool,
    /// Whether prompts are kept, truncated (`MOLTS_REQUEST_LOG_PROMPTS`); off by default.
    pub keep_prompts: bool,
    /// How long records are kept (`MOLTS_REQUEST_LOG_RETENTION_DAYS`); `None` is forever.
    pub retention: Option<Duration>,
}

impl Default for RequestLogSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            keep_prompts: false,
            retention: Some(Duration::from_secs(30 * 24 * 3600)),
        }
    }
}

/// Records waiting to be written.
#[derive(Default)]
pub(super) struct LogQueue {
    records: Mutex<Vec<RequestRecord>>,
    /// A background flush is spawned and has not begun draining yet.
    scheduled: AtomicBool,
    /// Held while draining, so one writer drains at a time and a reader can wait for it.
    writer: futures::lock::Mutex<()>,
    dropped: AtomicU64,
}

impl LogQueue {
    fn push(&self, record: RequestRecord) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if records.len() >= MAX_QUEUED {
            records.remove(0);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        records.push(record);
    }

    fn take(&self) -> Vec<RequestRecord> {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let n = records.len().min(BATCH);
        records.drain(..n).collect()
    }

    fn put_back(&self, batch: Vec<RequestRecord>) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let mut merged = batch;
        merged.append(&mut records);
        let over = merged.len().saturating_sub(MAX_QUEUED);
        if over > 0 {
            merged.drain(..over);
            self.dropped.fetch_add(over as u64, Ordering::Relaxed);
        }
        *records = merged;
    }
}

impl Gateway {
    /// Whether requests are being logged.
    pub fn request_log_enabled(&self) -> bool {
        self.inner.config.request_log.enabled
    }

    /// Queues a finished request's record (`id` and `at` set by the caller from
    /// [`Gateway::new_id`]`("req")` and [`Gateway::now`] at arrival), and starts a background
    /// flush where a spawner is lent.
    pub fn log_request(&self, record: RequestRecord) {
        if !self.request_log_enabled() {
            return;
        }
        self.inner.log_queue.push(record);
        if let Some(spawner) = &self.inner.spawner
            && !self.inner.log_queue.scheduled.swap(true, Ordering::AcqRel)
        {
            let gateway = self.clone();
            spawner.spawn(Box::pin(async move {
                if let Some(sleeper) = gateway.inner.providers.sleeper() {
                    sleeper.sleep(FLUSH_DELAY).await;
                }
                let queue = &gateway.inner.log_queue;
                let _writer = queue.writer.lock().await;
                // Down before draining: a record queued from here on schedules another flush,
                // which waits for this one; none is left behind.
                queue.scheduled.store(false, Ordering::Release);
                gateway.drain_log().await;
            }));
        }
    }

    /// Where no spawner is lent (nothing may run after the answer), writes what is queued now;
    /// elsewhere the background flush already has it. The HTTP layer calls it once an answer
    /// is produced.
    pub async fn finish_request_log(&self) {
        if self.inner.spawner.is_none() {
            self.flush_request_log().await;
        }
    }

    /// Writes every queued record now, after any flush under way. The scheduled work calls it,
    /// and so does a list of the log (what was answered a moment ago is listed too).
    ///
    /// Without a spawner (Lambda, Workers) a flush under way is not waited for: its drain takes
    /// what is queued, and on Workers a request waiting on another request's work is canceled
    /// by the runtime as hung.
    pub async fn flush_request_log(&self) {
        let queue = &self.inner.log_queue;
        let _writer = if self.inner.spawner.is_some() {
            queue.writer.lock().await
        } else {
            match queue.writer.try_lock() {
                Some(writer) => writer,
                None => return,
            }
        };
        self.drain_log().await;
    }

    async fn drain_log(&self) {
        loop {
            let batch = self.inner.log_queue.take();
            if batch.is_empty() {
                return;
            }
            if let Err(e) = self
                .inner
                .ports
                .stores
                .requests
                .append_requests(&batch)
                .await
            {
                tracing::warn!(records = batch.len(), error = %e, "writing the request log failed; kept for the next flush");
                self.inner.log_queue.put_back(batch);
                return;
            }
        }
    }

    /// Records dropped because the queue was full (the store stopped answering).
    pub fn request_log_dropped(&self) -> u64 {
        self.inner.log_queue.dropped.load(Ordering::Relaxed)
    }

    /// A page of the request log for an admin: an instance admin sees its instance only, and
    /// naming another is `NotFound`, as for any of its data.
    pub async fn admin_logs(
        &self,
        admin: &AdminPrincipal,
        mut query: RequestQuery,
    ) -> Result<Page<RequestRecord>> {
        if let Some(own) = admin.scope.instance_id() {
            match &query.instance_id {
                Some(asked) if asked != own => {
                    return Err(Error::not_found("instance", asked));
                }
                _ => query.instance_id = Some(own.to_owned()),
            }
        }
        self.list_logs(query).await
    }

    /// A page of the caller's own requests.
    pub async fn agent_logs(
        &self,
        principal: &AgentPrincipal,
        mut query: RequestQuery,
    ) -> Result<Page<RequestRecord>> {
        query.instance_id = Some(principal.agent.instance_id.clone());
        query.agent_id = Some(principal.agent.id.clone());
        self.list_logs(query).await
    }

    async fn list_logs(&self, mut query: RequestQuery) -> Result<Page<RequestRecord>> {
        if let (Some(from), Some(to)) = (query.from, query.to) {
            if to <= from {
                return Err(Error::invalid("to", "to must be after from"));
            }
            if to - from > MAX_QUERY_RANGE {
                return Err(Error::invalid(
                    "from",
                    format!(
                        "a query covers at most {} days; narrow from and to",
                        MAX_QUERY_RANGE.num_days()
                    ),
                ));
            }
        }
        let limit = if query.limit == 0 { 50 } else { query.limit };
        let limit = limit.clamp(1, self.inner.config.max_page_size);
        query.limit = limit + 1;
        // What was answered a moment ago is listed too.
        self.flush_request_log().await;
        let mut data = self
            .inner
            .ports
            .stores
            .requests
            .list_requests(&query)
            .await?;
        let has_more = data.len() > limit as usize;
        data.truncate(limit as usize);
        Ok(Page { data, has_more })
    }

    /// Forgets records older than the retention window, a bounded batch per round.
    pub(super) async fn forget_old_requests(&self, now: Timestamp) -> Result<u64> {
        let Some(keep) = self.inner.config.request_log.retention else {
            return Ok(0);
        };
        let Ok(keep) = chrono::Duration::from_std(keep) else {
            return Ok(0);
        };
        self.inner
            .ports
            .stores
            .requests
            .forget_requests_before(now - keep, FORGET_PER_ROUND)
            .await
    }
}
