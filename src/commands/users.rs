//! `graphd users`: every user of the directory, all pages, streamed to stdout.

use std::io;

use tracing::info;

use crate::cli::UsersArgs;
use crate::config::Config;
use crate::credential::Credential;
use crate::error::Error;
use crate::graph::Graph;
use crate::http::Http;
use crate::output::Output;
use crate::token::provider::{TokenSource, Tokens};

pub fn run(config: &Config, args: &UsersArgs) -> Result<(), Error> {
    let credential = Credential::load(&config.credential, &mut io::stdin().lock())?;
    let http = Http::new(config.ca_bundle.as_deref())?.with_max_body(config.max_response_bytes);
    let tokens = Tokens::new(&http, config, credential);
    // The token first: a credential Entra refuses fails before any Graph request.
    tokens.bearer()?;
    let graph = Graph::new(&http, &tokens, config);

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
    let mut pages = graph.pages(url);
    let mut out = Output::new(io::stdout().lock(), args.output);
    let mut remaining = args.max_items.unwrap_or(u64::MAX);
    let mut begun = false;
    // Each page is written only once it has arrived whole and parsed, so a page that failed
    // and was retried is never written twice, and no page is skipped.
    while let Some(items) = pages.next_page()? {
        if !begun {
            // Only once Graph answered: a refusal leaves stdout empty, not a dangling `[`.
            out.begin()?;
            begun = true;
        }
        for item in items
            .iter()
            .take(usize::try_from(remaining).unwrap_or(usize::MAX))
        {
            out.item(item)?;
            remaining -= 1;
        }
        out.flush()?;
        if remaining == 0 {
            break;
        }
    }
    let n = out.end()?;
    info!(target: "graphd", "listed {n} users in {} pages", pages.pages());
    Ok(())
}
