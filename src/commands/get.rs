//! `graphd get PATH-OR-URL`: any Graph GET, like `az rest`. Relative paths resolve against
//! the Graph endpoint and API version; absolute URLs must be on the Graph origin. `--all`
//! follows every nextLink (re-sending `--header`s on each page) and streams the items.

use std::io;

use super::session;
use crate::cli::{GetArgs, OutputFormat};
use crate::config::Config;
use crate::error::Error;
use crate::graph::Graph;
use crate::output::{self, Output};
use crate::request::{self, UsageError};
use crate::term::Progress;

pub fn run(config: &Config, args: &GetArgs, version_given: bool) -> Result<(), Error> {
    let url = match (&args.path, &config.endpoint) {
        (Some(p), _) => {
            request::get_url(&config.graph_endpoint, p, args.api_version, version_given)?
        }
        (None, Some(e)) => {
            request::get_url(&config.graph_endpoint, e.as_str(), args.api_version, false)?
        }
        (None, None) => return Err(UsageError::NoPath.into()),
    };
    let headers = args
        .headers
        .iter()
        .map(|h| request::header(h))
        .collect::<Result<Vec<_>, _>>()?;
    request::check_advanced(&url, &headers)?;
    let http = session::http(config)?;
    let tokens = session::tokens(&http, config)?;
    let graph = Graph::new(&http, &tokens, config);

    if !args.all {
        let body = graph.get_with(&url, &headers)?;
        if !body.json {
            // A photo's $value, a report's CSV: passed through as is.
            output::bytes(&body.reply.body)?;
            return Ok(());
        }
        let value: serde_json::Value = serde_json::from_slice(&body.reply.body).map_err(|_| {
            crate::graph::GraphError::BadPage {
                reason: "the body says it is JSON but is not".into(),
                ids: Box::default(),
            }
        })?;
        // A collection shows its items in table/CSV/TSV; JSON shows the body as Graph sent it.
        match (config.output, value.get("value").and_then(|v| v.as_array())) {
            (OutputFormat::Table | OutputFormat::Csv | OutputFormat::Tsv, Some(items)) => {
                let mut out =
                    Output::new(io::stdout().lock(), config.output).columns(args.columns.clone());
                out.begin()?;
                for i in items {
                    out.item(i)?;
                }
                out.end()?;
            }
            _ => output::object(&value, config.output, &args.columns)?,
        }
        return Ok(());
    }

    let mut out = Output::new(io::stdout().lock(), config.output).columns(args.columns.clone());
    let progress = Progress::new("items", config.verbose);
    let mut remaining = args.max_items.unwrap_or(u64::MAX);
    let mut listed = 0u64;
    // The same bounded pager as `users`: headers re-sent on every page, a failed page retried
    // alone, next links checked, runs of empty pages bounded.
    let mut pager = graph.pages_with(url, headers);
    while let Some(items) = pager.next_page()? {
        if pager.pages() == 1 {
            out.begin()?;
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
        progress.page(pager.pages(), listed, pager.count());
        if remaining == 0 {
            break;
        }
    }
    let pages = pager.pages();
    progress.finish();
    let n = out.end()?;
    tracing::info!(target: "graphd", "listed {n} items in {pages} pages");
    Ok(())
}
