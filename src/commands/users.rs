//! `graphd users`: every user of the directory, all pages, streamed to stdout; with
//! `--filter/--search/--count/--orderby`, `ConsistencyLevel: eventual` is sent on every page
//! when the query is an advanced one (PROTOCOL.md §4).

use super::listing::{self, Listing};
use super::session;
use crate::cli::UsersArgs;
use crate::config::Config;
use crate::error::Error;
use crate::graph::Graph;
use crate::graph::query;
use crate::output::OutputFormat;

/// Columns of `-o table` without `--select`.
pub const TABLE_COLUMNS: [&str; 4] = ["displayName", "userPrincipalName", "mail", "id"];

pub fn run(config: &Config, args: &UsersArgs) -> Result<(), Error> {
    // Checked before any credential is read or request sent.
    let query = query::users_query(
        args.filter.as_deref(),
        args.search.as_deref(),
        args.count,
        args.orderby.as_deref(),
    )?;
    let http = session::http(config)?;
    let tokens = session::tokens(&http, config)?;
    let target = config.graph_target();
    let graph = Graph::new(&http, &tokens, &target);

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
    let count_note = |total: Option<u64>| {
        format!(
            "count: {}",
            total.map_or("(Graph sent none)".into(), |n| n.to_string())
        )
    };
    listing::stream(
        graph.pages(url, headers),
        Listing {
            what: "users",
            format: config.output,
            columns,
            max_items: args.max_items,
            verbose: config.verbose,
            first_page_note: args
                .count
                .then_some(&count_note as &dyn Fn(Option<u64>) -> String),
        },
    )?;
    Ok(())
}
