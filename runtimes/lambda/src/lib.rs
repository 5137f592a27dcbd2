//! molts-lambda: molts on AWS Lambda.
//!
//! The `bootstrap` binary reads its settings from `MOLTS_*` environment variables
//! ([`Settings`]), connects and migrates the database, bootstraps the gateway with the operator
//! token once per cold start ([`cold_start`]), then takes events from the Lambda Runtime API
//! through `lambda_http`. Each event goes to one [`Handler`]: HTTP events from API Gateway (REST
//! and HTTP APIs), ALB and function URLs to the shared `molts_http_api::router`, EventBridge
//! schedules to `Gateway::run_scheduled_work`. Deployment is described in
//! `docs/deploy/lambda.md`.

mod artifacts;
mod config;
mod handler;
mod wiring;

pub use config::{LogFormat, Settings, redact};
pub use handler::{Event, Handler, classify, strip_stage};
pub use wiring::{cold_start, init_tracing};
