//! Prometheus metrics from the request records (`request_record.rs`), through the `metrics`
//! facade: every runtime records them, and only a runtime that installed a recorder (the
//! standalone binary's Prometheus recorder, served at `/metrics`) keeps them — on Workers an
//! isolate's counters would mean nothing, and nothing is installed.
//!
//! Names follow Prometheus' conventions (`molts_` prefix, base units, `_total` counters,
//! `_seconds` histograms); labels are closed sets or route templates, never ids, so the series
//! stay few. docs/OBSERVABILITY.md lists them.

use metrics::{counter, histogram};
use molts_core::ErrorCode;
use molts_core::domain::RequestRecord;

/// `2xx`, `4xx`, …: the status label (a class, to keep series few).
fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

#[allow(clippy::cast_precision_loss)] // milliseconds fit an f64 exactly far beyond any latency
fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// Records one finished request.
pub(crate) fn observe(r: &RequestRecord) {
    let provider = r.provider.map_or("none", |p| p.as_str());
    let model = r.model.clone().unwrap_or_default();
    let code = r.error_code.map_or("", |c| c.as_str());
    counter!(
        "molts_http_requests_total",
        "route" => r.route.clone(),
        "method" => r.method.clone(),
        "status" => status_class(r.status),
        "code" => code,
        "model" => model.clone(),
        "provider" => provider,
    )
    .increment(1);
    histogram!(
        "molts_http_request_duration_seconds",
        "route" => r.route.clone(),
        "method" => r.method.clone(),
        "status" => status_class(r.status),
    )
    .record(seconds(r.latency_ms));
    for attempt in &r.attempts {
        let outcome = attempt.error.map_or("ok", |c| c.as_str());
        counter!(
            "molts_provider_attempts_total",
            "provider" => attempt.provider.as_str(),
            "model" => attempt.model.clone(),
            "outcome" => outcome,
        )
        .increment(1);
        histogram!(
            "molts_provider_attempt_duration_seconds",
            "provider" => attempt.provider.as_str(),
            "outcome" => if attempt.error.is_none() { "ok" } else { "error" },
        )
        .record(seconds(attempt.latency_ms));
    }
    if let Some(unit) = r.unit
        && r.units_charged > 0
    {
        counter!(
            "molts_units_charged_total",
            "unit" => unit.as_str(),
            "instance" => r.instance_id.clone().unwrap_or_default(),
        )
        .increment(r.units_charged);
    }
    // The caller's own limits refusing it (not a provider's).
    if let Some(code) = r.error_code
        && matches!(
            code,
            ErrorCode::QuotaExceeded | ErrorCode::RateLimitExceeded
        )
    {
        counter!("molts_refusals_total", "code" => code.as_str()).increment(1);
    }
}
