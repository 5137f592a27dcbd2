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
//! **The idle thread is never waited for, nor given work it cannot do.** When molts keeps its
//! cores busy, a `SCHED_IDLE` thread may not run for seconds. A loop that awaited its answer
//! before deciding to restart the log let the log grow without bound: 342 MB to 1.76 GB in ten
//! minutes of saturated load on one core (issue 20). Worse, a checkpoint the thread started and
//! cannot finish holds SQLite's checkpoint lock, and no other checkpoint, the `RESTART`
//! included, can run until it lets go. So:
//! - the thread is asked only while the CPUs molts may run on have idle time (`cpu_idle.rs`,
//!   the kernel's count, looked at every [`SAMPLE_EVERY`]): idle under [`BUSY_BELOW`] of the
//!   time, the checkpoints go to the pool at normal priority — under full load there is no
//!   idle CPU to save them for anyway, and that is what they did before the seventh look;
//! - its answer is read at the next ticks, not awaited; unanswered after [`STARVED_AFTER`]
//!   (a load that came faster than the look), the checkpoints go to the pool too, and its
//!   checkpoint is interrupted, so that it stops at its next page once it gets a core;
//! - they go back to the thread after [`CALM_FOR`] of looks finding the CPUs idle at least
//!   [`CALM_FROM`] of the time — as at concurrency 1, where the seventh look measured what
//!   the idle priority is worth.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use tokio::sync::{Mutex, oneshot};

use crate::cpu_idle::CpuIdle;
use crate::idle_checkpointer::IdleCheckpointer;

/// Log pages beyond which the checkpoint also restarts the log, briefly holding writers, so the
/// file stays bounded under writes that never pause (4 KiB pages: 32 MiB).
pub(crate) const WAL_RESTART_PAGES: i64 = 8192;
/// `PRAGMA journal_size_limit` on every connection: the log file is cut back to this when the
/// log starts afresh after growing past it (the size the restart aims for).
pub(crate) const WAL_SIZE_LIMIT_BYTES: i64 = WAL_RESTART_PAGES * 4096;
/// How long the idle thread may leave a checkpoint unanswered before it is taken to be
/// starved. Unstarved, it answers within a millisecond; 100 ms of log at full load is a few MiB.
const STARVED_AFTER: Duration = Duration::from_millis(100);
/// How often the CPUs' idle time is looked at (ten clock ticks a CPU).
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// Idle less than this share of a look, the CPUs are busy: no work for the idle thread.
const BUSY_BELOW: f64 = 0.1;
/// Idle at least this share of every look for [`CALM_FOR`], the idle thread gets work again.
const CALM_FROM: f64 = 0.3;
/// See [`CALM_FROM`].
const CALM_FOR: Duration = Duration::from_secs(1);

/// `PRAGMA wal_checkpoint(mode)` on the pool: whether it was kept from finishing (another
/// checkpoint held the lock, or readers stayed in the log past the busy timeout), and the
/// pages in the log (-1 when it could not start, or not in WAL mode).
pub(crate) async fn checkpoint(
    db: &DatabaseConnection,
    mode: &str,
) -> std::result::Result<(bool, i64), sea_orm::DbErr> {
    let sql = format!("PRAGMA wal_checkpoint({mode})");
    let row = db
        .query_one(sea_orm::Statement::from_string(DbBackend::Sqlite, sql))
        .await?;
    // (busy, log pages, checkpointed pages)
    let Some(row) = row else {
        return Ok((false, 0));
    };
    Ok((
        row.try_get_by_index::<i64>(0)? != 0,
        row.try_get_by_index::<i64>(1)?,
    ))
}

/// Where the passive checkpoints run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// On the idle thread.
    Idle,
    /// On the pool. `calm` counts the looks in a row that found the CPUs idle enough.
    Pool { calm: u32 },
}

