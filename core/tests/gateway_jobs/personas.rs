//! Persona jobs: metered in their own `persona` unit, from an uploaded or inline photo,
//! idempotent, and once ready the agent's default avatar for its videos.

use bytes::Bytes;
use futures::StreamExt;
use molts_core::ErrorCode;
use molts_core::ErrorKind;
use molts_core::domain::JobStatus;
use molts_core::gateway::VideoSubmission;

use crate::common::{expect_err, run};
use crate::world::{World, video, world};

async fn personas_used(w: &World, agent: &molts_core::gateway::AgentPrincipal) -> u64 {
    let usage = w.gw.usage(agent).await.unwrap();
    usage
        .unit(molts_core::domain::Unit::Persona)
        .unwrap()
        .month
        .used
}

#[test]
fn a_ready_persona_is_charged_a_persona_and_becomes_the_default_avatar() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let missing = molts_core::gateway::PersonaSubmission::default();
        expect_err(
            w.gw.submit_persona(&agent, missing, None).await,
            ErrorKind::Invalid,
        );
        let no_file = molts_core::gateway::PersonaSubmission {
            image_file: Some("nope.png".into()),
            ..Default::default()
        };
        expect_err(
            w.gw.submit_persona(&agent, no_file, None).await,
            ErrorKind::NotFound,
        );

        let photo = futures::stream::iter([Ok(Bytes::from_static(b"photo"))]).boxed();
        w.gw.upload_file(&agent, "me.png", "image/png", photo)
            .await
            .unwrap();
        let request = molts_core::gateway::PersonaSubmission {
            image_file: Some("me.png".into()),
            ..Default::default()
        };
        let persona =
            w.gw.submit_persona(&agent, request, None)
                .await
                .unwrap()
                .job;
        assert_eq!(persona.kind, molts_core::domain::JobKind::Persona);
        w.tick(5).await;
        let persona = w.gw.job(&agent, &persona.id).await.unwrap();
        assert_eq!(persona.status, JobStatus::Ready);
        assert!(
            persona.artifact_id.is_none(),
            "a persona is an id, not a file"
        );
        assert_eq!(w.videos_used(&agent).await, 0, "not taken from the videos");
        assert_eq!(personas_used(&w, &agent).await, 1, "charged as a persona");

        w.gw.submit_video(&agent, video("Me, talking"), None)
            .await
            .unwrap();
        let named = VideoSubmission {
            avatar_id: Some("stock-avatar".into()),
            ..video("Someone else")
        };
        w.gw.submit_video(&agent, named, None).await.unwrap();
        let sent = w.provider.script().submitted.clone();
        assert_eq!(
            sent[0].avatar_id.as_deref(),
            Some("persona-1"),
            "the persona by default"
        );
        assert_eq!(
            sent[1].avatar_id.as_deref(),
            Some("stock-avatar"),
            "a named avatar wins"
        );
    });
}

#[test]
fn a_retried_persona_with_a_photo_is_the_same_job() {
    run(async {
        use base64::Engine;
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let request = || molts_core::gateway::PersonaSubmission {
            image_base64: Some(base64::engine::general_purpose::STANDARD.encode(b"photo")),
            image_content_type: Some("image/png".into()),
            ..Default::default()
        };
        let first =
            w.gw.submit_persona(&agent, request(), Some("p-1"))
                .await
                .unwrap();
        let again =
            w.gw.submit_persona(&agent, request(), Some("p-1"))
                .await
                .unwrap();
        assert!(again.replayed);
        assert_eq!(again.job.id, first.job.id);
        let files =
            w.gw.list_artifacts(&agent, None, None, None, None)
                .await
                .unwrap();
        assert_eq!(files.data.len(), 1, "the photo was uploaded once");
    });
}

#[test]
fn personas_are_metered_and_refused_past_the_tiers_limit() {
    run(async {
        use base64::Engine;
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let request = || molts_core::gateway::PersonaSubmission {
            image_base64: Some(base64::engine::general_purpose::STANDARD.encode(b"photo")),
            image_content_type: Some("image/png".into()),
            ..Default::default()
        };
        // The free tier allows 2 personas a month.
        for _ in 0..2 {
            w.gw.submit_persona(&agent, request(), None).await.unwrap();
        }
        assert_eq!(personas_used(&w, &agent).await, 2);
        let refused = expect_err(
            w.gw.submit_persona(&agent, request(), None).await,
            ErrorKind::QuotaExceeded,
        );
        assert_eq!(refused.code(), Some(ErrorCode::QuotaExceeded));
        assert!(refused.message().contains("persona"), "{refused}");
        assert_eq!(personas_used(&w, &agent).await, 2);
        assert_eq!(w.videos_used(&agent).await, 0);
    });
}
