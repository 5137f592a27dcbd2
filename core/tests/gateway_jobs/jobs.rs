//! The job state machine: held, checked, stored and settled; failures, outages and deadlines
//! refunded; idempotency keys, isolation between agents (cancel is `cancel.rs`'s), quota checked
//! before anything is stored, bad submissions refused, and a hold whose job was never stored closed when it expires.

use bytes::Bytes;
use futures::StreamExt;
use molts_core::ErrorCode;
use molts_core::domain::{JobStatus, Period, ReservationState, Unit};
use molts_core::gateway::{RenderSubmission, VideoSubmission};
use molts_core::providers::JobProgress;
use molts_core::{Error, ErrorKind};

use crate::common::{expect_err, run};
use crate::world::{OUTPUT, video, world};

#[test]
fn a_video_job_is_held_then_checked_then_stored_and_settled() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let submitted =
            w.gw.submit_video(&agent, video("Hello there"), None)
                .await
                .unwrap();
        let job = submitted.job;
        assert_eq!(job.status, JobStatus::Processing);
        assert_eq!(job.model, "demo-video");
        assert_eq!(w.videos_used(&agent).await, 1, "the job holds one video");
        let stored = w.gw.stores().jobs.get_job(&job.id).await.unwrap().unwrap();
        assert_eq!(stored.provider_job_id.as_deref(), Some("p1"));
        let sent = w.provider.script().submitted[0].clone();
        assert_eq!(sent.script, "Hello there");
        assert_eq!(sent.job_id, job.id);
        assert!(
            sent.callback_url.as_deref().is_some_and(
                |u| u.starts_with(&format!("https://molts.test/v1/callbacks/{}/", job.id))
            ),
            "{sent:?}"
        );

        // Not yet due: nothing is asked.
        w.tick(1).await;
        assert_eq!(w.provider.script().checks, 0);
        // Due: still processing at the provider.
        w.tick(5).await;
        assert_eq!(w.provider.script().checks, 1);
        assert_eq!(
            w.gw.job(&agent, &job.id).await.unwrap().status,
            JobStatus::Processing
        );

        w.provider.ready();
        w.tick(60).await;
        let done = w.gw.job(&agent, &job.id).await.unwrap();
        assert_eq!(done.status, JobStatus::Ready);
        assert_eq!(done.duration, Some(4.5));
        let artifact_id = done.artifact_id.clone().unwrap();
        assert_eq!(
            done.url.as_deref(),
            Some(format!("https://molts.test/v1/artifacts/{artifact_id}/content").as_str())
        );
        let content =
            w.gw.artifact_content(&agent, &artifact_id, None)
                .await
                .unwrap();
        assert_eq!(content.artifact.size, OUTPUT.len() as u64);
        assert_eq!(content.artifact.content_type, "video/mp4");
        let bytes: Vec<Bytes> = content.object.body.map(|c| c.unwrap()).collect().await;
        assert_eq!(bytes.concat(), OUTPUT);
        let range =
            w.gw.artifact_content(&agent, &artifact_id, Some(4..8))
                .await
                .unwrap();
        let part: Vec<Bytes> = range.object.body.map(|c| c.unwrap()).collect().await;
        assert_eq!(part.concat(), &OUTPUT[4..8]);

        let hold =
            w.gw.stores()
                .quota
                .get_reservation(&job.id)
                .await
                .unwrap()
                .unwrap();
        assert_eq!(hold.state, ReservationState::Settled);
        assert_eq!(hold.charged, Some(1));
        assert_eq!(w.videos_used(&agent).await, 1);

        // A second job of the same agent stores its own output.
        let second = w.submitted(&agent, "Again").await;
        w.provider.ready();
        w.tick(60).await;
        let second = w.gw.job(&agent, &second.id).await.unwrap();
        assert_eq!(second.status, JobStatus::Ready);
        assert_ne!(second.artifact_id, done.artifact_id);

        // A finished job is never asked about again.
        let checks = w.provider.script().checks;
        w.tick(3600).await;
        assert_eq!(w.provider.script().checks, checks);
    });
}

