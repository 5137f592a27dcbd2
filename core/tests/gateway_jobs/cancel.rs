//! Cancel charges by what the provider did: refunded before the provider took the job or when
//! it confirms it stopped the job; charged when it cannot cancel; never for a ready job; and a
//! cancel that wins against the job's completion leaves no output to download.

use molts_core::ErrorCode;
use molts_core::ErrorKind;
use molts_core::domain::{JobStatus, ReservationState};
use molts_core::error::Error;
use molts_core::providers::JobProgress;

use crate::common::{expect_err, run};
use crate::world::{World, video, world};

async fn hold_state(w: &World, job_id: &str) -> ReservationState {
    w.gw.stores()
        .quota
        .get_reservation(job_id)
        .await
        .unwrap()
        .unwrap()
        .state
}

#[test]
fn a_job_the_provider_accepted_and_cannot_cancel_is_charged_once_and_cannot_be_canceled_again() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        // The free tier allows 10 videos a month: cancels must not make that endless.
        for n in 0..10 {
            let job = w.submitted(&agent, &format!("v{n}")).await;
            assert_eq!(job.status, JobStatus::Processing, "the provider took it");
            let canceled = w.gw.cancel_job(&agent, &job.id).await.unwrap();
            assert_eq!(canceled.status, JobStatus::Canceled);
            assert_eq!(
                w.videos_used(&agent).await,
                n + 1,
                "charged: the provider works on"
            );
            assert_eq!(hold_state(&w, &job.id).await, ReservationState::Settled);
            let again = expect_err(w.gw.cancel_job(&agent, &job.id).await, ErrorKind::Conflict);
            assert_eq!(again.code(), Some(ErrorCode::JobFinished));
            assert_eq!(w.videos_used(&agent).await, n + 1);
        }
        assert_eq!(
            w.provider.script().cancel_requests.len(),
            10,
            "it was asked each time"
        );
        let refused = expect_err(
            w.gw.submit_video(&agent, video("eleventh"), None).await,
            ErrorKind::QuotaExceeded,
        );
        assert_eq!(refused.code(), Some(ErrorCode::QuotaExceeded));

        // A canceled job is never checked again, and a late result changes nothing.
        let checks = w.provider.script().checks;
        w.provider.ready();
        w.tick(600).await;
        assert_eq!(w.provider.script().checks, checks);
        assert_eq!(w.videos_used(&agent).await, 10);
    });
}

#[test]
fn a_cancel_the_provider_confirms_is_refunded() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        w.provider.script().confirms_cancel = true;
        let job = w.submitted(&agent, "Stop me").await;
        assert_eq!(w.videos_used(&agent).await, 1);
        let canceled = w.gw.cancel_job(&agent, &job.id).await.unwrap();
        assert_eq!(canceled.status, JobStatus::Canceled);
        assert_eq!(w.provider.script().cancel_requests, vec!["p1".to_owned()]);
        assert_eq!(w.videos_used(&agent).await, 0, "refunded");
        assert_eq!(hold_state(&w, &job.id).await, ReservationState::Refunded);
        // The hold's expiry leaves a closed hold alone.
        w.tick(6 * 3600).await;
        assert_eq!(w.videos_used(&agent).await, 0);
    });
}

#[test]
fn a_job_no_provider_took_yet_is_refunded_without_asking_one() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        w.provider
            .script()
            .submit_errors
            .push_back(Error::unavailable("upstream 503"));
        let job = w.submitted(&agent, "Waiting").await;
        assert_eq!(job.status, JobStatus::Queued);
        let canceled = w.gw.cancel_job(&agent, &job.id).await.unwrap();
        assert_eq!(canceled.status, JobStatus::Canceled);
        assert_eq!(w.videos_used(&agent).await, 0, "refunded");
        assert!(w.provider.script().cancel_requests.is_empty());
        // Never submitted afterwards.
        w.tick(600).await;
        assert_eq!(w.provider.script().submitted.len(), 0);
        assert_eq!(w.videos_used(&agent).await, 0);
    });
}

