//! Ideogram through the real adapter: `V_2` goes to the legacy `image_request` endpoint as JSON,
//! `V_3` to v3 as the `multipart/form-data` form it documents (the fake also takes JSON there,
//! and answers a broken form with Ideogram's 400), withheld images are the prompt's fault, and
//! every error class.

use molts_core::ErrorCode;
use std::time::Duration;

use molts_core::ErrorKind;
use molts_core::domain::Provider;
use molts_core::providers::{Call, ImageData, ImageRequest};
use serde_json::json;

use crate::common::{Op, custom, env, error_matrix, expect, post_json, seeded};

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
    assert_eq!(sent[0].content_type.as_deref(), Some("application/json"));
    // v3 is sent as the form Ideogram documents: every field a text part.
    assert_eq!(sent[1].path, "/v1/ideogram-v3/generate");
    let content_type = sent[1].content_type.as_deref().unwrap_or_default();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
    assert_eq!(
        sent[1].body,
        json!({"prompt": "a neon sign", "num_images": "2", "aspect_ratio": "16x9"})
    );
    let raw = String::from_utf8(sent[1].raw_body()).unwrap();
    assert!(
        raw.contains("Content-Disposition: form-data; name=\"prompt\"\r\n\r\na neon sign\r\n"),
        "{raw}"
    );
}

#[tokio::test]
async fn v3_form_values_keep_their_line_breaks_and_quotes() {
    let env = env().await;
    let credentials = env.registry.credentials(Provider::Ideogram).clone();
    let adapter = env.registry.adapter(Provider::Ideogram).unwrap();
    let v3 = custom("ideogram-v2", Provider::Ideogram, "V_3");
    let call = Call {
        model: &v3,
        credentials: &credentials,
        timeout: Duration::from_secs(5),
    };
    let prompt = "line one\r\n--molts-form-\r\nsay \"two\"";
    let request = ImageRequest {
        prompt: prompt.into(),
        n: 1,
        size: Some("1024x1024".into()),
        style: Some("realistic".into()),
        negative_prompt: Some("blur".into()),
        ..ImageRequest::default()
    };
    let images = adapter.images(call, &request).await.unwrap();
    assert_eq!(images.len(), 1);
    let sent = env.fake.requests("ideogram");
    assert_eq!(
        sent[0].body,
        json!({"prompt": prompt, "num_images": "1", "resolution": "1024x1024",
               "style_type": "REALISTIC", "negative_prompt": "blur"})
    );
}

#[tokio::test]
async fn the_v3_fake_takes_json_too_and_refuses_a_broken_form() {
    let env = env().await;
    let url = format!("{}/v1/ideogram-v3/generate", env.fake.base_url("ideogram"));
    let key = molts_fakes::key("ideogram");
    let body = json!({"prompt": "a neon sign", "num_images": 3});
    let (status, answer) = post_json(&url, &[("api-key", &key)], &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"].as_array().map(Vec::len), Some(3));
    let broken = reqwest::Client::new()
        .post(&url)
        .header("api-key", &key)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body("--XyZ\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nunterminated")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    let error: serde_json::Value = broken.json().await.unwrap();
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|m| m.contains("multipart/form-data")),
        "{error}"
    );
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
    expect(result, ErrorKind::Invalid, ErrorCode::ProviderRejected);
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
