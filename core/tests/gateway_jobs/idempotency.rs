//! Concurrent copies of one keyed submission: every copy answers the one job, the quota is
//! charged once, and the copies never refuse another submission made at the same moment.
//!
//! The memory store answers without ever yielding, so `join_all` would run the copies one after
//! another. Here the job store yields once before every call, so all the copies look their key
//! up before any of them has stored the job: the window real concurrent requests race in.

use molts_core::ErrorCode;
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use molts_core::domain::{Job, JobQuery, JobStatus, Period, PeriodLimit, ReserveRequest, Unit};
use molts_core::gateway::{AgentPrincipal, Submitted};
use molts_core::memory::MemoryStore;
use molts_core::ports::JobStore;
use molts_core::{ErrorKind, Result, Timestamp};

use crate::common::run;
use crate::world::{World, video, world, world_over};

/// Pending once, then ready: lets every other future of a `join_all` run up to its next call.
struct YieldOnce(bool);

/// Lets the other futures of a `join` run once.
pub(crate) async fn yield_once() {
    YieldOnce(false).await;
}

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The memory store's jobs, yielding before every call as a database round trip would.
struct Yielding(Arc<MemoryStore>);

#[async_trait]
impl JobStore for Yielding {
    async fn insert_job(&self, job: &Job) -> Result<()> {
        YieldOnce(false).await;
        self.0.insert_job(job).await
    }
    async fn get_job(&self, id: &str) -> Result<Option<Job>> {
        YieldOnce(false).await;
        self.0.get_job(id).await
    }
    async fn find_job_by_idempotency_key(&self, agent_id: &str, key: &str) -> Result<Option<Job>> {
        YieldOnce(false).await;
        self.0.find_job_by_idempotency_key(agent_id, key).await
    }
    async fn list_jobs(&self, query: &JobQuery) -> Result<Vec<Job>> {
        YieldOnce(false).await;
        self.0.list_jobs(query).await
    }
    async fn update_job(&self, job: &Job, expected_version: u64) -> Result<bool> {
        YieldOnce(false).await;
        self.0.update_job(job, expected_version).await
    }
    async fn due_jobs(&self, now: Timestamp, limit: u32) -> Result<Vec<Job>> {
        YieldOnce(false).await;
        self.0.due_jobs(now, limit).await
    }
}

async fn racing_world() -> World {
    world_over(|store, stores| stores.jobs = Arc::new(Yielding(store))).await
}

const COPIES: usize = 30;

#[test]
fn concurrent_copies_with_one_unit_left_all_answer_the_one_job() {
    run(async {
        let w = racing_world().await;
        let (_, agent) = w.h.agent("maker").await;
        // The free tier allows 10 videos a month: use 9.
        for n in 0..9 {
            w.gw.submit_video(&agent, video(&format!("v{n}")), None)
                .await
                .unwrap();
        }
        let copies =
            (0..COPIES).map(|_| w.gw.submit_video(&agent, video("The one"), Some("key-1")));
        let answers = futures::future::join_all(copies).await;
        let mut ids = BTreeSet::new();
        let mut fresh = 0;
        for answer in answers {
            let submitted = answer.unwrap_or_else(|e| panic!("a copy was refused: {e}"));
            ids.insert(submitted.job.id);
            fresh += usize::from(!submitted.replayed);
        }
        assert_eq!(ids.len(), 1, "one job for every copy: {ids:?}");
        assert_eq!(fresh, 1, "one copy made it, the others replayed it");
        assert_eq!(w.videos_used(&agent).await, 10, "charged exactly once");
        assert_eq!(w.provider.script().submitted.len(), 10, "one provider call");
    });
}

#[test]
fn concurrent_copies_do_not_refuse_another_submission() {
    run(async {
        let w = racing_world().await;
        let (_, agent) = w.h.agent("maker").await;
        // Two videos left: one for the copies' job, one for the other submission.
        for n in 0..8 {
            w.gw.submit_video(&agent, video(&format!("v{n}")), None)
                .await
                .unwrap();
        }
        let copies = (0..COPIES).map(|_| {
            Box::pin(w.gw.submit_video(&agent, video("The one"), Some("key-1")))
                as Pin<Box<dyn Future<Output = Result<Submitted>> + '_>>
        });
        let other = Box::pin(w.gw.submit_video(&agent, video("Another"), Some("key-2")))
            as Pin<Box<dyn Future<Output = Result<Submitted>> + '_>>;
        // The other submission sent last, after every copy has started.
        let mut answers = futures::future::join_all(copies.chain([other])).await;
        let other = answers.pop().unwrap();
        let other = other.unwrap_or_else(|e| panic!("the other submission was refused: {e}"));
        let ids: BTreeSet<String> = answers.into_iter().map(|a| a.unwrap().job.id).collect();
        assert_eq!(ids.len(), 1, "{ids:?}");
        assert!(!ids.contains(&other.job.id));
        assert_eq!(w.videos_used(&agent).await, 10);
    });
}

