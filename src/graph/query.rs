//! Graph's URL and OData rules, applied before anything is sent: the `users` query (and
//! whether it is an advanced query needing `ConsistencyLevel: eventual`, PROTOCOL.md §4, one
//! rule for `users` and `get`), `user`'s id as one path segment, `get`'s path or URL (only on
//! the Graph origin), the API version, and `--header K:V`.
//!
//! Pure functions: no I/O, no token. Errors are `QueryError`s (exit code 2), each with a hint.

use clap::ValueEnum;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::Url;

use crate::diagnostic::Diagnostic;

/// Graph's API versions (`--api-version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApiVersion {
    /// The stable API
    #[value(name = "v1.0")]
    V1,
    /// The preview API
    Beta,
}

impl ApiVersion {
    /// The first path segment: `v1.0` or `beta`.
    pub fn segment(self) -> &'static str {
        match self {
            Self::V1 => "v1.0",
            Self::Beta => "beta",
        }
    }
}

/// A request the user must fix before graphd sends it; exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("--search '{0}' is not a property:text search")]
    BadSearch(String),
    #[error("--orderby '{0}' is not PROPERTY [asc|desc]")]
    BadOrderBy(String),
    #[error("--filter is empty")]
    EmptyFilter,
    #[error("{url} is not on the Graph origin {graph}; graphd sends its token only there")]
    ForeignUrl { url: String, graph: String },
    #[error("'{0}' is not an https URL")]
    NotHttps(String),
    #[error("the path '{0}' has a '#', which starts a URL fragment and is never sent")]
    Fragment(String),
    #[error("--header '{0}' is not NAME:VALUE")]
    BadHeader(String),
    #[error("--header {0} is set by graphd itself")]
    ReservedHeader(String),
    #[error("{path} is an advanced query: {what}")]
    NeedsAdvanced { path: String, what: &'static str },
    #[error("--api-version {given} conflicts with the path's {path}")]
    VersionConflict { given: &'static str, path: String },
    #[error("--filter '{0}' is not one delta query supports")]
    DeltaFilter(String),
}

impl Diagnostic for QueryError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::BadSearch(_) => "e.g. --search 'displayName:ada' or --search '\"displayName:ada\" OR \"mail:ada\"'".into(),
            Self::BadOrderBy(_) => "e.g. --orderby displayName or --orderby 'userPrincipalName desc'".into(),
            Self::EmptyFilter => "e.g. --filter \"startswith(displayName,'A')\"".into(),
            Self::ForeignUrl { .. } | Self::NotHttps(_) => {
                "use a path (/users) or a URL on --graph-endpoint; for another resource, use `graphd token --scope`".into()
            }
            Self::Fragment(_) => "percent-encode it: #EXT# is %23EXT%23 (or use `graphd user ID|UPN`)".into(),
            Self::BadHeader(_) => "e.g. --header ConsistencyLevel:eventual".into(),
            Self::ReservedHeader(_) => "drop it: graphd sends Authorization and client-request-id on every request".into(),
            Self::NeedsAdvanced { .. } => {
                "add --header ConsistencyLevel:eventual (and $count=true in the query, except for $search alone)".into()
            }
            Self::VersionConflict { .. } => "drop --api-version, or the version at the start of the path".into(),
            Self::DeltaFilter(_) => {
                "delta query filters by object id only: --filter \"id eq 'ID'\" (several joined with or), \
                 or --filter \"id in ('ID1','ID2')\""
                    .into()
            }
        })
    }
}

/// The query options of a `users` listing and whether it needs `ConsistencyLevel: eventual`.
#[derive(Debug, PartialEq, Eq)]
pub struct UsersQuery {
    pub options: Vec<(&'static str, String)>,
    /// Send `ConsistencyLevel: eventual` on every page.
    pub eventual: bool,
}

/// Properties `$orderby` takes without advanced query parameters.
const PLAIN_ORDERBY: [&str; 2] = ["displayName", "userPrincipalName"];

/// What a directory query needs to be served (PROTOCOL.md §4): `$count=true` for `$count`,
/// `$filter` with `ne`/`not`/`endsWith`, `$filter` + `$orderby`, and `$orderby` on other
/// properties than displayName/userPrincipalName; `ConsistencyLevel: eventual` for all of
/// those and for `$search`. The one place this rule is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advanced {
    pub needs_count: bool,
    pub needs_eventual: bool,
}

/// The rule, over a query's parts (`orderby` as Graph reads it: `prop [asc|desc],...`).
pub fn advanced(
    filter: Option<&str>,
    orderby: Option<&str>,
    count: bool,
    search: bool,
) -> Advanced {
    let plain = |clause: &str| {
        let prop = clause.split_whitespace().next().unwrap_or("");
        PLAIN_ORDERBY.iter().any(|p| p.eq_ignore_ascii_case(prop))
    };
    let needs_count = count
        || filter.is_some_and(advanced_filter)
        || (filter.is_some() && orderby.is_some())
        || orderby.is_some_and(|o| !o.split(',').all(|c| plain(c.trim())));
    Advanced {
        needs_count,
        needs_eventual: needs_count || search,
    }
}

