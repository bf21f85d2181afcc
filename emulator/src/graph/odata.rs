//! OData query options as Graph's users API takes them (PROTOCOL.md §4): the `$`-options of a
//! request (duplicates and unsupported ones refused), `$select`, `$top`, the basic `$filter`
//! grammar (`startswith(prop,'x')`, `prop eq 'x'`; the advanced operators are in
//! `crate::advanced`), `@odata.context` URLs, and the one canonical encoding of query options in
//! nextLinks. Pure parsing: nothing here reads the directory or answers a request.

use super::{GraphError, bad, no_property, no_property_on, unsupported};
use crate::directory::store::{Record, prop_index};
use crate::directory::{Prop, User};
use crate::state::Shared;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

/// The largest `$top` Graph accepts on users.
pub(crate) const MAX_TOP: usize = 999;

/// The one canonical encoding of query keys and values in nextLinks: everything but unreserved
/// characters and `$ ( )` is percent-encoded with uppercase hex (so `,` is `%2C`, space `%20`,
/// `'` `%27`). It is a fixed point of WHATWG URL parsing (the `url` crate under reqwest), so a
/// client that parses and re-serializes the link still sends it byte for byte.
pub(crate) const LINK_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'$')
    .remove(b'(')
    .remove(b')');

/// A supported `$filter`: one clause, string literal, compared case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Filter {
    /// `startswith(prop,'x')`; the literal is stored lowercased.
    StartsWith(Prop, String),
    /// `prop eq 'x'`; the literal is stored lowercased.
    Eq(Prop, String),
    /// `endswith(prop,'x')` (advanced queries only); lowercased.
    EndsWith(Prop, String),
    /// `prop ne 'x'` (advanced queries only); lowercased. A null property matches.
    Ne(Prop, String),
}

impl Filter {
    pub(crate) fn matches(&self, u: &User<'_>) -> bool {
        match self {
            Filter::StartsWith(p, lit) => u
                .str_prop(*p)
                .is_some_and(|v| v.to_lowercase().starts_with(lit.as_str())),
            Filter::Eq(p, lit) => u.str_prop(*p).is_some_and(|v| v.to_lowercase() == *lit),
            Filter::EndsWith(p, lit) => u
                .str_prop(*p)
                .is_some_and(|v| v.to_lowercase().ends_with(lit.as_str())),
            Filter::Ne(p, lit) => u.str_prop(*p).is_none_or(|v| v.to_lowercase() != *lit),
        }
    }
}

/// The `$`-options of a request, decoded, in order; duplicates and unsupported ones refused.
pub(crate) type Opts = Vec<(String, String)>;

pub(crate) fn opt<'o>(opts: &'o Opts, name: &str) -> Option<&'o str> {
    opts.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The query options `/users` takes.
const USERS_OPTIONS: &[&str] = &[
    "$top",
    "$select",
    "$filter",
    "$count",
    "$skiptoken",
    "$orderby",
    "$search",
];

/// The query options of `/users`, decoded.
pub(crate) fn parse_query(raw: Option<&str>) -> Result<Opts, GraphError> {
    parse_options(raw, USERS_OPTIONS)
}

/// The `$`-options of a query, decoded, when each is one of `allowed` (lowercase) and given
/// at most once; other parameters are ignored, as Graph does.
pub(crate) fn parse_options(raw: Option<&str>, allowed: &[&str]) -> Result<Opts, GraphError> {
    let mut out: Opts = Vec::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if !k.starts_with('$') {
            // Graph ignores parameters that are not OData system query options.
            continue;
        }
        let key = k.to_ascii_lowercase();
        if out.iter().any(|(seen, _)| *seen == key) {
            return Err(bad(format!(
                "Query option '{key}' was specified more than once, but it must be specified at most once."
            )));
        }
        match key.as_str() {
            k if allowed.contains(&k) => {}
            "$skip" => return Err(bad("'$skip' is not supported by the service.")),
            "$expand" | "$format" | "$apply" | "$compute" | "$levels" => {
                return Err(unsupported(format!(
                    "The query option '{key}' is not supported by graphd-emulator."
                )));
            }
            _ => {
                return Err(bad(format!(
                    "The query parameter '{key}' is not supported."
                )));
            }
        }
        out.push((key, v.into_owned()));
    }
    Ok(out)
}

pub(crate) fn parse_select(v: &str) -> Result<Vec<Prop>, GraphError> {
    Ok(parse_select_of::<User<'static>>(v)?
        .into_iter()
        .map(|i| Prop::ALL[i])
        .collect())
}

