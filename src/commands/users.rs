//! `graphd users`: every user of the directory, all pages, streamed to stdout; with
//! `--filter/--search/--count/--orderby`, `ConsistencyLevel: eventual` is sent on every page
//! when the query is an advanced one (PROTOCOL.md §4).

use std::io;

use tracing::info;

use super::session::{self, note};
use crate::cli::{OutputFormat, UsersArgs};
use crate::config::Config;
use crate::error::Error;
use crate::graph::Graph;
use crate::output::Output;
use crate::request;
use crate::term::Progress;

/// Columns of `-o table` without `--select`.
pub const TABLE_COLUMNS: [&str; 4] = ["displayName", "userPrincipalName", "mail", "id"];

pub fn run(config: &Config, args: &UsersArgs) -> Result<(), Error> {
    // Checked before any credential is read or request sent.
    let query = request::users_query(
        args.filter.as_deref(),
        args.search.as_deref(),
        args.count,
        args.orderby.as_deref(),
    )?;
    let http = session::http(config)?;
    let tokens = session::tokens(&http, config)?;
    let graph = Graph::new(&http, &tokens, config);

    // The parameters file's `endpoint`, else {graph}/v1.0/users.
    let mut url = config
        .endpoint
        .clone()
        .unwrap_or_else(|| config.users_url());
    // Ask for no more than needed: `--max-items 100` fetches one page of 100, not 999.
    let top = match args.max_items {
        Some(max) if max < u64::from(args.top) => max.max(1),
        _ => u64::from(args.top),
    };
    let present: Vec<String> = url
        .query_pairs()
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    {
        let mut q = url.query_pairs_mut();
        let mut add = |k: &str, v: &str| {
            if !present.iter().any(|p| p == k) {
                q.append_pair(k, v);
            }
        };
        add("$top", &top.to_string());
        if !args.select.is_empty() {
            add("$select", &args.select.join(","));
        }
        for (k, v) in &query.options {
            add(k, v);
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
    let headers: Vec<(String, String)> = if query.eventual {
        vec![("ConsistencyLevel".into(), "eventual".into())]
    } else {
        Vec::new()
    };
    let columns = if !args.select.is_empty() {
        args.select.clone()
    } else if config.output == OutputFormat::Table {
        TABLE_COLUMNS.iter().map(|c| c.to_string()).collect()
    } else {
        Vec::new()
    };
    let mut out = Output::new(io::stdout().lock(), config.output).columns(columns);
    let progress = Progress::new("users", config.verbose);
    let mut remaining = args.max_items.unwrap_or(u64::MAX);
    let mut listed = 0u64;
    let mut total = None;
    // Each page is written only once it has arrived whole and parsed (a failed page is retried
    // alone inside the pager), so no user is written twice and none is skipped.
    let mut pager = graph.pages_with(url, headers);
    while let Some(items) = pager.next_page()? {
        if pager.pages() == 1 {
            // Only once Graph answered: a refusal leaves stdout empty, not a dangling `[`.
            out.begin()?;
            total = pager.count();
            if args.count {
                let text = format!(
                    "count: {}",
                    total.map_or("(Graph sent none)".into(), |n| n.to_string())
                );
                progress.suspend(|| note(&text));
            }
        }
        for item in items
            .iter()
            .take(usize::try_from(remaining).unwrap_or(usize::MAX))
        {
            out.item(item)?;
            remaining -= 1;
            listed += 1;
        }
        out.flush()?;
        progress.page(pager.pages(), listed, total);
        if remaining == 0 {
            break;
        }
    }
    let pages = pager.pages();
    progress.finish();
    let n = out.end()?;
    info!(target: "graphd", "listed {n} users in {pages} pages");
    Ok(())
}
