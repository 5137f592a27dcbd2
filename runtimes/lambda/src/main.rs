//! `bootstrap`: the executable a Lambda custom runtime (`provided.al2023`) starts.
//!
//! A cold start reads the environment, connects and migrates the database and bootstraps the
//! gateway, then serves events until Lambda freezes or ends the process. Any failure before the
//! first event ends the cold start with one `molts: …` line on stderr (CloudWatch Logs) and a
//! non-zero exit, which Lambda reports as `Runtime.ExitError` on the invocation that woke it.

use std::process::ExitCode;

use lambda_http::{Request, service_fn};
use molts_lambda::{Handler, Settings, cold_start, init_tracing};

fn main() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            // Before logging is set up (its format is a setting): a plain line still lands in
            // CloudWatch Logs.
            eprintln!("molts: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("molts: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let gateway = cold_start(&settings).await?;
        let handler = Handler::new(gateway, settings.max_body_bytes);
        // Sequential unless AWS_LAMBDA_MAX_CONCURRENCY asks for more (Lambda Managed Instances);
        // the handler is Clone + Send, so both work.
        lambda_http::run_concurrent(service_fn(move |request: Request| {
            let handler = handler.clone();
            async move { handler.handle(request).await }
        }))
        .await
        .map_err(|e| format!("the Lambda runtime loop stopped: {e}"))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "cold start failed");
            eprintln!("molts: {e}");
            ExitCode::FAILURE
        }
    }
}