#[test]
fn a_failed_job_is_refunded_with_the_providers_message() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let job = w.submitted(&agent, "Hi").await;
        w.provider.then(JobProgress::Failed {
            message: "avatar not found".into(),
        });
        w.tick(5).await;
        let failed = w.gw.job(&agent, &job.id).await.unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        let error = failed.error.unwrap();
        assert_eq!(error.code, "provider_failed");
        assert_eq!(error.message, "avatar not found");
        assert_eq!(w.videos_used(&agent).await, 0, "refunded");
    });
}

#[test]
fn an_outage_at_submission_is_retried_then_fails_and_refunds() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        for _ in 0..10 {
            w.provider
                .script()
                .submit_errors
                .push_back(Error::unavailable("upstream 503"));
        }
        let job = w.submitted(&agent, "Hi").await;
        assert_eq!(
            job.status,
            JobStatus::Queued,
            "kept for a retry, not failed"
        );
        assert_eq!(job.error.as_ref().unwrap().code, "provider_unavailable");
        assert_eq!(w.videos_used(&agent).await, 1);
        for _ in 0..10 {
            w.tick(120).await;
        }
        let failed = w.gw.job(&agent, &job.id).await.unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        assert_eq!(failed.error.unwrap().code, "provider_unavailable");
        assert_eq!(w.videos_used(&agent).await, 0, "refunded");
        let left = w.provider.script().submit_errors.len();
        assert_eq!(10 - left, 3, "exactly max_submit_attempts submissions");
    });
}

#[test]
fn a_recovered_provider_takes_a_deferred_job() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        w.provider
            .script()
            .submit_errors
            .push_back(Error::unavailable("upstream 503"));
        let job = w.submitted(&agent, "Hi").await;
        assert_eq!(job.status, JobStatus::Queued);
        w.tick(120).await;
        let stored = w.gw.stores().jobs.get_job(&job.id).await.unwrap().unwrap();
        assert_eq!(stored.status, JobStatus::Processing);
        assert!(stored.error.is_none(), "the old error is cleared");
        w.provider.ready();
        w.tick(60).await;
        assert_eq!(
            w.gw.job(&agent, &job.id).await.unwrap().status,
            JobStatus::Ready
        );
        assert_eq!(w.videos_used(&agent).await, 1);
    });
}

#[test]
fn an_idempotency_key_returns_the_same_job_and_charges_once() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let first =
            w.gw.submit_video(&agent, video("Once"), Some("key-1"))
                .await
                .unwrap();
        assert!(!first.replayed);
        let again =
            w.gw.submit_video(&agent, video("Once"), Some("key-1"))
                .await
                .unwrap();
        assert!(again.replayed);
        assert_eq!(again.job.id, first.job.id);
        assert_eq!(w.videos_used(&agent).await, 1);
        assert_eq!(w.provider.script().submitted.len(), 1);

        let err = expect_err(
            w.gw.submit_video(&agent, video("Something else"), Some("key-1"))
                .await,
            ErrorKind::Conflict,
        );
        assert_eq!(err.code(), Some(ErrorCode::IdempotencyKeyReused));

        // Racing retries with one key: one job, one charge.
        let racers = (0..10).map(|_| w.gw.submit_video(&agent, video("Race"), Some("key-2")));
        let results = futures::future::join_all(racers).await;
        let ids: std::collections::BTreeSet<String> =
            results.into_iter().map(|r| r.unwrap().job.id).collect();
        assert_eq!(ids.len(), 1, "{ids:?}");
        assert_eq!(w.videos_used(&agent).await, 2);

        expect_err(
            w.gw.submit_video(&agent, video("x"), Some("")).await,
            ErrorKind::Invalid,
        );
        // Another agent's same key is its own.
        let (_, other) = w.h.agent("other").await;
        let theirs =
            w.gw.submit_video(&other, video("Once"), Some("key-1"))
                .await
                .unwrap();
        assert_ne!(theirs.job.id, first.job.id);
        assert!(!theirs.replayed);
    });
}