/// `$select` on a collection of `R`: property indices in the order given, without repeats.
pub(crate) fn parse_select_of<R: Record>(v: &str) -> Result<Vec<usize>, GraphError> {
    let mut props = Vec::new();
    for name in v.split(',') {
        let name = name.trim();
        if name.is_empty() {
            return Err(bad(format!("Syntax error in $select: '{v}'.")));
        }
        let p = prop_index::<R>(name).ok_or_else(|| no_property_on(name, R::TYPE))?;
        if !props.contains(&p) {
            props.push(p);
        }
    }
    Ok(props)
}

/// Most ids one delta `$filter` may name (Graph's documented limit).
pub(crate) const MAX_FILTER_IDS: usize = 50;

/// The only `$filter` delta query takes: `id eq '...'` clauses joined by `or`, or
/// `id in ('...', ...)`; returns the ids. Anything else is `Request_UnsupportedQuery`.
pub(crate) fn parse_id_filter(raw: &str) -> Result<Vec<String>, GraphError> {
    let invalid = || {
        unsupported(format!(
            "Unsupported query filter for delta: only 'id eq' (joined with 'or') and 'id in' are supported, not '{raw}'."
        ))
    };
    let mut ids = Vec::new();
    let mut rest = raw.trim();
    loop {
        let (ident, r) = take_ident(rest);
        if !ident.eq_ignore_ascii_case("id") {
            return Err(invalid());
        }
        let r = r.trim_start();
        if let Some(r) = strip_prefix_ci(r, "eq").filter(|r| r.starts_with([' ', '\''])) {
            let (lit, r) = take_literal(r.trim_start()).ok_or_else(invalid)?;
            ids.push(lit);
            rest = r.trim_start();
        } else if let Some(r) = strip_prefix_ci(r, "in").filter(|r| r.starts_with([' ', '('])) {
            let mut r = r.trim_start().strip_prefix('(').ok_or_else(invalid)?;
            loop {
                let (lit, after) = take_literal(r.trim_start()).ok_or_else(invalid)?;
                ids.push(lit);
                let after = after.trim_start();
                if let Some(more) = after.strip_prefix(',') {
                    r = more;
                } else {
                    rest = after.strip_prefix(')').ok_or_else(invalid)?.trim_start();
                    break;
                }
            }
        } else {
            return Err(invalid());
        }
        if rest.is_empty() {
            break;
        }
        rest = strip_prefix_ci(rest, "or ")
            .ok_or_else(invalid)?
            .trim_start();
    }
    if ids.len() > MAX_FILTER_IDS {
        return Err(unsupported(format!(
            "A delta $filter may name at most {MAX_FILTER_IDS} objects, not {}.",
            ids.len()
        )));
    }
    Ok(ids)
}

pub(crate) fn parse_top(v: &str) -> Result<usize, GraphError> {
    v.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_TOP).contains(n) && v.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            bad(format!(
                "Invalid page size specified: '{v}'. Must be between 1 and {MAX_TOP} inclusive."
            ))
        })
}

pub(crate) fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.get(..prefix.len())
        .filter(|h| h.eq_ignore_ascii_case(prefix))
        .map(|_| &s[prefix.len()..])
}

