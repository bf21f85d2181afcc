//! The Graph listener: `GET /{v1.0|beta}/users` and `GET /{v1.0|beta}/users/{id | userPrincipalName}`
//! (PROTOCOL.md §4) behind bearer-token validation, with Graph's error envelope, `request-id` /
//! `client-request-id` headers, strict query options (`$top`, `$select`, `$filter`, `$count`,
//! and the advanced `$search` / `$orderby` of `advanced`) and
//! opaque `$skiptoken` paging whose nextLinks are recorded so tests can tell whether a client
//! followed them verbatim. Pages are serialized straight into a byte buffer.

use crate::directory::{Prop, User};
use crate::fault::{self, FaultKind, Stream};
use crate::log::GraphRecord;
use crate::state::{IssuedPage, PageState, Shared};
use crate::util::{format_time, guid, now_parts, now_unix};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;
use std::sync::Arc;

/// Graph's default page size for users.
const DEFAULT_TOP: usize = 100;
/// The largest `$top` Graph accepts on users.
const MAX_TOP: usize = 999;

/// The one canonical encoding of query keys and values in nextLinks: everything but unreserved
/// characters and `$ ( )` is percent-encoded with uppercase hex (so `,` is `%2C`, space `%20`,
/// `'` `%27`). It is a fixed point of WHATWG URL parsing (the `url` crate under reqwest), so a
/// client that parses and re-serializes the link still sends it byte for byte.
const LINK_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'$')
    .remove(b'(')
    .remove(b')');

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

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
    fn matches(&self, u: &User<'_>) -> bool {
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

/// A Graph error: status, `error.code`, `error.message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GraphError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

pub(crate) fn gerr(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> GraphError {
    GraphError {
        status,
        code,
        message: message.into(),
    }
}

pub(crate) fn bad(message: impl Into<String>) -> GraphError {
    gerr(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
}

pub(crate) fn unsupported(message: impl Into<String>) -> GraphError {
    gerr(StatusCode::BAD_REQUEST, "Request_UnsupportedQuery", message)
}

pub(crate) fn no_property(name: &str) -> GraphError {
    bad(format!(
        "Could not find a property named '{name}' on type 'microsoft.graph.user'."
    ))
}

async fn handle(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let request_id = guid();
    let header_str = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let client_request_id = header_str("client-request-id");
    let mut rec = GraphRecord {
        method: method.to_string(),
        path: uri.path().to_owned(),
        raw_query: uri.query().map(str::to_owned),
        status: 200,
        authorized: false,
        error_code: None,
        items: 0,
        next_link_verbatim: None,
        consistency_level: header_str("consistencylevel"),
        client_request_id: client_request_id.clone(),
        fault: None,
    };
    let fault = s.faults.next(false);
    rec.fault = fault.as_ref().map(|f| f.name().to_owned());
    if fault == Some(FaultKind::ExpireToken)
        && let Some(token) = bearer(&headers)
    {
        s.faults.revoke(token);
    }
    if let Some(r) = fault.as_ref().and_then(|f| replacing_fault(&s, f, &uri)) {
        rec.status = r.status().as_u16();
        s.log.graph(rec);
        return r;
    }
    let result = match &fault {
        Some(FaultKind::Throttle { .. }) => Err(gerr(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests are being made to this resource. Please try again later.",
        )),
        Some(FaultKind::Unavailable) => Err(gerr(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please try again later.",
        )),
        _ if uri.path().starts_with("/v1.0/applications") => {
            crate::applications::route(&s, &method, &uri, &headers, &body)
        }
        _ => route(&s, &method, &uri, &headers, &mut rec, fault.as_ref())
            .map(|b| (StatusCode::OK, b)),
    };
    let mut response = match result {
        Ok((status, body)) => {
            let mut r = faulty_body(&s, fault.as_ref(), &uri, body);
            if status != StatusCode::OK {
                *r.status_mut() = status;
            }
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
                ),
            );
            r.headers_mut()
                .insert("odata-version", HeaderValue::from_static("4.0"));
            r
        }
        Err(e) => {
            rec.error_code = Some(e.code.to_owned());
            let throttled = match &fault {
                Some(FaultKind::Throttle { retry_after_secs }) => Some(*retry_after_secs),
                _ => None,
            };
            let (secs, _) = now_parts();
            let body = json!({
                "error": {
                    "code": e.code,
                    "message": e.message,
                    "innerError": {
                        "date": format_time(secs, 0, 0, false),
                        "request-id": request_id,
                        "client-request-id": client_request_id.clone().unwrap_or_else(|| request_id.clone()),
                    }
                }
            });
            let mut r = Response::new(Body::from(serde_json::to_vec(&body).unwrap_or_default()));
            *r.status_mut() = e.status;
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Some(secs) = throttled {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            if e.status == StatusCode::UNAUTHORIZED {
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
                    ),
                );
            }
            r
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("request-id", v);
    }
    if let Some(c) = &client_request_id
        && let Ok(v) = HeaderValue::from_str(c)
    {
        response.headers_mut().insert("client-request-id", v);
    }
    rec.status = response.status().as_u16();
    s.log.graph(rec);
    response
}

/// The presented bearer token, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("Bearer") => Some(token.trim()),
        _ => None,
    }
}

