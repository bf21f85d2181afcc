//! `graphd users`: every user of the directory, all pages, streamed to stdout.

use std::io;

use tracing::info;

use crate::cli::UsersArgs;
use crate::config::Config;
use crate::credential::Credential;
use crate::error::Error;
use crate::graph::{Graph, NextLinkGuard, Page};
use crate::http::Http;
use crate::output::Output;
use crate::token;

pub fn run(config: &Config, args: &UsersArgs) -> Result<(), Error> {
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