pub(crate) fn take_ident(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// A string literal `'...'` with `''` as an escaped quote; returns it and the rest.
pub(crate) fn take_literal(s: &str) -> Option<(String, &str)> {
    let body = s.strip_prefix('\'')?;
    let mut out = String::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if let Some((_, '\'')) = chars.peek() {
                chars.next();
                out.push('\'');
            } else {
                return Some((out, &body[i + 1..]));
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// `startswith(prop,'x')` or `prop eq 'x'`, nothing else.
pub(crate) fn parse_filter(raw: &str) -> Result<Filter, GraphError> {
    let invalid = || {
        unsupported(format!(
            "Unsupported or invalid query filter clause specified: '{raw}'."
        ))
    };
    let resolve = |name: &str| -> Result<Prop, GraphError> {
        let p = Prop::parse(name).ok_or_else(|| no_property(name))?;
        if p.is_string() {
            Ok(p)
        } else {
            Err(unsupported(format!(
                "Unsupported or invalid query filter clause specified for property '{}' of resource 'User'.",
                p.name()
            )))
        }
    };
    let t = raw.trim();
    if let Some(rest) = strip_prefix_ci(t, "startswith(") {
        let (ident, rest) = take_ident(rest.trim_start());
        if ident.is_empty() {
            return Err(invalid());
        }
        let rest = rest.trim_start().strip_prefix(',').ok_or_else(invalid)?;
        let (lit, rest) = take_literal(rest.trim_start()).ok_or_else(invalid)?;
        let rest = rest.trim_start().strip_prefix(')').ok_or_else(invalid)?;
        if !rest.trim().is_empty() {
            return Err(invalid());
        }
        return Ok(Filter::StartsWith(resolve(ident)?, lit.to_lowercase()));
    }
    let (ident, rest) = take_ident(t);
    if ident.is_empty() || !rest.starts_with(' ') {
        return Err(invalid());
    }
    let rest = strip_prefix_ci(rest.trim_start(), "eq ").ok_or_else(invalid)?;
    let (lit, rest) = take_literal(rest.trim_start()).ok_or_else(invalid)?;
    if !rest.trim().is_empty() {
        return Err(invalid());
    }
    Ok(Filter::Eq(resolve(ident)?, lit.to_lowercase()))
}

pub(crate) fn context_url(
    s: &Shared,
    version: &str,
    select: Option<&[Prop]>,
    entity: bool,
) -> String {
    let names = select.map(|props| props.iter().map(|p| p.name()).collect::<Vec<_>>());
    let mut c = collection_context(s, version, "users", names.as_deref());
    if entity {
        c.push_str("/$entity");
    }
    c
}

/// `https://HOST/{version}/$metadata#{collection}`, with `(a,b)` when properties were selected.
pub(crate) fn collection_context(
    s: &Shared,
    version: &str,
    collection: &str,
    select: Option<&[&str]>,
) -> String {
    let mut c = format!("{}/{version}/$metadata#{collection}", s.graph_url);
    if let Some(names) = select {
        c.push('(');
        c.push_str(&names.join(","));
        c.push(')');
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use percent_encoding::utf8_percent_encode;

    #[test]
    fn filters() {
        assert_eq!(
            parse_filter("startswith(displayName,'Us')").unwrap(),
            Filter::StartsWith(Prop::DisplayName, "us".into())
        );
        assert_eq!(
            parse_filter(" startsWith( displayName , 'a''b' ) ").unwrap(),
            Filter::StartsWith(Prop::DisplayName, "a'b".into())
        );
        assert_eq!(
            parse_filter("userPrincipalName eq 'o''brien@contoso.onmicrosoft.com'").unwrap(),
            Filter::Eq(
                Prop::UserPrincipalName,
                "o'brien@contoso.onmicrosoft.com".into()
            )
        );
        for bad in [
            "displayName ne 'x'",
            "endswith(mail,'x')",
            "displayName eq 'x' and mail eq 'y'",
            "startswith(displayName,'x'",
            "displayName eq 'unterminated",
            "displayName eq x",
            "accountEnabled eq 'true'",
            "",
            "ü eq 'x'",
        ] {
            assert_eq!(
                parse_filter(bad).unwrap_err().code,
                "Request_UnsupportedQuery",
                "{bad}"
            );
        }
        assert_eq!(
            parse_filter("nope eq 'x'").unwrap_err().code,
            "Request_BadRequest"
        );
    }

    #[test]
    fn next_link_encoding_is_canonical() {
        let enc = |v: &str| utf8_percent_encode(v, LINK_ENCODE).to_string();
        assert_eq!(enc("$select"), "$select");
        assert_eq!(enc("id,displayName"), "id%2CdisplayName");
        assert_eq!(
            enc("startswith(displayName,'a b&c')"),
            "startswith(displayName%2C%27a%20b%26c%27)"
        );
        assert_eq!(enc("Zoë#"), "Zo%C3%AB%23");
        // Round-trips through the url crate unchanged (what reqwest does to a nextLink).
        let link = format!(
            "https://127.0.0.1:1/v1.0/users?$filter={}&$top=5",
            enc("startswith(displayName,'O''B x')")
        );
        assert_eq!(url::Url::parse(&link).unwrap().as_str(), link);
    }

    #[test]
    fn query_options() {
        assert_eq!(parse_top("999").unwrap(), 999);
        for v in ["0", "1000", "-1", "+5", "abc", ""] {
            assert!(
                parse_top(v)
                    .unwrap_err()
                    .message
                    .contains("Invalid page size specified")
            );
        }
        assert_eq!(
            parse_select("id, DisplayName,id").unwrap(),
            vec![Prop::Id, Prop::DisplayName]
        );
        assert!(
            parse_select("id,x")
                .unwrap_err()
                .message
                .contains("named 'x'")
        );
        assert!(parse_query(Some("$skip=5")).is_err());
        assert!(parse_query(Some("$top=5&$top=6")).is_err());
        assert_eq!(
            parse_query(Some("%24top=5&other=1")).unwrap(),
            vec![("$top".to_owned(), "5".to_owned())]
        );
    }
}
