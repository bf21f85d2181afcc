//! `graphd get PATH-OR-URL`: any Graph GET, like `az rest`. Relative paths resolve against
//! the Graph endpoint and API version; absolute URLs must be on the Graph origin. `--all`
//! follows every nextLink (re-sending `--header`s on each page) and streams the items.

use super::listing::{self, Listing};
use super::session;
use crate::cli::GetArgs;
use crate::config::{Config, ConfigError};
use crate::error::Error;
use crate::graph::query;
use crate::graph::{Graph, GraphError};
use crate::output::{self, Output, OutputFormat};

pub fn run(config: &Config, args: &GetArgs, version_given: bool) -> Result<(), Error> {
    let url = match (&args.path, &config.endpoint) {
        (Some(p), _) => query::get_url(&config.graph_endpoint, p, args.api_version, version_given)?,
        (None, Some(e)) => {
            query::get_url(&config.graph_endpoint, e.as_str(), args.api_version, false)?
        }
        (None, None) => return Err(ConfigError::NoPath.into()),
    };
    let headers = args
        .headers
        .iter()
        .map(|h| query::header(h))
        .collect::<Result<Vec<_>, _>>()?;
    query::check_advanced(&url, &headers)?;
    let http = session::http(config)?;
    let tokens = session::tokens(&http, config)?;
    let target = config.graph_target();
    let graph = Graph::new(&http, &tokens, &target);

    if args.all {
        listing::stream(
            graph.pages(url, headers),
            Listing {
                what: "items",
                format: config.output,
                columns: args.columns.clone(),
                max_items: args.max_items,
                verbose: config.verbose,
                first_page_note: None,
            },
        )?;
        return Ok(());
    }
    let body = graph.get_with(&url, &headers)?;
    if !body.json {
        // A photo's $value, a report's CSV: passed through as is (escaped on a terminal).
        output::body(&body.reply.body)?;
        return Ok(());
    }
    let value: serde_json::Value =
        serde_json::from_slice(&body.reply.body).map_err(|_| GraphError::BadPage {
            reason: "the body says it is JSON but is not".into(),
            ids: Box::default(),
        })?;
    // A collection shows its items in table/CSV/TSV; JSON shows the body as Graph sent it.
    match (config.output, value.get("value").and_then(|v| v.as_array())) {
        (OutputFormat::Table | OutputFormat::Csv | OutputFormat::Tsv, Some(items)) => {
            let mut out = Output::stdout(config.output).columns(args.columns.clone());
            out.begin()?;
            for i in items {
                out.item(i)?;
            }
            out.end()?;
        }
        _ => output::object(&value, config.output, &args.columns)?,
    }
    Ok(())
}
