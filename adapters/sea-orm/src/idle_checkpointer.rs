//! On a SQLite file, the background checkpoint's passive work runs on a thread of its own at the
//! lowest scheduling class the system has (`SCHED_IDLE` on Linux).
//!
//! Why: a checkpoint copies the pages logged since the last one into the database file and
//! syncs both files. On the pool's threads, at normal priority, that work — SQLite's and the
//! kernel's on its behalf — took the CPU from the request running beside it: on a two-core
//! machine at concurrency 1, about 2 % of requests were 0.3–0.5 ms slower, nearly all within a
//! millisecond of a checkpoint. At idle priority those clusters went and the p99 fell by about
//! 0.05 ms (docs/BENCHMARKS.md, "Seventh look"): the checkpoint now only takes CPU that no
//! request wants.
//!
//! What keeps it safe:
//! - **Passive only.** A passive checkpoint holds neither writers nor readers back, however
//!   slowly it runs: they carry on in the log meanwhile. The `RESTART` that does hold writers
//!   (when the log is long) stays at normal priority on the pool, under the writer turn, and is
//!   only started once this thread has answered — a starved checkpoint is never in the way of
//!   one that writers wait for.
//! - **Never waited for, nor asked when it cannot run.** When every core is busy this thread
//!   may not run for seconds, holding SQLite's checkpoint lock if it was in a checkpoint. The
//!   checkpoint loop (`checkpoints.rs`) asks it only while molts' CPUs have idle time, reads
//!   its answers at its next tick instead of awaiting them, and when one does not come soon
//!   checkpoints on the pool instead and interrupts this thread's checkpoint, so it lets go
//!   at its next page.
//! - **Starved means later, not lost.** Commits survive a crash of the process at once, as
//!   always; a checkpoint run late only makes them durable against power loss later.
//! - **Ends with the store.** The thread serves one queue; when the checkpoint loop that holds
//!   the queue stops, the queue closes and the thread ends, closing its connection.

use std::path::Path;
use std::sync::mpsc;

use molts_core::{Error, Result};
use rusqlite::{Connection, InterruptHandle, OpenFlags};
use tokio::sync::oneshot;

/// The thread's name, as `ps -L` and `/proc/*/task/*/comm` show it (at most 15 bytes).
const THREAD_NAME: &str = "molts-checkpt";

/// The thread has ended (only a panic ends it early): the loop goes back to the pool.
#[derive(Debug)]
pub(crate) struct Gone;

/// A handle to the checkpoint thread; dropping it ends the thread.
pub(crate) struct IdleCheckpointer {
    requests: mpsc::Sender<oneshot::Sender<Option<i64>>>,
    /// Stops the checkpoint the thread is in at its next page (SQLite checks between pages).
    interrupt: InterruptHandle,
}

impl std::fmt::Debug for IdleCheckpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdleCheckpointer").finish_non_exhaustive()
    }
}

impl IdleCheckpointer {
    /// Opens a connection of its own to `path` (already created in WAL mode) and starts the
    /// thread.
    pub(crate) fn start(path: &Path) -> Result<Self> {
        Self::start_gated(path, None)
    }

