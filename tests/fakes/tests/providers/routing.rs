//! The Gateway over the real adapters and the fakes: a model whose provider keeps failing hands
//! the work to its fallback, a retry waits out the provider's Retry-After (on tokio's timer), the
//! quota is settled with the provider's own token count, and refunded when every provider fails.

use molts_core::ErrorCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use molts_core::domain::{NewAgent, Unit};
use molts_core::gateway::{AgentPrincipal, ModelPatch};
use molts_core::memory::MemoryStore;
use molts_core::providers::{RetryPolicy, TextChunk, http_registry};
use molts_core::{ErrorKind, Gateway, GatewayConfig, Ports, Stores};
use molts_fakes::FakeServer;
use molts_reqwest::{ReqwestHttpClient, TokioSleeper};

use crate::common::chat;

struct World {
    fake: FakeServer,
    gateway: Gateway,
    agent: AgentPrincipal,
}

/// A gateway on the memory store, every HTTP provider pointed at a fresh fake, retries on
/// tokio's timer, and `gpt-4o-mini` falling back to `claude-3-5-haiku`.
async fn world() -> World {
    let fake = FakeServer::start().await.unwrap();
    let vars = fake.env();
    let http = Arc::new(ReqwestHttpClient::new().unwrap());
    let registry = http_registry(http, &|k| vars.get(k).cloned())
        .with_sleeper(Arc::new(TokioSleeper))
        .with_retry(RetryPolicy {
            attempts_per_model: 2,
            base_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(5),
        });
    let store = Arc::new(MemoryStore::new());
    let ports = Ports::with_stores(Stores::from_one(store));
    let gateway = Gateway::new(ports, GatewayConfig::default()).with_providers(registry);
    let token = gateway
        .bootstrap(None)
        .await
        .unwrap()
        .generated_admin_token
        .unwrap();
    let operator = gateway.authenticate_admin(&token).await.unwrap();
    let patch = ModelPatch {
        fallbacks: Some(vec!["claude-3-5-haiku".to_owned()]),
        ..ModelPatch::default()
    };
    gateway
        .admin_patch_model(&operator, "gpt-4o-mini", patch)
        .await
        .unwrap();
    let new = NewAgent {
        name: "Router".into(),
        soul_md: "# Router\nI test fallbacks.".into(),
        ..NewAgent::default()
    };
    let registered = gateway.register_agent(new, None).await.unwrap();
    let agent = gateway
        .authenticate_agent(&registered.key.secret)
        .await
        .unwrap();
    World {
        fake,
        gateway,
        agent,
    }
}

async fn tokens_used(w: &World) -> u64 {
    let usage = w.gateway.usage(&w.agent).await.unwrap();
    usage.unit(Unit::TextToken).unwrap().month.used
}

#[tokio::test]
async fn a_failing_provider_hands_the_work_to_the_fallback() {
    let w = world().await;
    w.fake.push_fault("openai", "status=503", 2).unwrap();
    let out = w
        .gateway
        .generate_text(&w.agent, "gpt-4o-mini", chat("hello there"))
        .await
        .unwrap();
    assert_eq!(out.model.id, "claude-3-5-haiku");
    assert_eq!(out.output.text, "echo: hello there");
    assert_eq!(
        w.fake.requests("openai").len(),
        2,
        "both attempts on the primary"
    );
    assert_eq!(w.fake.requests("anthropic").len(), 1);
    // Settled with what Anthropic counted, not with the hold.
    assert_eq!(tokens_used(&w).await, out.output.usage.total());
    assert_eq!(out.output.usage.total(), 9);
}

#[tokio::test]
async fn a_retry_waits_for_the_providers_retry_after() {
    let w = world().await;
    w.fake
        .push_fault("openai", "status=429,retry-after=1", 1)
        .unwrap();
    let started = Instant::now();
    let out = w
        .gateway
        .generate_text(&w.agent, "gpt-4o-mini", chat("hi"))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(out.model.id, "gpt-4o-mini");
    assert_eq!(w.fake.requests("openai").len(), 2);
    assert!(w.fake.requests("anthropic").is_empty());
}