/// The `$`-options for `users` (after `$top`/`$select`), with `$count=true` and the header
/// when [`advanced`] says so.
pub fn users_query(
    filter: Option<&str>,
    search: Option<&str>,
    count: bool,
    orderby: Option<&str>,
) -> Result<UsersQuery, QueryError> {
    let mut options = Vec::new();
    let filter = filter.map(str::trim);
    if let Some(f) = filter {
        if f.is_empty() {
            return Err(QueryError::EmptyFilter);
        }
        options.push(("$filter", f.to_string()));
    }
    let orderby = match orderby {
        Some(o) => {
            let o = o.trim();
            let clauses: Vec<&str> = o.split(',').map(str::trim).collect();
            for c in &clauses {
                let mut words = c.split_whitespace();
                let prop = words.next().unwrap_or("");
                let dir = words.next();
                let ok = !prop.is_empty()
                    && prop
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '/' || c == '_')
                    && dir.is_none_or(|d| {
                        d.eq_ignore_ascii_case("asc") || d.eq_ignore_ascii_case("desc")
                    })
                    && words.next().is_none();
                if !ok {
                    return Err(QueryError::BadOrderBy(o.to_string()));
                }
            }
            let joined = clauses.join(",");
            options.push(("$orderby", joined.clone()));
            Some(joined)
        }
        None => None,
    };
    if let Some(s) = search {
        options.push(("$search", search_expr(s)?));
    }
    let rule = advanced(filter, orderby.as_deref(), count, search.is_some());
    if rule.needs_count {
        options.push(("$count", "true".into()));
    }
    Ok(UsersQuery {
        options,
        eventual: rule.needs_eventual,
    })
}

/// `displayName:ada` → `"displayName:ada"`; quoted clauses are checked and kept.
fn search_expr(s: &str) -> Result<String, QueryError> {
    let s = s.trim();
    let bad = || QueryError::BadSearch(s.to_string());
    let clause_ok = |c: &str| {
        c.split_once(':')
            .is_some_and(|(p, t)| !p.trim().is_empty() && !t.is_empty() && !p.contains(' '))
    };
    if !s.contains('"') {
        return if clause_ok(s) {
            Ok(format!("\"{s}\""))
        } else {
            Err(bad())
        };
    }
    // "a:b" OR "c:d": quoted clauses between AND / OR.
    let parts: Vec<&str> = s.split('"').collect();
    if parts.len().is_multiple_of(2) {
        return Err(bad());
    }
    for (i, p) in parts.iter().enumerate() {
        if i % 2 == 1 {
            if !clause_ok(p) {
                return Err(bad());
            }
        } else {
            let op = p.trim();
            let edge = i == 0 || i == parts.len() - 1;
            if !(edge && op.is_empty() || !edge && (op == "AND" || op == "OR")) {
                return Err(bad());
            }
        }
    }
    Ok(s.to_string())
}

/// Whether a `$filter` uses an operator only advanced queries support (`ne`, `not`,
/// `endsWith`), looking outside string literals.
pub fn advanced_filter(f: &str) -> bool {
    let mut outside = String::with_capacity(f.len());
    let mut in_str = false;
    for c in f.chars() {
        if c == '\'' {
            in_str = !in_str;
            outside.push(' ');
        } else if !in_str {
            outside.push(c.to_ascii_lowercase());
        }
    }
    let words: Vec<&str> = outside
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    words
        .iter()
        .any(|w| matches!(*w, "ne" | "not" | "endswith"))
}

/// A `$filter` for a directory delta round (PROTOCOL.md §9): only `id eq '...'` clauses joined
/// with `or`, or `id in (...)`; anything else Graph refuses after a token round trip.
pub fn delta_filter(f: &str) -> Result<String, QueryError> {
    let f = f.trim();
    if f.is_empty() {
        return Err(QueryError::EmptyFilter);
    }
    let bad = || QueryError::DeltaFilter(f.to_string());
    let mut outside = String::with_capacity(f.len());
    let mut in_str = false;
    let mut literals = 0;
    for c in f.chars() {
        if c == '\'' {
            in_str = !in_str;
            if in_str {
                literals += 1;
            }
            outside.push(' ');
        } else if !in_str {
            if !(c.is_ascii_alphanumeric() || c.is_whitespace() || "(),".contains(c)) {
                return Err(bad());
            }
            outside.push(if "(),".contains(c) { ' ' } else { c });
        }
    }
    let words_ok = outside
        .split_whitespace()
        .all(|w| matches!(w.to_ascii_lowercase().as_str(), "id" | "eq" | "or" | "in"));
    if in_str || literals == 0 || !words_ok {
        return Err(bad());
    }
    Ok(f.to_string())
}

