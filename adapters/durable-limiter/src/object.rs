//! The Durable Object class: one per rate key, holding that key's current window.

use std::cell::Cell;

use worker::{DurableObject, Env, Request, Response, Result, State, durable_object};

use crate::{Hit, Window, decide};

/// The storage key of the window.
const WINDOW: &str = "window";

/// One rate key's limiter. The window lives in memory and in the object's storage.
#[durable_object]
pub struct RateLimiterObject {
    state: State,
    /// `None` until loaded from storage (on the first hit after the object starts).
    window: Cell<Option<Window>>,
}

impl DurableObject for RateLimiterObject {
    fn new(state: State, _env: Env) -> Self {
        Self {
            state,
            window: Cell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let hit: Hit = match req.json().await {
            Ok(hit) => hit,
            Err(_) => return Response::error("expected a hit as JSON", 400),
        };
        if self.window.get().is_none() {
            // Storage reads hold the object's input gate: no other hit runs meanwhile.
            let stored: Option<Window> = self.state.storage().get(WINDOW).await?;
            if self.window.get().is_none() {
                self.window.set(Some(stored.unwrap_or_default()));
            }
        }
        // Decide and count with no await in between: this is the atomic step.
        let mut window = self.window.get().unwrap_or_default();
        let decision = decide(&mut window, hit);
        self.window.set(Some(window));
        if decision.allowed {
            // The answer waits for this write to be durable (the output gate), so a hit that was
            // allowed is never forgotten by an eviction.
            self.state.storage().put(WINDOW, window).await?;
        }
        Response::from_json(&decision)
    }
}