/// What the loop knows of its last checkpoint asked of the idle thread, at a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Heard {
    /// None out (none asked, or the thread is gone).
    Nothing,
    /// Its answer: the pages in the log, or `None` if it failed.
    Answer(Option<i64>),
    /// No answer yet, `ticks` ticks on.
    Waiting { ticks: u32 },
}

/// What a tick learned of the CPUs' idle time.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Looked {
    /// Not looked at this tick.
    Not,
    /// Looked, but there is nothing to read (not Linux): the thread keeps its normal
    /// priority there, so it is never starved for long.
    Unknown,
    /// The share of the time since the last look they were idle.
    Share(f64),
}

/// The ticks each duration lasts at the loop's interval.
#[derive(Debug, Clone, Copy)]
struct Limits {
    starved_after: u32,
    sample_every: u32,
    calm_looks: u32,
}

impl Limits {
    fn at(every: Duration) -> Self {
        let ticks = |d: Duration, of: Duration| {
            let n = d.as_micros().div_ceil(of.as_micros().max(1));
            u32::try_from(n).unwrap_or(u32::MAX).max(1)
        };
        let sample_every = ticks(SAMPLE_EVERY, every);
        Self {
            starved_after: ticks(STARVED_AFTER, every),
            sample_every,
            calm_looks: ticks(CALM_FOR, every * sample_every),
        }
    }
}

/// Where the checkpoints go after a tick that heard `heard` and looked `looked`.
fn next_place(place: Place, heard: Heard, looked: Looked, limits: Limits) -> Place {
    match place {
        Place::Idle => {
            let starved =
                matches!(heard, Heard::Waiting { ticks } if ticks >= limits.starved_after);
            let busy = matches!(looked, Looked::Share(s) if s < BUSY_BELOW);
            if starved || busy {
                Place::Pool { calm: 0 }
            } else {
                Place::Idle
            }
        }
        Place::Pool { calm } => match looked {
            Looked::Not => place,
            Looked::Share(s) if s < CALM_FROM => Place::Pool { calm: 0 },
            Looked::Share(_) | Looked::Unknown if calm + 1 >= limits.calm_looks => Place::Idle,
            Looked::Share(_) | Looked::Unknown => Place::Pool { calm: calm + 1 },
        },
    }
}

/// A checkpoint asked of the idle thread, not yet answered.
struct Question {
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
    cpus: CpuIdle,
    ticks: u32,
}

impl Checkpointer {
    /// Checkpoints `db` (a SQLite file) every `every`, passively on `idle` while it can.
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
            cpus: CpuIdle::new(),
            ticks: 0,
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

    /// One tick: the passive checkpoint, the restart if the log is long, the next checkpoint
    /// asked of the idle thread. Never waits for the idle thread. A failure (busy, pool closed)
    /// is tried again next time; SQLite's own checkpoint on commit remains as the fallback.
    pub(crate) async fn tick(&mut self) {
        self.ticks = self.ticks.wrapping_add(1);
        let looked = if self.ticks % self.limits.sample_every == 0 {
            self.cpus
                .share_since_last()
                .map_or(Looked::Unknown, Looked::Share)
        } else {
            Looked::Not
        };
        self.tick_seeing(looked).await;
    }