/// Everything but unreserved characters and `@` is percent-encoded in a path segment, so a
/// UPN's `#EXT#` is `%23EXT%23`, an apostrophe `%27`, and `/` cannot add a segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');

/// `{graph}/v1.0/users/{id-or-upn}` with the key as one encoded segment.
pub fn user_url(graph: &Url, key: &str, select: &[String]) -> Url {
    let mut url = graph.clone();
    url.set_path(&format!("v1.0/users/{}", utf8_percent_encode(key, SEGMENT)));
    if !select.is_empty() {
        url.query_pairs_mut()
            .append_pair("$select", &select.join(","));
    }
    url
}

/// A `get` target: a relative path under `{graph}/{version}/`, or an absolute https URL on
/// the Graph origin. A path that starts with `v1.0/` or `beta/` keeps its version.
pub fn get_url(
    graph: &Url,
    target: &str,
    version: ApiVersion,
    version_given: bool,
) -> Result<Url, QueryError> {
    let graph_origin = graph.origin().ascii_serialization();
    if target.contains("://") {
        let url = Url::parse(target).map_err(|_| QueryError::NotHttps(target.to_string()))?;
        if url.scheme() != "https" {
            return Err(QueryError::NotHttps(target.to_string()));
        }
        if url.origin().ascii_serialization() != graph_origin
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(QueryError::ForeignUrl {
                url: url.origin().ascii_serialization(),
                graph: graph_origin,
            });
        }
        if url.fragment().is_some() {
            return Err(QueryError::Fragment(target.to_string()));
        }
        return Ok(url);
    }
    if target.contains('#') {
        return Err(QueryError::Fragment(target.to_string()));
    }
    let rel = target.trim_start_matches('/');
    let first = rel.split(['/', '?']).next().unwrap_or("");
    let path = if first == "v1.0" || first == "beta" {
        if version_given && first != version.segment() {
            return Err(QueryError::VersionConflict {
                given: version.segment(),
                path: first.to_string(),
            });
        }
        rel.to_string()
    } else {
        format!("{}/{rel}", version.segment())
    };
    graph
        .join(&format!("/{path}"))
        .map_err(|_| QueryError::NotHttps(target.to_string()))
}

/// Refuses a query on a directory collection that needs advanced query parameters it lacks
/// (PROTOCOL.md §4): Graph would answer 400 after a token round trip; graphd says why first.
pub fn check_advanced(url: &Url, headers: &[(String, String)]) -> Result<(), QueryError> {
    const DIRECTORY: [&str; 8] = [
        "users",
        "groups",
        "applications",
        "serviceprincipals",
        "devices",
        "contacts",
        "directoryobjects",
        "administrativeunits",
    ];
    let mut segs = url.path_segments().into_iter().flatten();
    let _version = segs.next();
    let collection = segs.next().unwrap_or("").to_ascii_lowercase();
    if !DIRECTORY.contains(&collection.as_str()) {
        return Ok(());
    }
    let eventual = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("consistencylevel") && v.trim().eq_ignore_ascii_case("eventual")
    });
    let opt = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.into_owned())
    };
    let count = opt("$count").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let rule = advanced(
        opt("$filter").as_deref(),
        opt("$orderby").as_deref(),
        count,
        opt("$search").is_some(),
    );
    let needs_count = rule.needs_count;
    let path = url.path().to_string();
    if opt("$search").is_some() && !eventual {
        return Err(QueryError::NeedsAdvanced {
            path,
            what: "$search needs the header ConsistencyLevel: eventual",
        });
    }
    if needs_count && !eventual {
        return Err(QueryError::NeedsAdvanced {
            path,
            what: "$count, ne/not/endsWith, $filter with $orderby and $orderby on other properties than displayName/userPrincipalName need the header ConsistencyLevel: eventual",
        });
    }
    if needs_count && !count {
        return Err(QueryError::NeedsAdvanced {
            path,
            what: "ne/not/endsWith, $filter with $orderby and $orderby on other properties than displayName/userPrincipalName need $count=true",
        });
    }
    Ok(())
}

/// `--header K:V` → (name, value); Authorization and client-request-id are graphd's.
pub fn header(raw: &str) -> Result<(String, String), QueryError> {
    let (k, v) = raw
        .split_once(':')
        .ok_or_else(|| QueryError::BadHeader(raw.to_string()))?;
    let (k, v) = (k.trim(), v.trim());
    if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err()
        || reqwest::header::HeaderValue::from_str(v).is_err()
    {
        return Err(QueryError::BadHeader(k.to_string()));
    }
    if [
        "authorization",
        "client-request-id",
        "host",
        "proxy-authorization",
        "cookie",
    ]
    .contains(&k.to_ascii_lowercase().as_str())
    {
        return Err(QueryError::ReservedHeader(k.to_string()));
    }
    Ok((k.to_string(), v.to_string()))
}

#[cfg(test)]
mod tests;
