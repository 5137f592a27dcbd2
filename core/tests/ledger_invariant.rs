//! The ledger invariant, driven by proptest: whatever mix of text calls, streams (finished,
//! cut, abandoned), speech, images and stock searches an agent sends, concurrently, and
//! whatever a provider answers — usage far above the cap it was sent, speech longer than the
//! hold's bound, more images than asked, failures — `used ≤ limit` holds for every unit and
//! period after every wave, and after the scheduled work has closed abandoned holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use common::{Harness, run};
use futures::StreamExt;
use molts_core::domain::{LimitValue, Period, Provider, Tier, Unit};
use molts_core::gateway::{AgentPrincipal, HOLD_TTL};
use molts_core::providers::{
    Call, ChatMessage, FinishReason, GeneratedImage, ImageData, ImageRequest, ProviderAdapter,
    ProviderRegistry, Role, SpeechRequest, SpeechResponse, StockKind, StockRequest, StockResponse,
    TextChunk, TextRequest, TextResponse, TextStream, TokenUsage,
};
use molts_core::{Error, Gateway, Result};
use proptest::prelude::*;

/// What the scripted provider does with the next call that reaches it.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// Succeeds, reporting `scale` percent of what the call asked for (tokens per the cap it
    /// was sent, seconds per the text's length, images per `n`): up to 300 % overruns.
    Succeed { scale: u32 },
    /// Fails as an outage.
    Fail,
}

#[derive(Default)]
struct Scripted {
    answers: Mutex<VecDeque<Answer>>,
}

impl Scripted {
    fn next(&self) -> Answer {
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Answer::Succeed { scale: 100 })
    }
}

fn scaled(base: u64, scale: u32) -> u64 {
    base * u64::from(scale) / 100
}

#[async_trait]
impl ProviderAdapter for Scripted {
    async fn text(&self, _call: Call<'_>, request: &TextRequest) -> Result<TextResponse> {
        let Answer::Succeed { scale } = self.next() else {
            return Err(Error::unavailable("scripted outage"));
        };
        let cap = u64::from(request.max_tokens.expect("molts always sends a cap"));
        let prompt: u64 = request
            .messages
            .iter()
            .map(|m| m.content.len() as u64)
            .sum();
        Ok(TextResponse {
            text: "x".repeat(scaled(cap, scale).min(50_000) as usize),
            finish_reason: FinishReason::Stop,
            usage: TokenUsage {
                prompt_tokens: scaled(prompt, scale),
                completion_tokens: scaled(cap, scale),
            },
        })
    }

    async fn text_stream(&self, _call: Call<'_>, request: &TextRequest) -> Result<TextStream> {
        let answer = self.next();
        let Answer::Succeed { scale } = answer else {
            return Err(Error::unavailable("scripted outage"));
        };
        let cap = u64::from(request.max_tokens.expect("molts always sends a cap"));
        // Four characters a token, in chunks; usage reported only on even scales.
        let chars = scaled(cap, scale).min(200_000) as usize * 4;
        let mut chunks: Vec<Result<TextChunk>> = (0..chars.div_ceil(4000))
            .map(|i| Ok(TextChunk::Delta("y".repeat(4000.min(chars - i * 4000)))))
            .collect();
        chunks.push(Ok(TextChunk::Finish {
            reason: FinishReason::Stop,
            usage: (scale % 2 == 0).then_some(TokenUsage {
                prompt_tokens: 10,
                completion_tokens: scaled(cap, scale),
            }),
        }));
        Ok(futures::stream::iter(chunks).boxed())
    }

    async fn images(&self, _call: Call<'_>, request: &ImageRequest) -> Result<Vec<GeneratedImage>> {
        let Answer::Succeed { scale } = self.next() else {
            return Err(Error::unavailable("scripted outage"));
        };
        let n = scaled(u64::from(request.n), scale).clamp(1, 30);
        Ok((0..n)
            .map(|_| GeneratedImage {
                data: ImageData::Bytes {
                    bytes: Bytes::from_static(b"\x89PNG\r\n\x1a\n"),
                    content_type: "image/png".into(),
                },
                revised_prompt: None,
            })
            .collect())
    }

    async fn speech(&self, _call: Call<'_>, request: &SpeechRequest) -> Result<SpeechResponse> {
        let Answer::Succeed { scale } = self.next() else {
            return Err(Error::unavailable("scripted outage"));
        };
        // A normal read (15 characters a second) at the requested speed, then scaled.
        let seconds =
            request.text.chars().count() as f64 / 15.0 / f64::from(request.speed.unwrap_or(1.0))
                * f64::from(scale)
                / 100.0;
        Ok(SpeechResponse {
            audio: Bytes::from_static(b"RIFF"),
            content_type: "audio/wav".into(),
            duration_seconds: seconds,
        })
    }

    async fn stock(&self, _call: Call<'_>, request: &StockRequest) -> Result<StockResponse> {
        let Answer::Succeed { .. } = self.next() else {
            return Err(Error::unavailable("scripted outage"));
        };
        Ok(StockResponse {
            media: Vec::new(),
            total_results: 0,
            page: request.page,
            per_page: request.per_page,
        })
    }
}

/// One call an agent makes.
#[derive(Debug, Clone)]
enum Op {
    Text {
        prompt: String,
        max_tokens: Option<u32>,
    },
    /// A stream read to its end, or dropped after `read` chunks (a client that hung up).
    Stream {
        prompt: String,
        max_tokens: Option<u32>,
        read: Option<usize>,
    },
    Speech {
        words: usize,
        speed: f32,
    },
    Images {
        n: u32,
    },
    Stock,
}