/// A fault that answers in the endpoint's place: no page is computed.
fn replacing_fault(s: &Shared, fault: &FaultKind, uri: &Uri) -> Option<Response> {
    let (status, body, location) = match fault {
        FaultKind::NonJson200 => (StatusCode::OK, fault::html("Sign in to continue"), None),
        FaultKind::Html502 => (
            StatusCode::BAD_GATEWAY,
            fault::html("502 Bad Gateway"),
            None,
        ),
        FaultKind::RedirectToForeign => {
            let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            (
                StatusCode::TEMPORARY_REDIRECT,
                Vec::new(),
                Some(format!("{}{target}", s.foreign_url)),
            )
        }
        _ => return None,
    };
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    Some(r)
}

/// The page body as a fault changes it: rewritten next link, padding, or a stream that breaks.
fn faulty_body(s: &Shared, fault: Option<&FaultKind>, uri: &Uri, body: Vec<u8>) -> Response {
    let set_next = |body: Vec<u8>, link: String| -> Vec<u8> {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(mut v) if v.get("@odata.nextLink").is_some() => {
                v["@odata.nextLink"] = serde_json::Value::String(link);
                serde_json::to_vec(&v).unwrap_or(body)
            }
            _ => body,
        }
    };
    let current = || {
        format!(
            "{}{}",
            s.graph_url,
            uri.path_and_query().map(|p| p.as_str()).unwrap_or("")
        )
    };
    let (body, stream) = match fault {
        Some(FaultKind::ForeignNextLink) => {
            let v: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
            let link = v
                .as_ref()
                .and_then(|v| v["@odata.nextLink"].as_str())
                .map(|l| l.replacen(&s.graph_url, &s.foreign_url, 1));
            match link {
                Some(l) => (set_next(body, l), None),
                None => (body, None),
            }
        }
        Some(FaultKind::RepeatedNextLink) => (set_next(body, current()), None),
        Some(FaultKind::LargePage { padding_bytes }) if body.first() == Some(&b'{') => {
            let mut padded = Vec::with_capacity(body.len() + padding_bytes + 32);
            padded.extend_from_slice(b"{\"@emulator.padding\":\"");
            padded.resize(padded.len() + padding_bytes, b'x');
            padded.extend_from_slice(b"\",");
            padded.extend_from_slice(&body[1..]);
            (padded, None)
        }
        Some(FaultKind::ResetMidBody) => (body, Some(Stream::Reset)),
        Some(FaultKind::TruncatedBody) => (body, Some(Stream::End)),
        Some(FaultKind::Stall { secs }) => (
            body,
            Some(Stream::Stall(std::time::Duration::from_secs(*secs))),
        ),
        _ => (body, None),
    };
    match stream {
        None => Response::new(Body::from(body)),
        Some(how) => {
            let declared = body.len();
            let truncated = matches!(how, Stream::End);
            let mut r = Response::new(fault::streamed(body, how));
            if truncated {
                // Declares the whole page, sends half: the client sees a truncated body.
                r.headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(declared));
            }
            r
        }
    }
}

/// What the path names.
enum Target<'a> {
    List,
    One(&'a str),
}

