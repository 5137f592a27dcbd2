//! Keyed submissions claim their `Idempotency-Key` before they hold any quota.
//!
//! Why: copies of one keyed submission arrive together (a client's retries, a proxy replaying a
//! request). If each copy held the quota before its key was known to be taken, as many copies
//! as there are units left would hold one, all but one would give theirs back, and the other
//! copies — and any other submission made meanwhile — would be refused quota the copies only
//! borrowed. So a keyed submission first stores its job: the store keeps an agent's keys unique,
//! which lets exactly one copy in (the claim). Only that copy holds quota; every other copy
//! answers its job, touching no quota at all. Looking the key up again and waiting for a
//! winner instead would still let several copies hold at once, and would rest on timing.
//!
//! A claimed job is stored with `attempts: 0` (its hold not yet confirmed), leased to the
//! request that stored it. Then:
//! - the hold is taken: the request swaps `attempts` to 1 and submits it like any job;
//! - the quota is refused: the job fails with `quota_exceeded` (nothing held or charged, no
//!   event sent) and the request answers 429; the key's copies and retries answer the same;
//! - the request dies (or stalls past the lease) before confirming: whoever advances the job
//!   next finds `attempts: 0` and looks for its hold. Held: the job goes on like any queued
//!   job (its copies were answered with it, so it is not lost). Not held: it fails with
//!   `submission_interrupted`, nothing charged. A request that was only slow then loses its
//!   confirming swap: it keeps its hold if the job went on, and gives it back if the job
//!   ended (given up, or canceled before its hold was confirmed).
//!
//! A copy that reads the job between its claim and a quota refusal answers it queued; it then
//! reads failed with `quota_exceeded`.

use crate::ErrorCode;
use crate::domain::{Job, JobError, JobStatus, ReservationState};
use crate::error::{Error, ErrorKind, Result};

use super::super::{AgentPrincipal, Gateway};
use super::Submitted;

/// What claiming a key came to.
pub(super) enum Claimed {
    /// This request stored the job and holds its quota: it submits it.
    Held(Job),
    /// Another copy had the key, or the job ended before its hold was confirmed: the answer.
    Answered(Submitted),
}

impl Gateway {
    /// Stores `job` under `key`, then holds its quota (see the module comment).
    pub(super) async fn claim_key_then_hold(
        &self,
        principal: &AgentPrincipal,
        job: Job,
        key: &str,
        hold_ttl: chrono::Duration,
    ) -> Result<Claimed> {
        let jobs = &self.inner.ports.stores.jobs;
        let claim = Job { attempts: 0, ..job };
        if let Err(e) = jobs.insert_job(&claim).await {
            if e.kind() == ErrorKind::Conflict
                && let Some(earlier) = self
                    .replay(principal, claim.kind, &claim.input, key)
                    .await?
            {
                // Another copy claimed the key first.
                return Ok(Claimed::Answered(earlier));
            }
            return Err(e);
        }
        let held = self
            .reserve_as(
                principal,
                claim.reservation_id.clone(),
                claim.kind.unit(),
                claim.units,
                hold_ttl,
            )
            .await;
        if let Err(e) = held {
            let code = if e.kind() == ErrorKind::QuotaExceeded {
                ErrorCode::QuotaExceeded.as_str()
            } else {
                "submission_failed"
            };
            self.fail_claim(&claim, code, e.message()).await;
            // A store error may hide a hold that was made; and if the job ended meanwhile,
            // whoever ended it may have looked for the hold before it existed.
            self.refund_job_hold(&claim.reservation_id).await;
            return Err(e);
        }
        let confirmed = Job {
            attempts: 1,
            ..claim.clone()
        };
        if let Some(held) = self.swap(&claim, confirmed).await? {
            return Ok(Claimed::Held(held));
        }
        // Moved meanwhile: canceled or given up (it will never run, so the hold just taken
        // goes back), or taken over by a worker that found this hold (it runs on it).
        let stored = self.reload_job(&claim.id).await?;
        if stored.status.is_final() {
            self.refund_job_hold(&claim.reservation_id).await;
        }
        Ok(Claimed::Answered(Submitted {
            job: self.job_view(&stored, &principal.agent.name),
            replayed: false,
        }))
    }

    /// Whether an unconfirmed claim's hold was taken (its request died after holding).
    pub(in crate::gateway) async fn unconfirmed_claim_is_held(&self, job: &Job) -> Result<bool> {
        let hold = self
            .inner
            .ports
            .stores
            .quota
            .get_reservation(&job.reservation_id)
            .await?;
        Ok(hold.is_some_and(|h| h.state == ReservationState::Reserved))
    }

    /// Gives up a claim whose submitting request never held its quota within the lease.
    pub(in crate::gateway) async fn give_up_unconfirmed_claim(&self, job: Job) -> Result<Job> {
        match self
            .fail_claim(
                &job,
                "submission_interrupted",
                "the submission was interrupted before its quota was held; submit it again",
            )
            .await
        {
            Some(failed) => {
                self.refund_job_hold(&failed.reservation_id).await;
                Ok(failed)
            }
            // The request confirmed it meanwhile (or it was canceled): as stored.
            None => self.reload_job(&job.id).await,
        }
    }

    /// Fails an unconfirmed claim without events (its submitter answers with an error, or is
    /// gone); the failed job, or `None` if the swap lost.
    async fn fail_claim(&self, claim: &Job, code: &str, message: &str) -> Option<Job> {
        let now = self.now();
        let failed = Job {
            status: JobStatus::Failed,
            error: Some(JobError {
                code: code.to_owned(),
                message: message.to_owned(),
            }),
            updated_at: now,
            finished_at: Some(now),
            ..claim.clone()
        };
        match self.swap(claim, failed).await {
            Ok(stored) => stored,
            Err(e) => {
                // The claim stays unconfirmed: the next advance after its lease gives it up.
                tracing::warn!(job = %claim.id, error = %e, "failing an unconfirmed claim failed");
                None
            }
        }
    }
}

/// The refusal a keyed job refused for quota answers its copies and retries with.
pub(super) fn quota_refusal(job: &Job) -> Option<Error> {
    let error = job.error.as_ref()?;
    (job.status == JobStatus::Failed && error.code == ErrorCode::QuotaExceeded.as_str()).then(
        || {
            Error::new(ErrorKind::QuotaExceeded, error.message.clone())
                .with_code(ErrorCode::QuotaExceeded)
        },
    )
}