fn prompt() -> impl Strategy<Value = String> {
    // Latin, CJK and emoji, from a word to a long document.
    (
        prop_oneof![Just("lorem "), Just("漢字かな"), Just("🦀🎬")],
        1usize..3000,
    )
        .prop_map(|(piece, times)| piece.repeat(times))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (prompt(), proptest::option::of(1u32..20_000))
            .prop_map(|(prompt, max_tokens)| Op::Text { prompt, max_tokens }),
        (
            prompt(),
            proptest::option::of(1u32..20_000),
            proptest::option::of(0usize..4)
        )
            .prop_map(|(prompt, max_tokens, read)| Op::Stream {
                prompt,
                max_tokens,
                read
            }),
        (
            1usize..2048,
            prop_oneof![Just(0.25f32), Just(0.5), Just(1.0), Just(4.0)]
        )
            .prop_map(|(words, speed)| Op::Speech { words, speed }),
        (1u32..=10).prop_map(|n| Op::Images { n }),
        Just(Op::Stock),
    ]
}

fn answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        4 => (0u32..=300).prop_map(|scale| Answer::Succeed { scale }),
        1 => Just(Answer::Fail),
    ]
}

fn messages(prompt: &str) -> Vec<ChatMessage> {
    vec![ChatMessage {
        role: Role::User,
        content: prompt.to_owned(),
    }]
}

/// Runs one call; refusals and provider failures are expected outcomes, not test failures.
async fn perform(gateway: &Gateway, principal: &AgentPrincipal, op: Op) {
    match op {
        Op::Text { prompt, max_tokens } => {
            let request = TextRequest {
                messages: messages(&prompt),
                max_tokens,
                ..TextRequest::default()
            };
            let _ = gateway.generate_text(principal, "demo-text", request).await;
        }
        Op::Stream {
            prompt,
            max_tokens,
            read,
        } => {
            let request = TextRequest {
                messages: messages(&prompt),
                max_tokens,
                ..TextRequest::default()
            };
            if let Ok(generated) = gateway.stream_text(principal, "demo-text", request).await {
                let mut stream = generated.output;
                match read {
                    Some(n) => {
                        for _ in 0..n {
                            stream.next().await;
                        }
                    }
                    None => while stream.next().await.is_some() {},
                }
            }
        }
        Op::Speech { words, speed } => {
            let request = SpeechRequest {
                text: "a ".repeat(words),
                speed: Some(speed),
                ..SpeechRequest::default()
            };
            let _ = gateway.speech(principal, "demo-speech", request).await;
        }
        Op::Images { n } => {
            let request = ImageRequest {
                prompt: "a lighthouse".into(),
                n,
                ..ImageRequest::default()
            };
            let _ = gateway
                .generate_images(principal, "demo-image", request)
                .await;
        }
        Op::Stock => {
            let request = StockRequest {
                query: "sea".into(),
                kind: StockKind::Photos,
                page: 1,
                per_page: 10,
                orientation: None,
            };
            let _ = gateway.stock_search(principal, "demo-stock", request).await;
        }
    }
}

/// A tier small enough that a few calls reach every cap.
fn tight_tier() -> Tier {
    use LimitValue::Max;
    let rows = [
        (Unit::TextToken, Period::Day, Max(30_000)),
        (Unit::TextToken, Period::Month, Max(40_000)),
        (Unit::AudioSecond, Period::Month, Max(600)),
        (Unit::Image, Period::Day, Max(12)),
        (Unit::StockSearch, Period::Day, Max(5)),
    ];
    let mut limits = BTreeMap::<Unit, BTreeMap<Period, LimitValue>>::new();
    for (unit, period, max) in rows {
        limits.entry(unit).or_default().insert(period, max);
    }
    Tier {
        id: "tight".into(),
        name: "Tight".into(),
        description: "For the invariant test.".into(),
        limits,
        requests_per_minute: None,
        storage_bytes: LimitValue::Unlimited,
        created_at: Default::default(),
        updated_at: Default::default(),
    }
}

async fn assert_within_limits(gateway: &Gateway, principal: &AgentPrincipal, when: &str) {
    let report = gateway.usage(principal).await.expect("usage");
    for unit in &report.units {
        for (period, usage) in [("day", &unit.day), ("month", &unit.month)] {
            if let LimitValue::Max(max) = usage.limit {
                assert!(
                    usage.used <= max,
                    "{when}: {} {period} used {} past its limit {max}",
                    unit.unit,
                    usage.used
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn used_never_passes_the_limit(
        waves in proptest::collection::vec(proptest::collection::vec(op(), 1..8), 1..6),
        answers in proptest::collection::vec(answer(), 0..60),
    ) {
        run(async {
            let h = Harness::start().await;
            h.gateway
                .admin_create_tier(&h.operator, tight_tier())
                .await
                .expect("tier");
            let (registered, _) = h.agent("Ada").await;
            h.set_tier(&registered.agent.id, "tight").await;
            let principal = h.login(&registered.key.secret).await;
            let scripted = Arc::new(Scripted {
                answers: Mutex::new(answers.into()),
            });
            let gateway = h
                .gateway
                .clone()
                .with_providers(ProviderRegistry::new().with_adapter(Provider::Demo, scripted));
            for (i, wave) in waves.into_iter().enumerate() {
                futures::future::join_all(
                    wave.into_iter().map(|op| perform(&gateway, &principal, op)),
                )
                .await;
                assert_within_limits(&gateway, &principal, &format!("after wave {i}")).await;
            }
            // Abandoned streams' holds close when they expire, charged as held.
            h.advance(HOLD_TTL + chrono::Duration::minutes(1));
            gateway.run_scheduled_work().await.expect("scheduled work");
            assert_within_limits(&gateway, &principal, "after the scheduled work").await;
        });
    }
}
