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
pub mod request;
pub mod retry;
pub mod secret;
pub mod settings;
pub mod term;
pub mod token;

use std::io;

use crate::cli::{ArgOrigin, CacheCommand, CertCommand, Cli, Command, ConfigCommand};
use crate::config::{Config, ProcessEnv};
use crate::error::Error;
use crate::output::OutputError;

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<(), Error> {
    term::init(cli.global.color);
    init_logging(cli.global.verbose);
    hardening::disable_core_dumps();
    credential::assertion::install_crypto_provider();
    // Commands that need no tenant, client or credential.
    let early = match &cli.command {
        Command::Cache(CacheCommand::Clear) => Some(commands::cache::clear()),
        Command::Cert(cmd @ (CertCommand::New(_) | CertCommand::Show(_))) => {
            Some(commands::cert::run(cmd, &cli.global, &ProcessEnv))
        }
        Command::Completions(a) => Some(commands::completions::run(a.shell)),
        Command::Man => Some(commands::completions::man()),
        Command::Config(ConfigCommand::Show) => {
            Some(commands::show_config::show(&cli.global, &ProcessEnv))
        }
        _ => None,
    };
    if let Some(result) = early {
        return quiet_on_closed(result);
    }
    let mut config = Config::from_args(&cli.global, &ProcessEnv)?;
    tracing::debug!(target: "graphd", "{config:?}");
    let result = match cli.command {
        Command::Users(args) => commands::users::run(&config, &args),
        Command::User(args) => commands::user::run(&config, &args),
        Command::Get(args) => {
            let given = cli.global.origin("api_version") != ArgOrigin::Default;
            commands::get::run(&config, &args, given)
        }
        Command::Token(args) => commands::token::run(&mut config, &args),
        Command::ConsentUrl(args) => commands::consent::run(&config, &args),
        Command::Secret(cmd) => commands::secret::run(&config, cmd),
        Command::Cert(cmd) => commands::keys::run(&config, &cmd),
        Command::Cache(_) | Command::Completions(_) | Command::Man | Command::Config(_) => {
            unreachable!("handled above")
        }
    };
    quiet_on_closed(result)
}

/// A reader that went away (`graphd users | head`) is not an error.
fn quiet_on_closed(result: Result<(), Error>) -> Result<(), Error> {
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
        .with_ansi(term::color_stderr())
        .with_target(false)
        .without_time();
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(Targets::new().with_target("graphd", level)))
        .try_init();
}
