//! Embedding molts-core in another Rust program, with the in-memory store: register an agent,
//! authenticate its key, hold quota for a piece of work and settle it, then read the usage.
//!
//! Run with `cargo run -p molts-core --example embed`. Swap `MemoryStore` for your own type
//! implementing the store traits (and prove it with `molts_core::testkit::run_all`).

use std::sync::Arc;

use molts_core::domain::{NewAgent, Unit};
use molts_core::memory::MemoryStore;
use molts_core::{Gateway, GatewayConfig, Ports, Result, Stores};

fn main() -> Result<()> {
    futures::executor::block_on(run())
}

async fn run() -> Result<()> {
    // The system clock and ids and an in-process rate limiter come with `with_stores`; set the
    // fields of `Ports` yourself to replace those too.
    let ports = Ports::with_stores(Stores::from_one(Arc::new(MemoryStore::new())));
    let gateway = Gateway::new(ports, GatewayConfig::default());
    // Seeds tiers, model configs and the `default` instance; returns a one-time operator token.
    let boot = gateway.bootstrap(None).await?;
    println!(
        "operator token generated: {}",
        boot.generated_admin_token.is_some()
    );

    let registered = gateway
        .register_agent(
            NewAgent {
                name: "Ada".to_owned(),
                soul_md: "# Ada\nI make short films about lighthouses.".to_owned(),
                ..NewAgent::default()
            },
            None,
        )
        .await?;
    println!(
        "registered {} on tier {}",
        registered.agent.id, registered.agent.tier_id
    );

    // What an HTTP handler does on every request: authenticate the bearer key.
    let agent = gateway.authenticate_agent(&registered.key.secret).await?;

    // Hold one video before calling a provider; settle after (or refund on failure).
    let hold = gateway.reserve(&agent, Unit::Video, 1).await?;
    gateway.settle(&hold, 1).await?;

    let usage = gateway.usage(&agent).await?;
    if let Some(video) = usage.unit(Unit::Video) {
        let remaining = serde_json::to_string(&video.month.remaining).unwrap_or_default();
        println!(
            "videos this month: {} used, {remaining} remaining",
            video.month.used
        );
    }
    let model = gateway
        .resolve_model(&agent.instance, "openai:gpt-4o", None)
        .await?;
    println!("'openai:gpt-4o' resolves to model config '{}'", model.id);
    Ok(())
}
