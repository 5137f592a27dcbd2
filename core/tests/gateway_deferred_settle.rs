//! Settling after answering: with a spawner lent, a call's hold is settled in the background.
//! The agent's usage reads wait for its pending settlements, a reservation that would be refused
//! only because of them waits and asks again, and a settlement lost with the process leaves the
//! hold to the scheduled work, which charges it as held when it expires.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::{Harness, run};
use futures::future::BoxFuture;
use molts_core::Gateway;
use molts_core::domain::{Period, Provider, ReservationState, Unit};
use molts_core::gateway::{AgentPrincipal, HOLD_TTL};
use molts_core::ports::Spawner;
use molts_core::providers::{
    Call, ChatMessage, FinishReason, ProviderAdapter, ProviderRegistry, Role, TextRequest,
    TextResponse, TokenUsage,
};

/// Answers every text call having used ten tokens.
struct TenTokens;

#[async_trait]
impl ProviderAdapter for TenTokens {
    async fn text(
        &self,
        _call: Call<'_>,
        _request: &TextRequest,
    ) -> molts_core::Result<TextResponse> {
        Ok(TextResponse {
            text: "ten tokens".into(),
            finish_reason: FinishReason::Stop,
            usage: TokenUsage {
                prompt_tokens: 4,
                completion_tokens: 6,
            },
        })
    }
}

/// Keeps spawned work until the test runs it (or drops it, as a dying process would).
#[derive(Default)]
struct Queue(Mutex<Vec<BoxFuture<'static, ()>>>);

impl Spawner for Queue {
    fn spawn(&self, work: BoxFuture<'static, ()>) {
        self.0.lock().unwrap().push(work);
    }
}

impl Queue {
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    async fn run_all(&self) {
        let work: Vec<_> = self.0.lock().unwrap().drain(..).collect();
        futures::future::join_all(work).await;
    }

    fn drop_all(&self) {
        self.0.lock().unwrap().clear();
    }
}

/// The free tier allows 50 000 text tokens a day.
fn asking(max_tokens: u32) -> TextRequest {
    TextRequest {
        messages: vec![ChatMessage {
            role: Role::User,
            content: "hello".into(),
        }],
        max_tokens: Some(max_tokens),
        ..TextRequest::default()
    }
}

async fn world() -> (Harness, Gateway, Arc<Queue>, AgentPrincipal) {
    let h = Harness::start().await;
    let queue = Arc::new(Queue::default());
    let gateway = h
        .gateway
        .clone()
        .with_providers(ProviderRegistry::new().with_adapter(Provider::Demo, Arc::new(TenTokens)))
        .with_spawner(queue.clone());
    let (_, principal) = h.agent("Ada").await;
    (h, gateway, queue, principal)
}

/// Tokens used today as stored, without waiting for anything.
async fn stored_today(h: &Harness, agent_id: &str) -> u64 {
    let today = molts_core::clock::day_key(h.now());
    h.stores()
        .quota
        .usage(agent_id, &[(Period::Day, today)])
        .await
        .unwrap()
        .iter()
        .filter(|c| c.unit == Unit::TextToken)
        .map(|c| c.used)
        .sum()
}

#[test]
fn the_answer_comes_first_and_the_agents_usage_waits_for_the_settlement() {
    run(async {
        let (h, gateway, queue, agent) = world().await;
        let answer = gateway
            .generate_text(&agent, "demo-text", asking(1000))
            .await
            .unwrap();
        assert_eq!(answer.output.usage.total(), 10);
        // Answered, still held at the estimate: the settlement waits on the spawner.
        assert_eq!(queue.len(), 1);
        assert!(stored_today(&h, &agent.agent.id).await > 1000);
        // The agent's own usage read waits for it, and reports what the call used.
        let (usage, ()) = futures::future::join(gateway.usage(&agent), queue.run_all()).await;
        let usage = usage.unwrap();
        assert_eq!(usage.unit(Unit::TextToken).unwrap().day.used, 10);
        assert_eq!(stored_today(&h, &agent.agent.id).await, 10);
    });
}

#[test]
fn a_reservation_refused_only_for_pending_settlements_waits_and_succeeds() {
    run(async {
        let (h, gateway, queue, agent) = world().await;
        gateway
            .generate_text(&agent, "demo-text", asking(30_000))
            .await
            .unwrap();
        // 30 000 held of 50 000: another 30 000 fits only once the first is settled at 10.
        let (second, ()) = futures::future::join(
            gateway.generate_text(&agent, "demo-text", asking(30_000)),
            queue.run_all(),
        )
        .await;
        second.unwrap();
        queue.run_all().await;
        assert_eq!(stored_today(&h, &agent.agent.id).await, 20);
        // Truly full is still refused.
        let refused = gateway
            .generate_text(&agent, "demo-text", asking(50_000))
            .await;
        assert_eq!(
            refused.err().map(|e| e.kind()),
            Some(molts_core::ErrorKind::QuotaExceeded)
        );
    });
}

#[test]
fn a_settlement_lost_with_the_process_is_charged_as_held_when_the_hold_expires() {
    run(async {
        let (h, gateway, queue, agent) = world().await;
        gateway
            .generate_text(&agent, "demo-text", asking(1000))
            .await
            .unwrap();
        let held = stored_today(&h, &agent.agent.id).await;
        assert!(held > 1000);
        // The process dies before the settlement runs.
        queue.drop_all();
        // Nothing waits for it any more, and nothing is lost: the hold still counts.
        let usage = gateway.usage(&agent).await.unwrap();
        assert_eq!(usage.unit(Unit::TextToken).unwrap().day.used, held);
        let open = h
            .stores()
            .quota
            .expired_reservations(h.now() + HOLD_TTL, 10)
            .await
            .unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].state, ReservationState::Reserved);

        // After the hold's lifetime the scheduled work closes it, charging what was held.
        h.advance(HOLD_TTL + chrono::Duration::minutes(1));
        let report = gateway.run_scheduled_work().await.unwrap();
        assert_eq!(report.holds_expired, 1);
        let closed = h
            .stores()
            .quota
            .get_reservation(&open[0].id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (closed.state, closed.charged),
            (ReservationState::Settled, Some(held))
        );
        assert_eq!(stored_today(&h, &agent.agent.id).await, held);
    });
}
