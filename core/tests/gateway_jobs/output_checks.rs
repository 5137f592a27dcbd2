//! A job's output is stored only once its first bytes show it is the video it claims: a CDN's
//! error page is refused and fetched again, and one that never turns into a video fails the job at
//! its deadline.

use bytes::Bytes;
use futures::StreamExt;
use molts_core::domain::JobStatus;

use crate::common::run;
use crate::world::{OUTPUT, world};

/// What a provider's CDN answers with 200 when something is wrong on its side.
const ERROR_PAGE: &[u8] =
    b"<!DOCTYPE html><html><body><h1>503 Service Unavailable</h1></body></html>";

#[test]
fn an_output_that_is_not_a_video_is_refused_and_fetched_again() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let job = w.submitted(&agent, "Hi").await;
        // Ready, but the download is the CDN's error page, declared as the video.
        w.provider.ready();
        w.provider
            .script()
            .downloads
            .push_back(("video/mp4", ERROR_PAGE));
        w.tick(5).await;
        let refused = w.gw.job(&agent, &job.id).await.unwrap();
        assert_eq!(
            refused.status,
            JobStatus::Processing,
            "not ready with a page"
        );
        assert_eq!(refused.artifact_id, None);
        let error = refused.error.unwrap();
        assert_eq!(error.code, "download_failed");
        assert!(
            error
                .message
                .contains("not a video (video/mp4): an HTML page")
                && error.message.contains("starting `<!DOCTYPE html><`"),
            "{}",
            error.message
        );
        let artifact = format!("art_{}", job.id.trim_start_matches("job_"));
        let stored = w.gw.stores().artifacts.get_artifact(&artifact).await;
        assert!(stored.unwrap().is_none(), "nothing stored");
        assert_eq!(w.videos_used(&agent).await, 1, "still held");

        // The next check asks the provider again and gets the video.
        w.provider.ready();
        w.tick(60).await;
        let done = w.gw.job(&agent, &job.id).await.unwrap();
        assert_eq!(done.status, JobStatus::Ready);
        let content =
            w.gw.artifact_content(&agent, done.artifact_id.as_deref().unwrap(), None)
                .await
                .unwrap();
        let bytes: Vec<Bytes> = content.object.body.map(|c| c.unwrap()).collect().await;
        assert_eq!(bytes.concat(), OUTPUT);
    });
}

#[test]
fn an_output_that_stays_an_error_page_fails_the_job_at_its_deadline() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let job = w.submitted(&agent, "Hi").await;
        for _ in 0..100 {
            w.provider.ready();
            w.provider
                .script()
                .downloads
                .push_back(("text/html; charset=utf-8", ERROR_PAGE));
        }
        for _ in 0..70 {
            w.tick(60).await;
        }
        let failed = w.gw.job(&agent, &job.id).await.unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        assert_eq!(failed.artifact_id, None);
        let error = failed.error.unwrap();
        assert_eq!(error.code, "timed_out");
        // The message keeps why: the last attempt's refused download.
        assert!(
            error.message.contains("(download_failed)") && error.message.contains("HTML page"),
            "{}",
            error.message
        );
        assert_eq!(w.videos_used(&agent).await, 0, "refunded");
    });
}
