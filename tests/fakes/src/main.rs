//! `molts-fakes --listen 127.0.0.1:0 [--print-env] [--heygen-webhook-secret S]
//! [--heygen-webhook-url URL]`: runs the fake providers until stopped and prints
//! `fakes listening on http://ADDR` (and, with `--print-env`, the `*_API_KEY` and
//! `*_BASE_URL` lines to point molts at them). The HeyGen options set its account webhook
//! endpoint: the secret signs HeyGen's events, the URL receives every one.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut listen = "127.0.0.1:0".to_owned();
    let mut print_env = false;
    let mut heygen_secret = None;
    let mut heygen_url = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => match args.next() {
                Some(v) => listen = v,
                None => return usage("--listen needs an address"),
            },
            "--print-env" => print_env = true,
            "--heygen-webhook-secret" => match args.next() {
                Some(v) => heygen_secret = Some(v),
                None => return usage("--heygen-webhook-secret needs a value"),
            },
            "--heygen-webhook-url" => match args.next() {
                Some(v) => heygen_url = Some(v),
                None => return usage("--heygen-webhook-url needs a URL"),
            },
            "-h" | "--help" => return usage(""),
            other => return usage(&format!("unknown argument '{other}'")),
        }
    }
    let server = match molts_fakes::FakeServer::start_on(&listen).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("molts-fakes: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    server.set_heygen_webhook(heygen_secret.as_deref(), heygen_url.as_deref());
    println!("fakes listening on {}", server.url());
    if print_env {
        let mut env: Vec<_> = server.env().into_iter().collect();
        env.sort();
        for (k, v) in env {
            println!("{k}={v}");
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}

fn usage(problem: &str) -> ExitCode {
    if !problem.is_empty() {
        eprintln!("molts-fakes: {problem}");
    }
    eprintln!(
        "usage: molts-fakes [--listen 127.0.0.1:0] [--print-env] [--heygen-webhook-secret S] [--heygen-webhook-url URL]"
    );
    if problem.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