    /// [`IdleCheckpointer::start`], with a thread that serves nothing until `gate` gives a
    /// message or closes: tests use it for a thread that never gets a core.
    pub(crate) fn start_gated(path: &Path, gate: Option<mpsc::Receiver<()>>) -> Result<Self> {
        let unavailable = |e: &dyn std::fmt::Display| {
            Error::unavailable(format!("cannot start the checkpoint thread: {e}"))
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        // The checkpoint's syncs follow the connection's setting: the same as the pool's.
        .and_then(|c| c.execute_batch("PRAGMA synchronous = NORMAL;").map(|()| c))
        .map_err(|e| unavailable(&e))?;
        let interrupt = conn.get_interrupt_handle();
        let (requests, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || {
                if let Some(gate) = gate {
                    let _ = gate.recv();
                }
                serve(&conn, &queue);
            })
            .map_err(|e| unavailable(&e))?;
        Ok(Self {
            requests,
            interrupt,
        })
    }

    /// Asks the thread for `PRAGMA wal_checkpoint(PASSIVE)`; the answer, the pages in the log
    /// (`None` when it failed: another checkpoint was running, or it was interrupted), comes
    /// on the receiver once the thread has run.
    pub(crate) fn passive(&self) -> std::result::Result<oneshot::Receiver<Option<i64>>, Gone> {
        let (reply, answer) = oneshot::channel();
        self.requests.send(reply).map_err(|_| Gone)?;
        Ok(answer)
    }

    /// Makes the checkpoint the thread is in, if any, give up at its next page, releasing
    /// SQLite's checkpoint lock. (One the thread starts later is not affected: SQLite clears
    /// the flag when the connection next starts a statement with none running.)
    pub(crate) fn interrupt(&self) {
        self.interrupt.interrupt();
    }
}

/// The thread: lowers its own priority, then checkpoints once per request until the queue
/// closes.
fn serve(conn: &Connection, queue: &mpsc::Receiver<oneshot::Sender<Option<i64>>>) {
    lower_own_priority();
    while let Ok(reply) = queue.recv() {
        let pages = conn
            .prepare_cached("PRAGMA wal_checkpoint(PASSIVE)")
            // (busy, log pages, checkpointed pages)
            .and_then(|mut s| s.query_row([], |row| row.get::<_, i64>(1)));
        if let Err(e) = &pages {
            tracing::debug!(error = %e, "background checkpoint skipped");
        }
        let _ = reply.send(pages.ok());
    }
}

/// `SCHED_IDLE` for the calling thread: it runs only when a core has nothing else to run.
#[cfg(target_os = "linux")]
fn lower_own_priority() {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    if let Err(e) = set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle) {
        // Checkpoints still run, at normal priority, as they did on the pool.
        tracing::warn!(error = ?e, "cannot lower the checkpoint thread's priority");
    }
}

/// Elsewhere the thread keeps its normal priority (molts is deployed on Linux; this keeps the
/// adapter building for development on other systems).
#[cfg(not(target_os = "linux"))]
fn lower_own_priority() {}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;

    /// The calling thread's scheduling policy: field 41 of its `stat`, counted from the
    /// fields after the name (which is in parentheses and may hold spaces).
    #[cfg(target_os = "linux")]
    fn own_policy() -> std::io::Result<Option<u32>> {
        let stat = std::fs::read_to_string("/proc/thread-self/stat")?;
        let fields = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        Ok(fields
            .split_whitespace()
            .nth(41 - 3)
            .and_then(|p| p.parse().ok()))
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_thread_lowers_itself_to_sched_idle() -> TestResult {
        const SCHED_OTHER: u32 = 0;
        const SCHED_IDLE: u32 = 5;
        let policies = std::thread::spawn(|| -> std::io::Result<_> {
            let before = own_policy()?;
            lower_own_priority();
            Ok((before, own_policy()?))
        })
        .join()
        .map_err(|_| "the thread panicked")??;
        assert_eq!(policies, (Some(SCHED_OTHER), Some(SCHED_IDLE)));
        Ok(())
    }

    /// It checkpoints on request, and once its handle is dropped the thread ends and closes
    /// its connection: being then the last connection to the file is what lets another one,
    /// closing, checkpoint the log away (SQLite deletes it only when no one else has it open).
    #[tokio::test]
    async fn it_checkpoints_and_ends_when_its_handle_is_dropped() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("ckpt.db");
        let wal = dir.path().join("ckpt.db-wal");
        let writer = Connection::open(&path)?;
        writer.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);",
        )?;

        let thread = IdleCheckpointer::start(&path)?;
        let ended = |_| "the thread ended early";
        let pages = thread.passive().map_err(ended)?.await?;
        assert!(pages.is_some_and(|p| p > 0), "log pages: {pages:?}");
        drop(writer);
        assert!(wal.exists(), "the thread's connection keeps the log");

        drop(thread);
        let mut gone = false;
        for _ in 0..300 {
            if !wal.exists() {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(gone, "the thread did not end and close its connection");
        Ok(())
    }
}