fn route(
    s: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    rec: &mut GraphRecord,
    fault: Option<&FaultKind>,
) -> Result<Vec<u8>, GraphError> {
    let path = uri.path();
    let mut segs = path.trim_start_matches('/').split('/');
    let version = segs.next().unwrap_or("");
    if version != "v1.0" && version != "beta" {
        return Err(gerr(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("Invalid version: {version}"),
        ));
    }
    let has_role = authenticate(s, headers)?;
    let rest: Vec<&str> = segs.collect();
    let target = match rest.as_slice() {
        ["users"] | ["users", ""] => Target::List,
        ["users", id] => Target::One(id),
        ["users", _, more, ..] => return Err(segment_not_found(more)),
        ["me", ..] => {
            return Err(gerr(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "/me request is only valid with delegated authentication flow.",
            ));
        }
        [first, ..] => return Err(segment_not_found(first)),
        [] => return Err(segment_not_found("")),
    };
    if method != Method::GET {
        return Err(gerr(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        ));
    }
    if !has_role {
        return Err(gerr(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ));
    }
    rec.authorized = true;
    let opts = parse_query(uri.query())?;
    let version = if version == "beta" { "beta" } else { "v1.0" };
    match target {
        Target::List => list(
            s,
            uri,
            &opts,
            rec,
            version,
            fault == Some(&FaultKind::EmptyPage),
        ),
        Target::One(seg) => one(s, seg, &opts, rec, version),
    }
}

fn segment_not_found(seg: &str) -> GraphError {
    gerr(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        format!("Resource not found for the segment '{seg}'."),
    )
}

/// Validates the bearer token; returns whether it carries `User.Read.All`.
fn authenticate(s: &Shared, headers: &HeaderMap) -> Result<bool, GraphError> {
    let claims = caller(s, headers)?;
    let reads = |p: &str| p == "User.Read.All" || p == "Directory.Read.All";
    // An app (or managed identity) needs the application role; a delegated token (Cloud
    // Shell's) the same permission as a delegated scope.
    Ok(claims.roles.is_some_and(|r| r.iter().any(|r| reads(r)))
        || claims.scp.is_some_and(|scp| scp.split(' ').any(reads)))
}

/// Validates the bearer token and returns its claims (who is calling, with which roles).
pub(crate) fn caller(
    s: &Shared,
    headers: &HeaderMap,
) -> Result<crate::jwt::AccessClaims, GraphError> {
    let unauth = |m: &str| gerr(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", m);
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("Bearer") => token.trim(),
        _ => "",
    };
    if token.is_empty() {
        return Err(unauth("Access token is empty."));
    }
    if s.faults.is_revoked(token) {
        return Err(unauth("Lifetime validation failed, the token is expired."));
    }
    let claims = s
        .token_key
        .check(token, &s.graph_url, &s.token_issuer(), now_unix())
        .map_err(|r| unauth(r.message()))?;
    if claims.tid != s.tenant_id {
        return Err(unauth("Access token validation failure. Invalid tenant."));
    }
    Ok(claims)
}

/// The `$`-options of a request, decoded, in order; duplicates and unsupported ones refused.
type Opts = Vec<(String, String)>;

fn opt<'o>(opts: &'o Opts, name: &str) -> Option<&'o str> {
    opts.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn parse_query(raw: Option<&str>) -> Result<Opts, GraphError> {
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
            "$top" | "$select" | "$filter" | "$count" | "$skiptoken" | "$orderby" | "$search" => {}
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

fn parse_select(v: &str) -> Result<Vec<Prop>, GraphError> {
    let mut props = Vec::new();
    for name in v.split(',') {
        let name = name.trim();
        if name.is_empty() {
            return Err(bad(format!("Syntax error in $select: '{v}'.")));
        }
        let p = Prop::parse(name).ok_or_else(|| no_property(name))?;
        if !props.contains(&p) {
            props.push(p);
        }
    }
    Ok(props)
}

fn parse_top(v: &str) -> Result<usize, GraphError> {
    v.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_TOP).contains(n) && v.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            bad(format!(
                "Invalid page size specified: '{v}'. Must be between 1 and {MAX_TOP} inclusive."
            ))
        })
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.get(..prefix.len())
        .filter(|h| h.eq_ignore_ascii_case(prefix))
        .map(|_| &s[prefix.len()..])
}

