//! `molts-fakes --listen 127.0.0.1:0 [--print-env]`: runs the fake providers until stopped and
//! prints `fakes listening on http://ADDR` (and, with `--print-env`, the `*_API_KEY` and
//! `*_BASE_URL` lines to point molts at them).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut listen = "127.0.0.1:0".to_owned();
    let mut print_env = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => match args.next() {
                Some(v) => listen = v,
                None => return usage("--listen needs an address"),
            },
            "--print-env" => print_env = true,
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
    eprintln!("usage: molts-fakes [--listen 127.0.0.1:0] [--print-env]");
    if problem.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
