//! Anthropic through the real adapter: system text lifted into `system`, named SSE events, an
//! `event: error` mid-stream, `retry-after-ms`, 529, and every error class.

use molts_core::ErrorCode;
use std::time::Duration;

use molts_core::ErrorKind;
use molts_core::domain::Provider;
use molts_core::providers::{Call, FinishReason, TextChunk, TokenUsage};
use serde_json::json;

use crate::common::{How, Op, chat, collect, env, error_matrix, expect, seeded};

#[tokio::test]
async fn messages_lift_system_text_and_map_usage() {
    let env = env().await;
    let model = seeded("claude-3-5-haiku");
    let out = env.text(&model, &chat("hello there")).await.unwrap();
    assert_eq!(out.text, "echo: hello there");
    assert_eq!(out.finish_reason, FinishReason::Stop);
    assert_eq!(
        out.usage,
        TokenUsage {
            prompt_tokens: 6,
            completion_tokens: 3
        }
    );
    let sent = &env.fake.requests("anthropic")[0];
    assert_eq!(sent.body["system"], json!("be brief"));
    assert_eq!(sent.body["max_tokens"], json!(4096));
    assert_eq!(sent.body["model"], json!("claude-3-5-haiku-20241022"));
}

#[tokio::test]
async fn streaming_follows_the_named_events_to_message_stop() {
    let env = env().await;
    let model = seeded("claude-3-5-sonnet");
    let credentials = env.registry.credentials(Provider::Anthropic).clone();
    let adapter = env.registry.adapter(Provider::Anthropic).unwrap();
    let call = Call {
        model: &model,
        credentials: &credentials,
        timeout: Duration::from_secs(5),
    };
    let mut request = chat("one two three");
    request.max_tokens = Some(3);
    let (text, finish) = collect(adapter.text_stream(call, &request).await.unwrap())
        .await
        .unwrap();
    assert_eq!(text, "echo: one two");
    let usage = TokenUsage {
        prompt_tokens: 7,
        completion_tokens: 3,
    };
    assert_eq!(
        finish,
        TextChunk::Finish {
            reason: FinishReason::Length,
            usage: Some(usage)
        }
    );

    for fault in ["cut-stream-after=4", "error-event-after=4"] {
        env.fake.push_fault("anthropic", fault, 1).unwrap();
        let call = Call {
            model: &model,
            credentials: &credentials,
            timeout: Duration::from_secs(5),
        };
        let stream = adapter
            .text_stream(call, &chat("one two three"))
            .await
            .unwrap();
        let error = collect(stream).await.expect_err(fault);
        assert_eq!(error.kind(), ErrorKind::Unavailable, "{fault}: {error}");
    }
}

#[tokio::test]
async fn retry_after_ms_and_overloaded() {
    let env = env().await;
    let model = seeded("claude-3-5-haiku");
    env.fake
        .push_fault(
            "anthropic",
            "status=429,retry-after-ms=1500,retry-after=2",
            1,
        )
        .unwrap();
    let e = expect(
        env.run(&model, Op::Text, How::default()).await,
        ErrorKind::RateLimited,
        ErrorCode::ProviderRateLimited,
    );
    assert_eq!(e.retry_after(), Some(Duration::from_millis(1500)));
    env.fake.push_fault("anthropic", "status=529", 1).unwrap();
    let e = expect(
        env.run(&model, Op::Text, How::default()).await,
        ErrorKind::Unavailable,
        ErrorCode::ProviderUnavailable,
    );
    assert!(e.message().contains("529"), "{e}");
}

#[tokio::test]
async fn messages_error_matrix() {
    error_matrix("anthropic", &seeded("claude-3-5-haiku"), Op::Text).await;
}

#[tokio::test]
async fn stream_error_matrix() {
    error_matrix("anthropic", &seeded("claude-3-5-haiku"), Op::Stream).await;
}