#[test]
fn copies_refused_for_quota_are_all_refused_and_nothing_is_charged() {
    run(async {
        let w = racing_world().await;
        let (_, agent) = w.h.agent("maker").await;
        for n in 0..10 {
            w.gw.submit_video(&agent, video(&format!("v{n}")), None)
                .await
                .unwrap();
        }
        let copies = (0..COPIES).map(|_| w.gw.submit_video(&agent, video("Too many"), Some("k")));
        let answers = futures::future::join_all(copies).await;
        let mut ids = BTreeSet::new();
        let mut refused = 0;
        for answer in answers {
            match answer {
                Ok(submitted) => {
                    ids.insert(submitted.job.id);
                }
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::QuotaExceeded, "{e}");
                    assert_eq!(e.code(), Some(ErrorCode::QuotaExceeded));
                    refused += 1;
                }
            }
        }
        assert!(refused >= 1, "the copy that tried to reserve was refused");
        assert!(ids.len() <= 1, "copies never answer two jobs: {ids:?}");
        assert_eq!(w.videos_used(&agent).await, 10, "nothing more was charged");
        assert_eq!(w.provider.script().submitted.len(), 10, "no provider call");
        // A later retry with the key gets the same refusal, not a second try.
        let again =
            w.gw.submit_video(&agent, video("Too many"), Some("k"))
                .await;
        assert_eq!(again.unwrap_err().kind(), ErrorKind::QuotaExceeded);
        // Any copy that was answered with the job sees it refused.
        for id in ids {
            let job = w.gw.job(&agent, &id).await.unwrap();
            assert_eq!(job.status, JobStatus::Failed);
            assert_eq!(job.error.unwrap().code, "quota_exceeded");
        }
    });
}

/// What a request leaves when it dies after claiming `key`, before confirming its hold: a
/// queued job with no attempt made, leased for two minutes; with the hold when `held`.
async fn orphaned_claim(w: &World, agent: &AgentPrincipal, key: &str, held: bool) -> Job {
    let done =
        w.gw.submit_video(agent, video(&format!("A model job for {key}")), None)
            .await
            .unwrap();
    let stored = w.gw.stores().jobs.get_job(&done.job.id).await.unwrap();
    let id = format!("job_orphaned_{key}");
    let orphan = Job {
        id: id.clone(),
        reservation_id: id.clone(),
        idempotency_key: Some(key.into()),
        status: JobStatus::Queued,
        provider_job_id: None,
        attempts: 0,
        next_check_at: w.h.now() + chrono::Duration::seconds(120),
        version: 0,
        ..stored.unwrap()
    };
    w.gw.stores().jobs.insert_job(&orphan).await.unwrap();
    if held {
        let request = ReserveRequest {
            reservation_id: id,
            agent_id: agent.agent.id.clone(),
            unit: Unit::Video,
            amount: 1,
            periods: vec![PeriodLimit {
                period: Period::Month,
                key: molts_core::clock::month_key(w.h.now()),
                max: Some(10),
            }],
            at: w.h.now(),
            expires_at: w.h.now() + chrono::Duration::hours(5),
        };
        w.gw.stores().quota.reserve(&request).await.unwrap();
    }
    orphan
}

#[test]
fn a_claim_whose_request_died_before_holding_is_given_up_uncharged() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let orphan = orphaned_claim(&w, &agent, "k1", false).await;
        assert_eq!(w.videos_used(&agent).await, 1, "the model job only");
        // Within its lease nobody touches it.
        w.tick(60).await;
        let waiting = w.gw.job(&agent, &orphan.id).await.unwrap();
        assert_eq!(waiting.status, JobStatus::Queued);
        w.tick(61).await;
        let given_up = w.gw.job(&agent, &orphan.id).await.unwrap();
        assert_eq!(given_up.status, JobStatus::Failed);
        assert_eq!(given_up.error.unwrap().code, "submission_interrupted");
        assert_eq!(w.videos_used(&agent).await, 1, "nothing charged for it");
        assert_eq!(w.provider.script().submitted.len(), 1, "never submitted");
    });
}

#[test]
fn a_claim_whose_request_died_after_holding_goes_on_and_is_not_lost() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let orphan = orphaned_claim(&w, &agent, "k2", true).await;
        assert_eq!(w.videos_used(&agent).await, 2);
        // A copy sent after the crash answers the job.
        let copy =
            w.gw.submit_video(&agent, video("A model job for k2"), Some("k2"))
                .await
                .unwrap();
        assert!(copy.replayed);
        assert_eq!(copy.job.id, orphan.id);
        w.tick(121).await;
        let taken = w.gw.job(&agent, &orphan.id).await.unwrap();
        assert_eq!(
            taken.status,
            JobStatus::Processing,
            "submitted after the lease"
        );
        w.provider.ready();
        w.tick(60).await;
        let done = w.gw.job(&agent, &orphan.id).await.unwrap();
        assert_eq!(done.status, JobStatus::Ready);
        assert_eq!(
            w.videos_used(&agent).await,
            2,
            "charged once, on its own hold"
        );
    });
}
