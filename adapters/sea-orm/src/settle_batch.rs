//! On a SQLite file, the settlements and refunds that wait for the writer turn together are
//! written in one transaction when it comes (group commit).
//!
//! Why: every write transaction takes this process's writer turn, and in write-ahead-log mode
//! every commit appends whole 4 KiB pages — a settlement touches three (its reservation's row,
//! the open-holds index, the agent's counters) to change a few bytes of each. Under load,
//! settlements queue for the turn behind reservations; written together, they share one turn,
//! one `BEGIN`/`COMMIT` and the pages they have in common. Nothing waits on purpose: a close
//! that finds no one ahead of it is written at once, alone. (A window that held settlements back
//! for a few milliseconds to gather more was measured and dropped: its larger transactions
//! held the turn long enough to delay the next reservation, doubling the tail at concurrency
//! 1.)
//!
//! What keeps it correct:
//! - **Every close is the same two statements** as when written alone; each only acts on a
//!   hold still open, so a batch holding a reservation twice (a settle racing a refund) closes
//!   it once and tells the second caller it is already closed, as two transactions would.
//! - **A caller returns only once its close is committed** (or has failed): batching changes
//!   when the write happens, never what the caller is told.
//! - **Failures fall back to one at a time.** If the batch's transaction fails or another
//!   writer holds the database, each close is written on its own, through the usual path, so
//!   one bad close cannot fail the others.
//! - **No close is stranded.** The first close into an empty queue leads the batch on its own
//!   task; a leader cancelled while waiting for the turn hands the batch to a new task, and the
//!   one-at-a-time fallback always runs on a task of its own.
//! - **A batch is bounded** ([`MAX_BATCH`] closes): it holds the writer turn while it is
//!   written, and the next reservation waits that long. Closes beyond it are written by a task,
//!   in batches of the same size, each taking the turn afresh, so reservations can go between.

use std::sync::{Arc, Mutex, PoisonError};

use molts_core::{Error, Result};
use sea_orm::Value;
use tokio::sync::{OwnedMutexGuard, oneshot};

use crate::SeaOrmStore;
use crate::entity::quota_reservation;
use crate::sqlite_ledger::{self as ledger, Finish, NotHere};

/// Most closes written in one transaction. Each is two statements; a batch holds the writer
/// turn for all of them, so this bounds how long the next reservation can wait behind one, while
/// still letting many share a commit. (Only reached above 64 settlements in flight at once.)
pub(crate) const MAX_BATCH: usize = 64;

/// A closed reservation's row, or `None` when it was not open.
pub(crate) type Closed = Result<Option<quota_reservation::Model>>;

/// One close waiting for its batch: the parameters of the close statements
/// (`quota::close_values`) and where to send the outcome.
struct Closing {
    values: [Value; 6],
    done: oneshot::Sender<Closed>,
}

/// The closes waiting to be written, and whether a flush is on its way for them.
#[derive(Default)]
struct Queue {
    waiting: Vec<Closing>,
    flush_scheduled: bool,
}

/// The settlement batches of one store.
#[derive(Default)]
pub(crate) struct SettleBatches {
    queue: Mutex<Queue>,
}

impl std::fmt::Debug for SettleBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettleBatches").finish_non_exhaustive()
    }
}