    /// [`Checkpointer::tick`], with what it found of the CPUs given.
    async fn tick_seeing(&mut self, looked: Looked) {
        let heard = self.listen();
        let place = match &self.idle {
            Some(_) => next_place(self.place, heard, looked, self.limits),
            None => Place::Pool { calm: 0 },
        };
        if self.place == Place::Idle && place != Place::Idle {
            tracing::debug!(?heard, ?looked, "checkpointing on the pool");
            if let Some(idle) = &self.idle {
                // It may be in a checkpoint it cannot finish, holding the checkpoint lock.
                idle.interrupt();
            }
        }
        self.place = place;
        let pages = match (place, heard) {
            (Place::Idle, Heard::Answer(pages)) => pages,
            (Place::Idle, _) => None,
            (Place::Pool { .. }, _) => checkpoint(&self.db, "PASSIVE")
                .await
                .ok()
                .map(|(_, log)| log),
        };
        if let Some(pages) = pages.filter(|pages| *pages >= WAL_RESTART_PAGES) {
            let asked = std::time::Instant::now();
            let _turn = self.writers.lock().await;
            let began = std::time::Instant::now();
            let restarted = checkpoint(&self.db, "RESTART").await;
            // Writers wait for all of `held`: for anyone chasing a stall.
            let busy = !matches!(restarted, Ok((false, _)));
            let (waited, held) = (began - asked, began.elapsed());
            tracing::debug!(pages, busy, ?waited, ?held, "log restart");
        }
        // Asked after the restart, so the restart never waits on a checkpoint of the thread's.
        if self.place == Place::Idle && self.question.is_none() {
            if let Some(idle) = &self.idle {
                match idle.passive() {
                    Ok(answer) => self.question = Some(Question { answer, ticks: 0 }),
                    Err(_) => self.thread_gone(),
                }
            }
        }
    }

    /// What became of the checkpoint asked of the idle thread.
    fn listen(&mut self) -> Heard {
        let Some(question) = &mut self.question else {
            return Heard::Nothing;
        };
        match question.answer.try_recv() {
            Ok(pages) => {
                self.question = None;
                Heard::Answer(pages)
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
        self.place = Place::Pool { calm: 0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;

    const LIMITS: Limits = Limits {
        starved_after: 10,
        sample_every: 10,
        calm_looks: 10,
    };

    #[test]
    fn the_durations_are_counted_in_ticks_of_the_interval() {
        let at_10ms = Limits::at(Duration::from_millis(10));
        let counts = |l: Limits| (l.starved_after, l.sample_every, l.calm_looks);
        assert_eq!(counts(at_10ms), (10, 10, 10));
        assert_eq!(counts(Limits::at(Duration::from_secs(1))), (1, 1, 1));
    }

    #[test]
    fn busy_cpus_or_an_unanswered_checkpoint_send_the_checkpoints_to_the_pool() {
        let pool = Place::Pool { calm: 0 };
        let waiting = |ticks| Heard::Waiting { ticks };
        let calm = Looked::Share(0.5);
        assert_eq!(
            next_place(Place::Idle, waiting(9), calm, LIMITS),
            Place::Idle
        );
        assert_eq!(
            next_place(Place::Idle, waiting(10), Looked::Not, LIMITS),
            pool
        );
        let busy = Looked::Share(0.05);
        assert_eq!(next_place(Place::Idle, Heard::Nothing, busy, LIMITS), pool);
        let answered = Heard::Answer(Some(5));
        assert_eq!(next_place(Place::Idle, answered, busy, LIMITS), pool);
        assert_eq!(
            next_place(Place::Idle, answered, Looked::Unknown, LIMITS),
            Place::Idle
        );
    }

    #[test]
    fn only_a_second_of_idle_time_brings_the_checkpoints_back() {
        let calm = Looked::Share(0.4);
        let mut place = Place::Pool { calm: 0 };
        for _ in 0..9 {
            place = next_place(place, Heard::Nothing, calm, LIMITS);
            place = next_place(place, Heard::Nothing, Looked::Not, LIMITS);
        }
        assert_eq!(place, Place::Pool { calm: 9 });
        let busier = Looked::Share(0.2);
        assert_eq!(
            next_place(place, Heard::Nothing, busier, LIMITS),
            Place::Pool { calm: 0 },
            "a look under 30 % idle starts the count again"
        );
        assert_eq!(next_place(place, Heard::Nothing, calm, LIMITS), Place::Idle);
        let unknown = next_place(place, Heard::Nothing, Looked::Unknown, LIMITS);
        assert_eq!(
            unknown,
            Place::Idle,
            "where nothing can be read, after a second"
        );
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
            // The CPUs are said to be idle: the thread is asked, and never answers.
            tokio::time::timeout(
                Duration::from_secs(30),
                loop_.tick_seeing(Looked::Share(1.0)),
            )
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
