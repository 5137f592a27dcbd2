//! Generated images are kept as the agent's own artifacts, out of other agents' reach.

use bytes::Bytes;
use futures::StreamExt;
use molts_core::ErrorKind;

use crate::common::{expect_err, run};
use crate::world::world;

#[test]
fn generated_images_are_kept_as_the_agents_artifacts() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let (_, other) = w.h.agent("other").await;
        let request = molts_core::providers::ImageRequest {
            prompt: "a red square".into(),
            n: 1,
            ..Default::default()
        };
        let generated =
            w.gw.generate_images(&agent, "demo-image", request)
                .await
                .unwrap();
        let kept = generated.artifacts[0].clone().expect("kept");
        assert_eq!(kept.content_type, "image/png");
        assert!(
            kept.name.starts_with("image-") && kept.name.ends_with(".png"),
            "{}",
            kept.name
        );
        let content = w.gw.artifact_content(&agent, &kept.id, None).await.unwrap();
        let bytes: Vec<Bytes> = content.object.body.map(|c| c.unwrap()).collect().await;
        assert_eq!(bytes.concat(), b"\x89PNG pretend");
        expect_err(w.gw.artifact(&other, &kept.id).await, ErrorKind::NotFound);
        let listed =
            w.gw.list_artifacts(&agent, None, None, None, None)
                .await
                .unwrap();
        assert_eq!(listed.data.len(), 1);
    });
}

/// Retention: once older than the window (30 days by default), a job's output and a kept image
/// are deleted by the scheduled work, bytes and record; an upload of the same age stays, and
/// so does everything a day younger than the window.
#[test]
fn outputs_past_the_retention_window_are_deleted_and_uploads_stay() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("keeper").await;
        let request = molts_core::providers::ImageRequest {
            prompt: "a red square".into(),
            n: 1,
            ..Default::default()
        };
        let image =
            w.gw.generate_images(&agent, "demo-image", request)
                .await
                .unwrap()
                .artifacts[0]
                .clone()
                .expect("kept");
        let body = futures::stream::iter([Ok(Bytes::from_static(b"# Keeper"))]).boxed();
        let upload =
            w.gw.upload_file(&agent, "SOUL.md", "text/markdown", body)
                .await
                .unwrap();
        let job = w.submitted(&agent, "a short film").await;
        w.provider.ready();
        w.tick(10).await;
        let video =
            w.gw.job(&agent, &job.id)
                .await
                .unwrap()
                .artifact_id
                .expect("the job's output is stored");

        // A day short of the window: nothing goes.
        w.h.advance(chrono::Duration::days(29));
        let report = w.gw.run_scheduled_work().await.unwrap();
        assert_eq!(report.outputs_expired, 0);
        for id in [&image.id, &video, &upload.id] {
            w.gw.artifact(&agent, id).await.unwrap();
        }

        w.h.advance(chrono::Duration::days(1) + chrono::Duration::minutes(1));
        let report = w.gw.run_scheduled_work().await.unwrap();
        assert_eq!(report.outputs_expired, 2, "{report:?}");
        for id in [&image.id, &video] {
            expect_err(w.gw.artifact(&agent, id).await, ErrorKind::NotFound);
            expect_err(
                w.gw.artifact_content(&agent, id, None).await,
                ErrorKind::NotFound,
            );
        }
        let kept =
            w.gw.artifact_content(&agent, &upload.id, None)
                .await
                .unwrap();
        let bytes: Vec<Bytes> = kept.object.body.map(|c| c.unwrap()).collect().await;
        assert_eq!(bytes.concat(), b"# Keeper");
        // The job itself is kept; its output is simply gone.
        assert_eq!(
            w.gw.job(&agent, &job.id).await.unwrap().status,
            molts_core::domain::JobStatus::Ready
        );
        let report = w.gw.run_scheduled_work().await.unwrap();
        assert_eq!(report.outputs_expired, 0, "deleted once");
    });
}