fn take_ident(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// A string literal `'...'` with `''` as an escaped quote; returns it and the rest.
fn take_literal(s: &str) -> Option<(String, &str)> {
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

fn context_url(s: &Shared, version: &str, select: Option<&[Prop]>, entity: bool) -> String {
    let mut c = format!("{}/{version}/$metadata#users", s.graph_url);
    if let Some(props) = select {
        c.push('(');
        c.push_str(&props.iter().map(|p| p.name()).collect::<Vec<_>>().join(","));
        c.push(')');
    }
    if entity {
        c.push_str("/$entity");
    }
    c
}

/// One page; `empty` (a fault) sends no users and a nextLink back to this same page.
fn list(
    s: &Shared,
    uri: &Uri,
    opts: &Opts,
    rec: &mut GraphRecord,
    version: &'static str,
    empty: bool,
) -> Result<Vec<u8>, GraphError> {
    let first_page;
    let state = if let Some(token) = opt(opts, "$skiptoken") {
        first_page = false;
        rec.next_link_verbatim = Some(false);
        let pages = s.pages.lock().unwrap_or_else(|p| p.into_inner());
        let issued = pages
            .get(token)
            .ok_or_else(|| bad("The $skiptoken value is invalid or has expired."))?;
        let target = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("");
        rec.next_link_verbatim = Some(target == issued.target);
        issued.state.clone()
    } else {
        first_page = true;
        let link_query = opts
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(k, LINK_ENCODE),
                    utf8_percent_encode(v, LINK_ENCODE)
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        let count = match opt(opts, "$count") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                return Err(bad(format!(
                    "Invalid value '{v}' for $count query option found. The $count query option requires a Boolean value."
                )));
            }
        };
        let eventual = rec
            .consistency_level
            .as_deref()
            .is_some_and(|c| c.trim().eq_ignore_ascii_case("eventual"));
        // ne / endsWith parse only as advanced queries; without them, the basic parser's error.
        let filter = match opt(opts, "$filter") {
            None => None,
            Some(f) => match parse_filter(f) {
                Ok(f) => Some(f),
                Err(e) if e.code == "Request_UnsupportedQuery" && eventual && count => {
                    Some(crate::advanced::parse_advanced_filter(f).ok_or(e)?)
                }
                Err(e) => return Err(e),
            },
        };
        PageState {
            offset: 0,
            top: opt(opts, "$top")
                .map(parse_top)
                .transpose()?
                .unwrap_or(DEFAULT_TOP),
            select: opt(opts, "$select").map(parse_select).transpose()?,
            filter,
            count,
            link_query,
            search: opt(opts, "$search")
                .map(crate::advanced::parse_search)
                .transpose()?,
            order: opt(opts, "$orderby")
                .map(crate::advanced::parse_orderby)
                .transpose()?,
            version,
        }
    };
    let eventual = rec
        .consistency_level
        .as_deref()
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("eventual"));
    if state.count && !eventual {
        return Err(bad(
            "$count is only supported with the request header 'ConsistencyLevel: eventual' (re-send it on every page).",
        ));
    }
    // Checked on every page: headers are not carried over by nextLinks.
    if state.search.is_some() && !eventual {
        return Err(bad(
            "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
        ));
    }
    let advanced = eventual && state.count;
    if let Some(order) = state.order
        && !advanced
        && (state.filter.is_some() || !order.is_plain())
    {
        return Err(unsupported("Sorting not supported for current query."));
    }
    if matches!(state.filter, Some(Filter::EndsWith(..) | Filter::Ne(..))) && !advanced {
        return Err(unsupported(
            "Operator 'endsWith' / 'ne' is not supported because the required parameters might be missing. \
             Try adding $count with a value of true and set the ConsistencyLevel header to eventual.",
        ));
    }

    let dir = &s.directory;
    let matches = |i: usize| {
        let u = dir.user(i);
        state.filter.as_ref().is_none_or(|f| f.matches(&u))
            && state.search.as_ref().is_none_or(|q| q.matches(&u))
    };
    // With $orderby, positions index the sorted matches; without, they are directory indices.
    let ordered: Option<Vec<usize>> = state.order.map(|o| {
        let mut keyed: Vec<(Option<String>, usize)> = (0..dir.len())
            .filter(|&i| matches(i))
            .map(|i| (dir.user(i).str_prop(o.prop).map(str::to_lowercase), i))
            .collect();
        // Nulls last either way; ties in directory order.
        keyed.sort_by(|(a, i), (b, j)| {
            let by = match (a, b) {
                (Some(a), Some(b)) if o.desc => b.cmp(a),
                (Some(a), Some(b)) => a.cmp(b),
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, None) => std::cmp::Ordering::Equal,
            };
            by.then(i.cmp(j))
        });
        keyed.into_iter().map(|(_, i)| i).collect()
    });
    let len = ordered.as_ref().map_or(dir.len(), Vec::len);
    let at = |pos: usize| ordered.as_ref().map_or(pos, |v| v[pos]);
    let selected = |pos: usize| ordered.is_some() || matches(pos);
    let props: &[Prop] = state.select.as_deref().unwrap_or(&Prop::DEFAULT);
    let mut value: Vec<u8> = Vec::with_capacity(state.top.min(dir.len()) * 400 + 2);
    value.push(b'[');
    let mut items = 0;
    let mut i = state.offset;
    while !empty && i < len && items < state.top {
        if selected(i) {
            if items > 0 {
                value.push(b',');
            }
            dir.user(at(i)).write_json(&mut value, props);
            items += 1;
        }
        i += 1;
    }
    value.push(b']');
    let next = if empty {
        Some(state.offset)
    } else {
        (i..len).find(|&j| selected(j))
    };
    rec.items = items;

    let mut body: Vec<u8> = Vec::with_capacity(value.len() + 512);
    body.extend_from_slice(b"{\"@odata.context\":");
    let _ = serde_json::to_writer(
        &mut body,
        &context_url(s, state.version, state.select.as_deref(), false),
    );
    if first_page && state.count {
        let total = if let Some(o) = &ordered {
            o.len()
        } else if state.filter.is_none() && state.search.is_none() {
            dir.len()
        } else {
            (0..dir.len()).filter(|&j| matches(j)).count()
        };
        body.extend_from_slice(format!(",\"@odata.count\":{total}").as_bytes());
    }
    if let Some(next) = next {
        let token = crate::util::b64url(&crate::util::random_bytes(24));
        let sep = if state.link_query.is_empty() { "" } else { "&" };
        let target = format!(
            "/{}/users?{}{sep}$skiptoken={token}",
            state.version, state.link_query
        );
        let link = format!("{}{target}", s.graph_url);
        let next_state = PageState {
            offset: next,
            ..state.clone()
        };
        s.pages.lock().unwrap_or_else(|p| p.into_inner()).insert(
            token,
            IssuedPage {
                state: next_state,
                target,
            },
        );
        body.extend_from_slice(b",\"@odata.nextLink\":");
        let _ = serde_json::to_writer(&mut body, &link);
    }
    body.extend_from_slice(b",\"value\":");
    body.extend_from_slice(&value);
    body.push(b'}');
    Ok(body)
}

fn one(
    s: &Shared,
    seg: &str,
    opts: &Opts,
    rec: &mut GraphRecord,
    version: &str,
) -> Result<Vec<u8>, GraphError> {
    let key = percent_encoding::percent_decode_str(seg)
        .decode_utf8()
        .map_err(|_| bad("The request URL is not valid UTF-8 after percent-decoding."))?;
    let select = opt(opts, "$select").map(parse_select).transpose()?;
    let index = s.directory.find(&key).ok_or_else(|| {
        gerr(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    })?;
    let user = s.directory.user(index);
    let props = select.as_deref().unwrap_or(&Prop::DEFAULT);
    let mut body = Vec::with_capacity(1024);
    body.extend_from_slice(b"{\"@odata.context\":");
    let _ = serde_json::to_writer(&mut body, &context_url(s, version, select.as_deref(), true));
    let mut obj = Vec::with_capacity(512);
    user.write_json(&mut obj, props);
    // Splice the user's members after the context: `{"@odata.context":..,<members>}`.
    if obj.len() > 2 {
        body.push(b',');
        body.extend_from_slice(&obj[1..obj.len() - 1]);
    }
    body.push(b'}');
    rec.items = 1;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

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
