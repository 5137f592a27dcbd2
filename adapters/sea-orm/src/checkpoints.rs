//! The background checkpoints of a SQLite file, and how they keep the write-ahead log bounded.
//!
//! A checkpoint copies the pages logged since the last one into the database file and syncs
//! both. Writers start the log afresh only once every page in it is copied and no reader is
//! still using it, which under writes and reads that never pause may never happen by itself;
//! a `RESTART` makes it happen (it holds writers off while readers leave the log). So at every
//! tick ([`StoreOptions::sqlite_checkpoint_every`](crate::StoreOptions)):
//! 1. a passive checkpoint: on the idle thread (`idle_checkpointer.rs`, at `SCHED_IDLE`, so it
//!    only takes CPU no request wants) while it keeps up, else on the pool at normal priority;
//! 2. if the log it found is past [`WAL_RESTART_PAGES`], a `RESTART` on the pool at normal
//!    priority, under this process's writer turn (writers then wait in that queue, woken the
//!    moment it is done, rather than in SQLite's busy handler, whose sleeps of 1, 2, 5 ms…
//!    would turn a 2 ms stall into 8);
//! 3. and every connection has `journal_size_limit` at that size, so the writer that starts
//!    the log afresh also cuts a file that grew past it back.
//!
//! **The idle thread is never waited for.** When molts keeps its core busy, a `SCHED_IDLE`
//! thread may not run for seconds. A loop that awaited its answer before deciding to restart
//! the log let the log grow without bound: 342 MB to 1.76 GB in ten minutes of saturated load
//! on one core (issue 20). So the question is asked at one tick and its answer read at the
//! next ones; unanswered after [`STARVED_AFTER`], the thread is taken to be starved:
//! - the passive checkpoints run on the pool from then on (what they did before the seventh
//!   look: under full load there is no idle CPU to save them for anyway);
//! - the checkpoint the thread may be in the middle of is interrupted. It holds SQLite's
//!   checkpoint lock, so until it lets go no other checkpoint can run (they report busy and
//!   are tried again next tick); interrupted, it stops at its next page once it gets a core;
//! - the thread is asked only pings, which take no lock, and gets the checkpoints back once
//!   it has answered every ping by the next tick for [`PROMPT_FOR`] — once there is idle CPU
//!   again, as at concurrency 1, where the seventh look measured what it is worth.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use tokio::sync::{Mutex, oneshot};

use crate::idle_checkpointer::{Ask, IdleCheckpointer};

/// Log pages beyond which the checkpoint also restarts the log, briefly holding writers, so the
/// file stays bounded under writes that never pause (4 KiB pages: 32 MiB).
pub(crate) const WAL_RESTART_PAGES: i64 = 8192;
/// `PRAGMA journal_size_limit` on every connection: the log file is cut back to this when the
/// log starts afresh after growing past it (the size the restart aims for).
pub(crate) const WAL_SIZE_LIMIT_BYTES: i64 = WAL_RESTART_PAGES * 4096;
/// How long the idle thread may leave a question unanswered before it is taken to be starved.
/// Unstarved, it answers within a millisecond; 100 ms of log at full load is a few MiB.
const STARVED_AFTER: Duration = Duration::from_millis(100);
/// How long the idle thread must answer every ping promptly to get the checkpoints back.
const PROMPT_FOR: Duration = Duration::from_secs(1);

/// `PRAGMA wal_checkpoint(mode)` on the pool; the pages in the log (-1 when another
/// checkpoint held the lock, or not in WAL mode).
pub(crate) async fn checkpoint(
    db: &DatabaseConnection,
    mode: &str,
) -> std::result::Result<i64, sea_orm::DbErr> {
    let sql = format!("PRAGMA wal_checkpoint({mode})");
    let row = db
        .query_one(sea_orm::Statement::from_string(DbBackend::Sqlite, sql))
        .await?;
    // (busy, log pages, checkpointed pages)
    Ok(row
        .map(|r| r.try_get_by_index::<i64>(1))
        .transpose()?
        .unwrap_or(0))
}

