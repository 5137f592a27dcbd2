//! Ideogram through the real adapter: `V_2` goes to the legacy `image_request` endpoint, `V_3`
//! to v3, withheld images are the prompt's fault, and every error class.

use std::time::Duration;

use molts_core::ErrorKind;
use molts_core::domain::Provider;
use molts_core::providers::{Call, ImageData, ImageRequest};
use serde_json::json;

use crate::common::{Op, custom, env, error_matrix, expect, seeded};

fn request(prompt: &str) -> ImageRequest {
    ImageRequest {
        prompt: prompt.into(),
        n: 2,
        aspect_ratio: Some("16:9".into()),
        ..ImageRequest::default()
    }
}

#[tokio::test]
async fn the_provider_model_picks_the_endpoint() {
    let env = env().await;
    let credentials = env.registry.credentials(Provider::Ideogram).clone();
    let adapter = env.registry.adapter(Provider::Ideogram).unwrap();
    let v2 = seeded("ideogram-v2");
    let v3 = custom("ideogram-v2", Provider::Ideogram, "V_3");
    for model in [&v2, &v3] {
        let call = Call {
            model,
            credentials: &credentials,
            timeout: Duration::from_secs(5),
        };
        let images = adapter.images(call, &request("a neon sign")).await.unwrap();
        assert_eq!(images.len(), 2);
        let ImageData::Url(url) = &images[0].data else {
            panic!("a URL expected")
        };
        assert!(url.starts_with(&env.fake.url()), "{url}");
        assert_eq!(images[0].revised_prompt.as_deref(), Some("a neon sign"));
    }
    let sent = env.fake.requests("ideogram");
    assert_eq!(sent[0].path, "/generate");
    assert_eq!(sent[0].body["image_request"]["model"], json!("V_2"));
    assert_eq!(
        sent[0].body["image_request"]["aspect_ratio"],
        json!("ASPECT_16_9")
    );
    assert_eq!(sent[1].path, "/v1/ideogram-v3/generate");
    assert_eq!(sent[1].body["aspect_ratio"], json!("16x9"));
    assert_eq!(sent[1].body["num_images"], json!(2));
}

#[tokio::test]
async fn images_withheld_as_unsafe_are_the_prompts_fault() {
    let env = env().await;
    let model = seeded("ideogram-v2");
    let credentials = env.registry.credentials(Provider::Ideogram).clone();
    let adapter = env.registry.adapter(Provider::Ideogram).unwrap();
    let call = Call {
        model: &model,
        credentials: &credentials,
        timeout: Duration::from_secs(5),
    };
    let result = adapter
        .images(call, &request("something unsafe"))
        .await
        .map(|_| ());
    expect(result, ErrorKind::Invalid, "provider_rejected");
}

#[tokio::test]
async fn legacy_error_matrix() {
    error_matrix("ideogram", &seeded("ideogram-v2"), Op::Images).await;
}

#[tokio::test]
async fn v3_error_matrix() {
    error_matrix(
        "ideogram",
        &custom("ideogram-v2", Provider::Ideogram, "V_3"),
        Op::Images,
    )
    .await;
}
