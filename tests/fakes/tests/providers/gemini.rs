//! Gemini through the real adapter: generateContent, streamGenerateContent over SSE, the
//! nano-banana image model's inline image parts, a wrong key answered with 400, and every error
//! class.

use std::time::Duration;

use molts_core::ErrorKind;
use molts_core::domain::Provider;
use molts_core::providers::{Call, FinishReason, ImageData, ImageRequest, TextChunk, TokenUsage};
use serde_json::json;

use crate::common::{Op, chat, collect, custom, env, error_matrix, seeded};

fn flash() -> molts_core::domain::ModelConfig {
    custom("gpt-4o-mini", Provider::Gemini, "gemini-2.5-flash")
}

#[tokio::test]
async fn generate_content_maps_text_and_usage() {
    let env = env().await;
    let out = env.text(&flash(), &chat("hello there")).await.unwrap();
    assert_eq!(out.text, "echo: hello there");
    assert_eq!(out.finish_reason, FinishReason::Stop);
    assert_eq!(
        out.usage,
        TokenUsage {
            prompt_tokens: 6,
            completion_tokens: 3
        }
    );
    let sent = &env.fake.requests("gemini")[0];
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(
        sent.body["systemInstruction"]["parts"][0]["text"],
        json!("be brief")
    );
}

#[tokio::test]
async fn streaming_ends_with_the_last_chunks_reason_and_usage() {
    let env = env().await;
    let model = flash();
    let credentials = env.registry.credentials(Provider::Gemini).clone();
    let adapter = env.registry.adapter(Provider::Gemini).unwrap();
    let call = Call {
        model: &model,
        credentials: &credentials,
        timeout: Duration::from_secs(5),
    };
    let (text, finish) = collect(adapter.text_stream(call, &chat("one two")).await.unwrap())
        .await
        .unwrap();
    assert_eq!(text, "echo: one two");
    let usage = TokenUsage {
        prompt_tokens: 6,
        completion_tokens: 3,
    };
    assert_eq!(
        finish,
        TextChunk::Finish {
            reason: FinishReason::Stop,
            usage: Some(usage)
        }
    );
    let sent = &env.fake.requests("gemini")[0];
    assert_eq!(sent.query.as_deref(), Some("alt=sse"));

    env.fake
        .push_fault("gemini", "cut-stream-after=1", 1)
        .unwrap();
    let call = Call {
        model: &model,
        credentials: &credentials,
        timeout: Duration::from_secs(5),
    };
    let error = collect(adapter.text_stream(call, &chat("one two")).await.unwrap())
        .await
        .expect_err("cut");
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
}

#[tokio::test]
async fn nano_banana_returns_inline_png_bytes() {
    let env = env().await;
    let model = seeded("nano-banana");
    let credentials = env.registry.credentials(Provider::Gemini).clone();
    let adapter = env.registry.adapter(Provider::Gemini).unwrap();
    let call = Call {
        model: &model,
        credentials: &credentials,
        timeout: Duration::from_secs(5),
    };
    let request = ImageRequest {
        prompt: "a banana".into(),
        n: 2,
        aspect_ratio: Some("1:1".into()),
        ..ImageRequest::default()
    };
    let images = adapter.images(call, &request).await.unwrap();
    assert_eq!(images.len(), 2);
    let ImageData::Bytes {
        bytes,
        content_type,
    } = &images[0].data
    else {
        panic!("bytes expected")
    };
    assert!(bytes.starts_with(b"\x89PNG"));
    assert_eq!(content_type, "image/png");
    let sent = env.fake.requests("gemini");
    assert_eq!(
        sent[0].path,
        "/v1beta/models/gemini-2.5-flash-image:generateContent"
    );
    assert_eq!(
        sent[0].body["generationConfig"]["imageConfig"]["aspectRatio"],
        json!("1:1")
    );
}

#[tokio::test]
async fn text_error_matrix() {
    error_matrix("gemini", &flash(), Op::Text).await;
}

#[tokio::test]
async fn stream_error_matrix() {
    error_matrix("gemini", &flash(), Op::Stream).await;
}

#[tokio::test]
async fn image_error_matrix() {
    error_matrix("gemini", &seeded("nano-banana"), Op::Images).await;
}