#[test]
fn a_ready_job_is_never_refunded() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        w.provider.script().confirms_cancel = true;
        let job = w.submitted(&agent, "Done").await;
        w.provider.ready();
        w.tick(5).await;
        assert_eq!(
            w.gw.job(&agent, &job.id).await.unwrap().status,
            JobStatus::Ready
        );
        let err = expect_err(w.gw.cancel_job(&agent, &job.id).await, ErrorKind::Conflict);
        assert_eq!(err.code(), Some(ErrorCode::JobFinished));
        assert_eq!(w.videos_used(&agent).await, 1);
        assert_eq!(hold_state(&w, &job.id).await, ReservationState::Settled);
        assert!(w.provider.script().cancel_requests.is_empty());
    });
}

#[test]
fn a_cancel_that_wins_against_completion_leaves_no_output_to_download() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let job = w.submitted(&agent, "Racing").await;
        w.provider.ready();
        let (release, gate) = futures::channel::oneshot::channel();
        w.provider.script().download_gate = Some(gate);
        w.h.advance(chrono::Duration::seconds(5));

        // The scheduled work copies the output; while its bytes are on the way, the agent
        // cancels, and only then do they arrive.
        let work = w.gw.run_scheduled_work();
        let cancel = async {
            while w.provider.script().downloads_started == 0 {
                crate::idempotency::yield_once().await;
            }
            let canceled = w.gw.cancel_job(&agent, &job.id).await;
            release.send(()).unwrap();
            canceled
        };
        let (worked, canceled) = futures::future::join(work, cancel).await;
        worked.unwrap();
        assert_eq!(canceled.unwrap().status, JobStatus::Canceled);

        let stored = w.gw.job(&agent, &job.id).await.unwrap();
        assert_eq!(
            stored.status,
            JobStatus::Canceled,
            "the cancel won; nothing moves it"
        );
        assert!(stored.artifact_id.is_none() && stored.url.is_none());
        // The output's id is derived from the job's: it must not be there to fetch.
        let output_id = format!("art_{}", job.id.trim_start_matches("job_"));
        expect_err(
            w.gw.artifact_content(&agent, &output_id, None).await,
            ErrorKind::NotFound,
        );
        expect_err(w.gw.artifact(&agent, &output_id).await, ErrorKind::NotFound);
        let listed =
            w.gw.list_artifacts(&agent, None, None, None, None)
                .await
                .unwrap();
        assert!(listed.data.is_empty(), "{:?}", listed.data);
        // Charged: the provider did the work and could not cancel it.
        assert_eq!(w.videos_used(&agent).await, 1);
    });
}

#[test]
fn a_failed_job_is_never_charged_by_a_later_cancel() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let job = w.submitted(&agent, "Doomed").await;
        w.provider.then(JobProgress::Failed {
            message: "no".into(),
        });
        w.tick(5).await;
        expect_err(w.gw.cancel_job(&agent, &job.id).await, ErrorKind::Conflict);
        assert_eq!(w.videos_used(&agent).await, 0);
    });
}

#[test]
fn a_job_being_handed_to_its_provider_cannot_be_canceled_until_the_answer_is_known() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        w.provider
            .script()
            .submit_errors
            .push_back(Error::unavailable("upstream 503"));
        let job = w.submitted(&agent, "In flight").await;
        // What a worker's claim leaves while its submission call runs: queued, no error.
        let stored = w.gw.stores().jobs.get_job(&job.id).await.unwrap().unwrap();
        let claimed = molts_core::domain::Job {
            error: None,
            ..stored.clone()
        };
        assert!(
            w.gw.stores()
                .jobs
                .update_job(&claimed, stored.version)
                .await
                .unwrap()
        );
        let busy = expect_err(
            w.gw.cancel_job(&agent, &job.id).await,
            ErrorKind::Unavailable,
        );
        assert_eq!(busy.code(), Some(ErrorCode::JobBusy));
        assert_eq!(
            w.videos_used(&agent).await,
            1,
            "nothing refunded while unknown"
        );
        // Once the provider took it, the cancel follows the provider's answer.
        w.tick(120).await;
        let taken = w.gw.job(&agent, &job.id).await.unwrap();
        assert_eq!(taken.status, JobStatus::Processing);
        let canceled = w.gw.cancel_job(&agent, &job.id).await.unwrap();
        assert_eq!(canceled.status, JobStatus::Canceled);
        assert_eq!(
            w.videos_used(&agent).await,
            1,
            "charged: the provider cannot cancel"
        );
    });
}
