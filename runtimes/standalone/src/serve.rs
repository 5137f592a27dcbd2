//! `molts serve`: bootstrap, then serve the shared router until SIGINT or SIGTERM, finishing
//! in-flight requests before exiting.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::serve::ListenerExt;
use molts_core::gateway::Background as GatewayBackground;
use molts_core::gateway::ScheduledReport;
use molts_core::ports::Spawner;
use molts_http_api::{ApiState, ClientAddress, request_log, router};
use tokio::sync::Notify;

use crate::config::Settings;
use crate::wiring;

/// Tells the router the request's client: the TCP peer (behind a reverse proxy, the proxy,
/// so per-address limits then count the proxy's clients together).
async fn tell_client_address(mut request: axum::extract::Request) -> axum::extract::Request {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let address = ClientAddress(peer.ip());
        request.extensions_mut().insert(address);
    }
    request
}

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
    let metrics = crate::metrics::install().map(|handle| {
        tokio::spawn(crate::metrics::upkeep(handle.clone()));
        crate::metrics::routes(handle, gateway.clone(), settings.metrics_token.clone())
    });
    let state = ApiState {
        max_body_bytes: settings.max_body_bytes,
        ..ApiState::new(gateway)
    };
    // One line per request at info: method, path, status, latency; never headers, queries or a
    // callback's token (the shared `request_log`, the same on Lambda).
    let mut app = router(state);
    if let Some(metrics) = metrics {
        app = app.merge(metrics);
    }
    let app = app
        .layer(request_log())
        .layer(axum::middleware::map_request(tell_client_address));
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
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
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
async fn scheduled_work(gateway: molts_core::Gateway, every: Duration) {
    every_round(every, move || {
        let gateway = gateway.clone();
        async move { gateway.run_scheduled_work().await }
    })
    .await;
}

/// Rounds of scheduled work running at once at most. A round stuck on slow work (items run up
/// to their deadlines) must not hold back the next tick's round, whose items are different:
/// what the first is working on is claimed, so the second skips it.
const ROUNDS_AT_ONCE: usize = 2;

/// Runs `round` every `every`, for good. Each round is its own task, so a panic that core did
/// not catch (it catches each item's) ends that round only: it is logged, and rounds go on. A
/// tick starts a round unless [`ROUNDS_AT_ONCE`] are still running.
async fn every_round<R, F>(every: Duration, round: R)
where
    R: Fn() -> F,
    F: Future<Output = molts_core::Result<ScheduledReport>> + Send + 'static,
{
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Dropped (aborting the rounds, whose work is safe to drop) when the ticker is aborted.
    let mut running = tokio::task::JoinSet::new();
    loop {
        interval.tick().await;
        while let Some(ended) = running.try_join_next() {
            log_round(ended);
        }
        if running.len() < ROUNDS_AT_ONCE {
            running.spawn(round());
        } else {
            tracing::info!("scheduled work is still busy with earlier rounds; skipping this tick");
        }
    }
}

/// Logs how a round of scheduled work ended.
fn log_round(ended: Result<molts_core::Result<ScheduledReport>, tokio::task::JoinError>) {
    match ended {
        Ok(Ok(report)) if report != ScheduledReport::default() => {
            tracing::info!(?report, "scheduled work");
        }
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "scheduled work failed; retrying next round"),
        Err(e) => match e.try_into_panic() {
            Ok(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(panic = %message, "scheduled work panicked; the next round runs as usual");
            }
            Err(e) => tracing::warn!(error = %e, "scheduled work was cancelled"),
        },
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use molts_core::gateway::ScheduledReport;

    use super::every_round;

    #[tokio::test]
    async fn a_round_that_panics_is_logged_and_the_next_round_runs() {
        let rounds = Arc::new(AtomicUsize::new(0));
        let counted = rounds.clone();
        let ticker = tokio::spawn(every_round(Duration::from_millis(10), move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                assert!(n != 0, "the first round panics");
                Ok(ScheduledReport::default())
            }
        }));
        // A bound only so a regression fails instead of hanging.
        let patience = tokio::time::Instant::now() + Duration::from_secs(30);
        while rounds.load(Ordering::SeqCst) < 3 && tokio::time::Instant::now() < patience {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!ticker.is_finished(), "the scheduler task ended");
        assert!(
            rounds.load(Ordering::SeqCst) >= 3,
            "no round ran after the panic"
        );
        ticker.abort();
    }

    #[tokio::test]
    async fn a_round_that_never_ends_does_not_hold_back_the_next() {
        let rounds = Arc::new(AtomicUsize::new(0));
        let counted = rounds.clone();
        let ticker = tokio::spawn(every_round(Duration::from_millis(10), move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    // Stuck on slow work (its items' deadlines would end it, much later).
                    std::future::pending::<()>().await;
                }
                Ok(ScheduledReport::default())
            }
        }));
        // A bound only so a regression fails instead of hanging.
        let patience = tokio::time::Instant::now() + Duration::from_secs(30);
        while rounds.load(Ordering::SeqCst) < 3 && tokio::time::Instant::now() < patience {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            rounds.load(Ordering::SeqCst) >= 3,
            "no round ran beside the stuck one"
        );
        ticker.abort();
    }
}