impl SettleBatches {
    /// Queues a close and waits for the batch that writes it. The first close into an empty
    /// queue leads: it waits for the writer turn and writes whatever has queued by then, its
    /// own close included, on its own task (no hand-off to another thread on the way).
    pub(crate) async fn close(self: &Arc<Self>, store: &SeaOrmStore, values: [Value; 6]) -> Closed {
        let (done, outcome) = oneshot::channel();
        let lead = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.waiting.push(Closing { values, done });
            !std::mem::replace(&mut queue.flush_scheduled, true)
        };
        if lead {
            // Dropped before the batch is taken (the leader was cancelled while waiting for
            // the turn), it hands the flush to a task, so the closes queued behind are written.
            let mut handover = Handover(Some((Arc::clone(self), store.clone())));
            let turn = store.write_turn().await;
            handover.0 = None;
            let (batch, more) = self.take();
            self.write(store, turn, batch);
            if more {
                tokio::spawn(Arc::clone(self).flush(store.clone()));
            }
        }
        outcome
            .await
            .unwrap_or_else(|_| Err(Error::unavailable("the settlement batch was dropped")))
    }

    /// The first [`MAX_BATCH`] closes queued, oldest first, and whether more wait. When none
    /// do, the next close to arrive leads the next batch; when some do, the caller must flush
    /// them (the queue stays marked as having a flush on its way).
    fn take(&self) -> (Vec<Closing>, bool) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if queue.waiting.len() <= MAX_BATCH {
            queue.flush_scheduled = false;
            return (std::mem::take(&mut queue.waiting), false);
        }
        let rest = queue.waiting.split_off(MAX_BATCH);
        (std::mem::replace(&mut queue.waiting, rest), true)
    }

    /// Writes the queued closes, a batch per writer turn, until none wait (a cancelled
    /// leader's batch, or what a full batch left behind).
    async fn flush(self: Arc<Self>, store: SeaOrmStore) {
        loop {
            let turn = store.write_turn().await;
            let (batch, more) = self.take();
            self.write(&store, turn, batch);
            if !more {
                return;
            }
        }
    }

    /// Writes `batch` in one transaction in place, under `turn`, and tells each caller. If that
    /// cannot be done, a task writes them one at a time, each as if never batched — a task, so
    /// no caller's cancellation can stop it halfway.
    fn write(&self, store: &SeaOrmStore, turn: Option<OwnedMutexGuard<()>>, batch: Vec<Closing>) {
        let written = store.ledger.as_ref().map(|ledger| {
            ledger.transaction(|txn| {
                let rows = batch
                    .iter()
                    .map(|closing| crate::quota::close_in_place(txn, &closing.values))
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(ledger::db_error)?;
                Ok(Finish::Commit(rows))
            })
        });
        drop(turn);
        match written {
            Some(Ok(rows)) => {
                for (closing, row) in batch.into_iter().zip(rows) {
                    let _ = closing.done.send(Ok(row));
                }
            }
            // Busy, failed, or no ledger (closed).
            Some(Err(NotHere::Busy | NotHere::Failed(_))) | None => {
                let store = store.clone();
                tokio::spawn(async move {
                    for closing in batch {
                        let outcome = store.write_close(closing.values).await;
                        let _ = closing.done.send(outcome);
                    }
                });
            }
        }
    }
}

/// A leader's batch, handed to a task if the leader is dropped before taking it.
struct Handover(Option<(Arc<SettleBatches>, SeaOrmStore)>);

impl Drop for Handover {
    fn drop(&mut self) {
        // Without a runtime (it is shutting down) the queued callers are told the batch was
        // dropped, as their senders go with it.
        if let Some((batches, store)) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(batches.flush(store));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Waker};
    use std::time::Duration;

    use molts_core::domain::{Period, ReservationState, ReserveOutcome};
    use molts_core::ports::QuotaStore;

    use crate::SeaOrmStore;
    use crate::quota::tests::hold;

    /// A migrated store on a SQLite file in `dir` (the in-place ledger needs a file).
    async fn migrated_file(
        dir: &tempfile::TempDir,
    ) -> std::result::Result<SeaOrmStore, Box<dyn std::error::Error + Send + Sync>> {
        let path = dir.path().join("molts.db");
        let store = SeaOrmStore::connect(&format!("sqlite://{}?mode=rwc", path.display())).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Polls `future` once; true if it is now waiting (it has queued its close).
    fn waiting<F: Future>(future: Pin<&mut F>) -> bool {
        future
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending()
    }

    /// A leader dropped while it waits for the writer turn (its request was cancelled) hands
    /// the batch to a task: the close queued behind it is still written and answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_leader_does_not_strand_the_batch()
    -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let dir = tempfile::tempdir()?;
        let store = migrated_file(&dir).await?;
        let (first, second) = (hold("agt_handover", 1), hold("agt_handover", 2));
        for request in [&first, &second] {
            assert_eq!(store.reserve(request).await?, ReserveOutcome::Reserved);
        }

        let turn = store.write_turn().await;
        let mut leader = Box::pin(store.settle(&first.reservation_id, 3, first.at));
        assert!(waiting(leader.as_mut()), "the leader waits for the turn");
        let mut follower = Box::pin(store.settle(&second.reservation_id, 5, second.at));
        assert!(
            waiting(follower.as_mut()),
            "the follower waits for the batch"
        );
        drop(leader);
        drop(turn);

        let settled = tokio::time::timeout(Duration::from_secs(5), follower)
            .await
            .map_err(|_| "the close queued behind a cancelled leader was stranded")??;
        assert_eq!(
            (settled.state, settled.charged),
            (ReservationState::Settled, Some(5))
        );
        // The cancelled leader's close was already queued, so the batch wrote it too.
        let first_now = store.get_reservation(&first.reservation_id).await?;
        assert_eq!(first_now.and_then(|r| r.charged), Some(3));
        let month = store
            .usage("agt_handover", &[(Period::Month, "2026-11".to_owned())])
            .await?;
        assert_eq!(month.iter().map(|c| c.used).sum::<u64>(), 8);
        store.close().await?;
        Ok(())
    }

