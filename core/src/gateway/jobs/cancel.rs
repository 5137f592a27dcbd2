//! Canceling a job, charged by what its provider did: a job the provider never took is
//! refunded; once the provider accepted it, molts asks the provider to stop it and refunds only
//! when the provider confirms it stopped unbilled — otherwise the work goes on at the provider
//! and the job is charged in full. The output of a job that did not end `ready` is never served
//! (see `Gateway::own_artifact`).
//!
//! Every ending is a compare-and-swap on the job's version, so a cancel racing the job's
//! completion has one winner: a job that ended ready stays ready and charged, and a cancel that
//! won leaves nothing to download. A canceled job is final, so canceling again is 409 and
//! cannot be repeated into refunds.

use crate::ErrorCode;
use crate::domain::{Job, JobStatus};
use crate::error::{Error, Result};
use crate::providers::{Call, Cancel};

use super::super::outbound::tenant_refusal;
use super::super::{AgentPrincipal, Gateway};
use super::JobView;

/// Where a job stands towards its provider, for a cancel.
enum Stage<'a> {
    /// Not taken by any provider, and nobody is handing it to one: nothing was done.
    NotSent,
    /// A worker is handing it to its provider right now: what the provider answers is unknown.
    Sending,
    /// The provider accepted it under this id.
    Accepted(&'a str),
}

fn stage(job: &Job) -> Stage<'_> {
    if let Some(id) = &job.provider_job_id {
        return Stage::Accepted(id);
    }
    // A keyed claim not yet confirmed is never sent: its submitter confirms (and would lose
    // that swap to the cancel) before it calls a provider. A queued job carries the last
    // attempt's error while it waits for the next one, and a worker clears it when it takes
    // the job to submit (see `Gateway::claim`), so no error means a submission is under way.
    if job.attempts == 0 || job.error.is_some() {
        Stage::NotSent
    } else {
        Stage::Sending
    }
}

/// What the cancel does with the job's hold.
enum Close {
    Refund,
    Charge,
}

impl Gateway {
    /// Cancels the caller's unfinished job; the quota is refunded or charged as the module
    /// comment says.
    pub async fn cancel_job(&self, principal: &AgentPrincipal, id: &str) -> Result<JobView> {
        for _ in 0..5 {
            let job = self.own_job(principal, id).await?;
            if job.status.is_final() {
                return Err(Error::conflict(format!(
                    "job '{id}' is already {}",
                    job.status.as_str()
                ))
                .with_code(ErrorCode::JobFinished));
            }
            let close = match stage(&job) {
                Stage::NotSent => Close::Refund,
                Stage::Sending => {
                    return Err(Error::unavailable(
                        "the job is being handed to its provider; try again in a few seconds",
                    )
                    .with_code(ErrorCode::JobBusy));
                }
                Stage::Accepted(provider_job_id) => {
                    match self.ask_provider_to_cancel(&job, provider_job_id).await? {
                        Cancel::Confirmed => Close::Refund,
                        Cancel::Unsupported => Close::Charge,
                    }
                }
            };
            let canceled = Job {
                status: JobStatus::Canceled,
                finished_at: Some(self.now()),
                ..job.clone()
            };
            if let Some(stored) = self.swap(&job, canceled).await? {
                match close {
                    Close::Refund => self.refund_job_hold(&stored.reservation_id).await,
                    // Settled as a ready job would be (and as the hold's expiry would close it).
                    Close::Charge => self.close_job_hold(&stored).await,
                }
                tracing::info!(job = %id, charged = matches!(close, Close::Charge), "job canceled");
                return Ok(self.job_view(&stored, &principal.agent.name));
            }
            // A worker moved it meanwhile (it may have finished): look again.
        }
        Err(Error::unavailable("the job is busy; try again").with_code(ErrorCode::JobBusy))
    }

    /// The job's provider's answer to canceling it. Its errors (an outage) leave the job as it
    /// is: the caller may try again.
    async fn ask_provider_to_cancel(&self, job: &Job, provider_job_id: &str) -> Result<Cancel> {
        let instance = self.job_instance(job).await?;
        let model = self.job_model(job).await?;
        let resolved = self.credentials_for(&instance, model.provider).await?;
        let adapter = self.adapter_for(&model, &resolved)?;
        let call = Call {
            model: &model,
            credentials: &resolved.credentials,
            timeout: self.inner.providers.timeout(model.provider),
        };
        adapter
            .cancel_job(call, provider_job_id)
            .await
            .map_err(|e| tenant_refusal(e, model.provider))
    }
}