#[test]
fn an_agent_sees_only_its_own_jobs() {
    run(async {
        let w = world().await;
        let (_, alice) = w.h.agent("alice").await;
        let (_, bob) = w.h.agent("bob").await;
        let job = w.submitted(&alice, "Mine").await;
        expect_err(w.gw.job(&bob, &job.id).await, ErrorKind::NotFound);
        expect_err(w.gw.cancel_job(&bob, &job.id).await, ErrorKind::NotFound);
        assert!(
            w.gw.list_jobs(&bob, None, None, None, None)
                .await
                .unwrap()
                .data
                .is_empty()
        );
        let mine =
            w.gw.list_jobs(&alice, None, None, None, None)
                .await
                .unwrap();
        assert_eq!(mine.data.len(), 1);
        assert_eq!(mine.data[0].agent.name, "alice");
        let none =
            w.gw.list_jobs(&alice, None, Some(JobStatus::Ready), None, None)
                .await
                .unwrap();
        assert!(none.data.is_empty());
    });
}

#[test]
fn a_job_past_its_deadline_times_out_and_is_refunded() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let job = w.submitted(&agent, "Slow").await;
        for _ in 0..70 {
            w.tick(60).await;
        }
        let failed = w.gw.job(&agent, &job.id).await.unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        assert_eq!(failed.error.unwrap().code, "timed_out");
        assert_eq!(w.videos_used(&agent).await, 0);
    });
}

#[test]
fn quota_is_checked_before_anything_is_stored() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        // The free tier allows 10 videos a month.
        for n in 0..10 {
            w.gw.submit_video(&agent, video(&format!("v{n}")), None)
                .await
                .unwrap();
        }
        let err = expect_err(
            w.gw.submit_video(&agent, video("one too many"), None).await,
            ErrorKind::QuotaExceeded,
        );
        assert_eq!(err.code(), Some(ErrorCode::QuotaExceeded));
        let all =
            w.gw.list_jobs(&agent, None, None, None, Some(100))
                .await
                .unwrap();
        assert_eq!(all.data.len(), 10, "the refused submission stored no job");
    });
}

#[test]
fn bad_submissions_are_refused() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        expect_err(
            w.gw.submit_video(&agent, video("  "), None).await,
            ErrorKind::Invalid,
        );
        let long = "x".repeat(molts_core::gateway::MAX_SCRIPT_CHARS + 1);
        expect_err(
            w.gw.submit_video(&agent, video(&long), None).await,
            ErrorKind::Invalid,
        );
        let bad_ratio = VideoSubmission {
            aspect_ratio: Some("4:3".into()),
            ..video("Hi")
        };
        expect_err(
            w.gw.submit_video(&agent, bad_ratio, None).await,
            ErrorKind::Invalid,
        );
        let internal = VideoSubmission {
            webhook_url: Some("http://169.254.169.254/latest".into()),
            ..video("Hi")
        };
        let err = expect_err(
            w.gw.submit_video(&agent, internal, None).await,
            ErrorKind::Invalid,
        );
        assert_eq!(err.code(), Some(ErrorCode::WebhookUrlRefused));
        let no_tracks = RenderSubmission {
            model: None,
            timeline: serde_json::json!({"tracks": []}),
            output: None,
            webhook_url: None,
        };
        expect_err(
            w.gw.submit_render(&agent, no_tracks, None).await,
            ErrorKind::Invalid,
        );
        assert_eq!(w.videos_used(&agent).await, 0);
        assert!(
            w.gw.list_jobs(&agent, None, None, None, None)
                .await
                .unwrap()
                .data
                .is_empty()
        );
    });
}

#[test]
fn a_hold_whose_job_was_never_stored_is_refunded_when_it_expires() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let now = w.h.now();
        let request = molts_core::domain::ReserveRequest {
            reservation_id: "job_orphan".into(),
            agent_id: agent.agent.id.clone(),
            unit: Unit::Video,
            amount: 1,
            periods: vec![molts_core::domain::PeriodLimit {
                period: Period::Month,
                key: molts_core::clock::month_key(now),
                max: Some(10),
            }],
            at: now,
            expires_at: now + chrono::Duration::minutes(1),
        };
        w.gw.stores().quota.reserve(&request).await.unwrap();
        w.tick(120).await;
        let hold =
            w.gw.stores()
                .quota
                .get_reservation("job_orphan")
                .await
                .unwrap()
                .unwrap();
        assert_eq!(hold.state, ReservationState::Refunded);
    });
}
