//! `molts serve`: bootstrap, then serve the shared router until SIGINT or SIGTERM, finishing
//! in-flight requests before exiting.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::serve::ListenerExt;
use molts_core::gateway::Background as GatewayBackground;
use molts_core::ports::Spawner;
use molts_http_api::{ApiState, router};
use tokio::sync::Notify;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::config::Settings;
use crate::wiring;

/// How long shutdown waits for background work (quota settlements of answered calls).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) async fn run(settings: Settings) -> Result<(), String> {
    let background = Arc::new(Background::default());
    let gateway = wiring::gateway(&settings, GatewayBackground::Spawn(background.clone())).await?;
    let report = gateway
        .bootstrap(settings.shared.admin_token.as_deref())
        .await
        .map_err(|e| format!("bootstrap failed: {e}"))?;
    if report.seeded > 0 {
        tracing::info!(
            rows = report.seeded,
            "seeded tiers, models and the default instance"
        );
    }
    if report.admin_token_revoked {
        tracing::warn!(
            "MOLTS_ADMIN_TOKEN was revoked by an admin and stays revoked; choose a new one"
        );
    }
    if let Some(token) = report.generated_admin_token {
        // Printed, not logged: it is shown exactly this once and stored only as a hash.
        eprintln!(
            "\n  molts generated an operator admin token. It is shown only now:\n\n    {token}\n\n  \
             Use it as 'Authorization: Bearer <token>' on /v1/admin/*, or set MOLTS_ADMIN_TOKEN.\n"
        );
    }
    let ticker = tokio::spawn(scheduled_work(gateway.clone(), settings.schedule_every));
    let state = ApiState {
        max_body_bytes: settings.max_body_bytes,
        ..ApiState::new(gateway)
    };
    // One line per request at info: method, path, status, latency. Headers are never recorded,
    // so bearer keys stay out of the logs.
    let trace = TraceLayer::new_for_http()
        .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    let app = router(state).layer(trace);
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(address = %local, database = %wiring::redact(&settings.database_url), "molts is listening");
    // Tests and scripts read this line to learn the port when listening on :0.
    println!("molts listening on http://{local}");
    // Small writes go out at once: a streamed answer is many small SSE events, and with Nagle's
    // algorithm each would wait for the client to acknowledge the one before.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    ticker.abort();
    if !background.drain(DRAIN_TIMEOUT).await {
        tracing::warn!("background work still running at shutdown; its holds close on expiry");
    }
    tracing::info!("molts stopped");
    Ok(())
}

/// The gateway's background work (settling answered calls' quota holds) as tokio tasks,
/// counted so that shutdown waits for them.
#[derive(Default)]
struct Background {
    running: Arc<AtomicUsize>,
    idle: Arc<Notify>,
}

impl Spawner for Background {
    fn spawn(&self, work: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
        self.running.fetch_add(1, Ordering::SeqCst);
        let done = Done(self.running.clone(), self.idle.clone());
        tokio::spawn(async move {
            work.await;
            drop(done);
        });
    }
}

/// Counts one piece of background work out when dropped (finished, or unwound by a panic).
struct Done(Arc<AtomicUsize>, Arc<Notify>);

impl Drop for Done {
    fn drop(&mut self) {
        if self.0.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.1.notify_waiters();
        }
    }
}

impl Background {
    /// Waits until no work runs, up to `timeout`; false if some still does.
    async fn drain(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let idle = self.idle.notified();
            if self.running.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return self.running.load(Ordering::SeqCst) == 0;
            }
        }
    }
}

/// Calls core's scheduled work hook on an interval, as the cron trigger does on Workers.
async fn scheduled_work(gateway: molts_core::Gateway, every: std::time::Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match gateway.run_scheduled_work().await {
            Ok(report) if report != Default::default() => tracing::info!(?report, "scheduled work"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduled work failed; retrying next round"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