    /// A batch takes at most `MAX_BATCH` closes, oldest first; what is left stays marked as
    /// having a flush on its way until the last of it is taken.
    #[test]
    fn a_batch_takes_at_most_max_batch_oldest_first() {
        use super::{Closing, MAX_BATCH, SettleBatches};

        let batches = SettleBatches::default();
        let queued = 2 * MAX_BATCH + 22;
        let mut receivers = Vec::new();
        {
            let mut queue = batches.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.flush_scheduled = true;
            for n in 0..queued {
                let (done, outcome) = tokio::sync::oneshot::channel();
                receivers.push(outcome);
                let id = i64::try_from(n).unwrap_or_default();
                queue.waiting.push(Closing {
                    values: crate::quota::tests::close_values_for_test(id),
                    done,
                });
            }
        }
        let mut taken = Vec::new();
        let mut sizes = Vec::new();
        loop {
            let (batch, more) = batches.take();
            sizes.push((batch.len(), more));
            taken.extend(batch.into_iter().map(|c| c.values[0].clone()));
            let scheduled = batches
                .queue
                .lock()
                .map(|q| q.flush_scheduled)
                .unwrap_or(false);
            assert_eq!(scheduled, more, "a flush stays scheduled while closes wait");
            if !more {
                break;
            }
        }
        assert_eq!(
            sizes,
            vec![(MAX_BATCH, true), (MAX_BATCH, true), (22, false)]
        );
        let expected: Vec<_> = (0..queued)
            .map(|n| {
                crate::quota::tests::close_values_for_test(i64::try_from(n).unwrap_or_default())[0]
                    .clone()
            })
            .collect();
        assert_eq!(taken, expected, "oldest first, none lost or repeated");
    }

    /// More closes than one batch holds, all queued behind the writer turn: every one is
    /// written and answered (a full batch leaves the rest to a task, batch by batch).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closes_beyond_one_batch_are_all_written()
    -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let dir = tempfile::tempdir()?;
        let store = migrated_file(&dir).await?;
        let holds: Vec<_> = (0..150)
            .map(|n| {
                let mut request = hold("agt_many", n);
                for p in &mut request.periods {
                    p.max = Some(10_000);
                }
                request
            })
            .collect();
        for request in &holds {
            assert_eq!(store.reserve(request).await?, ReserveOutcome::Reserved);
        }

        let turn = store.write_turn().await;
        let mut closes: Vec<_> = holds
            .iter()
            .map(|h| Box::pin(store.settle(&h.reservation_id, 2, h.at)))
            .collect();
        for close in &mut closes {
            assert!(waiting(close.as_mut()), "each close queues behind the turn");
        }
        drop(turn);

        let settled =
            tokio::time::timeout(Duration::from_secs(10), futures::future::join_all(closes))
                .await
                .map_err(|_| "a close was stranded")?;
        for reservation in settled {
            let reservation = reservation?;
            assert_eq!(
                (reservation.state, reservation.charged),
                (ReservationState::Settled, Some(2))
            );
        }
        let month = store
            .usage("agt_many", &[(Period::Month, "2026-11".to_owned())])
            .await?;
        assert_eq!(month.iter().map(|c| c.used).sum::<u64>(), 300);
        store.close().await?;
        Ok(())
    }
}
