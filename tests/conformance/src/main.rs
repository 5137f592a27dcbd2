//! `molts-conformance`: runs the black-box suite against a running molts server and prints one
//! line per case, then `N passed, M failed`. Exits 1 if any case failed.

use std::fmt::Display;
use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// Runs the molts HTTP conformance suite against a server.
#[derive(Debug, Parser)]
#[command(name = "molts-conformance", version, about)]
struct Args {
    /// The server's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "MOLTS_BASE_URL", required_unless_present = "list")]
    base_url: Option<String>,
    /// An operator admin token that may write (mla_… or the chosen MOLTS_ADMIN_TOKEN).
    #[arg(
        long,
        env = "MOLTS_ADMIN_TOKEN",
        hide_env_values = true,
        required_unless_present = "list"
    )]
    admin_token: Option<String>,
    /// Run only the cases whose name contains this text (e.g. `keys.` or `rate`).
    #[arg(long)]
    filter: Option<String>,
    /// List the case names and exit.
    #[arg(long)]
    list: bool,
}

/// Prints a line; a closed stdout (`| head`) is not an error worth a panic.
fn say(line: impl Display) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.list {
        for case in molts_conformance::selected(args.filter.as_deref()) {
            say(case.name);
        }
        return ExitCode::SUCCESS;
    }
    let target = molts_conformance::Target {
        base_url: args.base_url.unwrap_or_default(),
        admin_token: args.admin_token.unwrap_or_default(),
    };
    let report = molts_conformance::run_observed(&target, args.filter.as_deref(), |outcome| {
        say(outcome);
    })
    .await;
    say(report.summary());
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
