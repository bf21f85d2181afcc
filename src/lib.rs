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
pub mod config;
pub mod credential;
pub mod error;
pub mod graph;
pub mod http;
pub mod output;
pub mod secret;
pub mod token;

use std::io;

use tracing::info;

use crate::cli::{CacheCommand, Cli, Command, KeyringBackend, SecretCommand, UsersArgs};
use crate::config::{Config, ProcessEnv};
use crate::credential::Credential;
use crate::error::Error;
use crate::graph::{Graph, NextLinkGuard, Page};
use crate::http::Http;
use crate::output::{Output, OutputError};

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<(), Error> {
    init_logging(cli.global.verbose);
    credential::assertion::install_crypto_provider();
    if let Command::Cache(CacheCommand::Clear) = cli.command {
        return cache_clear();
    }
    let config = Config::from_args(&cli.global, &ProcessEnv)?;
    tracing::debug!(target: "graphd", "{config:?}");
    let result = match cli.command {
        Command::Users(args) => users(&config, &args),
        Command::Secret(cmd) => secret(&config, cmd),
        Command::Cache(_) => unreachable!("handled above"),
    };
    match result {
        Err(Error::Output(OutputError::Closed)) => Ok(()),
        other => other,
    }
}

fn cache_clear() -> Result<(), Error> {
    let dir = token::cache::TokenCache::default_dir()?;
    let removed = token::cache::TokenCache::open(dir.clone())?.clear()?;
    output::message(&format!(
        "removed {removed} cached token(s) from {}",
        dir.display()
    ))?;
    Ok(())
}

fn secret(config: &Config, cmd: SecretCommand) -> Result<(), Error> {
    let slot = &config.keyring;
    let backend = slot.backend.name();
    match cmd {
        SecretCommand::Set => {
            let secret = credential::read_new_secret(&mut io::stdin().lock())?;
            slot.set(&secret)?;
            if slot.backend == KeyringBackend::Keyutils {
                tracing::warn!(
                    target: "graphd",
                    "the kernel keyring (keyutils) is memory-only: this secret is gone at reboot"
                );
            }
            output::message(&format!(
                "stored the client secret in the {backend} keyring for {}",
                slot.account
            ))?;
        }
        SecretCommand::Status => match slot.get()? {
            Some(_) => output::message(&format!(
                "a client secret is stored in the {backend} keyring for {}",
                slot.account
            ))?,
            None => {
                output::message(&format!(
                    "no client secret is stored in the {backend} keyring for {}",
                    slot.account
                ))?;
                return Err(Error::NotStored);
            }
        },
        SecretCommand::Delete => {
            if slot.delete()? {
                output::message(&format!(
                    "deleted the client secret from the {backend} keyring for {}",
                    slot.account
                ))?;
            } else {
                output::message(&format!(
                    "nothing to delete: no client secret is stored in the {backend} keyring for {}",
                    slot.account
                ))?;
            }
        }
    }
    Ok(())
}

fn users(config: &Config, args: &UsersArgs) -> Result<(), Error> {
    let credential = Credential::load(&config.credential, &mut io::stdin().lock())?;
    let http = Http::new(config.ca_bundle.as_deref())?;
    let token = token::obtain(&http, config, &credential)?;
    drop(credential);
    let graph = Graph::new(&http, &token.access_token, config.admin_consent_url());

    let mut url = config.users_url();
    // Ask for no more than needed: `--max-items 100` fetches one page of 100, not 999.
    let top = match args.max_items {
        Some(max) if max < u64::from(args.top) => max.max(1),
        _ => u64::from(args.top),
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("$top", &top.to_string());
        if !args.select.is_empty() {
            q.append_pair("$select", &args.select.join(","));
        }
    }
    let mut guard = NextLinkGuard::new(&config.graph_endpoint, &url);
    let mut out = Output::new(io::stdout().lock(), args.output);
    let mut remaining = args.max_items.unwrap_or(u64::MAX);
    let mut pages = 0u64;
    loop {
        let page = graph.get_page(&url)?;
        if pages == 0 {
            // Only once Graph answered: a refusal leaves stdout empty, not a dangling `[`.
            out.begin()?;
        }
        pages += 1;
        let (items, next) = match page {
            Page::More { items, next } => (items, Some(next)),
            Page::Done { items } => (items, None),
        };
        for item in items
            .iter()
            .take(usize::try_from(remaining).unwrap_or(usize::MAX))
        {
            out.item(item)?;
            remaining -= 1;
        }
        out.flush()?;
        match next {
            Some(link) if remaining > 0 => url = guard.check(&link)?,
            _ => break,
        }
    }
    let n = out.end()?;
    info!(target: "graphd", "listed {n} users in {pages} pages");
    Ok(())
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
