//! graphd gets an app-only access token from Microsoft Entra ID (OAuth 2.0 client
//! credentials) and calls Microsoft Graph with it.
//!
//! The flow is `cli` (flags) → `config` (validated `Config`) → `credential` (secret or
//! certificate, checked locally) → `token` (one POST to the token endpoint) → `graph`
//! (authenticated, paged GETs) → `output` (the only writer to stdout). `error` maps every
//! failure to an exit code and a hint. Secrets live only in the `secret` newtypes.

#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
pub mod commands;
pub mod config;
pub mod credential;
pub mod error;
pub mod graph;
pub mod hardening;
pub mod http;
pub mod output;
pub mod retry;
pub mod secret;
pub mod token;

use std::io;

use crate::cli::{CacheCommand, Cli, Command};
use crate::config::{Config, ProcessEnv};
use crate::error::Error;
use crate::output::OutputError;

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<(), Error> {
    init_logging(cli.global.verbose);
    hardening::disable_core_dumps();
    credential::assertion::install_crypto_provider();
    if let Command::Cache(CacheCommand::Clear) = cli.command {
        return commands::cache::clear();
    }
    let config = Config::from_args(&cli.global, &ProcessEnv)?;
    tracing::debug!(target: "graphd", "{config:?}");
    let result = match cli.command {
        Command::Users(args) => commands::users::run(&config, &args),
        Command::Secret(cmd) => commands::secret::run(&config, cmd),
        Command::Cache(_) => unreachable!("handled above"),
    };
    match result {
        Err(Error::Output(OutputError::Closed)) => Ok(()),
        other => other,
    }
}

/// Logs go to stderr, only graphd's own events (never a dependency's, which could print
/// headers), at a level set by `-v`.
fn init_logging(verbose: u8) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let level = match verbose {
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(io::stderr)
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        .with_target(false)
        .without_time();
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(Targets::new().with_target("graphd", level)))
        .try_init();
}
