//! graphd gets an app-only access token from Microsoft Entra ID (OAuth 2.0 client
//! credentials) and calls Microsoft Graph with it.
//!
//! The flow is `cli` (flags) → `config` (layers → validated `Config`) → `credential` (secret
//! or certificate, checked locally) → `token` (the encrypted cache, else one POST to the token
//! endpoint) → `graph` (authenticated, paged requests) → `output` (the only writer to stdout).
//! `commands` holds one module per subcommand; `error` maps every failure to an exit code and
//! a hint. Secrets live only in the `secret` newtypes. See ARCHITECTURE.md for the map.
//!
//! Lints are set once, in Cargo.toml's `[workspace.lints]`: no `unsafe` code, and no printing
//! to stdout or stderr but through `output` (data), `term` (notes, progress) and tracing (logs).

pub mod cli;
pub mod cloud;
pub mod commands;
pub mod config;
pub mod credential;
pub mod diagnostic;
pub mod error;
pub mod files;
pub mod graph;
pub mod hardening;
pub mod http;
pub mod names;
pub mod output;
pub mod retry;
pub mod secret;
pub mod term;
pub mod time;
pub mod token;

use std::io;

use crate::cli::{ArgOrigin, CacheCommand, Cli, Command, ConfigCommand};
use crate::config::{Config, ProcessEnv};
use crate::error::{Error, Outcome};
use crate::output::OutputError;

/// Runs one parsed command line: `Ok` with how it ended, or the error to render. The exit
/// code of either comes from `error` (`Outcome::exit_code`, `Error::exit_code`).
pub fn run(cli: Cli) -> Result<Outcome, Error> {
    term::init(cli.global.color);
    init_logging(cli.global.verbose);
    hardening::disable_core_dumps();
    credential::assertion::install_crypto_provider();
    let env = ProcessEnv;
    let config = || Config::from_args(&cli.global, &env);
    let done = |r: Result<(), Error>| r.map(|()| Outcome::Success);
    let result = match &cli.command {
        Command::Users(args) => done(commands::users::run(&config()?, args)),
        Command::User(args) => done(commands::user::run(&config()?, args)),
        Command::Get(args) => {
            let given = cli.global.origin("api_version") != ArgOrigin::Default;
            done(commands::get::run(&config()?, args, given))
        }
        Command::Token(args) => done(commands::token::run(&config()?, args)),
        Command::ConsentUrl(args) => done(commands::consent::run(&config()?, args)),
        Command::Secret(cmd) => commands::secret::run(&config()?, cmd),
        Command::Cert(cmd) => done(commands::cert::run(cmd, &cli.global, &env)),
        Command::Cache(CacheCommand::Clear) => done(commands::cache::clear()),
        Command::Config(ConfigCommand::Show) => {
            done(commands::show_config::show(&cli.global, &env))
        }
        Command::Completions(a) => done(commands::completions::run(a.shell)),
        Command::Man => done(commands::completions::man()),
    };
    match result {
        // A reader that went away (`graphd users | head`) is not an error: the one place
        // this is decided.
        Err(Error::Output(OutputError::Closed)) => Ok(Outcome::Success),
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
