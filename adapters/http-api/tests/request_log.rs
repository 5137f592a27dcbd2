//! The request log as an operator sees it: a provider callback's secret token never appears.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use molts_core::{Gateway, GatewayConfig, Ports};
use molts_http_api::{ApiState, request_log, router};
use tower::ServiceExt;

/// Everything the subscriber writes, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        self.0
            .lock()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn a_callbacks_token_is_not_in_the_request_log() -> Result<(), String> {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let gateway = Gateway::new(Ports::in_memory(), GatewayConfig::default());
    let app = router(ApiState::new(gateway)).layer(request_log());
    let token = "5ec12e7c0ffee5ec12e7c0ffee5ec12e7";
    let request = Request::post(format!("/v1/callbacks/job_logged/{token}?sig={token}"))
        .body(Body::empty())
        .map_err(|e| e.to_string())?;
    let response = app.oneshot(request).await.map_err(|e| e.to_string())?;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let log = captured.text();
    assert!(log.contains("/v1/callbacks/job_logged/***"), "{log}");
    assert!(log.contains("status=401"), "{log}");
    assert!(!log.contains(token), "the token was logged: {log}");
    Ok(())
}
