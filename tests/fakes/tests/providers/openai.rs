//! OpenAI through the real adapter: chat (whole and streamed with usage), images as bytes,
//! speech measured from the audio, the compatible variant, and every error class.

use molts_core::ErrorCode;
use std::time::Duration;

use molts_core::ErrorKind;
use molts_core::domain::Provider;
use molts_core::providers::{
    Call, FinishReason, ImageData, ImageRequest, SpeechRequest, TextChunk, TokenUsage,
};
use molts_fakes::media;
use serde_json::json;

use crate::common::{Op, chat, collect, custom, env, error_matrix, expect, seeded};

#[tokio::test]
async fn chat_maps_text_finish_and_usage() {
    let env = env().await;
    let model = seeded("gpt-4o-mini");
    let out = env.text(&model, &chat("hello there")).await.unwrap();
    assert_eq!(out.text, "echo: hello there");
    assert_eq!(out.finish_reason, FinishReason::Stop);
    // The fake counts a token a word plus one a message: (2+1) + (2+1) in, 3 out.
    assert_eq!(
        out.usage,
        TokenUsage {
            prompt_tokens: 6,
            completion_tokens: 3
        }
    );

    let mut capped = chat("hello there");
    capped.max_tokens = Some(2);
    let out = env.text(&model, &capped).await.unwrap();
    assert_eq!(
        (out.text.as_str(), out.finish_reason),
        ("echo: hello", FinishReason::Length)
    );
    let sent = env.fake.requests("openai");
    assert_eq!(sent[1].path, "/v1/chat/completions");
    assert_eq!(sent[1].body["model"], json!("gpt-4o-mini"));
    assert_eq!(sent[1].body["max_completion_tokens"], json!(2));
}

#[tokio::test]
async fn streaming_yields_deltas_then_finish_with_usage() {
    let env = env().await;
    let model = seeded("gpt-4o");
    let credentials = env.registry.credentials(Provider::Openai).clone();
    let call = Call {
        model: &model,
        credentials: &credentials,
        timeout: Duration::from_secs(5),
    };
    let adapter = env.registry.adapter(Provider::Openai).unwrap();
    let stream = adapter
        .text_stream(call, &chat("one two three"))
        .await
        .unwrap();
    let (text, finish) = collect(stream).await.unwrap();
    assert_eq!(text, "echo: one two three");
    let usage = TokenUsage {
        prompt_tokens: 7,
        completion_tokens: 4,
    };
    assert_eq!(
        finish,
        TextChunk::Finish {
            reason: FinishReason::Stop,
            usage: Some(usage)
        }
    );
    assert_eq!(
        env.fake.requests("openai")[0].body["stream_options"],
        json!({"include_usage": true})
    );
}

#[tokio::test]
async fn a_stream_cut_mid_way_or_failing_mid_way_is_an_error() {
    let env = env().await;
    let model = seeded("gpt-4o");
    for fault in ["cut-stream-after=2", "error-event-after=2"] {
        env.fake.push_fault("openai", fault, 1).unwrap();
        let credentials = env.registry.credentials(Provider::Openai).clone();
        let call = Call {
            model: &model,
            credentials: &credentials,
            timeout: Duration::from_secs(5),
        };
        let adapter = env.registry.adapter(Provider::Openai).unwrap();
        let stream = adapter
            .text_stream(call, &chat("one two three"))
            .await
            .unwrap();
        let error = collect(stream).await.expect_err(fault);
        assert_eq!(error.kind(), ErrorKind::Unavailable, "{fault}: {error}");
    }
}

#[tokio::test]
async fn images_come_back_as_png_bytes_and_dalle_3_is_asked_once_per_image() {
    let env = env().await;
    let credentials = env.registry.credentials(Provider::Openai).clone();
    let adapter = env.registry.adapter(Provider::Openai).unwrap();
    for (id, n) in [("dall-e-2", 2), ("dall-e-3", 3)] {
        let model = seeded(id);
        let call = Call {
            model: &model,
            credentials: &credentials,
            timeout: Duration::from_secs(5),
        };
        let request = ImageRequest {
            prompt: "a red fox".into(),
            n,
            aspect_ratio: Some("16:9".into()),
            ..ImageRequest::default()
        };
        let images = adapter.images(call, &request).await.unwrap();
        assert_eq!(images.len(), n as usize, "{id}");
        for image in &images {
            let ImageData::Bytes {
                bytes,
                content_type,
            } = &image.data
            else {
                panic!("bytes expected")
            };
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
            assert_eq!(content_type, "image/png");
        }
    }
    let sent = env.fake.requests("openai");
    assert_eq!(
        sent.len(),
        1 + 3,
        "one call for dall-e-2, three for dall-e-3"
    );
    assert_eq!(sent[0].body["response_format"], json!("b64_json"));
    assert_eq!(sent[1].body["size"], json!("1792x1024"));
    assert_eq!(sent[1].body["n"], json!(1));
}

