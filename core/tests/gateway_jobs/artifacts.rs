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