/// Where the passive checkpoints run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// On the idle thread.
    Idle,
    /// On the pool: the idle thread was starved. `prompt` counts the ticks in a row whose
    /// ping it answered by the next tick.
    Pool { prompt: u32 },
}

/// What the loop knows of its last question to the idle thread, at a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Heard {
    /// No question out (none asked, or the thread is gone).
    Nothing,
    /// Its answer, found `late` ticks after the first tick it could have been found at.
    Answer {
        ask: Ask,
        pages: Option<i64>,
        late: u32,
    },
    /// No answer yet, `ticks` ticks on.
    Waiting { ticks: u32 },
}

/// The ticks each threshold lasts at the loop's interval.
#[derive(Debug, Clone, Copy)]
struct Limits {
    starved_after: u32,
    prompt_pings: u32,
}

impl Limits {
    fn at(every: Duration) -> Self {
        let ticks = |d: Duration| {
            let n = d.as_micros().div_ceil(every.as_micros().max(1));
            u32::try_from(n).unwrap_or(u32::MAX).max(1)
        };
        Self {
            starved_after: ticks(STARVED_AFTER),
            prompt_pings: ticks(PROMPT_FOR).max(3),
        }
    }
}

/// Where the checkpoints go after hearing `heard` at a tick.
fn next_place(place: Place, heard: Heard, limits: Limits) -> Place {
    match (place, heard) {
        (Place::Idle, Heard::Waiting { ticks }) if ticks >= limits.starved_after => {
            Place::Pool { prompt: 0 }
        }
        (Place::Idle, _) => Place::Idle,
        (
            Place::Pool { prompt },
            Heard::Answer {
                ask: Ask::Ping,
                late: 0,
                ..
            },
        ) => match prompt + 1 {
            n if n >= limits.prompt_pings => Place::Idle,
            n => Place::Pool { prompt: n },
        },
        // A ping answered late, or not yet: start counting again.
        (Place::Pool { .. }, Heard::Answer { ask: Ask::Ping, .. } | Heard::Waiting { .. }) => {
            Place::Pool { prompt: 0 }
        }
        // The interrupted checkpoint's answer, or nothing asked.
        (pool @ Place::Pool { .. }, _) => pool,
    }
}

/// A question out to the idle thread.
struct Question {
    ask: Ask,
    answer: oneshot::Receiver<Option<i64>>,
    ticks: u32,
}

/// The checkpoint loop's state: one [`Checkpointer::tick`] per interval.
pub(crate) struct Checkpointer {
    db: DatabaseConnection,
    writers: Arc<Mutex<()>>,
    idle: Option<IdleCheckpointer>,
    question: Option<Question>,
    place: Place,
    limits: Limits,
}

impl Checkpointer {
    /// Checkpoints `db` (a SQLite file) every `every`, passively on `idle` while it keeps up.
    pub(crate) fn new(
        db: DatabaseConnection,
        writers: Arc<Mutex<()>>,
        every: Duration,
        idle: Option<IdleCheckpointer>,
    ) -> Self {
        Self {
            db,
            writers,
            idle,
            question: None,
            place: Place::Idle,
            limits: Limits::at(every),
        }
    }

