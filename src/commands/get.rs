//! `graphd get PATH-OR-URL`: any Graph GET, like `az rest`. Relative paths resolve against
//! the Graph endpoint and API version; absolute URLs must be on the Graph origin. `--all`
//! follows every nextLink (re-sending `--header`s on each page) and streams the items.
//! `--delta STATE` (which implies `--all`) runs one round of a delta function such as
//! `/groups/delta` and keeps its deltaLink (`listing::DeltaSync`).

use std::path::Path;

use url::Url;

use super::listing::{self, DeltaSync, Listing};
use super::session;
use crate::cli::GetArgs;
use crate::config::{Config, ConfigError};
use crate::error::Error;
use crate::graph::delta::{Binding, DeltaError};
use crate::graph::query;
use crate::graph::{Graph, GraphError, origin};
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
    if let Some(state) = &args.delta.delta {
        return run_delta(config, args, url, headers, state);
    }
    let http = session::http(config)?;
    let tokens = session::tokens(&http, config)?;
    let target = config.graph_target();
    let graph = Graph::new(&http, &tokens, &target);

    if args.all {
        listing::stream(
            &mut graph.pages(url, headers),
            &Listing {
                what: "items",
                format: config.output,
                columns: args.columns.clone(),
                max_items: args.max_items,
                verbose: config.verbose,
                first_page_note: None,
                delta: false,
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

/// `get PATH --delta STATE`: one round of the delta function at `url`.
fn run_delta(
    config: &Config,
    args: &GetArgs,
    url: Url,
    headers: Vec<(String, String)>,
    state: &Path,
) -> Result<(), Error> {
    // Checked before any credential is read or request sent.
    let binding = delta_binding(config, &url)?;
    let sync = DeltaSync::prepare(&args.delta, state, binding, url, &config.graph_endpoint)?;
    let http = session::http(config)?;
    let tokens = session::tokens(&http, config)?;
    let target = config.graph_target();
    let graph = Graph::new(&http, &tokens, &target);
    sync.run(
        &graph,
        headers,
        Listing {
            what: "items",
            format: config.output,
            columns: args.columns.clone(),
            max_items: None,
            verbose: config.verbose,
            first_page_note: None,
            delta: true,
        },
    )
}

/// What a round of the delta function at `url` is bound to: its version, its path, and its
/// query options. A URL that is not a delta function, or that already carries a round's token,
/// is refused.
fn delta_binding(config: &Config, url: &Url) -> Result<Binding, DeltaError> {
    let segments: Vec<&str> = url.path().trim_matches('/').split('/').collect();
    let function = segments.last().copied().unwrap_or("");
    let is_delta = matches!(
        function.to_ascii_lowercase().as_str(),
        "delta" | "delta()" | "microsoft.graph.delta" | "microsoft.graph.delta()"
    );
    if segments.len() < 3 || !is_delta {
        return Err(DeltaError::NotDeltaPath(url.path().to_string()));
    }
    let (mut select, mut filter, mut options) = (Vec::new(), None, Vec::new());
    for (k, v) in url.query_pairs() {
        match k.to_ascii_lowercase().as_str() {
            "$skiptoken" | "$deltatoken" => {
                return Err(DeltaError::LinkAsPath(url.path().to_string()));
            }
            "$select" => {
                select = v
                    .split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect()
            }
            "$filter" => filter = Some(v.into_owned()),
            _ => options.push(format!("{k}={v}")),
        }
    }
    options.sort();
    Ok(Binding {
        authority: origin(&config.authority_host),
        tenant: config.tenant.clone(),
        client_id: config.client_id.clone(),
        graph: origin(&config.graph_endpoint),
        api_version: segments[0].to_string(),
        resource: segments[1..].join("/"),
        select,
        filter,
        options,
    })
}