#[tokio::test]
async fn a_refused_key_is_not_retried_but_handed_to_the_fallback() {
    let w = world().await;
    w.fake.push_fault("openai", "status=401", 2).unwrap();
    let out = w
        .gateway
        .generate_text(&w.agent, "gpt-4o-mini", chat("hi"))
        .await
        .unwrap();
    assert_eq!(out.model.id, "claude-3-5-haiku");
    assert_eq!(
        w.fake.requests("openai").len(),
        1,
        "a refused key will not work on a second try"
    );
}

#[tokio::test]
async fn a_retry_after_longer_than_the_policy_moves_to_the_fallback_at_once() {
    let w = world().await;
    w.fake
        .push_fault("openai", "status=429,retry-after=60", 1)
        .unwrap();
    let started = Instant::now();
    let out = w
        .gateway
        .generate_text(&w.agent, "gpt-4o-mini", chat("hi"))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(out.model.id, "claude-3-5-haiku");
    assert_eq!(w.fake.requests("openai").len(), 1);
}

#[tokio::test]
async fn a_streamed_answer_is_settled_with_the_streamed_usage() {
    let w = world().await;
    let out = w
        .gateway
        .stream_text(&w.agent, "gpt-4o-mini", chat("one two three"))
        .await
        .unwrap();
    let chunks: Vec<_> = out.output.collect().await;
    let Some(Ok(TextChunk::Finish {
        usage: Some(usage), ..
    })) = chunks.last()
    else {
        panic!("the stream ends with usage: {chunks:?}");
    };
    assert_eq!(usage.total(), 7 + 4);
    assert_eq!(tokens_used(&w).await, 11);
}

#[tokio::test]
async fn a_stream_cut_mid_way_is_charged_for_what_was_sent_and_closed() {
    let w = world().await;
    w.fake
        .push_fault("openai", "cut-stream-after=2", 1)
        .unwrap();
    let out = w
        .gateway
        .stream_text(&w.agent, "gpt-4o-mini", chat("one two three four five"))
        .await
        .unwrap();
    let chunks: Vec<_> = out.output.collect().await;
    assert!(
        matches!(chunks.last(), Some(Err(_))),
        "a cut stream ends in an error: {chunks:?}"
    );
    // Charged an estimate of the prompt and what arrived, not the whole hold, and not left open.
    let used = tokens_used(&w).await;
    assert!(used > 0 && used < 1024, "charged {used}");
    let holds = w
        .gateway
        .stores()
        .quota
        .expired_reservations(molts_core::Timestamp::MAX_UTC, 10)
        .await
        .unwrap();
    assert!(holds.is_empty(), "no hold left open: {holds:?}");
}

#[tokio::test]
async fn when_every_provider_fails_the_hold_is_refunded() {
    let w = world().await;
    w.fake.push_fault("openai", "status=500", 2).unwrap();
    w.fake.push_fault("anthropic", "status=529", 2).unwrap();
    let error = w
        .gateway
        .generate_text(&w.agent, "gpt-4o-mini", chat("hello"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    assert_eq!(w.fake.requests("anthropic").len(), 2);
    assert_eq!(tokens_used(&w).await, 0);
}

#[tokio::test]
async fn the_callers_own_mistake_is_not_retried_or_handed_on() {
    let w = world().await;
    w.fake.push_fault("openai", "status=400", 1).unwrap();
    let error = w
        .gateway
        .generate_text(&w.agent, "gpt-4o-mini", chat("hello"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    assert_eq!(error.code(), Some(ErrorCode::ProviderRejected));
    assert_eq!(w.fake.requests("openai").len(), 1);
    assert!(w.fake.requests("anthropic").is_empty());
    assert_eq!(tokens_used(&w).await, 0);
}
