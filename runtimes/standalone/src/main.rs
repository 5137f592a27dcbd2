//! `molts`: the standalone server and admin CLI.
//!
//! `molts serve` runs the gateway on 127.0.0.1:8787 over SQLite in `./molts.db` with no other
//! setup; `molts migrate` applies migrations; `molts admin …` does the everyday admin tasks
//! directly against the database.

mod admin;
mod artifacts;
mod config;
mod metrics;
mod serve;
mod wiring;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{CommonOptions, ServeOptions, Settings};

/// molts: one gateway through which AI agents make media.
#[derive(Debug, Parser)]
#[command(name = "molts", version, about)]
struct Cli {
    #[command(flatten)]
    common: CommonOptions,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve(Box<ServeOptions>),
    /// Apply database migrations and exit.
    Migrate,
    /// Everyday admin tasks, straight against the database (whoever can reach it is operator).
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let serve_options = match &cli.command {
        Command::Serve(options) => ServeOptions::clone(options),
        _ => ServeOptions::default(),
    };
    let settings = match Settings::resolve(&cli.common, &serve_options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("molts: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    wiring::init_tracing(settings.log_format);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = settings.worker_threads {
        builder.worker_threads(threads);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("molts: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(_) => serve::run(settings).await,
            Command::Migrate => wiring::migrate_only(&settings).await,
            Command::Admin { command } => admin::run(&settings, command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("molts: {e}");
            ExitCode::FAILURE
        }
    }
}
