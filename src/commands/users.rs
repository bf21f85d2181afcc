//! `graphd users`: every user of the directory, all pages, streamed to stdout; with
//! `--filter/--search/--count/--orderby`, `ConsistencyLevel: eventual` is sent on every page
//! when the query is an advanced one (PROTOCOL.md §4). With `--delta STATE`, one round of
//! `/users/delta` instead (PROTOCOL.md §9; `listing::DeltaSync` keeps the state).

use std::path::Path;

use url::Url;

use super::listing::{self, DeltaSync, Listing};
use super::session;
use crate::cli::UsersArgs;
use crate::config::Config;
use crate::error::Error;
use crate::graph::delta::{Binding, DeltaError};
use crate::graph::query;
use crate::graph::{Graph, origin};
use crate::output::OutputFormat;

/// Columns of `-o table` without `--select`.
pub const TABLE_COLUMNS: [&str; 4] = ["displayName", "userPrincipalName", "mail", "id"];

/// A user's default properties (PROTOCOL.md §4) in Graph's order: the CSV/TSV columns of a
/// delta listing without `--select`, whatever its first object is (a removed one has only `id`).
pub const DEFAULT_PROPERTIES: [&str; 11] = [
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

pub fn run(config: &Config, args: &UsersArgs) -> Result<(), Error> {
    if let Some(state) = &args.delta.delta {
        return run_delta(config, args, state);
    }
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
        &mut graph.pages(url, headers),
        &Listing {
            what: "users",
            format: config.output,
            columns,
            max_items: args.max_items,
            verbose: config.verbose,
            first_page_note: args
                .count
                .then_some(&count_note as &dyn Fn(Option<u64>) -> String),
            delta: false,
        },
    )?;
    Ok(())
}

/// `users --delta STATE`: one round of `{graph}/{version}/users/delta`.
fn run_delta(config: &Config, args: &UsersArgs, state: &Path) -> Result<(), Error> {
    // Checked before any credential is read or request sent.
    let start = DeltaStart::of(config.endpoint.as_ref())?;
    let select = if args.select.is_empty() {
        start.select
    } else {
        args.select.clone()
    };
    let filter = args
        .filter
        .as_deref()
        .or(start.filter.as_deref())
        .map(query::delta_filter)
        .transpose()?;
    let mut first = config.graph_endpoint.clone();
    first.set_path(&format!("{}/users/delta", start.version));
    if !select.is_empty() || filter.is_some() {
        let mut q = first.query_pairs_mut();
        if !select.is_empty() {
            q.append_pair("$select", &select.join(","));
        }
        if let Some(f) = &filter {
            q.append_pair("$filter", f);
        }
    }
    let binding = Binding {
        authority: origin(&config.authority_host),
        tenant: config.tenant.clone(),
        client_id: config.client_id.clone(),
        graph: origin(&config.graph_endpoint),
        api_version: start.version.into(),
        resource: "users/delta".into(),
        select: select.clone(),
        filter,
        options: Vec::new(),
    };
    let sync = DeltaSync::prepare(&args.delta, state, binding, first, &config.graph_endpoint)?;

    let http = session::http(config)?;
    let tokens = session::tokens(&http, config)?;
    let target = config.graph_target();
    let graph = Graph::new(&http, &tokens, &target);
    // Delta always sends `id`: a removed object is its id and `@removed`.
    let columns = if !select.is_empty() {
        let mut c = select;
        if !c.iter().any(|s| s.eq_ignore_ascii_case("id")) {
            c.push("id".into());
        }
        c
    } else if config.output == OutputFormat::Table {
        TABLE_COLUMNS.iter().map(|c| c.to_string()).collect()
    } else {
        DEFAULT_PROPERTIES.iter().map(|c| c.to_string()).collect()
    };
    sync.run(
        &graph,
        Vec::new(),
        Listing {
            what: "users",
            format: config.output,
            columns,
            max_items: None,
            verbose: config.verbose,
            first_page_note: None,
            delta: true,
        },
    )
}

/// What the parameters file's `endpoint` says about a delta round: its API version, and the
/// `$select`/`$filter` it carries (the flags win over them).
struct DeltaStart {
    version: &'static str,
    select: Vec<String>,
    filter: Option<String>,
}

impl DeltaStart {
    fn of(endpoint: Option<&Url>) -> Result<DeltaStart, DeltaError> {
        let mut start = DeltaStart {
            version: "v1.0",
            select: Vec::new(),
            filter: None,
        };
        let Some(e) = endpoint else {
            return Ok(start);
        };
        let bad = || DeltaError::Endpoint(e.to_string());
        start.version = match e.path().trim_end_matches('/') {
            "/v1.0/users" => "v1.0",
            "/beta/users" => "beta",
            _ => return Err(bad()),
        };
        for (k, v) in e.query_pairs() {
            match k.to_ascii_lowercase().as_str() {
                "$select" => {
                    start.select = v
                        .split(',')
                        .map(|p| p.trim().to_string())
                        .filter(|p| !p.is_empty())
                        .collect()
                }
                "$filter" => start.filter = Some(v.into_owned()),
                // Graph pages delta rounds itself.
                "$top" => {}
                _ => return Err(bad()),
            }
        }
        Ok(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_start_from_the_parameters_endpoint() {
        let of = |s: &str| DeltaStart::of(Some(&Url::parse(s).unwrap()));
        assert_eq!(DeltaStart::of(None).unwrap().version, "v1.0");
        assert_eq!(
            of("https://graph.microsoft.com/beta/users/")
                .unwrap()
                .version,
            "beta"
        );
        let s =
            of("https://g.example/v1.0/users?$top=999&$select=id,mail&$filter=id eq '1'").unwrap();
        assert_eq!(s.select, ["id", "mail"]);
        assert_eq!(s.filter.as_deref(), Some("id eq '1'"));
        for bad in [
            "https://g.example/v1.0/groups",
            "https://g.example/v1.0/users/x",
            "https://g.example/v1.0/users?$orderby=displayName",
        ] {
            assert!(matches!(of(bad), Err(DeltaError::Endpoint(_))), "{bad}");
        }
    }
}