#[tokio::test]
async fn speech_is_measured_from_mp3_frames_and_wav_headers() {
    let env = env().await;
    let model = custom("dall-e-2", Provider::Openai, "tts-1");
    let credentials = env.registry.credentials(Provider::Openai).clone();
    let adapter = env.registry.adapter(Provider::Openai).unwrap();
    let text = "The quick brown fox jumps over the lazy dog.";
    for (format, seconds, content_type) in [
        (None, media::mp3_seconds(text), "audio/mpeg"),
        (Some("wav"), media::speech_seconds(text), "audio/wav"),
        (Some("pcm"), media::speech_seconds(text), "audio/pcm"),
    ] {
        let call = Call {
            model: &model,
            credentials: &credentials,
            timeout: Duration::from_secs(5),
        };
        let request = SpeechRequest {
            text: text.into(),
            format: format.map(str::to_owned),
            ..SpeechRequest::default()
        };
        let out = adapter.speech(call, &request).await.unwrap();
        assert!(
            (out.duration_seconds - seconds).abs() < 1e-6,
            "{format:?}: {} vs {seconds}",
            out.duration_seconds
        );
        assert_eq!(out.content_type, content_type);
    }
    // Formats the adapter cannot measure fall back to the text estimate (15 characters a second).
    let call = Call {
        model: &model,
        credentials: &credentials,
        timeout: Duration::from_secs(5),
    };
    let request = SpeechRequest {
        text: text.into(),
        format: Some("opus".into()),
        ..SpeechRequest::default()
    };
    let out = adapter.speech(call, &request).await.unwrap();
    assert!((out.duration_seconds - text.chars().count() as f64 / 15.0).abs() < 1e-9);
    assert_eq!(env.fake.requests("openai")[0].body["voice"], json!("alloy"));

    let cut = {
        env.fake
            .push_fault("openai", "cut-stream-after=1", 1)
            .unwrap();
        let call = Call {
            model: &model,
            credentials: &credentials,
            timeout: Duration::from_secs(5),
        };
        let long = SpeechRequest {
            text: "x".repeat(2000),
            ..SpeechRequest::default()
        };
        adapter.speech(call, &long).await.map(|_| ())
    };
    expect(cut, ErrorKind::Unavailable, ErrorCode::UpstreamBrokenBody);
}

#[tokio::test]
async fn the_compatible_adapter_needs_a_base_url_and_speaks_the_same_api() {
    let env = env().await;
    let model = custom("gpt-4o-mini", Provider::OpenaiCompatible, "llama-3.1-8b");
    let out = env.text(&model, &chat("hi")).await.unwrap();
    assert_eq!(out.text, "echo: hi");
    assert_eq!(
        env.fake.requests("openai")[0].body["model"],
        json!("llama-3.1-8b")
    );

    let adapter = env.registry.adapter(Provider::OpenaiCompatible).unwrap();
    let empty = Default::default();
    let call = Call {
        model: &model,
        credentials: &empty,
        timeout: Duration::from_secs(5),
    };
    let e = adapter.text(call, &chat("hi")).await.map(|_| ());
    let e = expect(e, ErrorKind::Unavailable, ErrorCode::ProviderNotConfigured);
    assert!(e.message().contains("OPENAI_COMPATIBLE_BASE_URL"));
}

#[tokio::test]
async fn a_provider_validation_error_is_invalid_with_the_providers_message() {
    let env = env().await;
    let model = custom("dall-e-2", Provider::Openai, "tts-1");
    let credentials = env.registry.credentials(Provider::Openai).clone();
    let call = Call {
        model: &model,
        credentials: &credentials,
        timeout: Duration::from_secs(5),
    };
    let too_long = SpeechRequest {
        text: "x".repeat(5000),
        ..SpeechRequest::default()
    };
    let adapter = env.registry.adapter(Provider::Openai).unwrap();
    let e = expect(
        adapter.speech(call, &too_long).await.map(|_| ()),
        ErrorKind::Invalid,
        ErrorCode::ProviderRejected,
    );
    assert!(e.message().contains("4096"), "{e}");
}

#[tokio::test]
async fn chat_error_matrix() {
    error_matrix("openai", &seeded("gpt-4o-mini"), Op::Text).await;
}

#[tokio::test]
async fn stream_error_matrix() {
    error_matrix("openai", &seeded("gpt-4o-mini"), Op::Stream).await;
}

#[tokio::test]
async fn images_error_matrix() {
    error_matrix("openai", &seeded("dall-e-3"), Op::Images).await;
}

#[tokio::test]
async fn speech_error_matrix() {
    error_matrix(
        "openai",
        &custom("dall-e-2", Provider::Openai, "tts-1"),
        Op::Speech,
    )
    .await;
}
