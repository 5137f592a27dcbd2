//! Provider callbacks: the job's own token makes the gateway check the job at once; a wrong
//! token, an unknown job or an unsigned HeyGen event is refused, and a duplicate changes nothing.

use molts_core::ErrorCode;
use molts_core::ErrorKind;
use molts_core::domain::JobStatus;

use crate::common::{expect_err, run};
use crate::world::world;

#[test]
fn a_callback_with_the_jobs_token_checks_it_now_and_others_are_refused() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let job = w.submitted(&agent, "Hi").await;
        let url = w.provider.script().submitted[0]
            .callback_url
            .clone()
            .unwrap();
        let token = url.rsplit('/').next().unwrap().to_owned();

        let err = expect_err(
            w.gw.job_callback(&job.id, "wrong").await,
            ErrorKind::Unauthorized,
        );
        assert_eq!(err.code(), Some(ErrorCode::CallbackRefused));
        expect_err(
            w.gw.job_callback("job_missing", &token).await,
            ErrorKind::Unauthorized,
        );
        expect_err(
            w.gw.heygen_callback(Some("00"), b"{}").await,
            ErrorKind::Unauthorized,
        );

        w.provider.ready();
        w.gw.job_callback(&job.id, &token).await.unwrap();
        assert_eq!(
            w.gw.job(&agent, &job.id).await.unwrap().status,
            JobStatus::Ready
        );
        // A duplicate or late callback changes nothing.
        w.gw.job_callback(&job.id, &token).await.unwrap();
        assert_eq!(w.provider.script().checks, 1);
    });
}