    /// Runs until aborted, a tick every `every`.
    pub(crate) async fn run(mut self, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.tick().await;
        }
    }

    /// One tick: the passive checkpoint, the restart if the log is long, the next question to
    /// the idle thread. Never waits for the idle thread. A failure (busy, pool closed) is tried
    /// again next time; SQLite's own checkpoint on commit remains as the fallback.
    pub(crate) async fn tick(&mut self) {
        let heard = self.listen();
        let place = next_place(self.place, heard, self.limits);
        if (self.place, place) == (Place::Idle, Place::Pool { prompt: 0 }) {
            tracing::debug!("the idle checkpoint thread is starved; checkpointing on the pool");
            if let Some(idle) = &self.idle {
                idle.interrupt();
            }
        }
        self.place = place;
        let pages = match (&self.idle, place, heard) {
            (Some(_), Place::Idle, Heard::Answer { ask, pages, .. }) => {
                pages.filter(|_| ask == Ask::Passive)
            }
            (Some(_), Place::Idle, _) => None,
            _ => checkpoint(&self.db, "PASSIVE").await.ok(),
        };
        if pages.is_some_and(|pages| pages >= WAL_RESTART_PAGES) {
            let _turn = self.writers.lock().await;
            let _ = checkpoint(&self.db, "RESTART").await;
        }
        // Asked after the restart, so the restart never waits on a checkpoint of the thread's.
        if self.question.is_none() {
            let ask = match self.place {
                Place::Idle => Ask::Passive,
                Place::Pool { .. } => Ask::Ping,
            };
            if let Some(idle) = &self.idle {
                match idle.ask(ask) {
                    Ok(answer) => {
                        self.question = Some(Question {
                            ask,
                            answer,
                            ticks: 0,
                        });
                    }
                    Err(_) => self.thread_gone(),
                }
            }
        }
    }

    /// What became of the question out to the idle thread.
    fn listen(&mut self) -> Heard {
        let Some(question) = &mut self.question else {
            return Heard::Nothing;
        };
        match question.answer.try_recv() {
            Ok(pages) => {
                let heard = Heard::Answer {
                    ask: question.ask,
                    pages,
                    late: question.ticks,
                };
                self.question = None;
                heard
            }
            Err(oneshot::error::TryRecvError::Empty) => {
                question.ticks += 1;
                Heard::Waiting {
                    ticks: question.ticks,
                }
            }
            Err(oneshot::error::TryRecvError::Closed) => {
                self.thread_gone();
                Heard::Nothing
            }
        }
    }

    fn thread_gone(&mut self) {
        tracing::warn!("the checkpoint thread ended; checkpointing on the pool");
        self.idle = None;
        self.question = None;
        self.place = Place::Pool { prompt: 0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;

    const LIMITS: Limits = Limits {
        starved_after: 10,
        prompt_pings: 100,
    };

    #[test]
    fn the_thresholds_are_counted_in_ticks_of_the_interval() {
        let at_10ms = Limits::at(Duration::from_millis(10));
        assert_eq!((at_10ms.starved_after, at_10ms.prompt_pings), (10, 100));
        let at_1s = Limits::at(Duration::from_secs(1));
        assert_eq!((at_1s.starved_after, at_1s.prompt_pings), (1, 3));
    }

    #[test]
    fn an_unanswered_question_sends_the_checkpoints_to_the_pool() {
        let waiting = |ticks| Heard::Waiting { ticks };
        assert_eq!(next_place(Place::Idle, waiting(9), LIMITS), Place::Idle);
        assert_eq!(
            next_place(Place::Idle, waiting(10), LIMITS),
            Place::Pool { prompt: 0 }
        );
        let late = Heard::Answer {
            ask: Ask::Passive,
            pages: Some(5),
            late: 9,
        };
        assert_eq!(next_place(Place::Idle, late, LIMITS), Place::Idle);
    }

    #[test]
    fn only_prompt_pings_bring_the_checkpoints_back() {
        let ping = |late| Heard::Answer {
            ask: Ask::Ping,
            pages: None,
            late,
        };
        let mut place = Place::Pool { prompt: 0 };
        for _ in 0..99 {
            place = next_place(place, ping(0), LIMITS);
        }
        assert_eq!(place, Place::Pool { prompt: 99 });
        assert_eq!(
            next_place(place, ping(1), LIMITS),
            Place::Pool { prompt: 0 },
            "a late ping starts the count again"
        );
        assert_eq!(
            next_place(place, Heard::Waiting { ticks: 1 }, LIMITS),
            Place::Pool { prompt: 0 }
        );
        let interrupted = Heard::Answer {
            ask: Ask::Passive,
            pages: None,
            late: 40,
        };
        assert_eq!(next_place(place, interrupted, LIMITS), place);
        assert_eq!(next_place(place, ping(0), LIMITS), Place::Idle);
    }

    fn wal_bytes(path: &std::path::Path) -> u64 {
        let wal = path.with_file_name("molts.db-wal");
        std::fs::metadata(wal).map_or(0, |m| m.len())
    }

    /// The log stays bounded when the idle thread never gets a core. Each round a reader holds
    /// the log (as requests always do under load, so writers can never start it afresh by
    /// themselves) while the ledger's connection commits 1 MiB, then the loop ticks. The
    /// thread is held before it serves anything: a loop that waits for it never ticks again
    /// (the timeout turns that hang into a failure), and one that waits for its answer to
    /// restart the log lets the log grow by every round's MiB.
    ///
    /// First the log is let grow to 40 MiB with no ticks at all (a burst no checkpoint kept
    /// up with): once restarted, the file must be cut back too (`journal_size_limit`).
    #[tokio::test]
    async fn the_log_stays_bounded_when_the_idle_thread_never_runs() -> TestResult {
        const MIB: u64 = 1024 * 1024;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("molts.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let store = crate::SeaOrmStore::connect_with(
            &url,
            crate::StoreOptions {
                sqlite_checkpoint_every: None,
            },
        )
        .await?;
        store
            .connection()
            .execute_unprepared("CREATE TABLE filler (b BLOB NOT NULL)")
            .await?;
        let writer =
            crate::sqlite_ledger::SqliteLedger::open(&path, crate::WAL_FALLBACK_AUTOCHECKPOINT)?;
        let reader = rusqlite::Connection::open(&path)?;
        let (_never, gate) = std::sync::mpsc::channel::<()>();
        let idle = IdleCheckpointer::start_gated(&path, Some(gate))?;
        let every = Duration::from_millis(10);
        let mut loop_ = Checkpointer::new(
            store.connection().clone(),
            Arc::new(Mutex::new(())),
            every,
            Some(idle),
        );

        let round = || -> TestResult {
            // A reader on the log while the writer commits, gone before the tick.
            reader.execute_batch("BEGIN")?;
            reader.query_row(
                "SELECT count(*) FROM (SELECT 1 FROM filler LIMIT 1)",
                [],
                |r| r.get::<_, i64>(0),
            )?;
            writer
                .transaction(|c| {
                    c.execute(
                        "INSERT INTO filler (b) SELECT randomblob(3900) FROM \
                         (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
                         WHERE i < 256) SELECT i FROM n)",
                        [],
                    )
                    .map_err(crate::sqlite_ledger::db_error)?;
                    Ok(crate::sqlite_ledger::Finish::Commit(()))
                })
                .map_err(|_| "the write failed")?;
            reader.execute_batch("COMMIT")?;
            Ok(())
        };
        for _ in 0..40 {
            round()?;
        }
        let burst = wal_bytes(&path);
        assert!(burst >= 40 * MIB, "the burst left {burst} bytes of log");

        let mut largest = 0;
        for _ in 0..150 {
            round()?;
            tokio::time::timeout(Duration::from_secs(30), loop_.tick())
                .await
                .map_err(|_| "a tick waited for the idle thread")?;
            let now = wal_bytes(&path);
            largest = largest.max(now);
        }
        let end = wal_bytes(&path);
        assert!(
            end <= 40 * MIB,
            "after 150 MiB more the log file is {end} bytes (the burst's {burst})"
        );
        assert!(largest <= 64 * MIB, "the log file reached {largest} bytes");
        store.close().await?;
        Ok(())
    }
}
